"""The autoencoder as a PyTorch module.

This module knows nothing of scikit-learn: it is built from plain ints and
strings, and its ``forward`` returns a :class:`AutoencoderOutput`.
"""

from typing import NamedTuple

import torch
from torch import nn

ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "identity": lambda z: z,
}


def _uniform_(parameter, bound, generator):
    """Fill ``parameter`` from U(-bound, bound), drawn in float64 on the CPU so
    that the same generator gives the same start in every dtype and device."""
    values = torch.empty(parameter.shape, dtype=torch.float64)
    parameter.copy_(values.uniform_(-bound, bound, generator=generator))


class AutoencoderOutput(NamedTuple):
    """What a forward pass returns."""

    codes: torch.Tensor
    """Hidden code ``h = f(W x + b)``, shape (n_samples, n_components)."""

    reconstruction: torch.Tensor
    """Decoded input ``g(W' h + c)``, shape (n_samples, n_features)."""

    pre_activations: torch.Tensor
    """``W x + b`` before the hidden activation; penalties such as the
    contractive one need it."""


class SparseAutoencoder(nn.Module):
    """One-hidden-layer autoencoder ``x -> h = f(W x + b) -> g(W' h + c)``.

    Parameters
    ----------
    n_features : int
        Width of the input and of the reconstruction.
    n_components : int
        Number of hidden units.
    activation : {"sigmoid", "relu", "tanh", "identity"}
        Hidden activation ``f``.
    output_activation : {"identity", "sigmoid"}
        Output activation ``g``.
    tied_weights : bool
        If True the decoder weight is the encoder weight transposed.
    generator : torch.Generator, default=None
        Source of the initial weights; torch's global generator if None.
    dtype : torch.dtype, default=None
        Dtype of the parameters; torch's default if None.
    """

    def __init__(
        self,
        n_features,
        n_components,
        *,
        activation="sigmoid",
        output_activation="identity",
        tied_weights=False,
        generator=None,
        dtype=None,
    ):
        super().__init__()
        self.n_features = n_features
        self.n_components = n_components
        self.activation = activation
        self.output_activation = output_activation
        self.tied_weights = tied_weights
        self.encoder_weight = nn.Parameter(torch.empty(n_components, n_features, dtype=dtype))
        self.encoder_bias = nn.Parameter(torch.empty(n_components, dtype=dtype))
        self.decoder_bias = nn.Parameter(torch.empty(n_features, dtype=dtype))
        if tied_weights:
            self.register_parameter("decoder_weight", None)
        else:
            self.decoder_weight = nn.Parameter(torch.empty(n_features, n_components, dtype=dtype))
        self._f = ACTIVATIONS[activation]
        self._g = ACTIVATIONS[output_activation]
        self.reset_parameters_(generator)

    @property
    def decoder_weights(self):
        """Decoder matrix ``W'`` of shape (n_features, n_components)."""
        if self.tied_weights:
            return self.encoder_weight.T
        return self.decoder_weight

    @torch.no_grad()
    def reset_parameters_(self, generator=None):
        """Glorot-uniform weights and zero biases, drawn from ``generator``.

        The bound is ``sqrt(6 / (fan_in + fan_out))``, times 4 for the
        encoder of sigmoid units (Glorot & Bengio, 2010), as scikit-learn's
        MLP does; the decoder keeps the plain bound so that the first
        reconstructions are of the data's scale.
        """
        bound = (6.0 / (self.n_features + self.n_components)) ** 0.5
        gain = 4.0 if self.activation == "sigmoid" else 1.0
        _uniform_(self.encoder_weight, gain * bound, generator)
        self.encoder_bias.zero_()
        if not self.tied_weights:
            _uniform_(self.decoder_weight, bound, generator)
        self.decoder_bias.zero_()
        return self

    def weights(self):
        """The weight matrices (not the biases): what weight decay acts on."""
        if self.tied_weights:
            return [self.encoder_weight]
        return [self.encoder_weight, self.decoder_weight]

    def encode(self, x):
        """Return ``(pre_activations, codes)`` for a batch ``x``."""
        pre = nn.functional.linear(x, self.encoder_weight, self.encoder_bias)
        return pre, self._f(pre)

    def decode(self, codes):
        """Reconstruct inputs from ``codes``."""
        return self._g(nn.functional.linear(codes, self.decoder_weights, self.decoder_bias))

    def forward(self, x):
        pre, codes = self.encode(x)
        return AutoencoderOutput(codes, self.decode(codes), pre)
