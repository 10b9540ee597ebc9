"""The imputer's convolutional network, stated as a specification."""

import numpy as np
import pytest
import torch

from skl_sae._inpainting import MaskedConvolutionalAutoencoder


def network(n_features, image_shape, columns=None, n_components=8, dtype=torch.float64):
    return MaskedConvolutionalAutoencoder(
        n_features,
        n_components,
        image_shape=image_shape,
        columns=columns,
        generator=torch.Generator().manual_seed(0),
        dtype=dtype,
    )


@pytest.mark.parametrize("image_shape", [(28, 28, 1), (8, 8, 1), (7, 5, 3), (1, 9, 1), (1, 1, 1)])
def test_it_reconstructs_the_rows_it_reads_for_images_of_any_shape(image_shape):
    n_pixels = int(np.prod(image_shape))
    x = torch.rand(4, n_pixels, dtype=torch.float64)
    x[0, 0] = x[1, -1] = float("nan")  # unknown
    out = network(n_pixels, image_shape)(x)
    assert out.codes.shape == (4, 8)
    assert out.reconstruction.shape == (4, n_pixels)
    assert torch.isfinite(out.reconstruction).all()


def test_rows_may_hold_some_pixels_of_the_images():
    columns = np.array([0, 2, 3, 7, 11, 15])  # of 4 x 4 images
    x = torch.rand(3, len(columns), dtype=torch.float64)
    assert network(len(columns), (4, 4, 1), columns)(x).reconstruction.shape == (3, 6)
    with pytest.raises(ValueError, match="cannot be the 6 pixels"):
        network(5, (4, 4, 1), columns)


def test_it_reads_which_pixels_are_unknown_not_a_value_for_them():
    module = network(16, (4, 4, 1))
    x = torch.rand(2, 16, dtype=torch.float64)
    hidden = x.clone()
    hidden[:, 5] = float("nan")
    zero = x.clone()
    zero[:, 5] = 0.0
    assert not torch.allclose(module(hidden).reconstruction, module(zero).reconstruction)
    observed = torch.ones_like(x, dtype=torch.bool)
    observed[:, 5] = False
    read = module.known_inputs(x, observed)
    torch.testing.assert_close(module(read).reconstruction, module(hidden).reconstruction)


def test_the_gradient_reaches_every_parameter():
    module = network(64, (8, 8, 1))
    module(torch.rand(5, 64, dtype=torch.float64)).reconstruction.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_weight_decay_acts_on_every_kernel_and_dense_weight_and_no_bias():
    module = network(64, (8, 8, 1))
    decayed = {id(w) for w in module.weights()}
    for name, parameter in module.named_parameters():
        assert (id(parameter) in decayed) == name.endswith("weight"), name


def test_its_encoding_is_that_of_its_forward_pass():
    module = network(64, (8, 8, 1))
    x = torch.rand(3, 64, dtype=torch.float64)
    pre, codes = module.encode(x)
    out = module(x)
    torch.testing.assert_close(pre, out.pre_activations)
    torch.testing.assert_close(codes, out.codes)


def test_its_state_holds_the_parameters_and_not_the_columns():
    state = network(6, (4, 4, 1), np.array([0, 2, 3, 7, 11, 15])).state_dict()
    assert set(state) == {name for name, _ in network(16, (4, 4, 1)).named_parameters()}


def test_codes_alone_are_not_decoded():
    module = network(16, (4, 4, 1))
    with pytest.raises(NotImplementedError, match="does not decode codes alone"):
        module.decode(torch.zeros(1, 8, dtype=torch.float64))


def test_the_same_generator_gives_the_same_start_in_every_dtype():
    single, double = network(16, (4, 4, 1), dtype=torch.float32), network(16, (4, 4, 1))
    for a, b in zip(single.parameters(), double.parameters(), strict=True):
        torch.testing.assert_close(a, b.float())
