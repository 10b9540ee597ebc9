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
    """

    def __init__(
        self,
        n_features,
        n_components,
        *,
        activation="sigmoid",
        output_activation="identity",
        tied_weights=False,
    ):
        super().__init__()
        self.n_features = n_features
        self.n_components = n_components
        self.activation = activation
        self.output_activation = output_activation
        self.tied_weights = tied_weights
        self.encoder = nn.Linear(n_features, n_components)
        self.decoder_bias = nn.Parameter(torch.empty(n_features))
        if tied_weights:
            self.register_parameter("decoder_weight", None)
        else:
            self.decoder_weight = nn.Parameter(torch.empty(n_features, n_components))
        self._f = ACTIVATIONS[activation]
        self._g = ACTIVATIONS[output_activation]

    @property
    def decoder_weights(self):
        """Decoder matrix ``W'`` of shape (n_features, n_components)."""
        if self.tied_weights:
            return self.encoder.weight.T
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
        self.encoder.weight.uniform_(-gain * bound, gain * bound, generator=generator)
        self.encoder.bias.zero_()
        if not self.tied_weights:
            self.decoder_weight.uniform_(-bound, bound, generator=generator)
        self.decoder_bias.zero_()
        return self

    def weights(self):
        """The weight matrices (not the biases): what weight decay acts on."""
        if self.tied_weights:
            return [self.encoder.weight]
        return [self.encoder.weight, self.decoder_weight]

    def encode(self, x):
        """Return ``(pre_activations, codes)`` for a batch ``x``."""
        pre = self.encoder(x)
        return pre, self._f(pre)

    def decode(self, codes):
        """Reconstruct inputs from ``codes``."""
        return self._g(nn.functional.linear(codes, self.decoder_weights, self.decoder_bias))

    def forward(self, x):
        pre, codes = self.encode(x)
        return AutoencoderOutput(codes, self.decode(codes), pre)
