"""The convolutional network of the imputer for images: a U-Net with a dense code.

:class:`MaskedConvolutionalAutoencoder` fills the unknown pixels of images
from their surroundings. Convolutions read the known pixels and the mask of
which are known, two strided convolutions bring the maps to a quarter of the
image's side, a dense layer of units (the code, to which the penalties and
the statistics apply as to a dense layer's) reads them whole and is decoded
back to maps, and transposed convolutions bring the maps back up, each
reading the encoder's maps of its size beside its own (skip connections, as
in the U-Net of Ronneberger et al., 2015). The code gives each fill the
whole image's context (a hole is filled from what lies around it, however
far); the skips give it the pixels next to it (a scattered missing pixel is
filled from its neighbours).

It is what :class:`~skl_sae.SparseAutoencoderImputer` trains for images
(``image_shape``, ``network="auto"``); the measurements that chose it are in
the user guide (:ref:`imputation`, "Damaged images"). Its decoder needs the
encoder's maps, so it does not decode codes alone: the sparse codes that need
that (unit-norm atoms, AuxK) are not offered with it.
"""

import torch
from torch import nn

from ._layers import DenseLayer, glorot_uniform_
from ._modules import Autoencoder, AutoencoderOutput

#: Channels of every convolution of :class:`MaskedConvolutionalAutoencoder`.
CHANNELS = 32


def _convolution(n_in, n_out, *, stride=1, transposed=False, generator=None, dtype=None):
    """A 3 x 3 convolution (stride 1 or 2, padded by 1), or a 2 x 2
    transposed one of stride 2 (each input pixel to a 2 x 2 block of
    output), with Glorot-uniform kernels for relu units drawn from
    ``generator`` and a zero bias."""
    if transposed:
        layer, side = nn.ConvTranspose2d(n_in, n_out, 2, 2, dtype=dtype), 2
    else:
        layer, side = nn.Conv2d(n_in, n_out, 3, stride, padding=1, dtype=dtype), 3
    with torch.no_grad():
        glorot_uniform_(layer.weight, n_in * side**2, n_out * side**2, "relu", generator)
        layer.bias.zero_()
    return layer


def _halved(size):
    """The side of a map after a stride-2 convolution (padding 1): ``ceil(size / 2)``."""
    return (size + 1) // 2


