"""SparseAutoencoderTransformer with the sparse codes, and its diagnostics."""

import pickle

import numpy as np
import pytest

from skl_sae import SparseAutoencoderTransformer

SPARSE_CODES = ["topk", "batchtopk", "jumprelu"]


def small(**params):
    """A fast sparse-code transformer for digits; ``params`` override."""
    defaults = dict(n_components=48, k=6, max_iter=30, random_state=0)
    return SparseAutoencoderTransformer(**{**defaults, **params})


def test_topk_codes_have_exactly_k_nonzeros_per_row(digits):
    X, _ = digits
    sae = small(sparsity="topk").fit(X)
    assert np.all(np.count_nonzero(sae.transform(X), axis=1) == 6)
    assert sae.l0_ == pytest.approx(6)


def test_batchtopk_inference_of_one_row_equals_its_row_in_a_batch(digits):
    X, _ = digits
    sae = small(sparsity="batchtopk").fit(X)
    batch = sae.transform(X[:200])
    rows = np.vstack([sae.transform(X[i : i + 1]) for i in range(20)])
    np.testing.assert_array_equal(rows != 0, batch[:20] != 0)  # the same codes fire
    np.testing.assert_allclose(rows, batch[:20], rtol=1e-12)  # up to BLAS rounding
    assert sae.thresholds_.shape == (48,) and np.all(sae.thresholds_ == sae.thresholds_[0])
    assert np.all(batch[batch != 0] > sae.thresholds_[0])
    # The calibrated threshold alone keeps about k codes per row on average.
    assert sae.l0_ == pytest.approx(6, rel=0.1)


@pytest.mark.parametrize("sparsity", ["batchtopk", "jumprelu"])
def test_thresholds_are_finite_on_constant_data(sparsity):
    # No code of BatchTopK fires on constant data: its threshold is 0, not NaN.
    sae = small(n_components=3, k=2, max_iter=2, sparsity=sparsity).fit(np.ones((5, 2)))
    assert np.all(np.isfinite(sae.thresholds_))
    np.testing.assert_array_equal(sae.transform(np.ones((2, 2))), 0.0)


def test_jumprelu_codes_are_sparse_and_trained_thresholds_move(digits):
    X, _ = digits
    sae = small(sparsity="jumprelu", max_iter=60).fit(X)
    initial = X.var(axis=0).mean() ** 0.5  # the thresholds start at this scale
    moved = np.abs(sae.thresholds_ / initial - 1)
    assert moved.max() > 0.01 and np.unique(sae.thresholds_).size == 48  # each its own
    codes = sae.transform(X)
    assert sae.l0_ < 0.5 * sae.n_components
    assert np.all((codes == 0) | (codes > sae.thresholds_))


def test_a_heavier_l0_weight_gives_sparser_jumprelu_codes(digits):
    X, _ = digits
    light = small(sparsity="jumprelu", sparsity_weight=0.3).fit(X)
    heavy = small(sparsity="jumprelu", sparsity_weight=10.0).fit(X)
    assert heavy.l0_ < 0.7 * light.l0_


@pytest.mark.parametrize("sparsity", SPARSE_CODES)
@pytest.mark.parametrize("tied_weights", [False, True])
def test_decoder_columns_have_unit_norm_after_fit(digits, sparsity, tied_weights):
    X, _ = digits
    sae = small(sparsity=sparsity, tied_weights=tied_weights, max_iter=5).fit(X)
    np.testing.assert_allclose(np.linalg.norm(sae.components_, axis=1), 1.0, rtol=1e-6)


def test_penalties_keep_a_free_decoder(digits):
    X, _ = digits
    sae = small(sparsity="l1", max_iter=5).fit(X)
    assert not np.allclose(np.linalg.norm(sae.components_, axis=1), 1.0)


