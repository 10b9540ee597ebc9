"""The torch autoencoder module."""

import pytest
import torch

from skl_sae._codes import TopK, WinnerTakeAll
from skl_sae._modules import (
    Autoencoder,
    AutoencoderOutput,
    ConvolutionalAutoencoder,
    MaskedAutoencoder,
    MaskedDeepAutoencoder,
    SparseAutoencoder,
)

NETWORKS = {
    "dense": lambda: SparseAutoencoder(16, 4, activation="relu", code=TopK(2)),
    "convolutional": lambda: ConvolutionalAutoencoder((4, 4, 1), [3, 4], code=TopK(2)),
}


def test_forward_returns_codes_and_reconstruction():
    module = SparseAutoencoder(6, 4)
    out = module(torch.rand(3, 6))
    assert isinstance(out, AutoencoderOutput)
    assert out.codes.shape == (3, 4) and out.reconstruction.shape == (3, 6)
    assert torch.all((out.codes > 0) & (out.codes < 1))  # sigmoid units
    assert torch.allclose(out.codes, torch.sigmoid(out.pre_activations))


@pytest.mark.parametrize("network", NETWORKS)
def test_encode_gives_the_pre_activations_and_codes_of_forward(network):
    module = NETWORKS[network]()
    x = torch.rand(3, 16, generator=torch.Generator().manual_seed(0))
    pre, codes = module.encode(x)
    out = module(x)
    assert isinstance(module, Autoencoder)
    assert torch.equal(pre, out.pre_activations) and torch.equal(codes, out.codes)
    assert codes.shape == (3 * module.rows_per_sample, 4)
    assert torch.count_nonzero(codes, dim=1).max() <= 2
    assert torch.equal(out.reconstruction, module.decode(codes))
    assert out.reconstruction.shape == x.shape


def test_tied_weights_share_one_matrix():
    module = SparseAutoencoder(6, 4, tied_weights=True)
    assert module.decoder_weight is None
    assert torch.equal(module.decoder_weights, module.encoder_weight.T)
    assert len(module.weights()) == 1


def test_sigmoid_output_stays_in_the_unit_interval():
    module = SparseAutoencoder(6, 4, output_activation="sigmoid", activation="relu")
    out = module(torch.randn(5, 6))
    assert torch.all((out.reconstruction > 0) & (out.reconstruction < 1))
    assert torch.all(out.codes >= 0)


def test_initialisation_is_reproducible_from_a_generator_and_has_zero_biases():
    a = SparseAutoencoder(6, 4, generator=torch.Generator().manual_seed(0))
    b = SparseAutoencoder(6, 4, generator=torch.Generator().manual_seed(0))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert torch.count_nonzero(a.encoder_bias) == 0
    assert torch.count_nonzero(a.decoder_bias) == 0


def _column_norms(module):
    return module.decoder_weights.norm(dim=0)


def test_a_unit_norm_decoder_starts_as_the_encoders_transpose():
    module = SparseAutoencoder(6, 4, unit_norm_decoder=True, dtype=torch.float64)
    assert torch.allclose(_column_norms(module), torch.ones(4, dtype=torch.float64))
    assert torch.equal(module.encoder_weight, module.decoder_weights.T)


@pytest.mark.parametrize("tied", [False, True])
def test_the_parallel_gradient_is_removed_and_columns_renormalised(tied):
    module = SparseAutoencoder(
        6, 4, unit_norm_decoder=True, tied_weights=tied, dtype=torch.float64
    )
    module(torch.rand(8, 6, dtype=torch.float64)).reconstruction.pow(2).sum().backward()
    module.remove_parallel_gradient_()
    weight, dim = module._atoms()
    parallel = (weight.grad * weight).sum(dim=dim)
    assert torch.allclose(parallel, torch.zeros(4, dtype=torch.float64), atol=1e-12)
    with torch.no_grad():
        weight.mul_(3.0)
    module.normalize_decoder_()
    assert torch.allclose(_column_norms(module), torch.ones(4, dtype=torch.float64))


