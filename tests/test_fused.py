"""The hand-written loss and gradient of the plain autoencoder equal autograd's."""

import itertools
from functools import partial

import pytest
import torch
from gradients import loss_and_gradients

from skl_sae._codes import TopK
from skl_sae._fused import supports
from skl_sae._losses import AutoencoderLoss, LossTerms
from skl_sae._modules import MaskedAutoencoder, MaskedDeepAutoencoder, SparseAutoencoder
from skl_sae._statistics import CodeStatistics

CASES = [
    # (hidden activation, output activation, sparsity, tied weights)
    *itertools.product(["sigmoid"], ["sigmoid", "identity"], ["kl", "l1", None], [False, True]),
    *itertools.product(["relu", "tanh", "identity"], ["identity", "sigmoid"], ["l1"], [False]),
    ("relu", "identity", None, True),
]


def _model_and_data(activation, output_activation, tied, dtype=torch.float64):
    generator = torch.Generator().manual_seed(0)
    module = SparseAutoencoder(
        7,
        5,
        activation=activation,
        output_activation=output_activation,
        tied_weights=tied,
        generator=generator,
        dtype=dtype,
    )
    with torch.no_grad():
        module.encoder.bias.uniform_(-1, 1, generator=generator)
        module.decoder_bias.uniform_(-1, 1, generator=generator)
    x = torch.rand(11, 7, generator=generator, dtype=dtype)
    return module, x


@pytest.mark.parametrize(("activation", "output_activation", "sparsity", "tied"), CASES)
def test_fused_loss_and_gradients_equal_autograds(activation, output_activation, sparsity, tied):
    module, x = _model_and_data(activation, output_activation, tied)
    loss_fn = AutoencoderLoss(
        0.37,
        LossTerms(
            activation=activation,
            sparsity=sparsity,
            sparsity_target=0.1,
            sparsity_weight=2.0,
            alpha=1e-2,
        ),
    )
    assert supports(module, loss_fn)
    value, grads = loss_and_gradients(module, loss_fn, x, by_hand=True, weight=0.7)
    expected_value, expected_grads = loss_and_gradients(
        module, loss_fn, x, by_hand=False, weight=0.7
    )
    torch.testing.assert_close(value, expected_value, rtol=1e-12, atol=1e-12)
    assert grads.keys() == expected_grads.keys()
    for name in grads:
        torch.testing.assert_close(grads[name], expected_grads[name], rtol=1e-10, atol=1e-12)


def test_fused_kl_gradient_stops_at_the_clamp_as_autograds_does():
    module, x = _model_and_data("sigmoid", "sigmoid", False)
    with torch.no_grad():
        module.encoder.bias[:2] = 60.0  # these units saturate at 1 on every row
    loss_fn = AutoencoderLoss(
        1.0, LossTerms(activation="sigmoid", sparsity="kl", sparsity_weight=3.0)
    )
    value, grads = loss_and_gradients(module, loss_fn, x, by_hand=True, weight=0.7)
    expected_value, expected_grads = loss_and_gradients(
        module, loss_fn, x, by_hand=False, weight=0.7
    )
    torch.testing.assert_close(value, expected_value)
    for name in grads:
        torch.testing.assert_close(grads[name], expected_grads[name])


def test_fused_loss_records_the_code_statistics():
    module, x = _model_and_data("sigmoid", "sigmoid", False)
    statistics = CodeStatistics(5, x.shape[0], "cpu")
    loss_fn = AutoencoderLoss(
        1.0, LossTerms(activation="sigmoid", sparsity="kl"), statistics=statistics
    )
    loss_fn.accumulate_gradients(module, x)
    with torch.no_grad():
        out = module(x)
    expected = (out.codes > 0.5).double().mean(dim=0).numpy()
    torch.testing.assert_close(
        torch.from_numpy(statistics.feature_density()), torch.from_numpy(expected)
    )
    error = (out.reconstruction - x).pow(2).mean().item()
    assert statistics.mean_squared_error() == pytest.approx(error, rel=1e-12)


def test_fused_loss_trains_on_the_corrupted_input_against_the_clean_one():
    module, x = _model_and_data("sigmoid", "identity", False)
    loss_fn = AutoencoderLoss(
        1.0,
        LossTerms(activation="sigmoid", corruption="mask", corruption_level=0.5),
        generator=torch.Generator().manual_seed(3),
    )
    fused_value = loss_fn.accumulate_gradients(module, x)
    noisy = x * (
        torch.rand(x.shape, generator=torch.Generator().manual_seed(3), dtype=x.dtype) >= 0.5
    )
    with torch.no_grad():
        expected = (module(noisy).reconstruction - x).pow(2).mean()
    torch.testing.assert_close(fused_value, expected)


