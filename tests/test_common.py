"""scikit-learn's estimator checks, with no expected failures."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skl_sae import SparseAutoencoderTransformer

# Small, fast instances covering each sparsity, tied weights and each solver;
# the default-constructed estimator is checked as it is.
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
]

# The checks fit with few epochs on purpose; stopping at max_iter is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
