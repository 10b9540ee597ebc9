"""The estimators on data larger than memory: memory maps streamed from disk,
never read whole, and wide sparse matrices densified a bounded batch at a
time; with the errors and the all-or-nothing fit of data in memory."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits

import skl_sae._batches
from skl_sae import (
    SparseAutoencoderOutlierDetector,
    SparseAutoencoderTransformer,
    StackedSparseAutoencoderClassifier,
)

SMALL = {"n_components": 16, "max_iter": 3, "random_state": 0}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype(np.uint8), y  # pixel values 0 to 16


@pytest.fixture
def memmap(tmp_path):
    def make(array, name="X"):
        path = tmp_path / f"{name}.npy"
        np.save(path, array)
        return np.load(path, mmap_mode="r")

    return make


def test_a_model_fitted_in_memory_transforms_a_memory_map_as_its_array(digits, memmap):
    X, _ = digits
    sae = SparseAutoencoderTransformer(**SMALL).fit(X)
    X_map = memmap(X)
    codes = sae.transform(X_map)
    assert codes.dtype == np.float64  # uint8 rows compute in float64, as check_array makes them
    np.testing.assert_allclose(codes, sae.transform(X), rtol=1e-12)
    np.testing.assert_allclose(sae.score_samples(X_map), sae.score_samples(X), rtol=1e-12)
    decoded = sae.inverse_transform(memmap(codes, "codes"))
    np.testing.assert_allclose(decoded, sae.inverse_transform(codes), rtol=1e-12)


@pytest.mark.parametrize("sparsity", ["kl", "topk", "batchtopk"])
def test_fitting_on_a_memory_map_learns_as_well_as_in_memory(digits, memmap, sparsity):
    X = digits[0].astype(np.float32) / 16
    params = {**SMALL, "max_iter": 10, "sparsity": sparsity, "k": 8}
    in_memory = SparseAutoencoderTransformer(**params).fit(X)
    streamed = SparseAutoencoderTransformer(**params).fit(memmap(X))
    assert streamed.components_.dtype == np.float32
    assert streamed.n_features_in_ == 64 and streamed.n_iter_ == 10
    # Blocks shuffle differently from rows: not the same model, as good a one.
    assert streamed.explained_variance_ == pytest.approx(in_memory.explained_variance_, abs=0.05)
    assert streamed.feature_variance_ == pytest.approx(in_memory.feature_variance_, rel=1e-5)


def test_partial_fit_and_early_stopping_stream_too(digits, memmap):
    X = memmap(digits[0])
    sae = SparseAutoencoderTransformer(**SMALL, early_stopping=True).fit(X)
    assert len(sae.validation_scores_) == sae.n_iter_
    sae = SparseAutoencoderTransformer(**SMALL)
    sae.partial_fit(X).partial_fit(X)
    assert sae.n_iter_ == 2 and np.isfinite(sae.loss_curve_).all()


def test_the_classifier_and_the_detector_take_memory_maps(digits, memmap):
    X, y = digits
    X_map = memmap(X)
    clf = StackedSparseAutoencoderClassifier(
        (16,), pretrain_max_iter=2, max_iter=5, random_state=0
    ).fit(X_map, y)
    np.testing.assert_array_equal(clf.predict(X_map), clf.predict(X))
    detector = SparseAutoencoderOutlierDetector(**SMALL).fit(X_map)
    np.testing.assert_array_equal(detector.predict(X_map), detector.predict(X))


def test_nan_rows_in_a_memory_map_fail_the_fit_and_keep_the_fitted_model(digits, memmap):
    X = digits[0].astype(np.float64)
    sae = SparseAutoencoderTransformer(**SMALL).fit(X)
    fitted = sae.components_.copy()
    X[1000] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        sae.fit(memmap(X))
    np.testing.assert_array_equal(sae.components_, fitted)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        sae.transform(memmap(X, "again"))


def test_a_memory_map_must_be_two_dimensional_numeric_and_as_wide_as_the_fit(digits, memmap):
    X, _ = digits
    sae = SparseAutoencoderTransformer(**SMALL).fit(X)
    with pytest.raises(ValueError, match="2D"):
        sae.transform(memmap(X.ravel(), "flat"))
    with pytest.raises(ValueError, match="not numeric"):
        sae.transform(memmap(X.astype(np.complex64), "complex"))
    with pytest.raises(ValueError, match="has 32 features"):
        sae.transform(memmap(X[:, :32], "narrow"))


def test_a_truncated_memory_map_fails_with_a_message(tmp_path, digits):
    X, _ = digits
    path = tmp_path / "rows.dat"
    rows = np.memmap(path, dtype=np.uint8, mode="w+", shape=X.shape)
    rows[:] = X
    rows.flush()
    sae = SparseAutoencoderTransformer(**SMALL).fit(rows)
    with open(path, "r+b") as file:
        file.truncate(100)
    with pytest.raises(ValueError, match="truncated"):
        sae.transform(rows)
    with pytest.raises(ValueError, match="truncated"):
        SparseAutoencoderTransformer(**SMALL).fit(rows)


def test_wide_sparse_rows_train_and_transform_without_densifying_the_matrix(monkeypatch):
    X = sp.random(300, 5_000, density=0.002, format="csr", random_state=0)
    seen = []
    apply = skl_sae._batches.apply_in_batches

    def recording(function, X, like, width=None, **settings):
        return apply(lambda x: seen.append(x.shape) or function(x), X, like, width, **settings)

    monkeypatch.setattr(skl_sae._batches, "INFERENCE_BYTES", 4 * 8 * 5_000 * 50)
    monkeypatch.setattr("skl_sae._transformer.apply_in_batches", recording)
    sae = SparseAutoencoderTransformer(**SMALL).fit(X)
    codes = sae.transform(X)
    assert codes.shape == (300, 16) and np.isfinite(codes).all()
    # Sized by the rows' non-zeros (10 on average) and the codes (16 wide), not
    # by their 5,000 columns: 50 dense rows of those fit, 300 sparse ones do.
    assert seen == [(300, 5_000)]


def test_explicit_nan_in_a_sparse_matrix_is_refused_and_the_model_kept(digits):
    X = sp.csr_matrix(digits[0].astype(np.float64))
    sae = SparseAutoencoderTransformer(**SMALL).fit(X)
    fitted = sae.components_.copy()
    X.data[7] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        sae.fit(X)
    np.testing.assert_array_equal(sae.components_, fitted)


def test_an_empty_memory_map_is_refused_before_any_read(memmap):
    with pytest.raises(ValueError, match=r"0 sample\(s\) .* \(shape=\(0, 8\)\)"):
        SparseAutoencoderTransformer(**SMALL).fit(memmap(np.zeros((0, 8)), "empty"))
