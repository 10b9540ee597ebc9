"""scikit-learn's estimator checks, with no expected failures."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skl_sae import (
    ConvolutionalSparseAutoencoderTransformer,
    SparseAutoencoderImputer,
    SparseAutoencoderOutlierDetector,
    SparseAutoencoderTransformer,
    StackedSparseAutoencoderClassifier,
)

# Small, fast instances (few units, few epochs) that still exercise every configuration:
# each sparsity and sparse code in both estimators, tied weights, each solver, both
# corruptions, the contractive penalty, early stopping and frozen features, and the imputer
# (with its indicator, a number as missing_values, and missing entries through SGD and the
# validation split). The others' parameters are the defaults. The checks
# fit on purpose for too few epochs to converge.
# The classifiers learn the checks' small problems in fewer, larger steps.
FAST_CLASSIFIER = dict(pretrain_max_iter=5, learning_rate_init=1e-2, max_iter=50)

ESTIMATORS = [
    SparseAutoencoderTransformer(n_components=8, max_iter=5),
    SparseAutoencoderTransformer(n_components=8, sparsity="l1", activation="relu", max_iter=5),
    SparseAutoencoderTransformer(
        n_components=8, sparsity=None, tied_weights=True, solver="sgd", max_iter=5
    ),
    SparseAutoencoderTransformer(n_components=8, solver="lbfgs", max_iter=5),
    SparseAutoencoderTransformer(
        n_components=8, output_activation="sigmoid", early_stopping=True, max_iter=5
    ),
    SparseAutoencoderTransformer(
        n_components=8, corruption="gaussian", contractive_weight=0.1, max_iter=5
    ),
    SparseAutoencoderTransformer(n_components=8, corruption="mask", max_iter=5),
    SparseAutoencoderTransformer(n_components=8, sparsity="topk", k=3, max_iter=5),
    SparseAutoencoderTransformer(
        n_components=8, sparsity="batchtopk", k=3, tied_weights=True, max_iter=5
    ),
    SparseAutoencoderTransformer(n_components=8, sparsity="jumprelu", solver="lbfgs", max_iter=5),
    # Structure learning: one structure step (at epoch 5) and an epoch after it.
    SparseAutoencoderTransformer(n_components="auto", max_iter=6),
    SparseAutoencoderTransformer(n_components="auto", sparsity="topk", k=3, max_iter=6),
    StackedSparseAutoencoderClassifier(hidden_layer_sizes=(8, 8), **FAST_CLASSIFIER),
    StackedSparseAutoencoderClassifier(
        hidden_layer_sizes=(8,),
        sparsity="l1",
        activation="relu",
        corruption="mask",
        contractive_weight=0.1,
        **FAST_CLASSIFIER,
    ),
    StackedSparseAutoencoderClassifier(
        hidden_layer_sizes=(8, 4),
        tied_weights=True,
        fine_tune=False,
        solver="sgd",
        batch_size=32,  # plain SGD on 300 rows needs more than 2 steps an epoch
        **FAST_CLASSIFIER,
    ),
    StackedSparseAutoencoderClassifier(
        hidden_layer_sizes=(8,), solver="lbfgs", early_stopping=True, max_iter=50
    ),
    StackedSparseAutoencoderClassifier(
        hidden_layer_sizes=(8,), sparsity="topk", k=3, **FAST_CLASSIFIER
    ),
    StackedSparseAutoencoderClassifier(
        hidden_layer_sizes=(8,), sparsity="batchtopk", k=3, **FAST_CLASSIFIER
    ),
    StackedSparseAutoencoderClassifier(
        hidden_layer_sizes=(8,), sparsity="jumprelu", **FAST_CLASSIFIER
    ),
    StackedSparseAutoencoderClassifier(
        hidden_layer_sizes=("auto",), **{**FAST_CLASSIFIER, "pretrain_max_iter": 6}
    ),
    # Convolutions over the checks' tables, one row of pixels each.
    ConvolutionalSparseAutoencoderTransformer(filters=(4,), max_iter=3),
    ConvolutionalSparseAutoencoderTransformer(
        filters=(4, 4), sparsity="topk", k=2, pooling="max", max_iter=3
    ),
    ConvolutionalSparseAutoencoderTransformer(
        filters=(4,), sparsity="jumprelu", solver="lbfgs", early_stopping=True, max_iter=3
    ),
    SparseAutoencoderOutlierDetector(n_components=8, max_iter=5),
    SparseAutoencoderOutlierDetector(8, contamination=0.1, sparsity=None, max_iter=5),
    SparseAutoencoderOutlierDetector("auto", max_iter=6),
    SparseAutoencoderImputer(n_components=8, max_iter=5),
    SparseAutoencoderImputer(n_components=8, add_indicator=True, missing_values=-1, max_iter=5),
    SparseAutoencoderImputer(
        n_components=8, sparsity="topk", k=3, solver="sgd", early_stopping=True, max_iter=5
    ),
]


FAST = [e for e in ESTIMATORS if not isinstance(e, StackedSparseAutoencoderClassifier)]
CLASSIFIERS = [e for e in ESTIMATORS if isinstance(e, StackedSparseAutoencoderClassifier)]


@parametrize_with_checks(FAST)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# The classifiers train three stages for every check: minutes in all on 2 cores.
@pytest.mark.slow
@parametrize_with_checks(CLASSIFIERS)
def test_sklearn_compatible_classifier(estimator, check):
    check(estimator)