@pytest.mark.slow
def test_auxk_lowers_the_dead_latent_fraction(digits):
    X, _ = digits
    # A step size at which units die (10x the sparse codes' own).
    params = dict(sparsity="topk", n_components=128, k=8, max_iter=100, learning_rate_init=1e-2)
    without = small(auxk_weight=0.0, **params).fit(X)
    with_auxk = small(**params).fit(X)
    assert with_auxk.dead_latents_ < 0.9 * without.dead_latents_


def test_auxk_keeps_counting_across_partial_fit_calls(digits):
    X, _ = digits
    params = dict(sparsity="topk", n_components=128, k=8, learning_rate_init=1e-2)
    without, with_auxk = small(auxk_weight=0.0, **params), small(**params)
    for _ in range(40):
        without.partial_fit(X)
        with_auxk.partial_fit(X)
    assert with_auxk.dead_latents_ < 0.9 * without.dead_latents_


def test_auxk_trains_the_dead_units_without_adding_to_the_reported_loss(digits):
    X, _ = digits
    # One batch an epoch: the epoch's loss is its one step's, taken before the
    # step, at the same weights with AuxK and without. With one code of 256 per
    # row, the units that no row picks are dead within that batch.
    params = dict(sparsity="topk", n_components=256, k=1, max_iter=1, batch_size=len(X))
    with_auxk = small(**params).fit(X)
    without = small(auxk_weight=0.0, **params).fit(X)
    assert with_auxk.loss_curve_ == without.loss_curve_
    dead = with_auxk.feature_density_ == 0  # fired on no row of the batch
    moved = np.any(with_auxk.components_ != without.components_, axis=1)
    assert moved[dead].any()  # AuxK trains dead units...
    assert not moved[~dead].any()  # ...and no other


@pytest.mark.parametrize("sparsity", ["kl", "l1", *SPARSE_CODES])
def test_activation_auto_is_sigmoid_for_kl_and_relu_for_the_rest(digits, sparsity):
    X, _ = digits
    codes = small(sparsity=sparsity, max_iter=2).fit(X).transform(X)
    if sparsity == "kl":
        assert np.all((codes > 0) & (codes < 1))
    else:
        assert np.all(codes >= 0) and np.any(codes == 0)


@pytest.mark.parametrize("sparsity", SPARSE_CODES)
def test_sparse_codes_pickle_with_their_thresholds(digits, sparsity):
    X, _ = digits
    sae = small(sparsity=sparsity, max_iter=5).fit(X)
    restored = pickle.loads(pickle.dumps(sae))
    np.testing.assert_array_equal(restored.transform(X), sae.transform(X))


@pytest.mark.parametrize("sparsity", SPARSE_CODES)
def test_warm_start_continues_a_sparse_code(digits, sparsity):
    X, _ = digits
    sae = small(sparsity=sparsity, max_iter=3, warm_start=True).fit(X)
    sae.fit(X)
    assert sae.n_iter_ == 6
    with pytest.raises(ValueError, match="sparsity"):
        sae.set_params(sparsity="kl").fit(X)


def test_the_geometric_median_start_reconstructs_better_than_the_mean_before_any_step(digits):
    X, _ = digits
    # One batch: the epoch's loss is its one step's, taken before the step. The
    # loss is the squared error over the mean feature variance, so predicting the
    # mean scores 1 (and predicting zero 3.2 on the digits).
    first = small(sparsity="topk", max_iter=1, batch_size=len(X)).fit(X).loss_curve_[0]
    assert first < 1.0


# -- diagnostics ----------------------------------------------------------------


def _inference_diagnostics(sae, X):
    active = sae.transform(X) > sae.activity_threshold_
    error = np.mean((sae.inverse_transform(sae.transform(X)) - X) ** 2)
    return active, 1 - error / X.var(axis=0).mean()


