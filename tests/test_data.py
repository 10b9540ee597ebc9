"""Statistics of the training data: the geometric median and the variance."""

import numpy as np
import pytest
import scipy.sparse as sp

from skl_sae._data import (
    feature_variances,
    geometric_median,
    leading_directions,
    mean_feature_variance,
)


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


def test_feature_variances_are_the_same_dense_sparse_or_mapped(digits, tmp_path):
    X, _ = digits
    mapped = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", shape=X.shape)
    mapped[:] = X
    mapped.flush()
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    for rows in (X, sp.csr_matrix(X), mapped):
        variances = feature_variances(rows)
        assert variances.dtype == np.float64 and variances.shape == (64,)
        np.testing.assert_allclose(variances, X.var(axis=0), rtol=1e-10, atol=1e-12)
    assert feature_variances(X)[0] == 0  # the digits' first pixel is always blank


@pytest.mark.parametrize("to_matrix", [np.asarray, sp.csr_matrix], ids=["dense", "sparse"])
def test_leading_directions_are_the_centred_rows_singular_vectors(digits, to_matrix):
    """The randomized range finder gives the leading right singular vectors
    of ``X - center`` (up to sign), sparse rows centred through products."""
    X, _ = digits
    center = geometric_median(X)
    directions = leading_directions(to_matrix(X), center, 6, np.random.RandomState(0))
    _, _, expected = np.linalg.svd(X - center, full_matrices=False)
    assert directions.shape == (64, 6)
    np.testing.assert_allclose(directions.T @ directions, np.eye(6), atol=1e-10)
    np.testing.assert_allclose(np.abs(np.sum(directions * expected[:6].T, axis=0)), 1, atol=1e-4)


def test_leading_directions_of_many_rows_come_from_a_sample(digits):
    """At most ``max_rows`` rows, drawn at random: the same directions, nearly."""
    X, _ = digits
    center = geometric_median(X)
    whole = leading_directions(X, center, 3, np.random.RandomState(0))
    sample = leading_directions(X, center, 3, np.random.RandomState(0), max_rows=1000)
    assert np.all(np.abs(np.sum(whole * sample, axis=0)) > 0.95)
