"""SparseAutoencoderImputer, stated as a specification."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_diabetes
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.utils._param_validation import InvalidParameterError

from skl_sae import SparseAutoencoderImputer, _trainer
from skl_sae._inpainting import MaskedConvolutionalAutoencoder
from skl_sae._modules import MaskedDeepAutoencoder
from skl_sae._training import EpochHook


def small(**params):
    defaults = dict(n_components=16, max_iter=10, random_state=0)
    return SparseAutoencoderImputer(**{**defaults, **params})


@pytest.fixture(scope="module")
def table():
    """200 rows of 6 correlated columns of very different scales, 20% missing."""
    rng = np.random.default_rng(0)
    factors = rng.normal(size=(200, 2))
    X = factors @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(200, 6))
    X = X * [1.0, 10.0, 100.0, 0.01, 1.0, 1000.0] + [0.0, 5.0, -50.0, 0.0, 3.0, 0.0]
    missing = rng.random(X.shape) < 0.2
    return X, missing, np.where(missing, np.nan, X)


def test_observed_entries_are_returned_unchanged_and_missing_ones_filled(table):
    X, missing, X_missing = table
    imputed = small().fit(X_missing).transform(X_missing)
    assert imputed.shape == X.shape and not np.isnan(imputed).any()
    np.testing.assert_array_equal(imputed[~missing], X[~missing])  # bit for bit


def test_imputation_beats_the_column_mean_on_digits_with_30_percent_missing(digits):
    X, _ = digits
    missing = np.random.default_rng(0).random(X.shape) < 0.3
    X_missing = np.where(missing, np.nan, X)
    train, test = slice(0, 1300), slice(1300, None)
    imputer = SparseAutoencoderImputer(n_components=128, max_iter=50, random_state=0)
    imputed = imputer.fit(X_missing[train]).transform(X_missing[test])
    by_mean = SimpleImputer().fit(X_missing[train]).transform(X_missing[test])

    def rmse(X_imputed):
        return np.sqrt(np.mean((X_imputed - X[test])[missing[test]] ** 2))

    assert rmse(imputed) < 0.75 * rmse(by_mean)


@pytest.mark.parametrize("marker", [-1, 0])
def test_a_number_as_missing_values_imputes_exactly_where_nan_would(table, marker):
    X, missing, X_missing = table
    X = np.where(X == marker, marker + 0.5, X)  # the marker occurs only where missing
    marked = np.where(missing, marker, X)
    by_marker = small(missing_values=marker).fit_transform(marked)
    by_nan = small().fit_transform(np.where(missing, np.nan, X))
    np.testing.assert_allclose(by_marker, by_nan, rtol=1e-12)
    np.testing.assert_array_equal(by_marker[~missing], X[~missing])


def test_add_indicator_appends_the_missing_indicator(table):
    _, missing, X_missing = table
    X_missing = X_missing.copy()
    X_missing[:, 2] = np.arange(len(X_missing))  # a feature never missing: no column
    imputer = small(add_indicator=True).fit(X_missing)
    imputed = imputer.transform(X_missing)
    expected = MissingIndicator().fit_transform(X_missing)
    assert imputed.shape[1] == 6 + 5
    np.testing.assert_array_equal(imputed[:, 6:], expected)
    np.testing.assert_array_equal(imputed[:, :6], small().fit_transform(X_missing))
    names = imputer.get_feature_names_out()
    assert list(names[6:]) == [f"missingindicator_x{i}" for i in (0, 1, 3, 4, 5)]


def test_an_indicator_asked_for_after_fit_needs_a_refit(table):
    X_missing = table[2]
    imputer = small().fit(X_missing).set_params(add_indicator=True)
    for method in (imputer.transform, lambda X: imputer.get_feature_names_out()):
        with pytest.raises(ValueError, match="add_indicator=True was set after fit"):
            method(X_missing)
    assert imputer.fit(X_missing).transform(X_missing).shape[1] == 12


@pytest.mark.parametrize(
    "params, fill",
    [
        ({}, None),
        ({"keep_empty_features": True}, 0.0),
        ({"keep_empty_features": True, "initial_strategy": "constant", "fill_value": 7.0}, 7.0),
    ],
)
def test_features_without_observed_values_are_dropped_unless_kept(table, params, fill):
    _, _, X_missing = table
    X_missing = X_missing.copy()
    X_missing[:, 1] = np.nan
    imputer = small(**params).fit(X_missing)
    if fill is None:
        with pytest.warns(UserWarning, match="Skipping features without any observed values"):
            imputed = imputer.transform(X_missing)
        assert imputed.shape == (len(X_missing), 5)
        assert list(imputer.get_feature_names_out()) == ["x0", "x2", "x3", "x4", "x5"]
    else:
        imputed = imputer.transform(X_missing)
        assert imputed.shape == X_missing.shape
        np.testing.assert_array_equal(imputed[:, 1], fill)
        assert len(imputer.get_feature_names_out()) == 6
    assert not np.isnan(imputed).any()


def test_rows_without_observed_values_get_the_same_fill(table):
    _, _, X_missing = table
    X_missing = X_missing.copy()
    X_missing[[3, 7]] = np.nan
    imputed = small().fit(X_missing).transform(X_missing)
    assert not np.isnan(imputed).any()
    np.testing.assert_array_equal(imputed[3], imputed[7])


def test_missing_values_that_never_occur_in_fit(table):
    X, missing, X_missing = table
    imputer = small().fit(X)  # nothing missing: it learns from its own masking
    np.testing.assert_array_equal(imputer.transform(X), X)
    imputed = imputer.transform(X_missing)
    assert not np.isnan(imputed).any()
    np.testing.assert_array_equal(imputed[~missing], X[~missing])


def test_feature_names_and_pandas_output(table):
    pd = pytest.importorskip("pandas")
    _, _, X_missing = table
    frame = pd.DataFrame(X_missing, columns=[f"f{i}" for i in range(6)])
    imputer = small(add_indicator=True).set_output(transform="pandas").fit(frame)
    imputed = imputer.transform(frame)
    assert isinstance(imputed, pd.DataFrame)
    assert list(imputed.columns) == list(imputer.get_feature_names_out())
    assert list(imputed.columns[:6]) == list(frame.columns)
    assert imputed.columns[6] == "missingindicator_f0"
    assert not imputed.isna().any().any()


def test_a_pickled_imputer_transforms_identically(table):
    _, _, X_missing = table
    imputer = small().fit(X_missing)
    payload = pickle.dumps(imputer)
    assert b"torch" not in payload
    np.testing.assert_array_equal(
        pickle.loads(payload).transform(X_missing), imputer.transform(X_missing)
    )


def test_float32_stays_float32(table):
    X, missing, X_missing = table
    imputed = small().fit(X_missing.astype(np.float32)).transform(X_missing.astype(np.float32))
    assert imputed.dtype == np.float32
    np.testing.assert_array_equal(imputed[~missing], X.astype(np.float32)[~missing])


def test_random_state_makes_fits_reproducible(table):
    _, _, X_missing = table
    first = small(random_state=1).fit_transform(X_missing)
    np.testing.assert_array_equal(small(random_state=1).fit_transform(X_missing), first)
    assert not np.array_equal(small(random_state=2).fit_transform(X_missing), first)


def test_averaged_weights_are_the_mean_of_the_second_half_of_the_epochs(table, monkeypatch):
    _, _, X_missing = table
    seen = []

    class Record(EpochHook):
        def on_epoch_end(self, module, history):
            seen.append(module.encoder.weight.detach().clone())

    fit_loop = _trainer.fit_loop
    monkeypatch.setattr(
        _trainer,
        "fit_loop",
        lambda *args, hooks=(), **kwargs: fit_loop(*args, hooks=[Record(), *hooks], **kwargs),
    )
    averaged = small(average=True).fit(X_missing)  # 10 epochs
    assert len(seen) == 10
    mean = torch.stack(seen[5:]).mean(dim=0)
    module = averaged._get_module()
    assert module.encoder.weight.dtype == torch.float32  # the network's, for float64 data
    torch.testing.assert_close(module.encoder.weight, mean)
    assert not torch.allclose(module.encoder.weight, seen[-1])


def test_averaged_weights_fill_otherwise_and_early_stopping_keeps_its_best_epoch(table):
    _, missing, X_missing = table
    averaged, last = (small(average=average).fit(X_missing) for average in (True, False))
    assert not np.allclose(averaged.transform(X_missing), last.transform(X_missing))
    stopped = [small(average=a, early_stopping=True).fit(X_missing) for a in (True, False)]
    np.testing.assert_array_equal(stopped[0].transform(X_missing), stopped[1].transform(X_missing))


def test_more_fill_iterations_change_only_the_missing_entries(table):
    X, missing, X_missing = table
    imputer = small().fit(X_missing)
    once = imputer.transform(X_missing)
    thrice = imputer.set_params(n_fill_iter=3).transform(X_missing)
    np.testing.assert_array_equal(thrice[~missing], once[~missing])
    assert not np.array_equal(thrice[missing], once[missing])


def test_fill_masks_average_readings_that_each_hide_a_tenth_of_the_columns(table):
    X, missing, X_missing = table
    imputer = small().fit(X_missing)
    once = imputer.set_params(n_fill_masks=1).transform(X_missing)
    masks = imputer.set_params(n_fill_masks=50)._fill_masks(X.shape[1])
    assert masks.shape == (50, X.shape[1])
    assert 0.05 < masks.mean() < 0.15  # a tenth of the columns, at random
    averaged = imputer.transform(X_missing)
    np.testing.assert_array_equal(averaged[~missing], X[~missing])
    assert not np.allclose(averaged[missing], once[missing])
    # the mean of the readings, each the reconstruction of the row with its mask's columns
    # hidden too (clipped to the columns' ranges once, after the mean)
    module = imputer._get_module().eval()
    rows = np.where(missing, np.nan, imputer._scaled(X_missing, missing)[0])
    mean = imputer._reconstruct(module, rows)
    imputer.set_params(n_fill_masks=1)
    readings = [imputer._reconstruct(module, np.where(mask, np.nan, rows)) for mask in masks]
    np.testing.assert_allclose(mean, np.mean(readings, axis=0))


def test_a_rows_fill_depends_on_that_row_alone_and_is_the_same_at_every_call(table):
    X, missing, X_missing = table
    imputer = small().fit(X_missing)
    filled = imputer.transform(X_missing)
    np.testing.assert_array_equal(imputer.transform(X_missing), filled)
    np.testing.assert_array_equal(imputer.transform(X_missing[::-1][:30]), filled[::-1][:30])
    again = pickle.loads(pickle.dumps(imputer))
    np.testing.assert_array_equal(again.transform(X_missing), filled)


def test_fill_masks_auto_is_32_for_the_dense_network_and_one_for_the_convolutional(digits):
    X = digits[0][:100]
    X_missing = np.where(np.random.default_rng(0).random(X.shape) < 0.2, np.nan, X)
    dense = small().fit(X_missing)
    assert dense._fill_masks(X.shape[1]).shape == (32, X.shape[1])
    convolutional = small(image_shape=(8, 8), max_iter=1).fit(X_missing)
    assert convolutional._fill_masks(X.shape[1]) is None


@pytest.mark.parametrize(
    "X, params, error, match",
    [
        ([[1.0, np.inf], [2.0, 3.0]], {}, ValueError, "infinity"),
        ([[1.0, np.nan], [2.0, 3.0]], {"missing_values": -1}, ValueError, "missing_values=-1"),
        ([[1.0, "a"], [2.0, "b"]], {}, ValueError, "numeric data only"),
        ([[np.nan, np.nan], [np.nan, np.nan]], {}, ValueError, "no observed entry"),
        (sp.csr_matrix(np.eye(3)), {}, TypeError, "dense data is required"),
        ([[1.0, 2.0], [3.0, 4.0]], {"mask_fraction": 1.0}, InvalidParameterError, "mask_fraction"),
        ([[1.0, 2.0], [3.0, 4.0]], {"missing_values": "?"}, InvalidParameterError, "missing"),
    ],
    ids=[
        "inf",
        "unmarked-nan",
        "strings",
        "all-missing",
        "sparse",
        "mask_fraction",
        "string-marker",
    ],
)
def test_bad_input_raises_a_clear_error(X, params, error, match):
    with pytest.raises(error, match=match):
        small(**params).fit(np.array(X, dtype=object) if isinstance(X, list) else X)


def test_strings_in_a_dataframe_raise_a_clear_error():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"size": [1.0, np.nan, 3.0], "colour": ["red", "blue", "red"]})
    with pytest.raises(ValueError, match="numeric data only.*OrdinalEncoder"):
        small().fit(frame)


def test_lbfgs_is_refused_since_its_line_search_needs_one_objective():
    X = np.array([[1.0, np.nan], [2.0, 3.0], [np.nan, 4.0]])
    with pytest.raises(InvalidParameterError, match="solver"):
        SparseAutoencoderImputer(solver="lbfgs").fit(X)


def test_loading_a_fitted_imputer_leaves_torchs_global_generator_alone(table):
    X_missing = table[2]
    restored = pickle.loads(pickle.dumps(small().fit(X_missing)))
    state = torch.random.get_rng_state()
    restored.transform(X_missing)
    assert torch.equal(torch.random.get_rng_state(), state)


def block_damage(n_images, side, size, rng):
    """Masks of a ``size`` x ``size`` block per image, placed at random."""
    mask = np.zeros((n_images, side, side), dtype=bool)
    places = rng.integers(0, side - size + 1, (n_images, 2))
    for image, (row, column) in zip(mask, places, strict=True):
        image[row : row + size, column : column + size] = True
    return mask.reshape(n_images, -1)


@pytest.mark.slow  # (two fits of the default 2,000 steps on the digits: 5 s)
def test_told_the_image_shape_the_dense_network_learns_to_fill_holes(digits):
    X, _ = digits
    rng = np.random.default_rng(0)
    train = np.where(rng.random(X[:1300].shape) < 0.2, np.nan, X[:1300])
    block = block_damage(len(X) - 1300, 8, 4, rng)
    damaged = np.where(block, np.nan, X[1300:])

    def rmse(**params):
        imputer = SparseAutoencoderImputer(n_components=64, random_state=0, **params)
        filled = imputer.fit(train).transform(damaged)
        return np.sqrt(np.mean((filled - X[1300:])[block] ** 2))

    assert rmse(image_shape=(8, 8), network="dense") < 0.99 * rmse(network="dense")


@pytest.mark.slow  # (1,200 steps of the convolutional network on the digits: 45 s)
def test_the_convolutional_network_fills_holes_and_pixels_better_than_the_dense_one(digits):
    X, _ = digits
    rng = np.random.default_rng(0)
    train = np.where(rng.random(X[:1300].shape) < 0.2, np.nan, X[:1300])
    damage = {
        "block": block_damage(len(X) - 1300, 8, 4, rng),
        "pixels": rng.random(X[1300:].shape) < 0.2,
    }
    errors = {}
    for network in ("dense", "convolutional"):
        imputer = SparseAutoencoderImputer(image_shape=(8, 8), network=network, random_state=0)
        imputer.fit(train)
        for name, mask in damage.items():
            filled = imputer.transform(np.where(mask, np.nan, X[1300:]))
            errors[network, name] = np.sqrt(np.mean((filled - X[1300:])[mask] ** 2))
    for name in damage:
        assert errors["convolutional", name] < 0.95 * errors["dense", name], errors


def test_images_are_filled_by_the_convolutional_network_and_tables_by_the_deep_one(digits):
    X, _ = digits
    X_missing = np.where(np.random.default_rng(0).random(X[:100].shape) < 0.2, np.nan, X[:100])
    images = small(image_shape=(8, 8), max_iter=2).fit(X_missing)
    assert hasattr(images, "network_weights_") and not hasattr(images, "encoder_weights_")
    assert isinstance(images._get_module(), MaskedConvolutionalAutoencoder)
    table = small(max_iter=2).fit(X_missing)
    assert isinstance(table._get_module(), MaskedDeepAutoencoder)
    assert hasattr(table, "network_weights_") and not hasattr(table, "encoder_weights_")
    table.set_params(network="dense").fit(X_missing)
    assert hasattr(table, "encoder_weights_") and not hasattr(table, "network_weights_")
    images.set_params(network="dense").fit(X_missing)  # a refit drops the other's weights
    assert hasattr(images, "encoder_weights_") and not hasattr(images, "network_weights_")
    images.set_params(network="convolutional").fit(X_missing)
    assert hasattr(images, "network_weights_") and not hasattr(images, "known_weights_")


def test_the_convolutional_network_computes_in_float32_and_keeps_the_input_dtype(digits):
    X, _ = digits
    missing = np.random.default_rng(0).random(X[:100].shape) < 0.2
    X_missing = np.where(missing, np.nan, X[:100])
    imputer = small(image_shape=(8, 8), max_iter=2).fit(X_missing)
    assert next(imputer._get_module().parameters()).dtype == torch.float32
    filled = imputer.transform(X_missing)
    assert filled.dtype == np.float64 and not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[~missing], X[:100][~missing])


def test_a_pickled_convolutional_imputer_fills_the_same_around_an_empty_pixel():
    X = np.random.default_rng(0).random((60, 16))
    X[:, 5] = np.nan  # a pixel never observed: dropped, the network reads it as unknown
    X_missing = np.where(np.random.default_rng(1).random(X.shape) < 0.2, np.nan, X)
    imputer = small(n_components=8, image_shape=(4, 4), max_iter=3, sample_posterior=True)
    filled = imputer.fit(X_missing).transform(X_missing)
    assert filled.shape == (60, 15) and not np.isnan(filled).any()
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(imputer)).transform(X_missing), filled)


@pytest.mark.parametrize("image_shape", [(8, 8), None])
def test_auto_keeps_the_dense_network_for_what_only_that_one_has(digits, image_shape):
    X, _ = digits
    X_missing = np.where(np.random.default_rng(0).random(X[:60].shape) < 0.2, np.nan, X[:60])
    for params in (
        dict(sparsity="topk", k=4),
        dict(tied_weights=True),
        dict(contractive_weight=0.1),
    ):
        imputer = small(image_shape=image_shape, max_iter=1, **params).fit(X_missing)
        assert hasattr(imputer, "encoder_weights_") and not hasattr(imputer, "network_weights_")


@pytest.mark.parametrize("n_components, n_hidden", [(16, 16), (64, 24)])
def test_the_deep_networks_second_layer_has_four_units_a_column_at_most_n_components(
    table, n_components, n_hidden
):
    X_missing = table[2]  # 6 columns
    imputer = small(n_components=n_components, max_iter=2).fit(X_missing)
    weights = imputer.network_weights_
    assert weights["encoder.weight"].shape == (n_components, 6)
    assert weights["known_weight"].shape == (n_components, 6)
    assert weights["expand.weight"].shape == (n_hidden, n_components)
    assert weights["decoder_weight"].shape == (6, n_hidden)


@pytest.mark.slow  # (4,000 steps of the deep network on 1,347 rows of the digits: 10 s)
def test_the_deep_network_fills_the_digits_table_better_than_the_one_layer_one(digits):
    X, _ = digits
    rng = np.random.default_rng(0)
    missing = rng.random(X.shape) < 0.2
    X_missing = np.where(missing, np.nan, X)
    std = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)

    def rmse(network):
        imputer = SparseAutoencoderImputer(network=network, random_state=0).fit(X_missing[:1347])
        filled = imputer.transform(X_missing[1347:])
        return np.sqrt(np.mean(((filled - X[1347:]) / std)[missing[1347:]] ** 2))

    assert rmse("deep") < 0.97 * rmse("dense")


@pytest.mark.parametrize(
    "image_shape, params",
    [
        ((5, 3, 2), {}),  # odd sides, two channels
        ((5, 6), dict(sparsity="kl", early_stopping=True, n_fill_iter=2)),
        ((5, 6), dict(sparsity="l1", solver="sgd", average=False, sample_posterior=True)),
    ],
)
def test_the_convolutional_network_fills_images_of_any_shape_with_its_options(image_shape, params):
    rng = np.random.default_rng(0)
    X = rng.random((80, 30)).astype(np.float32)
    missing = rng.random(X.shape) < 0.2
    X_missing = np.where(missing, np.nan, X)
    imputer = small(n_components=8, image_shape=image_shape, max_iter=3, **params)
    filled = imputer.fit(X_missing).transform(X_missing)
    assert isinstance(imputer._get_module(), MaskedConvolutionalAutoencoder)
    assert filled.dtype == np.float32 and not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[~missing], X[~missing])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(imputer)).transform(X_missing), filled)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(network="convolutional"), "give their image_shape"),
        (dict(image_shape=(8, 8), network="convolutional", sparsity="topk"), "dense codes"),
        (dict(image_shape=(8, 8), network="convolutional", tied_weights=True), "neither"),
        (dict(image_shape=(8, 8), network="convolutional", contractive_weight=0.1), "neither"),
        (dict(network="deep", sparsity="topk"), "dense codes"),
        (dict(network="deep", sparsity="batchtopk"), "dense codes"),
        (dict(network="deep", tied_weights=True), "neither"),
        (dict(network="deep", contractive_weight=0.1), "neither"),
    ],
)
def test_the_deep_and_convolutional_networks_refuse_what_they_cannot_be(params, match):
    with pytest.raises(ValueError, match=match):
        small(max_iter=1, **params).fit(np.random.default_rng(0).random((20, 64)))


def test_an_image_shape_must_hold_the_features():
    with pytest.raises(ValueError, match="holds 30 pixels"):
        small(image_shape=(5, 6)).fit(np.ones((10, 64)))


def test_max_iter_auto_is_a_budget_of_steps_run_in_full(table):
    _, _, X_missing = table
    imputer = SparseAutoencoderImputer(n_components=8, random_state=0).fit(X_missing)
    assert imputer.max_iter_ == 800  # 200 rows, one step an epoch: the deep network's most
    assert imputer.n_iter_ == imputer.max_iter_  # no convergence check
    imputer = SparseAutoencoderImputer(n_components=8, batch_size=25, random_state=0)
    assert imputer.fit(X_missing).max_iter_ == 500  # eight steps an epoch: 4,000 steps
    dense = imputer.set_params(network="dense", batch_size=50)
    assert dense.fit(X_missing).max_iter_ == 500  # four steps an epoch: 2,000 steps
    assert dense.set_params(batch_size=200).fit(X_missing).max_iter_ == 1000  # its most
    assert small(max_iter=7).fit(X_missing).max_iter_ == 7


def test_draws_vary_with_random_state_and_spread_as_the_residuals(table):
    X, missing, X_missing = table
    imputer = small(sample_posterior=True, max_iter=50).fit(X_missing)
    assert imputer.residual_std_.shape == (X.shape[1],)
    assert (imputer.residual_std_ > 0).all()
    draws = np.stack([imputer.set_params(random_state=r).transform(X_missing) for r in range(40)])
    np.testing.assert_array_equal(draws[:, ~missing], np.tile(X[~missing], (40, 1)))
    assert not np.array_equal(draws[0], draws[1])
    np.testing.assert_array_equal(
        imputer.set_params(random_state=3).transform(X_missing), draws[3]
    )  # a draw is reproducible
    spread = draws.std(axis=0)[missing] / imputer.residual_std_[np.nonzero(missing)[1]]
    assert 0.7 < np.median(spread) <= 1.0  # (clipping to the range narrows a few)
    mean = small(max_iter=50).fit(X_missing).transform(X_missing)
    assert (
        np.abs(draws.mean(axis=0) - mean)[missing].mean() < np.abs(draws[0] - mean)[missing].mean()
    )


@pytest.mark.slow  # (2 to 3 s)
def test_draws_from_a_calibrated_spread_cover_about_nine_tenths_at_90_percent():
    X = load_diabetes().data
    rng = np.random.default_rng(0)
    missing = rng.random(X.shape) < 0.2
    X_missing = np.where(missing, np.nan, X)
    train, test = slice(0, 330), slice(330, None)
    imputer = SparseAutoencoderImputer(sample_posterior=True, random_state=0)
    imputer.fit(X_missing[train])
    draws = np.stack(
        [imputer.set_params(random_state=r).transform(X_missing[test]) for r in range(20)]
    )
    center, spread = draws.mean(axis=0), 1.645 * draws.std(axis=0)
    covered = (np.abs(X[test] - center) <= spread)[missing[test]].mean()
    assert 0.85 <= covered <= 0.95


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_images_with_an_empty_column_impute_on_cuda():
    X = np.random.default_rng(0).random((60, 16))
    X[:, 5] = np.nan  # a pixel never observed: dropped, its rectangles mapped around it
    missing = np.random.default_rng(1).random(X.shape) < 0.2
    X_missing = np.where(missing, np.nan, X)
    params = dict(n_components=8, image_shape=(4, 4), sample_posterior=True, max_iter=5)
    imputer = SparseAutoencoderImputer(device="cuda", random_state=0, **params).fit(X_missing)
    filled = imputer.transform(X_missing)
    kept = np.delete(X_missing, 5, axis=1)
    assert filled.shape == (60, 15) and not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[~np.isnan(kept)], kept[~np.isnan(kept)])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(imputer)).transform(X_missing), filled)


def test_batchtopk_thresholds_are_calibrated_on_rows_read_with_their_gaps(digits):
    X, _ = digits
    missing = np.random.default_rng(0).random(X.shape) < 0.3
    X_missing = np.where(missing, np.nan, X)
    imputer = small(sparsity="batchtopk", k=8, n_components=64, max_iter=40).fit(X_missing)
    module = imputer._get_module().eval()
    Z, observed = imputer._scaled(X_missing, missing)
    rows = module.known_inputs(torch.from_numpy(Z), torch.from_numpy(observed))
    with torch.no_grad():
        codes = module(rows.to(next(module.parameters()).dtype)).codes
    assert (codes > 0).sum(dim=1).double().mean().item() == pytest.approx(8, rel=0.1)