@pytest.mark.parametrize("tied", [False, True])
def test_weight_decay_leaves_out_unit_norm_atoms_whose_gradient_the_step_removes(tied):
    module = SparseAutoencoder(
        6, 4, unit_norm_decoder=True, tied_weights=tied, dtype=torch.float64
    )
    atoms, _ = module._atoms()
    assert all(weight is not atoms for weight in module.weights())
    x = torch.rand(8, 6, dtype=torch.float64)
    gradients = []
    for decay in (0.0, 0.5):  # the atoms' penalty, added by hand
        module.zero_grad()
        loss = module(x).reconstruction.pow(2).sum() + decay * atoms.pow(2).sum()
        loss.backward()
        module.remove_parallel_gradient_()
        gradients.append(atoms.grad.clone())
    assert torch.allclose(gradients[0], gradients[1], atol=1e-12)
    plain = SparseAutoencoder(6, 4, tied_weights=tied)
    assert len(plain.weights()) == (1 if tied else 2)


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize(("output_activation", "input_scale"), [("identity", 0.3), ("sigmoid", 1)])
def test_prefixes_decode_as_the_codes_truncated_to_them(output_activation, input_scale, tied):
    """Each prefix from the one before through its own slice of units: the
    decodes of the codes with the units beyond each width set to 0."""
    generator = torch.Generator().manual_seed(0)
    module = SparseAutoencoder(
        6,
        8,
        output_activation=output_activation,
        tied_weights=tied,
        generator=generator,
        dtype=torch.float64,
    )
    module.input_scale = input_scale
    codes = torch.rand(5, 8, generator=generator, dtype=torch.float64)
    units = torch.arange(8)
    for width, got in zip([1, 3, 5], module.decode_prefixes(codes, [1, 3, 5]), strict=True):
        torch.testing.assert_close(got, module.decode(codes * (units < width)))


@pytest.mark.parametrize("output_activation", ["identity", "sigmoid"])
def test_centering_reconstructs_the_center_from_zero_codes(output_activation):
    module = SparseAutoencoder(
        6, 4, activation="relu", output_activation=output_activation, unit_norm_decoder=True
    )
    center = torch.tensor([0.1, 0.2, 0.5, 0.5, 0.8, 0.9])
    module.center_(center)
    assert torch.allclose(module.encode(center[None])[0], torch.zeros(1, 4), atol=1e-6)
    assert torch.allclose(module.decode(torch.zeros(1, 4))[0], center, atol=1e-6)


@pytest.mark.parametrize("output_activation", ["identity", "sigmoid"])
def test_auxiliary_reconstruction_adds_the_auxiliary_codes_to_fixed_codes(output_activation):
    module = SparseAutoencoder(6, 4, activation="relu", output_activation=output_activation)
    output = module(torch.rand(3, 6))
    extra = torch.rand(3, 4)
    combined = module.auxiliary_reconstruction(output, extra)
    assert torch.allclose(combined, module.decode(output.codes + extra))
    module.zero_grad()
    combined.sum().backward()
    assert module.decoder_bias.grad is None  # only the auxiliary part trains
    assert module.encoder_weight.grad is None


@pytest.mark.parametrize("network", NETWORKS)
def test_the_auxiliary_codes_of_some_units_decode_as_those_of_all_with_zeros(network):
    """AuxK hands over the dead units' columns alone, and the units they are."""
    module = NETWORKS[network]().double()
    generator = torch.Generator().manual_seed(0)
    output = module(torch.rand(3, 16, generator=generator, dtype=torch.float64))
    rows = output.codes.shape[0]
    units = torch.tensor([3, 1])
    extra = torch.rand(rows, 2, generator=generator, dtype=torch.float64, requires_grad=True)
    full = torch.zeros(rows, 4, dtype=torch.float64).index_copy(1, units, extra)
    expected = module.auxiliary_reconstruction(output, full)
    got = module.auxiliary_reconstruction(output, extra, units)
    torch.testing.assert_close(got, expected)
    (expected_grad,) = torch.autograd.grad(expected.sum(), extra)
    (grad,) = torch.autograd.grad(got.sum(), extra)
    torch.testing.assert_close(grad, expected_grad)