@pytest.mark.parametrize("sparsity", ["l1", "topk"])
def test_diagnostics_describe_the_codes_of_the_last_pass_over_the_training_data(digits, sparsity):
    # L-BFGS's last pass evaluates the final weights: the diagnostics are exact
    # (to float64's rounding, in a float64 network).
    X, _ = digits
    sae = small(sparsity=sparsity, solver="lbfgs", max_iter=10, compute_dtype="float64").fit(X)
    active, explained = _inference_diagnostics(sae, X)
    assert sae.activity_threshold_ == 0
    np.testing.assert_allclose(sae.feature_density_, active.mean(axis=0))
    assert sae.l0_ == pytest.approx(active.sum(axis=1).mean())
    assert sae.dead_latents_ == pytest.approx(np.mean(~active.any(axis=0)))
    assert sae.explained_variance_ == pytest.approx(explained)


@pytest.mark.parametrize("sparsity", ["l1", "topk"])
def test_minibatch_diagnostics_are_counted_during_the_last_epoch(digits, sparsity):
    # Counted while the weights still move in the last epoch: close to the final model's.
    X, _ = digits
    sae = small(sparsity=sparsity).fit(X)
    active, explained = _inference_diagnostics(sae, X)
    np.testing.assert_allclose(sae.feature_density_, active.mean(axis=0), atol=0.05)
    assert sae.l0_ == pytest.approx(active.sum(axis=1).mean(), rel=0.1)
    assert sae.explained_variance_ == pytest.approx(explained, abs=0.05)


def test_sigmoid_units_count_as_active_above_one_half(digits):
    X, _ = digits
    sae = small(sparsity="kl", solver="lbfgs", max_iter=10).fit(X)
    assert sae.activity_threshold_ == 0.5
    np.testing.assert_allclose(sae.feature_density_, (sae.transform(X) > 0.5).mean(axis=0))
    assert sae.thresholds_ is None


def _nmse_of_prefix(sae, X, width):
    """Normalized error of ``X`` reconstructed from its codes' first ``width`` units."""
    codes = sae.transform(X)
    codes[:, width:] = 0
    error = np.sum((sae.inverse_transform(codes) - X) ** 2)
    return error / np.sum((X - X.mean(axis=0)) ** 2)


@pytest.mark.slow  # (2 to 3 s)
def test_matryoshka_prefixes_reconstruct_alone_where_batchtopk_needs_the_whole(digits):
    X, _ = digits
    plain = small(sparsity="batchtopk", n_components=64, k=8, max_iter=60).fit(X)
    nested = small(sparsity="matryoshka_batchtopk", n_components=64, k=8, max_iter=60).fit(X)
    assert nested.code_params_ == {"k": 8, "prefixes": (1 / 4, 1 / 2)}
    for width in (16, 32):  # the default prefixes of 64 units
        assert _nmse_of_prefix(nested, X, width) < 0.8 * _nmse_of_prefix(plain, X, width)
    # The whole dictionary gives up little of BatchTopK's reconstruction, if any.
    assert _nmse_of_prefix(nested, X, 64) < 1.1 * _nmse_of_prefix(plain, X, 64)
    assert nested.l0_ == pytest.approx(8, rel=0.15)


def test_matryoshka_prefixes_are_counts_or_fractions_of_the_units():
    from skl_sae._codes import MatryoshkaBatchTopK

    code = MatryoshkaBatchTopK(4, prefixes=(0.25, 3, 64, 0.5))
    assert code.widths(16) == [3, 4, 8]  # 64 units and more: the whole layer, one level already
    assert code.widths(1000) == [3, 64, 250, 500]
    for bad in [(0,), (1.5,), (-2,), (True,)]:
        with pytest.raises(ValueError, match="prefixes"):
            small(sparsity="matryoshka_batchtopk", code_params={"prefixes": bad}).fit(np.eye(8))


@pytest.mark.parametrize("target", [4, 12])
def test_jumprelu_reaches_a_target_l0(digits, target):
    X, _ = digits
    sae = small(
        sparsity="jumprelu", n_components=64, max_iter=80, code_params={"target_l0": target}
    ).fit(X)
    assert sae.l0_ == pytest.approx(target, rel=0.2)
    assert np.mean(np.count_nonzero(sae.transform(X), axis=1)) == pytest.approx(target, rel=0.2)
