"""The layers that the networks are built from, and their initial weights.

A :class:`DenseLayer` ``h = f(W x + b)`` (the encoder of a dense
autoencoder) and a :class:`ConvolutionalEncoder` (strided convolutions to
feature maps) both give ``pre_activations(x)`` as rows of units and hold the
``code`` (a module of :mod:`._codes`) that turns them into codes: what the
autoencoders of :mod:`._modules` encode with. A :class:`StackedNetwork`
applies pre-trained dense layers in turn under an output layer (the stacked
classifier's network). Built from plain ints and strings; initial weights
are Glorot-uniform, drawn from a given generator, never torch's global one.
"""

import torch
from torch import nn

from . import _sparse as sparse
from ._codes import Activation


def uniform_(tensor, bound, generator):
    """Fill ``tensor`` from U(-bound, bound), drawn in float64 on the CPU so
    that the same generator gives the same start in every dtype and device."""
    values = torch.empty(tensor.shape, dtype=torch.float64)
    tensor.copy_(values.uniform_(-bound, bound, generator=generator))


def glorot_bound(fan_in, fan_out, activation):
    """Glorot-uniform bound, times 4 for sigmoid units (Glorot & Bengio, 2010)."""
    gain = 4.0 if activation == "sigmoid" else 1.0
    return gain * (6.0 / (fan_in + fan_out)) ** 0.5


def glorot_uniform_(tensor, fan_in, fan_out, activation, generator):
    """Fill ``tensor`` from the Glorot-uniform distribution (:func:`glorot_bound`)."""
    uniform_(tensor, glorot_bound(fan_in, fan_out, activation), generator)


class DenseLayer(nn.Module):
    """Fully connected layer ``h = f(W x + b)``.

    Parameters
    ----------
    n_in, n_out : int
        Input and output widths; ``weight`` has shape (n_out, n_in).
    activation : {"sigmoid", "relu", "tanh", "identity"}
        The function ``f``.
    code : torch.nn.Module, default=None
        What turns pre-activations into ``(codes, gates)``: a sparse code of
        :mod:`._codes` (e.g. ``TopK``); the plain ``activation`` if None.
    generator : torch.Generator, default=None
        Source of the Glorot-uniform initial weights (biases start at 0).
    dtype : torch.dtype, default=None
        Dtype of the parameters; torch's default if None.
    """

    def __init__(
        self, n_in, n_out, *, activation="sigmoid", code=None, generator=None, dtype=None
    ):
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.empty(n_out, n_in, dtype=dtype))
        self.bias = nn.Parameter(torch.empty(n_out, dtype=dtype))
        self.code = Activation(activation) if code is None else code
        self.reset_parameters_(generator)

    @torch.no_grad()
    def reset_parameters_(self, generator=None):
        """Glorot-uniform weight and zero bias, drawn from ``generator``."""
        n_out, n_in = self.weight.shape
        glorot_uniform_(self.weight, n_in, n_out, self.activation, generator)
        self.bias.zero_()
        return self

    @torch.no_grad()
    def store_by_feature_(self):
        """Keep ``weight`` (n_out, n_in) in its transpose's row-major order,
        each feature's weights together: what the product with sparse rows
        reads (:func:`~._sparse.matmul`) and what its gradient comes as, so
        that a training step copies neither (at 15,177 features and 128
        units, a transposing copy took 4 ms of a 54 ms step). Values and
        shape are unchanged."""
        self.weight.data = self.weight.data.T.contiguous().T
        return self

    def pre_activations(self, x):
        """``W x + b``; sparse rows ``x`` (:mod:`._sparse`) are read through
        their non-zeros."""
        if sparse.is_sparse(x):
            return sparse.matmul(x, self.weight.T) + self.bias
        return nn.functional.linear(x, self.weight, self.bias)

    def forward(self, x):
        return self.code(self.pre_activations(x))[0]