@pytest.mark.parametrize(
    "image_shape, filters, kernel_size, stride",
    [
        ((28, 28, 1), (8,), 5, 1),
        ((28, 28, 1), (4, 6), 5, 2),
        ((9, 7, 3), (5,), 3, 2),
        ((2, 2, 1), (3,), 3, 2),  # maps of one position
    ],
)
def test_one_code_per_map_decodes_as_the_transposed_convolution_of_the_whole_maps(
    image_shape, filters, kernel_size, stride
):
    torch.manual_seed(0)
    module = ConvolutionalAutoencoder(
        image_shape,
        filters,
        kernel_size=kernel_size,
        stride=stride,
        code=WinnerTakeAll(filters[-1]),
    ).double()
    x = torch.rand(6, image_shape[0] * image_shape[1] * image_shape[2], dtype=torch.float64)
    codes = module.train()(x).codes  # one winner per map: decoded by placing kernels
    assert module.encoder.code.one_per_map
    channels, height, width = module.encoder.map_shape
    maps = codes.reshape(-1, height, width, channels).permute(0, 3, 1, 2)
    for deconvolution in module.deconvolutions[:-1]:
        maps = torch.relu(deconvolution(maps))
    whole = module.deconvolutions[-1](maps).permute(0, 2, 3, 1).flatten(1)
    torch.testing.assert_close(module.decode(codes), whole)


def test_a_masked_autoencoder_reads_nan_as_unknown_through_its_known_weight():
    masked = MaskedAutoencoder(5, 3, generator=torch.Generator().manual_seed(0)).double()
    plain = SparseAutoencoder(5, 3, generator=torch.Generator().manual_seed(0)).double()
    x = torch.randn(4, 5, dtype=torch.float64)
    known = torch.rand(4, 5, generator=torch.Generator().manual_seed(1)) < 0.6
    rows = masked.known_inputs(x, known)
    assert torch.equal(torch.isnan(rows), ~known)
    # The known weight starts at 0: an unknown entry then reads as a 0.
    torch.testing.assert_close(masked(rows).codes, plain(x.where(known, 0.0)).codes)
    with torch.no_grad():
        masked.known_weight.normal_(generator=torch.Generator().manual_seed(2))
    expected = plain.encoder.pre_activations(x.where(known, 0.0)) + known.double() @ (
        masked.known_weight.T
    )
    torch.testing.assert_close(masked.encode(rows)[0], expected)
    assert torch.isfinite(masked.errors(masked(rows), rows, known)).all()
    assert any(w is masked.known_weight for w in masked.weights())  # weight decay acts on it


def test_a_deep_decoder_decodes_the_codes_through_its_hidden_layer_and_has_no_atoms():
    module = MaskedDeepAutoencoder(5, 3, n_hidden=4, generator=torch.Generator().manual_seed(0))
    x = torch.randn(2, 5).masked_fill(torch.tensor([[True] + [False] * 4] * 2), float("nan"))
    out = module(x)
    hidden = torch.sigmoid(out.codes @ module.expand.weight.T + module.expand.bias)
    expected = hidden @ module.decoder_weight.T + module.decoder_bias
    torch.testing.assert_close(out.reconstruction, expected)
    assert module.decoder_weight.shape == (5, 4) and module.inference_width == 4
    assert any(w is module.expand.weight for w in module.weights())  # weight decay acts on it
    with pytest.raises(NotImplementedError, match="no atoms"):
        module.select_units_(torch.arange(2), 1)
    with pytest.raises(ValueError, match="neither tied weights nor atoms"):
        MaskedDeepAutoencoder(5, 3, n_hidden=4, tied_weights=True)
