"""The torch autoencoder module."""

import torch

from skl_sae._modules import AutoencoderOutput, SparseAutoencoder


def test_forward_returns_codes_and_reconstruction():
    module = SparseAutoencoder(6, 4)
    out = module(torch.rand(3, 6))
    assert isinstance(out, AutoencoderOutput)
    assert out.codes.shape == (3, 4) and out.reconstruction.shape == (3, 6)
    assert torch.all((out.codes > 0) & (out.codes < 1))  # sigmoid units
    assert torch.allclose(out.codes, torch.sigmoid(out.pre_activations))


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