def test_gradients_add_to_those_already_there():
    module, x = _model_and_data("sigmoid", "identity", False)
    loss_fn = AutoencoderLoss(
        1.0, LossTerms(activation="sigmoid", sparsity="kl", sparsity_weight=3.0)
    )
    _, once = loss_and_gradients(module, loss_fn, x, by_hand=True)
    loss_fn.accumulate_gradients(module, x, weight=1.0)  # a second batch, the same
    for name, parameter in module.named_parameters():
        torch.testing.assert_close(parameter.grad, 2 * once[name])


def test_sparse_codes_other_terms_and_evaluation_take_the_autograd_path():
    module, x = _model_and_data("relu", "identity", False)
    plain = AutoencoderLoss(1.0, LossTerms(activation="relu", sparsity="l1"))
    assert supports(module, plain)
    contractive = AutoencoderLoss(1.0, LossTerms(activation="relu", contractive_weight=0.1))
    assert not supports(module, contractive)
    assert contractive.accumulate_gradients(module, x) is None
    module.eval()
    assert plain.accumulate_gradients(module, x) is None
    module.train()
    module.encoder.code = TopK(2, "relu")
    assert not supports(module, plain)


MASKED_CASES = [
    # (hidden activation, sparsity, tied weights, hidden fraction, images, data missing)
    ("sigmoid", None, False, 0.25, False, True),
    ("sigmoid", "kl", False, 0.25, False, False),
    ("relu", "l1", False, 0.25, False, True),
    ("relu", "l1", True, 0.5, False, True),
    ("sigmoid", None, False, 0.0, False, True),  # nothing hidden: scored where observed
    ("relu", None, False, 0.2, True, True),  # and a rectangle in half the images
]


@pytest.mark.parametrize(
    ("activation", "sparsity", "tied", "level", "images", "missing", "deep"),
    # each case with one hidden layer, and with the deep decoder (which ties no weights)
    [(*case, False) for case in MASKED_CASES] + [(*c, True) for c in MASKED_CASES if not c[2]],
)
def test_the_imputers_network_by_hand_equals_autograd_from_the_same_draws(
    activation, sparsity, tied, level, images, missing, deep
):
    generator = torch.Generator().manual_seed(0)
    network = partial(MaskedDeepAutoencoder, n_hidden=7) if deep else MaskedAutoencoder
    module = network(
        12, 5, activation=activation, tied_weights=tied, generator=generator, dtype=torch.float64
    )
    with torch.no_grad():  # known_weight starts at 0: give it a gradient's worth of a value
        module.known_weight.uniform_(-1, 1, generator=generator)
        module.decoder_bias.uniform_(-1, 1, generator=generator)
    x = torch.rand(9, 12, generator=generator, dtype=torch.float64)
    observed = None
    if missing:
        observed = torch.rand(x.shape, generator=generator) >= 0.3
        observed[0] = False  # a row with nothing known
        x = x.masked_fill(~observed, float("nan"))
    terms = LossTerms(
        activation=activation,
        sparsity=sparsity,
        sparsity_weight=2.0 if sparsity else 0.0,
        alpha=1e-2,
        corruption="hide",
        corruption_level=level,
        hidden_regions=((3, 4, 1), None) if images else None,
    )

    def run(by_hand):
        loss_fn = AutoencoderLoss(0.37, terms, generator=torch.Generator().manual_seed(5))
        loss_fn.statistics = CodeStatistics(5, x.shape[0], "cpu")
        value, grads = loss_and_gradients(
            module, loss_fn, x, observed, by_hand=by_hand, weight=0.7
        )
        return value, grads, loss_fn.statistics.mean_squared_error()

    assert supports(module, AutoencoderLoss(0.37, terms))
    value, grads, error = run(by_hand=True)
    expected_value, expected_grads, expected_error = run(by_hand=False)
    torch.testing.assert_close(value, expected_value, rtol=1e-12, atol=1e-12)
    assert grads.keys() == expected_grads.keys()
    assert "known_weight" in grads and ("expand.weight" in grads) == deep
    for name in grads:
        torch.testing.assert_close(grads[name], expected_grads[name], rtol=1e-10, atol=1e-12)
    assert error == pytest.approx(expected_error, rel=1e-12)


def test_the_imputers_network_with_other_corruption_takes_the_autograd_path():
    module = MaskedAutoencoder(4, 3, activation="sigmoid")
    noisy = AutoencoderLoss(
        1.0, LossTerms(activation="sigmoid", corruption="mask", corruption_level=0.2)
    )
    assert not supports(module, noisy)