class MaskedConvolutionalAutoencoder(Autoencoder):
    """A U-Net with a dense code, which reads which pixels are unknown.

    Rows hold the ``columns`` (indices into an image flattened row by row,
    channels last) of images of ``image_shape``; unknown entries come as NaN.
    The network places them in their images (the other pixels unknown), reads
    the known values (unknown at 0) and the known mask as ``2 * channels``
    input maps, and returns the reconstruction of the same columns:

    - ``a = relu(conv(x, m))`` at full size, ``b = relu(conv_s2(a))`` at half
      size, ``c = relu(conv_s2(b))`` at a quarter;
    - codes ``h = f(W vec(c) + b)`` (the :class:`~._layers.DenseLayer`
      ``encoder``, ``n_components`` units), decoded to maps
      ``d = relu(V h + e)`` of ``c``'s shape;
    - ``u = relu(deconv([d, c]))`` at half size, ``v = relu(deconv([u, b]))``
      at full size, output ``g(conv([v, a]))``.

    Every convolution has :data:`CHANNELS` channels and 3 x 3 kernels; the
    transposed ones (``deconv``), 2 x 2 kernels of stride 2, as the U-Net's
    up-convolutions: torch's CPU kernels for 3 x 3 transposed convolutions of
    stride 2 are slow (a fit of 800 steps on MNIST had not ended after 19
    minutes where the 2 x 2 ones took 8).

    Parameters
    ----------
    n_features : int
        Number of ``columns``.
    n_components : int
        Units of the code.
    image_shape : tuple of int
        ``(height, width, channels)``.
    columns : array-like of int or None
        The pixels that the rows hold, in order; all if None.
    activation : str, default="relu"
        The activation of the code (with ``code`` None).
    output_activation : {"identity", "sigmoid"}, default="identity"
    code : torch.nn.Module, default=None
        The code of the dense layer (see :mod:`._codes`); dense codes only.
    generator : torch.Generator, default=None
        Source of the Glorot-uniform initial weights (biases start at 0).
    dtype : torch.dtype, default=None
        Dtype of the parameters.
    """

    def __init__(
        self,
        n_features,
        n_components,
        *,
        image_shape,
        columns=None,
        activation="relu",
        output_activation="identity",
        code=None,
        generator=None,
        dtype=None,
    ):
        super().__init__(n_features, n_components, output_activation)
        height, width, channels = (int(d) for d in image_shape)
        self.image_shape = (height, width, channels)
        n_pixels = height * width * channels
        columns = torch.arange(n_pixels) if columns is None else torch.as_tensor(columns)
        if columns.shape != (n_features,):
            raise ValueError(
                f"{n_features} features cannot be the {len(columns)} pixels given as "
                f"columns of images of shape {self.image_shape}."
            )
        self.register_buffer("columns", columns.long(), persistent=False)
        self.map_sizes = [(height, width)]
        for _ in range(2):
            self.map_sizes.append(tuple(_halved(side) for side in self.map_sizes[-1]))
        n_code_inputs = CHANNELS * self.map_sizes[-1][0] * self.map_sizes[-1][1]
        made = {"generator": generator, "dtype": dtype}
        self.reading = _convolution(2 * channels, CHANNELS, **made)
        self.downs = nn.ModuleList(
            _convolution(CHANNELS, CHANNELS, stride=2, **made) for _ in range(2)
        )
        self.encoder = DenseLayer(
            n_code_inputs, n_components, activation=activation, code=code, **made
        )
        self.expand = DenseLayer(n_components, n_code_inputs, activation="relu", **made)
        up = {"stride": 2, "transposed": True, **made}
        self.ups = nn.ModuleList(_convolution(2 * CHANNELS, CHANNELS, **up) for _ in range(2))
        self.writing = _convolution(2 * CHANNELS, channels, **made)

    @property
    def inference_width(self):
        """Floats per row that a forward pass holds at once: some ``4 *
        CHANNELS`` maps and the input maps, per position."""
        height, width, channels = self.image_shape
        return (4 * CHANNELS + 2 * channels) * height * width

    @property
    def auxiliary_k(self):
        """Dead units that AuxK would revive per row (it is not offered)."""
        return max(1, self.n_components // 2)

    def weights(self):
        """The kernels and the dense weights (not the biases): what weight decay acts on."""
        convolutions = [self.reading, *self.downs, *self.ups, self.writing]
        return [layer.weight for layer in convolutions] + [self.encoder.weight, self.expand.weight]

    def unit_parameters(self):
        """Each unit's row of the code's weight and bias, its column of the
        decoding layer's weight, and the code's own parameters."""
        return [
            (self.encoder.weight, 0),
            (self.encoder.bias, 0),
            (self.expand.weight, 1),
            *self.encoder.code.unit_parameters(),
        ]

    def known_inputs(self, x, observed):
        return x if observed is None else x.masked_fill(~observed, float("nan"))

    def _images(self, x):
        """The known values (unknown at 0) and the known mask of the rows
        ``x`` as input maps, shape (n, 2 * channels, height, width)."""
        height, width, channels = self.image_shape
        known = ~torch.isnan(x)
        maps = x.new_zeros(2, x.shape[0], height * width * channels)
        maps[0][:, self.columns] = x.where(known, 0.0)
        maps[1][:, self.columns] = known.to(x.dtype)
        maps = maps.view(2, -1, height, width, channels).permute(1, 0, 4, 2, 3)
        return maps.reshape(-1, 2 * channels, height, width)

    def _down(self, x):
        """The encoder's maps of the rows ``x``: full, half and quarter size."""
        full = torch.relu(self.reading(self._images(x)))
        half = torch.relu(self.downs[0](full))
        return full, half, torch.relu(self.downs[1](half))

    def pre_activations(self, x):
        return self.encoder.pre_activations(self._down(x)[-1].flatten(1))

    def forward(self, x):
        full, half, top = self._down(x)
        pre = self.encoder.pre_activations(top.flatten(1))
        codes, gates = self.encoder.code(pre)
        maps = self.expand(codes).view_as(top)
        sizes = self.map_sizes[1::-1]  # (half, then full)
        for up, skip, (height, width) in zip(self.ups, (top, half), sizes, strict=True):
            doubled = up(torch.cat([maps, skip], 1))  # (one row or column too many if odd)
            maps = torch.relu(doubled[:, :, :height, :width])
        out = self.writing(torch.cat([maps, full], 1))
        reconstruction = out.permute(0, 2, 3, 1).flatten(1)[:, self.columns]
        return AutoencoderOutput(codes, self._g(reconstruction), pre, gates)

    def errors(self, output, x, observed=None):
        return super().errors(output, x.nan_to_num(0.0), observed)

    def _no_decoder_alone(self, *args, **kwargs):
        raise NotImplementedError(
            "The convolutional imputer's decoder reads the encoder's maps beside the "
            "codes: it does not decode codes alone."
        )

    decode = auxiliary_reconstruction = _no_decoder_alone
    normalize_decoder_ = remove_parallel_gradient_ = _no_decoder_alone

    def center_(self, center):
        """Nothing: the decoder has no per-pixel bias to hold a centre."""
