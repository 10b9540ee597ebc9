"""scikit-learn's estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skl_sae import (
    SparseAutoencoderOutlierDetector,
    SparseAutoencoderTransformer,
    StackedSparseAutoencoderClassifier,
)

# Small, fast instances covering each sparsity and sparse code, tied weights, each solver,
# early stopping and frozen features; the default-constructed estimators are
# checked as they are.
ESTIMATORS = [
    SparseAutoencoderTransformer(),
    SparseAutoencoderTransformer(n_components=8, max_iter=30, random_state=0),
    SparseAutoencoderTransformer(
        n_components=8, sparsity="l1", activation="relu", max_iter=30, random_state=0
    ),
    SparseAutoencoderTransformer(
        n_components=8, sparsity=None, tied_weights=True, solver="sgd", max_iter=30
    ),
    SparseAutoencoderTransformer(n_components=8, solver="lbfgs", max_iter=15),
    SparseAutoencoderTransformer(
        n_components=8, output_activation="sigmoid", early_stopping=True, max_iter=30
    ),
    SparseAutoencoderTransformer(
        n_components=8, corruption="gaussian", contractive_weight=0.1, max_iter=30
    ),
    SparseAutoencoderTransformer(n_components=8, sparsity="topk", k=3, max_iter=30),
    SparseAutoencoderTransformer(
        n_components=8, sparsity="batchtopk", k=3, tied_weights=True, max_iter=30
    ),
    SparseAutoencoderTransformer(n_components=8, sparsity="jumprelu", solver="lbfgs", max_iter=15),
    StackedSparseAutoencoderClassifier(),
    StackedSparseAutoencoderClassifier(
        hidden_layer_sizes=(8,),
        sparsity="l1",
        activation="relu",
        corruption="mask",
        contractive_weight=0.1,
        pretrain_max_iter=5,
    ),
    StackedSparseAutoencoderClassifier(
        hidden_layer_sizes=(8, 4), tied_weights=True, fine_tune=False, solver="sgd"
    ),
    StackedSparseAutoencoderClassifier(
        hidden_layer_sizes=(8,), solver="lbfgs", early_stopping=True, max_iter=50
    ),
    StackedSparseAutoencoderClassifier(
        hidden_layer_sizes=(8,), sparsity="batchtopk", k=3, pretrain_max_iter=5
    ),
    SparseAutoencoderOutlierDetector(),
    SparseAutoencoderOutlierDetector(8, contamination=0.1, sparsity=None, max_iter=30),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
