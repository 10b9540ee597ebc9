"""``compute_dtype``: the dtype of the network, whatever the data's."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from skl_sae import (
    ConvolutionalSparseAutoencoderTransformer,
    SparseAutoencoderImputer,
    SparseAutoencoderOutlierDetector,
    SparseAutoencoderTransformer,
    StackedSparseAutoencoderClassifier,
)

X, Y = load_digits(return_X_y=True)
X = X[:300] / 16
Y = Y[:300]

ESTIMATORS = {
    "transformer": lambda **p: SparseAutoencoderTransformer(16, max_iter=3, **p),
    "convolutional": lambda **p: ConvolutionalSparseAutoencoderTransformer(
        (8, 8), filters=(4,), max_iter=1, **p
    ),
    "classifier": lambda **p: StackedSparseAutoencoderClassifier(
        (16,), pretrain_max_iter=2, max_iter=3, **p
    ),
    "detector": lambda **p: SparseAutoencoderOutlierDetector(16, max_iter=3, **p),
    "imputer": lambda **p: SparseAutoencoderImputer(16, max_iter=3, **p),
}


def _fit(name, X, **params):
    estimator = ESTIMATORS[name](random_state=0, **params)
    return estimator.fit(X, Y) if name == "classifier" else estimator.fit(X)


def _network_dtype(estimator):
    estimator = getattr(estimator, "autoencoder_", estimator)
    return next(estimator._get_module().parameters()).dtype


def _output(name, estimator, X):
    if name == "classifier":
        return estimator.predict_proba(X)
    if name == "detector":
        return estimator.score_samples(X)
    return estimator.transform(X)


def _output_dtype(name, data):
    """The dtype of the results for data of ``data``: the data's (the
    detector's scores are float64 for any data)."""
    return np.float64 if name == "detector" else data


@pytest.mark.parametrize("name", ESTIMATORS)
def test_the_network_computes_in_float32_by_default_and_returns_the_datas_dtype(name):
    estimator = _fit(name, X)
    assert _network_dtype(estimator) == torch.float32
    assert _output(name, estimator, X).dtype == np.float64
    assert _output(name, estimator, X.astype(np.float32)).dtype == _output_dtype(name, np.float32)


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize(
    ("setting", "data", "network"),
    [
        ("float64", np.float32, torch.float64),
        (None, np.float64, torch.float64),
        (None, np.float32, torch.float32),
    ],
)
def test_compute_dtype_sets_the_networks_dtype_none_the_datas(name, setting, data, network):
    estimator = _fit(name, X.astype(data), compute_dtype=setting)
    assert _network_dtype(estimator) == network
    assert _output(name, estimator, X.astype(data)).dtype == _output_dtype(name, data)


@pytest.mark.parametrize("name", ["transformer", "classifier", "detector"])
def test_float64_data_meet_a_float32_network_in_float64_so_rows_do_not_depend_on_their_batch(
    name,
):
    """Float32 products of a row round by the rows beside it (BLAS blocks by
    the batch's size); inference of float64 data upcasts the weights."""
    estimator = _fit(name, X)
    whole = _output(name, estimator, X)
    one_by_one = np.concatenate([_output(name, estimator, X[i : i + 1]) for i in range(20)])
    np.testing.assert_allclose(one_by_one, whole[:20], rtol=1e-12, atol=1e-14)


def test_an_imputers_fills_of_float64_data_do_not_depend_on_the_rows_beside_them():
    X_missing = np.where(np.random.default_rng(0).random(X.shape) < 0.2, np.nan, X)
    imputer = _fit("imputer", X_missing)
    whole = imputer.transform(X_missing)
    one_by_one = np.concatenate([imputer.transform(X_missing[i : i + 1]) for i in range(20)])
    np.testing.assert_allclose(one_by_one, whole[:20], rtol=1e-12, atol=1e-14)


def test_float32_learns_what_float64_learns():
    """Ten epochs of the digits through 64 units: the two networks'
    reconstruction errors agree to a few percent (they part by rounding, as
    two seeds do)."""
    errors = [
        -SparseAutoencoderTransformer(64, max_iter=10, compute_dtype=dtype, random_state=0)
        .fit(X)
        .score_samples(X)
        .mean()
        for dtype in ("float32", "float64")
    ]
    assert errors[0] == pytest.approx(errors[1], rel=0.05)


def test_a_model_pickled_before_compute_dtype_keeps_computing_in_its_datas_dtype():
    sae = SparseAutoencoderTransformer(8, max_iter=2, compute_dtype=None, random_state=0).fit(X)
    state = sae.__getstate__()
    del state["compute_dtype"]
    old = pickle.loads(pickle.dumps(sae))
    old.__setstate__(state)
    assert old.compute_dtype is None
    assert old.get_params()["compute_dtype"] is None
    np.testing.assert_array_equal(old.transform(X), sae.transform(X))


def test_compute_dtype_is_validated():
    with pytest.raises(ValueError, match="compute_dtype"):
        SparseAutoencoderTransformer(compute_dtype="float16").fit(X)


@pytest.mark.parametrize("name", [name for name in ESTIMATORS if name != "imputer"])
def test_data_beyond_float32s_range_are_an_error_that_names_compute_dtype(name):
    huge = X.copy()
    huge[0, 0] = 1e39
    with pytest.raises(ValueError, match="compute_dtype='float64'"):
        _fit(name, huge)


def test_the_imputer_scales_its_columns_before_float32_takes_them():
    huge = np.where(np.random.default_rng(0).random(X.shape) < 0.2, np.nan, X * 1e39)
    assert np.isfinite(_fit("imputer", huge).transform(huge)).all()


def test_a_memory_map_of_float64_trains_a_float32_stack(tmp_path):
    np.save(tmp_path / "X.npy", X)
    stack = _fit("classifier", np.load(tmp_path / "X.npy", mmap_mode="r"))
    assert _network_dtype(stack) == torch.float32
    in_memory = _fit("classifier", X)
    np.testing.assert_allclose(stack.predict_proba(X), in_memory.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("name", ["transformer", "classifier"])
def test_the_float64_copy_of_the_weights_follows_them_through_partial_fit(name):
    estimator = _fit(name, X)
    before = _output(name, estimator, X)
    estimator.partial_fit(X, Y) if name == "classifier" else estimator.partial_fit(X)
    after = _output(name, estimator, X)
    assert not np.array_equal(after, before)
    estimator._get_module().__dict__.pop("_float64_copy")  # a copy made anew
    np.testing.assert_array_equal(_output(name, estimator, X), after)
