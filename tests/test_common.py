"""scikit-learn's estimator checks, with no expected failures.

The instances come from the sparsity registry (``tests/variants.py``): each
registered sparsity in the transformer in the default run, and in every other
estimator under ``-m slow``; a registered variant is checked with no edit
here. The configurations below exercise the other options: tied weights,
each solver, both corruptions, the contractive penalty, early stopping,
structure learning, frozen features, the convolutions and the imputer's
conventions. The checks fit on purpose for too few epochs to converge.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks
from variants import (
    FAST_CLASSIFIER,
    quick_instances,
    slow_instances,
    sparsities,
)

from skl_sae import (
    ConvolutionalSparseAutoencoderTransformer,
    SparseAutoencoderImputer,
    SparseAutoencoderOutlierDetector,
    SparseAutoencoderTransformer,
    StackedSparseAutoencoderClassifier,
)

CONFIGURATIONS = [
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
    SparseAutoencoderTransformer(
        n_components=8, sparsity="batchtopk", k=3, tied_weights=True, max_iter=5
    ),
    SparseAutoencoderTransformer(n_components=8, sparsity="jumprelu", solver="lbfgs", max_iter=5),
    # Structure learning: one structure step (at epoch 5) and an epoch after it.
    SparseAutoencoderTransformer(n_components="auto", max_iter=6),
    SparseAutoencoderTransformer(n_components="auto", sparsity="topk", k=3, max_iter=6),
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
    # One small classifier in the default run; the others under -m slow.
    StackedSparseAutoencoderClassifier(hidden_layer_sizes=(8,), **FAST_CLASSIFIER),
]

CLASSIFIER_CONFIGURATIONS = [
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
        hidden_layer_sizes=("auto",), **{**FAST_CLASSIFIER, "pretrain_max_iter": 6}
    ),
]

DEFAULT_RUN = [*(e for s in sparsities() for e in quick_instances(s)), *CONFIGURATIONS]
SLOW_RUN = [*(e for s in sparsities() for e in slow_instances(s)), *CLASSIFIER_CONFIGURATIONS]


@parametrize_with_checks(DEFAULT_RUN)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# Every sparsity in every estimator, and the classifiers' other configurations: each
# classifier trains three stages for every check, minutes in all on 2 cores.
@pytest.mark.slow
@parametrize_with_checks(SLOW_RUN)
def test_sklearn_compatible_estimator_at_length(estimator, check):
    check(estimator)
