"""The loss terms, against their closed forms."""

import math

import numpy as np
import pytest
import torch

from skl_sae._codes import TopK
from skl_sae._functional import (
    add_weight_decay_gradient_,
    auxk_loss,
    contractive_penalty,
    corrupt,
    hidden_entries,
    keep_mask,
    kl_divergence,
    kl_sparsity,
    l0_sparsity,
    l1_sparsity,
    reconstruction_loss,
    squared_error,
    weight_decay,
)
from skl_sae._losses import SPARSITY_PENALTIES, AutoencoderLoss, LossTerms
from skl_sae._modules import AutoencoderOutput, MaskedAutoencoder, SparseAutoencoder


def test_kl_divergence_matches_its_closed_form():
    rho, rho_hat = 0.05, torch.tensor([0.2])
    expected = rho * math.log(rho / 0.2) + (1 - rho) * math.log((1 - rho) / 0.8)
    assert kl_divergence(rho, rho_hat).item() == pytest.approx(expected)


def test_kl_sparsity_is_zero_at_the_target_and_averages_over_units():
    codes = torch.full((10, 4), 0.05, dtype=torch.float64)
    assert kl_sparsity(codes, 0.05).item() == pytest.approx(0.0, abs=1e-12)
    codes[:, 0] = 0.5
    assert kl_sparsity(codes, 0.05).item() == pytest.approx(
        kl_divergence(0.05, torch.tensor(0.5)).item() / 4
    )


def test_kl_sparsity_stays_finite_for_saturated_units():
    codes = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    assert torch.isfinite(kl_sparsity(codes, 0.05))


def test_l1_sparsity_is_the_mean_absolute_activation():
    codes = torch.tensor([[1.0, -3.0], [0.0, 0.0]])
    assert l1_sparsity(codes).item() == pytest.approx(1.0)


def test_reconstruction_loss_is_one_for_the_mean_prediction():
    x = torch.randn(500, 7, dtype=torch.float64)
    mean = x.mean(dim=0).expand_as(x)
    scale = x.var(dim=0, unbiased=False).mean()
    assert reconstruction_loss(mean, x, scale).item() == pytest.approx(1.0)
    assert squared_error(x, x).shape == (500,)


@pytest.mark.parametrize("keep", [0.8, 0.5, 0.1, 1.0, 1 - 1e-9, 1e-9])
@pytest.mark.parametrize(
    "generator", [lambda seed: torch.Generator().manual_seed(seed), np.random.PCG64]
)
def test_a_keep_mask_is_one_with_its_probability_to_sixteen_bits(keep, generator):
    kept, probability = keep_mask((401, 1001), keep, generator(0), torch.float64)  # 4 k + 1
    assert kept.dtype == torch.float64 and kept.shape == (401, 1001)
    assert set(kept.unique().tolist()) <= {0.0, 1.0}
    assert probability == max(round(keep * 2**16), 1) / 2**16  # 1 kept in 2**16 at least
    assert kept.mean().item() == pytest.approx(probability, abs=4e-3)
    assert kept.mean(dim=0).std().item() < 0.05  # no column left out
    again, _ = keep_mask((401, 1001), keep, generator(0), torch.float64)
    assert torch.equal(kept, again)


def test_a_numpy_bit_generator_draws_on_the_cpu_alone():
    with pytest.raises(ValueError, match="draws on the CPU"):
        keep_mask((3, 5), 0.5, np.random.PCG64(0), torch.float32, device="cuda")


def test_weight_decay_is_half_the_squared_norm():
    weights = [torch.ones(2, 3), torch.full((4,), 2.0)]
    assert weight_decay(weights).item() == pytest.approx(0.5 * (6 + 16))


def test_weight_decays_gradient_is_added_in_place_in_each_weights_layout():
    by_feature = torch.nn.Parameter(torch.arange(6.0).reshape(3, 2).T)  # stored transposed
    plain = torch.nn.Parameter(torch.ones(4))
    plain.grad = torch.full((4,), 1.0)
    grad = plain.grad
    add_weight_decay_gradient_([by_feature, plain], 0.5)
    torch.testing.assert_close(by_feature.grad, 0.5 * by_feature.detach())
    assert by_feature.grad.stride() == by_feature.stride()
    assert plain.grad is grad
    torch.testing.assert_close(plain.grad, torch.full((4,), 1.5))
    assert weight_decay([by_feature]).item() == pytest.approx(0.5 * 55)