class ConvolutionalEncoder(nn.Module):
    """Strided convolutions from an image to feature maps, whose channels
    are the units of a code.

    The pre-activations of the last convolution are seen as rows of units:
    one row per sample and position, ``(n_samples * height * width,
    channels)``, so that any code of :mod:`._codes` applies to them as to a
    dense layer's (KL and L1 per channel, TopK over the channels at each
    position, JumpReLU thresholds per channel). The hidden convolutions use
    relu.

    Parameters
    ----------
    image_shape : tuple of int
        ``(height, width, channels)`` of an image; a row of data holds its
        pixels in that order (row-major, channels last).
    filters : sequence of int
        Channels of each convolution, bottom to top.
    kernel_size, stride : int
        Of every convolution; the padding is ``(kernel_size - 1) // 2``.
    activation : str
        The activation ``f`` of the code.
    code : torch.nn.Module, default=None
        The code of the last feature maps; the plain ``activation`` if None.
    generator : torch.Generator, default=None
        Source of the Glorot-uniform initial weights (biases start at 0).
    dtype : torch.dtype, default=None
        Dtype of the parameters.
    """

    def __init__(
        self,
        image_shape,
        filters,
        *,
        kernel_size=3,
        stride=2,
        activation="relu",
        code=None,
        generator=None,
        dtype=None,
    ):
        super().__init__()
        height, width, channels = (int(d) for d in image_shape)
        self.image_shape, self.activation = (height, width, channels), activation
        padding = (kernel_size - 1) // 2
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.map_sizes = [(height, width)]
        self.convolutions = nn.ModuleList()
        for n_in, n_out in zip([channels, *filters[:-1]], filters, strict=True):
            convolution = nn.Conv2d(n_in, n_out, kernel_size, stride, padding, dtype=dtype)
            with torch.no_grad():
                fan_in, fan_out = n_in * kernel_size**2, n_out * kernel_size**2
                last = len(self.convolutions) == len(filters) - 1
                glorot_uniform_(
                    convolution.weight, fan_in, fan_out, activation if last else "relu", generator
                )
                convolution.bias.zero_()
            self.convolutions.append(convolution)
            height = (height + 2 * padding - kernel_size) // stride + 1
            width = (width + 2 * padding - kernel_size) // stride + 1
            self.map_sizes.append((height, width))
        self.code = Activation(activation) if code is None else code
        self.code.rows_per_sample = height * width  # (a code may see whole maps)

    @property
    def weight(self):
        """The first convolution's kernels, shape (filters[0], channels, k, k)."""
        return self.convolutions[0].weight

    @property
    def map_shape(self):
        """``(channels, height, width)`` of the code's feature maps."""
        return (self.convolutions[-1].out_channels, *self.map_sizes[-1])

    def pre_activations(self, x):
        """Pre-activations of the last convolution as rows of units, shape
        (n_samples * height * width, channels)."""
        height, width, channels = self.image_shape
        maps = sparse.to_dense(x).reshape(-1, height, width, channels).permute(0, 3, 1, 2)
        for convolution in self.convolutions[:-1]:
            maps = torch.relu(convolution(maps))
        maps = self.convolutions[-1](maps)
        return maps.permute(0, 2, 3, 1).reshape(-1, maps.shape[1])

    def mirror(self, *, generator=None, dtype=None):
        """Transposed convolutions that undo these convolutions' sizes, top
        first: each maps the feature maps back to the channels and size of
        the maps below. Glorot-uniform kernels with the plain bound, drawn
        from ``generator``, and zero biases."""
        kernel_size, stride, padding = self.kernel_size, self.stride, self.padding
        deconvolutions = nn.ModuleList()
        for depth in reversed(range(len(self.convolutions))):
            n_in = self.convolutions[depth].out_channels
            n_out = self.convolutions[depth].in_channels
            (target_h, target_w), (h, w) = self.map_sizes[depth], self.map_sizes[depth + 1]
            output_padding = [
                target - ((size - 1) * stride - 2 * padding + kernel_size)
                for target, size in ((target_h, h), (target_w, w))
            ]
            deconvolution = nn.ConvTranspose2d(
                n_in, n_out, kernel_size, stride, padding, tuple(output_padding), dtype=dtype
            )
            with torch.no_grad():
                fan_in, fan_out = n_in * kernel_size**2, n_out * kernel_size**2
                glorot_uniform_(deconvolution.weight, fan_in, fan_out, "identity", generator)
                deconvolution.bias.zero_()
            deconvolutions.append(deconvolution)
        return deconvolutions

    def forward(self, x):
        return self.code(self.pre_activations(x))[0]


class StackedNetwork(nn.Module):
    """Dense layers applied in turn: pre-trained encoders, then an output layer.

    ``forward`` returns the last layer's output (the logits of a classifier
    whose last layer has ``activation="identity"``); ``encode`` stops before
    the last layer and returns the top hidden codes.

    Parameters
    ----------
    layers : sequence of DenseLayer
        Taken as they are (not copied): the encoders of pre-trained
        autoencoders keep training as parts of the stack.
    """

    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def encode(self, x):
        """The codes of the last hidden layer."""
        for layer in self.layers[:-1]:
            x = layer(x)
        return x

    def forward(self, x):
        return self.layers[-1](self.encode(x))

    def weights(self):
        """The weight matrices (not the biases): what weight decay acts on."""
        return [layer.weight for layer in self.layers]

    @torch.no_grad()
    def export_weights(self):
        """``(coefs, intercepts, thresholds)`` as numpy: ``coefs[i]`` of shape
        ``(n_in, n_out)`` as scikit-learn's MLP lays them out, and the hidden
        codes' inference thresholds (None for a code without any)."""
        coefs = [layer.weight.detach().cpu().numpy().T.copy() for layer in self.layers]
        intercepts = [layer.bias.detach().cpu().numpy().copy() for layer in self.layers]
        thresholds = [
            layer.code.export_thresholds(layer.weight.shape[0]) for layer in self.layers[:-1]
        ]
        return coefs, intercepts, thresholds

    @classmethod
    @torch.no_grad()
    def from_weights(cls, coefs, intercepts, codes):
        """The network of :meth:`export_weights`'s ``coefs`` and ``intercepts``,
        with ``codes`` the hidden layers' code modules (the last layer is linear)."""
        layers = []
        for i, (coef, intercept) in enumerate(zip(coefs, intercepts, strict=True)):
            code = codes[i] if i < len(coefs) - 1 else None
            layer = DenseLayer(
                *coef.shape,
                activation="identity" if code is None else code.activation,
                code=code,
                generator=torch.Generator(),  # (overwritten: torch's global generator stays)
                dtype=torch.from_numpy(coef).dtype,
            )
            layer.weight.copy_(torch.from_numpy(coef.T))
            layer.bias.copy_(torch.from_numpy(intercept))
            layers.append(layer)
        return cls(layers)
