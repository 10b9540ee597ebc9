"""Statistics of the training data: the geometric median and the variance."""

import numpy as np
import pytest
import scipy.sparse as sp

from skl_sae._data import geometric_median, mean_feature_variance


def test_geometric_median_resists_outliers_and_takes_sparse_input():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(95, 3)), np.full((5, 3), 1000.0)])
    median = geometric_median(X)
    assert np.linalg.norm(median) < 0.5  # the mean is near 50
    np.testing.assert_allclose(geometric_median(sp.csr_matrix(X)), median)
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(geometric_median(corners), [0.5, 0.5])
    assert geometric_median(X, max_rows=10).shape == (3,)


def test_the_mean_feature_variance_of_observed_entries_ignores_the_others():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3)) * [1.0, 2.0, 3.0]
    observed = rng.random(X.shape) < 0.7
    expected = np.mean([X[observed[:, j], j].var() for j in range(3)])
    filled = np.where(observed, X, 1e6)
    assert mean_feature_variance(filled, observed) == pytest.approx(expected)