def test_penalties_cover_kl_l1_and_jumprelus_l0():
    assert set(SPARSITY_PENALTIES) == {"kl", "l1", "jumprelu"}
    gates = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    output = AutoencoderOutput(gates, gates, gates, gates)
    assert SPARSITY_PENALTIES["jumprelu"](output, None).item() == pytest.approx(3 / 8)
    assert l0_sparsity(gates).item() == pytest.approx(3 / 8)


def test_auxk_loss_is_relative_to_the_main_reconstruction_error():
    main = torch.full((4,), 4.0, requires_grad=True)  # per-sample errors
    assert auxk_loss(torch.full((4,), 1.0), main).item() == pytest.approx(0.25)
    auxiliary = torch.ones(4, requires_grad=True)
    auxk_loss(auxiliary, main).backward()
    assert main.grad is None  # the main reconstruction only scales the term


@pytest.mark.parametrize(
    "activation, code", [("sigmoid", None), ("relu", None), ("relu", TopK(2))]
)
def test_contractive_penalty_is_the_jacobian_norm(activation, code):
    torch.manual_seed(0)
    module = SparseAutoencoder(5, 3, activation=activation, code=code, dtype=torch.float64)
    x = torch.randn(4, 5, dtype=torch.float64)
    out = module(x)
    penalty = contractive_penalty(out.codes, module.encoder_weight, activation)
    norms = [
        torch.autograd.functional.jacobian(lambda row: module.encode(row[None])[1][0], row)
        .pow(2)
        .sum()
        for row in x
    ]
    assert penalty.item() == pytest.approx(torch.stack(norms).mean().item() / 3)


def test_corruption_masks_a_fraction_or_adds_noise():
    x = torch.ones(1000, 10, dtype=torch.float64)
    masked = corrupt(x, "mask", 0.3, torch.Generator().manual_seed(0))
    assert set(masked.unique().tolist()) == {0.0, 1.0}
    assert (masked == 0).double().mean().item() == pytest.approx(0.3, abs=0.02)
    noisy = corrupt(x, "gaussian", 0.5, torch.Generator().manual_seed(0))
    assert (noisy - x).std().item() == pytest.approx(0.5, abs=0.02)
    clipped = corrupt(x, "gaussian", 0.5, torch.Generator().manual_seed(0), bounds=(0.0, 1.0))
    assert torch.equal(clipped, noisy.clamp(0.0, 1.0))


def test_with_a_mask_the_reconstruction_error_counts_the_observed_entries_only():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, dtype=torch.float64, generator=generator)
    reconstruction = torch.randn(6, 4, dtype=torch.float64, generator=generator)
    observed = torch.rand(6, 4, generator=generator) < 0.6
    observed[0] = False  # a row with nothing observed
    expected = (reconstruction - x)[observed].pow(2).mean().item()
    assert reconstruction_loss(reconstruction, x, 2.0, observed).item() == pytest.approx(
        expected / 2
    )
    elsewhere = reconstruction.where(observed, reconstruction + 100)
    assert torch.equal(
        squared_error(elsewhere, x, observed), squared_error(reconstruction, x, observed)
    )
    assert squared_error(reconstruction, x, observed)[0] == 0


def test_an_autoencoder_loss_with_a_mask_leaves_the_gradient_to_autograd():
    module = SparseAutoencoder(4, 3, generator=torch.Generator().manual_seed(0))
    module = module.to(torch.float64)
    x = torch.rand(5, 4, dtype=torch.float64)
    observed = torch.rand(5, 4) < 0.5
    loss_fn = AutoencoderLoss(
        0.5, LossTerms(activation="sigmoid", sparsity="kl", sparsity_weight=0.0)
    )
    assert loss_fn.accumulate_gradients(module, x) is not None  # the hand-written gradient
    assert loss_fn.accumulate_gradients(module, x, observed) is None
    module.eval()
    expected = reconstruction_loss(module(x).reconstruction, x, 0.5, observed)
    assert loss_fn(module, x, observed).item() == pytest.approx(expected.item())


def test_training_hides_a_fraction_of_the_observed_entries_only():
    observed = torch.rand(2000, 10, generator=torch.Generator().manual_seed(1)) < 0.8
    hidden = hidden_entries(observed, 0.25, torch.Generator().manual_seed(0))
    assert not (hidden & ~observed).any()
    assert hidden[observed].double().mean().item() == pytest.approx(0.25, abs=0.01)


