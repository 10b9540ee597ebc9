"""Small, fast instances of every estimator for each registered sparsity.

The common tests build their instances here from the registry
(``skl_sae._codes.CODES`` and ``skl_sae._losses.SPARSITY_PENALTIES``), so that
a registered variant is fitted, checked with ``check_estimator``, pickled and
fuzzed with no test edit (``tests/test_new_variant.py`` shows it with a toy).
"""

from skl_sae import (
    ConvolutionalSparseAutoencoderTransformer,
    SparseAutoencoderImputer,
    SparseAutoencoderOutlierDetector,
    SparseAutoencoderTransformer,
    StackedSparseAutoencoderClassifier,
)
from skl_sae._validation import SPARSITIES

#: The classifiers learn the checks' small problems in fewer, larger steps.
FAST_CLASSIFIER = dict(pretrain_max_iter=5, learning_rate_init=1e-2, max_iter=50)


def sparsities():
    """Every value of ``sparsity``: the registered names, then None."""
    return [*SPARSITIES, None]


def quick_instances(sparsity):
    """The instances of the default test run: the transformer (a few
    seconds of checks)."""
    params = dict(sparsity=sparsity, k=3)  # (k: for the codes that take it)
    return [SparseAutoencoderTransformer(n_components=8, max_iter=5, **params)]


def slow_instances(sparsity):
    """The other estimators, whose checks take longer (``-m slow``)."""
    params = dict(sparsity=sparsity, k=3)
    return [
        SparseAutoencoderImputer(n_components=8, max_iter=5, **params),
        ConvolutionalSparseAutoencoderTransformer(filters=(4,), max_iter=3, **params),
        # (A fixed contamination: the checks want outliers in every fit, which the IQR
        # rule of contamination="auto" does not promise; test_common checks "auto".)
        SparseAutoencoderOutlierDetector(8, contamination=0.1, max_iter=5, **params),
        StackedSparseAutoencoderClassifier((8,), **FAST_CLASSIFIER, **params),
    ]


def instance_id(estimator):
    """A test id: the class and its sparsity."""
    return f"{type(estimator).__name__}[{estimator.sparsity}]"
