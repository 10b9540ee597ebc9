"""ConvolutionalSparseAutoencoderTransformer: images in rows, sparse feature maps out."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skl_sae import (
    ConvolutionalSparseAutoencoderTransformer,
    StackedSparseAutoencoderClassifier,
    _conv,
)
from skl_sae._data import resolve_image_shape
from skl_sae._modules import ConvolutionalAutoencoder


@pytest.fixture(scope="module")
def images(digits):
    X, y = digits
    return X[:300], y[:300]


def small(**params):
    defaults = dict(filters=(4, 8), kernel_size=5, pooling=None, max_iter=3, random_state=0)
    return ConvolutionalSparseAutoencoderTransformer(**{**defaults, **params})


# -- the network ------------------------------------------------------------------


@pytest.mark.parametrize(
    "image_shape, filters, stride, map_shape",
    [
        ((28, 28, 1), (16, 32), 2, (32, 7, 7)),
        ((8, 8, 1), (8,), 2, (8, 4, 4)),
        ((5, 9, 2), (3,), 1, (3, 5, 9)),
        ((32, 32, 3), (4, 6), 2, (6, 8, 8)),
        ((1, 7, 1), (4, 4), 2, (4, 1, 2)),
    ],
)
def test_the_decoder_gives_back_images_of_the_input_shape(image_shape, filters, stride, map_shape):
    module = ConvolutionalAutoencoder(
        image_shape, filters, stride=stride, generator=torch.Generator().manual_seed(0)
    )
    x = torch.rand(3, int(np.prod(image_shape)))
    out = module(x)
    assert module.encoder.map_shape == map_shape
    n_positions = map_shape[1] * map_shape[2]
    # One row of units per sample and position: what every code and loss takes.
    assert out.codes.shape == (3 * n_positions, filters[-1])
    assert out.reconstruction.shape == x.shape
    maps = module.maps(out.codes)
    assert maps.shape == (3, int(np.prod(map_shape)))
    torch.testing.assert_close(module.unit_rows(maps), out.codes)


def test_maps_are_channel_by_channel_in_each_sample():
    module = ConvolutionalAutoencoder((4, 4, 1), (2,), generator=torch.Generator())
    rows = torch.arange(2 * 4 * 2, dtype=torch.float32).reshape(8, 2)  # 2 samples, 4 positions
    maps = module.maps(rows)
    # Sample 0, channel 0 at its 4 positions, then channel 1.
    assert maps[0].tolist() == [0.0, 2.0, 4.0, 6.0, 1.0, 3.0, 5.0, 7.0]


def test_unit_norm_atoms_are_each_channels_first_transposed_kernels():
    module = ConvolutionalAutoencoder((8, 8, 1), (4, 6), generator=torch.Generator())
    module.normalize_decoder_()
    norms = module.deconvolutions[0].weight.flatten(1).norm(dim=1)
    torch.testing.assert_close(norms, torch.ones(6))
    module.deconvolutions[0].weight.grad = torch.randn_like(module.deconvolutions[0].weight)
    module.remove_parallel_gradient_()
    weight = module.deconvolutions[0].weight
    parallel = (weight.grad * weight).flatten(1).sum(dim=1)
    torch.testing.assert_close(parallel, torch.zeros(6), atol=1e-6, rtol=0)


def test_image_shapes_are_resolved_from_the_width_or_checked_against_it():
    assert resolve_image_shape(None, 64) == (8, 8, 1)
    assert resolve_image_shape(None, 10) == (1, 10, 1)  # a row of pixels
    assert resolve_image_shape((4, 3), 12) == (4, 3, 1)
    assert resolve_image_shape((2, 2, 3), 12) == (2, 2, 3)
    with pytest.raises(ValueError, match="image_shape=.*holds 9 pixels, but X has 12"):
        resolve_image_shape((3, 3), 12)


# -- the transformer --------------------------------------------------------------


def test_transform_gives_flattened_or_pooled_feature_maps(images):
    X, _ = images
    conv = small().fit(X)
    assert conv.image_shape_ == (8, 8, 1) and conv.map_shape_ == (8, 2, 2)
    codes = conv.transform(X)
    assert codes.shape == (300, 32) and len(conv.get_feature_names_out()) == 32
    assert conv.inverse_transform(codes).shape == X.shape
    maps = codes.reshape(300, 8, 4)
    for pooling, pool in [("mean", maps.mean(axis=2)), ("max", maps.max(axis=2))]:
        conv.set_params(pooling=pooling, pooling_regions=1)
        np.testing.assert_allclose(conv.transform(X), pool, rtol=1e-6, atol=1e-12)
        assert len(conv.get_feature_names_out()) == 8
        assert not hasattr(conv, "inverse_transform")  # pooled codes cannot be decoded
    assert hasattr(conv.set_params(pooling=None), "inverse_transform")


def test_pooling_regions_pool_each_cell_of_a_grid_and_a_tuple_of_them_is_a_pyramid(images):
    X, _ = images
    conv = small(stride=1).fit(X)  # 8 maps of 8 x 8
    maps = conv.transform(X).reshape(300, 8, 8, 8)
    quadrants = maps.reshape(300, 8, 2, 4, 2, 4).max(axis=(3, 5)).reshape(300, 32)
    conv.set_params(pooling="max", pooling_regions=2)
    np.testing.assert_allclose(conv.transform(X), quadrants, rtol=1e-6)
    assert len(conv.get_feature_names_out()) == 8 * 4
    conv.set_params(pooling="mean", pooling_regions=(1, 2))
    means = maps.reshape(300, 8, 2, 4, 2, 4).mean(axis=(3, 5)).reshape(300, 32)
    expected = np.hstack([maps.reshape(300, 8, -1).mean(axis=2), means])
    np.testing.assert_allclose(conv.transform(X), expected, rtol=1e-5, atol=1e-7)
    assert conv.transform(X).shape[1] == len(conv.get_feature_names_out()) == 8 * (1 + 4)


def test_auto_sparsity_is_winner_take_all_for_pooled_features_and_kl_for_codes_to_decode(images):
    X, _ = images
    features = ConvolutionalSparseAutoencoderTransformer(max_iter=2, random_state=0).fit(X)
    assert features.sparsity_ == "wta" and features.pooling == "max"
    assert features.transform(X).shape == (300, 128 * 5 * 5)  # 128 maps, a 5 x 5 grid
    codes = small(sparsity="auto").fit(X)
    assert codes.sparsity_ == "kl"


def test_winner_take_all_features_are_the_whole_maps_and_decode_to_the_reconstruction(images):
    X, _ = images
    conv = small(stride=1, sparsity="wta").fit(X)
    codes = conv.transform(X)
    assert (codes > 0).mean() > 0.2  # not the winners alone: the whole (relu) maps
    errors = np.mean((conv.inverse_transform(codes) - X) ** 2, axis=1)
    np.testing.assert_allclose(-errors, conv.score_samples(X), rtol=1e-5)
    assert conv.thresholds_.shape == (8,) and conv.dead_latents_ == 0.0


def test_topk_keeps_k_channels_at_each_position(images):
    X, _ = images
    conv = small(sparsity="topk", k=3).fit(X)
    maps = conv.transform(X).reshape(300, 8, 4)
    assert ((maps != 0).sum(axis=1) <= 3).all()
    assert conv.feature_density_.shape == (8,) and conv.l0_ <= 3 + 1e-9
    assert conv.n_components_ == 8


@pytest.mark.parametrize("sparsity", ["kl", "l1", "batchtopk", "jumprelu", None])
def test_every_sparsity_trains_per_channel(images, sparsity):
    X, _ = images
    conv = small(sparsity=sparsity).fit(X)
    assert np.isfinite(conv.loss_curve_).all()
    assert conv.feature_density_.shape == (8,)
    assert np.isfinite(conv.transform(X)).all()


def test_it_reconstructs_the_digits_better_than_their_mean(images):
    X, _ = images
    conv = small(sparsity=None, filters=(8, 16), batch_size=32, max_iter=30, tol=0).fit(X)
    assert conv.explained_variance_ > 0.7
    assert conv.score(X) > -np.mean((X - X.mean(axis=0)) ** 2)


def test_colour_images_and_their_first_kernels():
    X = np.random.default_rng(0).random((40, 6 * 6 * 3))
    conv = small(image_shape=(6, 6, 3), kernel_size=5).fit(X)
    assert conv.kernels_.shape == (4, 5, 5, 3)
    assert conv.map_shape_ == (8, 2, 2)
    assert conv.inverse_transform(conv.transform(X)).shape == X.shape


def test_pickles_keep_the_transform_and_float32_stays_float32(images):
    X, _ = images
    conv = small().fit(X.astype(np.float32))
    restored = pickle.loads(pickle.dumps(conv))
    codes = conv.transform(X.astype(np.float32))
    assert codes.dtype == np.float32
    np.testing.assert_array_equal(restored.transform(X.astype(np.float32)), codes)


def test_warm_start_and_partial_fit_continue_the_network(images):
    X, _ = images
    conv = small(warm_start=True).fit(X)
    conv.fit(X)
    assert len(conv.loss_curve_) == 6 and len(conv.structure_curve_) == 6
    streamed = small()
    for _ in range(3):
        streamed.partial_fit(X)
    assert streamed.n_iter_ == 3


def test_in_a_pipeline_with_a_grid_search_and_before_the_stacked_classifier(images):
    X, y = images
    pipe = Pipeline([("conv", small(pooling="max")), ("clf", LogisticRegression(max_iter=200))])
    search = GridSearchCV(pipe, {"conv__filters": [(4,), (4, 8)]}, cv=2).fit(X, y)
    assert search.best_params_["conv__filters"] in [(4,), (4, 8)]
    stacked = Pipeline(
        [
            ("conv", small()),
            ("clf", StackedSparseAutoencoderClassifier((8,), pretrain_max_iter=1, max_iter=2)),
        ]
    ).fit(X, y)
    assert stacked.predict_proba(X).shape == (300, 10)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(kernel_size=4), "kernel_size must be odd"),
        (dict(filters=(4, 0)), "filters must be"),
        (dict(filters=()), "filters must be"),
        (dict(image_shape=(7, 7)), "holds 49 pixels, but X has 64"),
    ],
)
def test_bad_shapes_are_refused_with_clear_errors(images, params, match):
    with pytest.raises(ValueError, match=match):
        small(**params).fit(images[0])


def test_rows_of_another_width_are_refused(images):
    conv = small().fit(images[0])
    with pytest.raises(ValueError, match="features"):
        conv.transform(images[0][:, :32])
    with pytest.raises(ValueError, match="feature maps of this model have 32"):
        conv.inverse_transform(np.zeros((2, 31)))


def test_filters_display_shows_the_first_kernels(images):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from skl_sae.plot import FiltersDisplay, ReconstructionDisplay

    conv = small().fit(images[0])
    display = FiltersDisplay.from_estimator(conv)
    assert len(display.images_) == 4 and display.images_[0].get_array().shape == (5, 5)
    shown = ReconstructionDisplay.from_estimator(conv, images[0], n_samples=3)
    assert shown.images_.shape == (2, 3)


def test_the_fitted_weights_are_public_arrays_that_pickling_keeps(images):
    X, _ = images
    conv = small(filters=(4, 6)).fit(X)
    assert [k.shape for k in conv.encoder_kernels_] == [(4, 1, 5, 5), (6, 4, 5, 5)]
    assert [b.shape for b in conv.encoder_intercepts_] == [(4,), (6,)]
    assert [k.shape for k in conv.decoder_kernels_] == [(6, 4, 5, 5), (4, 1, 5, 5)]
    np.testing.assert_array_equal(conv.kernels_, conv.encoder_kernels_[0].transpose(0, 2, 3, 1))
    state = conv.__getstate__()
    assert not any(name.startswith("_weights") for name in state)
    restored = pickle.loads(pickle.dumps(conv))
    np.testing.assert_array_equal(restored.transform(X), conv.transform(X))


def test_auto_max_iter_is_a_budget_of_steps_for_winner_take_all_features():
    conv = ConvolutionalSparseAutoencoderTransformer()
    assert conv._resolve_max_iter(np.zeros((60_000, 784)), "wta") == 3  # 300 steps an epoch
    assert conv._resolve_max_iter(np.zeros((1347, 64)), "wta") == 114  # 7 steps an epoch
    assert conv._resolve_max_iter(np.zeros((30, 64)), "wta") == 200  # 1 step an epoch: at most 200
    assert conv._resolve_max_iter(np.zeros((1347, 64)), "kl") == 200  # codes to decode
    assert conv.set_params(solver="lbfgs")._resolve_max_iter(np.zeros((9, 4)), "wta") == 200
    assert conv.set_params(max_iter=7)._resolve_max_iter(np.zeros((9, 4)), "wta") == 7


def test_a_refit_resolves_auto_max_iter_for_its_own_sparsity(images, monkeypatch):
    X, _ = images  # 300 rows: 2 steps an epoch
    monkeypatch.setattr(_conv, "WTA_STEPS", 6)
    conv = ConvolutionalSparseAutoencoderTransformer(filters=(4,), pooling=None, max_iter=1)
    assert conv.fit(X).sparsity_ == "kl"
    conv.set_params(pooling="max", max_iter="auto").fit(X)  # not the last fit's KL
    assert conv.sparsity_ == "wta" and conv.max_iter_ == conv.n_iter_ == 3


def test_auto_max_iter_runs_its_budget_without_a_convergence_check(images, monkeypatch):
    X, _ = images  # 300 rows: 2 steps an epoch
    monkeypatch.setattr(_conv, "WTA_STEPS", 6)
    conv = ConvolutionalSparseAutoencoderTransformer(filters=(4,), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a budget, not a failure
        conv.fit(X)
    assert conv.max_iter_ == conv.n_iter_ == 3