def test_regions_of_images_hide_one_rectangle_in_half_the_images_in_every_channel():
    height, width, channels = 10, 6, 2
    observed = torch.ones(500, height * width * channels, dtype=torch.bool)
    hidden = hidden_entries(observed, 0.0, torch.Generator().manual_seed(0), ((10, 6, 2), None))
    images = hidden.reshape(500, height, width, channels)
    assert torch.equal(images[..., 0], images[..., 1])  # every channel
    rows, columns = images[..., 0].any(dim=2), images[..., 0].any(dim=1)
    damaged = rows.any(dim=1)
    assert damaged.double().mean().item() == pytest.approx(0.5, abs=0.06)
    rows, columns = rows[damaged], columns[damaged]
    for image, in_rows, in_columns in zip(images[damaged, ..., 0], rows, columns, strict=True):
        assert torch.equal(image, in_rows[:, None] & in_columns[None, :])  # a rectangle
        for inside, side in ((in_rows, height), (in_columns, width)):
            spots = inside.nonzero().flatten()
            assert len(spots) == spots[-1] - spots[0] + 1 <= round(0.7 * side)
    assert rows.sum(dim=1).unique().numel() == 7  # every height from 1 to 7


def test_regions_follow_the_columns_kept_and_leave_unobserved_entries_alone():
    columns = torch.tensor([0, 1, 2, 5, 7, 8])  # of a 3 x 3 image
    observed = torch.rand(300, 6, generator=torch.Generator().manual_seed(1)) < 0.7
    generator = torch.Generator().manual_seed(0)
    hidden = hidden_entries(observed, 0.0, generator, ((3, 3, 1), columns))
    generator = torch.Generator().manual_seed(0)
    whole = hidden_entries(torch.ones(300, 9, dtype=torch.bool), 0.0, generator, ((3, 3, 1), None))
    assert torch.equal(hidden, whole[:, columns] & observed)


def test_a_hiding_loss_reads_hidden_entries_as_unknown_and_scores_them_alone():
    module = MaskedAutoencoder(6, 4, generator=torch.Generator().manual_seed(0)).double()
    x = torch.randn(50, 6, dtype=torch.float64)
    observed = torch.rand(50, 6) < 0.8
    terms = LossTerms(activation="sigmoid", corruption="hide", corruption_level=0.3)
    loss_fn = AutoencoderLoss(1.0, terms, generator=torch.Generator().manual_seed(0))
    inputs, scored = loss_fn._read(module.train(), x, observed)
    hidden = hidden_entries(observed, 0.3, torch.Generator().manual_seed(0))
    assert torch.equal(scored, hidden)
    assert torch.equal(torch.isnan(inputs), ~observed | hidden)
    assert torch.equal(inputs[~torch.isnan(inputs)], x[observed & ~hidden])
    inputs, scored = loss_fn._read(module.eval(), x, observed)  # evaluation hides nothing
    assert torch.equal(scored, observed) and torch.equal(torch.isnan(inputs), ~observed)
    # Training goes by hand, from the same draws (tests/test_fused.py holds it to autograd).
    loss_fn.generator.manual_seed(0)
    by_hand = loss_fn.accumulate_gradients(module.train(), x, observed)
    loss_fn.generator.manual_seed(0)
    torch.testing.assert_close(by_hand, loss_fn(module, x, observed).detach())


def test_regions_hide_rectangles_even_with_no_scattered_hiding():
    terms = LossTerms(corruption="hide", corruption_level=0.0, hidden_regions=((2, 2, 1), None))
    assert AutoencoderLoss(1.0, terms).corruption == "hide"
    assert AutoencoderLoss(1.0, LossTerms(corruption="hide")).corruption is None


def test_a_nested_dictionary_trains_on_the_sum_of_its_levels_errors():
    from skl_sae._codes import MatryoshkaBatchTopK

    code = MatryoshkaBatchTopK(3, prefixes=(2, 4), dtype=torch.float64)
    module = SparseAutoencoder(
        6, 8, activation="relu", code=code, generator=torch.Generator().manual_seed(0)
    ).double()
    x = torch.rand(20, 6, dtype=torch.float64)
    loss_fn = AutoencoderLoss(0.5, LossTerms(activation="relu", alpha=0.0))
    output = module.train()(x)
    levels = [module.errors(output, x)] + code.nested_errors(module, output, x)
    expected = sum(level.mean() for level in levels) / 0.5  # whole, then 2 and 4 units
    assert len(levels) == 3
    assert loss_fn(module, x).item() == pytest.approx(expected.item())
