"""The networks as PyTorch modules.

A :class:`SparseAutoencoder` (a dense encoder and decoder) and a
:class:`ConvolutionalAutoencoder` (strided convolutions and transposed ones)
are both an :class:`Autoencoder`: an encoder of :mod:`._layers` whose
pre-activations its code (a module of :mod:`._codes`: a plain activation or
a sparse code such as TopK) turns into rows of units, and a decoder back;
they share :meth:`~Autoencoder.encode` and :meth:`~Autoencoder.forward`.
This module knows nothing of scikit-learn: it is built from plain ints and
strings, and never draws from torch's global random generator.
"""

from abc import ABC, abstractmethod
from typing import NamedTuple

import torch
from torch import nn

from . import _sparse as sparse
from ._codes import ACTIVATIONS
from ._functional import squared_error
from ._layers import (
    ConvolutionalEncoder,
    DenseLayer,
    glorot_uniform_,
    uniform_,
)


class AutoencoderOutput(NamedTuple):
    """What a forward pass returns."""

    codes: torch.Tensor
    """Hidden code ``h = f(W x + b)``, shape (n_samples, n_components)."""

    reconstruction: torch.Tensor | None
    """Decoded input ``g(W' h + c)``, shape (n_samples, n_features); None
    for sparse rows whose error comes from their non-zeros
    (:attr:`Autoencoder.reads_nonzeros`)."""

    pre_activations: torch.Tensor
    """``W x + b`` before the hidden activation; penalties such as the
    contractive one need it."""

    gates: torch.Tensor | None = None
    """JumpReLU's 0/1 gates, whose mean is the L0 penalty; None otherwise."""


class Autoencoder(nn.Module, ABC):
    """An encoder whose code gives rows of units, and a decoder back: what
    the losses, codes, statistics and structure learning see of a network.

    A subclass builds ``encoder`` (a module of :mod:`._layers`, with
    ``pre_activations(x)``, ``code`` and ``weight``) and provides the
    decoder and the hooks below; :meth:`encode` and :meth:`forward` are
    written here once.

    Parameters
    ----------
    n_features : int
        Width of the input and of the reconstruction.
    n_components : int
        Number of hidden units (channels of a convolutional code).
    output_activation : {"identity", "sigmoid"}
        Output activation ``g``.
    """

    #: Rows of codes per sample (one; a convolutional code has one per position).
    rows_per_sample = 1

    #: Whether the decoder is the encoder transposed, and whether its atoms
    #: are kept at unit norm (:meth:`normalize_decoder_`).
    tied_weights = unit_norm_decoder = False

    #: Whether the reconstruction error of sparse rows comes from their
    #: non-zeros (:mod:`._sparse`), without decoding them at full width.
    reads_nonzeros = False

    #: Floats per row that a forward pass holds at once where that is more
    #: than its input's width (0: no more): what sizes inference batches.
    inference_width = 0

    def __init__(self, n_features, n_components, output_activation):
        super().__init__()
        self.n_features = n_features
        self.n_components = n_components
        self.output_activation = output_activation
        self._g = ACTIVATIONS[output_activation]

    @property
    @abstractmethod
    def auxiliary_k(self):
        """Dead units that AuxK gives a code to per row of codes."""

    @property
    def encoder_weight(self):
        """The encoder's (first) weight: what the contractive penalty reads."""
        return self.encoder.weight

    @abstractmethod
    def weights(self):
        """The weights (not the biases): what weight decay acts on."""

    @abstractmethod
    def unit_parameters(self):
        """``(parameter, dim)`` of each parameter with one slice per hidden
        unit along ``dim`` (the code's thresholds included)."""

    @abstractmethod
    def normalize_decoder_(self):
        """Rescale what each unit decodes to (its atom) to unit norm."""

    @abstractmethod
    def remove_parallel_gradient_(self):
        """Remove from the atoms' gradient its part along each atom."""

    @abstractmethod
    def center_(self, center):
        """Start from reconstructing ``center`` (a point of the data), if the
        decoder can hold it."""

    @abstractmethod
    def decode(self, codes):
        """Reconstruct inputs from ``codes``, rows of units."""

    @abstractmethod
    def auxiliary_reconstruction(self, output, auxiliary_codes, units=None):
        """The reconstruction of ``output`` (held fixed) plus what the decoder
        makes of ``auxiliary_codes``: what AuxK trains dead units on.
        ``units`` (a long tensor), if given, are the units that the columns
        of ``auxiliary_codes`` belong to (the dead ones), all others' being 0."""

    def decode_prefixes(self, codes, widths):
        """The reconstructions of ``codes`` truncated to each of ``widths``
        (increasing): the codes of the units beyond a width set to 0."""
        units = torch.arange(codes.shape[1], device=codes.device)
        return [self.decode(codes * (units < width)) for width in widths]

    def normalize(self, x):
        """What the network computes on: ``x`` (a dense network divides it
        by its ``input_scale``)."""
        return x

    def known_inputs(self, x, observed):
        """The batch ``x`` as the network reads it when only its ``observed``
        entries (a boolean mask, or None: all) are known: ``x`` itself, for
        a network that does not tell unknown entries apart
        (:class:`MaskedAutoencoder` does)."""
        return x

    def pre_activations(self, x):
        """The encoder's pre-activations of a batch ``x``, as rows of units."""
        return self.encoder.pre_activations(self.normalize(x))

    def encode(self, x):
        """Return ``(pre_activations, codes)`` for a batch ``x``, as rows of units."""
        pre = self.pre_activations(x)
        return pre, self.encoder.code(pre)[0]

    def forward(self, x):
        pre = self.pre_activations(x)
        codes, gates = self.encoder.code(pre)
        decoded = not (self.reads_nonzeros and sparse.is_sparse(x))
        return AutoencoderOutput(codes, self.decode(codes) if decoded else None, pre, gates)

    def errors(self, output, x, observed=None):
        """Per-sample mean squared error of the forward ``output`` against
        ``x`` (over the ``observed`` entries, if given): see
        :func:`~._functional.squared_error`."""
        reconstruction = output.reconstruction
        if reconstruction is None:
            reconstruction = self.decode(output.codes)
        return squared_error(reconstruction, sparse.to_dense(x), observed)

    def auxiliary_errors(self, output, auxiliary_codes, x, units=None):
        """Per-sample mean squared error against ``x`` of
        :meth:`auxiliary_reconstruction`: what AuxK minimises."""
        return squared_error(
            self.auxiliary_reconstruction(output, auxiliary_codes, units), sparse.to_dense(x)
        )


class SparseAutoencoder(Autoencoder):
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
    code : torch.nn.Module, default=None
        Sparse code of the hidden layer (see :class:`DenseLayer`).
    unit_norm_decoder : bool, default=False
        Start with decoder columns (dictionary atoms) of unit norm and the
        encoder equal to the decoder's transpose; training then keeps the
        columns at unit norm with :meth:`remove_parallel_gradient_` and
        :meth:`normalize_decoder_`.
    generator : torch.Generator, default=None
        Source of the initial weights; torch's global generator is never used.
    dtype : torch.dtype, default=None
        Dtype of the parameters; torch's default if None.

    Attributes
    ----------
    input_scale : float
        The network computes on ``x / input_scale`` and decodes back to
        ``x``'s units (1 unless set; only with an identity output): its
        weights, codes and penalties are those of the scaled inputs.
    """

    input_scale = 1.0

    def __init__(
        self,
        n_features,
        n_components,
        *,
        activation="sigmoid",
        output_activation="identity",
        tied_weights=False,
        code=None,
        unit_norm_decoder=False,
        generator=None,
        dtype=None,
    ):
        super().__init__(n_features, n_components, output_activation)
        self.tied_weights = tied_weights
        self.unit_norm_decoder = unit_norm_decoder
        self.encoder = DenseLayer(
            n_features,
            n_components,
            activation=activation,
            code=code,
            generator=generator,
            dtype=dtype,
        )
        self.decoder_bias = nn.Parameter(torch.zeros(n_features, dtype=dtype))
        if tied_weights:
            self.register_parameter("decoder_weight", None)
        else:
            self.decoder_weight = nn.Parameter(torch.empty(n_features, n_components, dtype=dtype))
            with torch.no_grad():
                # The plain bound keeps the first reconstructions at the data's scale.
                glorot_uniform_(
                    self.decoder_weight, n_components, n_features, "identity", generator
                )
        if unit_norm_decoder:
            with torch.no_grad():
                self.normalize_decoder_()
                if not tied_weights:
                    self.encoder.weight.copy_(self.decoder_weight.T)

    @property
    def auxiliary_k(self):
        """Dead units that AuxK gives a code to per row: half the input width."""
        return max(1, self.n_features // 2)

    @property
    def reads_nonzeros(self):
        """A linear decoder's error comes from the non-zeros of sparse rows."""
        return self.output_activation == "identity"

    def normalize(self, x):
        if self.input_scale == 1.0:
            return x
        if sparse.is_sparse(x):
            return sparse.with_values(x, x.values() / self.input_scale)
        return x / self.input_scale

    def errors(self, output, x, observed=None):
        if output.reconstruction is None and self.reads_nonzeros and sparse.is_sparse(x):
            errors = sparse.linear_errors(
                self.normalize(x), output.codes, self.decoder_weights, self.decoder_bias
            )
            return errors * self.input_scale**2
        return super().errors(output, x, observed)

    def auxiliary_errors(self, output, auxiliary_codes, x, units=None):
        if output.reconstruction is None:
            errors = sparse.linear_auxiliary_errors(
                self.normalize(x),
                output.codes,
                _all_units(auxiliary_codes, units, output.codes.shape[1]),
                self.decoder_weights,
                self.decoder_bias,
            )
            return errors * self.input_scale**2
        return super().auxiliary_errors(output, auxiliary_codes, x, units)

    @property
    def encoder_bias(self):
        """Encoder bias ``b`` of shape (n_components,)."""
        return self.encoder.bias

    @property
    def decoder_weights(self):
        """Decoder matrix ``W'`` of shape (n_features, n_components)."""
        if self.tied_weights:
            return self.encoder.weight.T
        return self.decoder_weight

    def weights(self):
        """The weight matrices (not the biases): what weight decay acts on.

        Unit-norm atoms (``unit_norm_decoder``) are left out: their squared
        norm is the number of units, and the penalty's gradient, along each
        atom, is what :meth:`remove_parallel_gradient_` removes before each
        step. Computing it cost two passes over the decoder a step for
        nothing.
        """
        atoms = [self.encoder.weight] if self.tied_weights else [self.decoder_weight]
        encoder = [] if self.tied_weights else [self.encoder.weight]
        return encoder if self.unit_norm_decoder else encoder + atoms

    def _atoms(self):
        """The parameter holding the decoder's columns, and the dimension
        along which each column runs."""
        if self.tied_weights:
            return self.encoder.weight, 1
        return self.decoder_weight, 0

    @torch.no_grad()
    def normalize_decoder_(self):
        """Rescale every decoder column to unit norm."""
        weight, dim = self._atoms()
        norms = _dots(weight, weight, dim).sqrt_().clamp_min_(1e-12)
        weight.div_(norms.unsqueeze(dim))

    @torch.no_grad()
    def remove_parallel_gradient_(self):
        """Remove from the decoder's gradient its part along each (unit)
        column, which could only change the column's norm."""
        weight, dim = self._atoms()
        if weight.grad is not None:
            parallel = _dots(weight.grad, weight, dim).unsqueeze(dim)
            weight.grad.addcmul_(parallel, weight, value=-1)

    @torch.no_grad()
    def start_along_(self, directions):
        """Start the first ``2 m`` units as ``m`` pairs of opposite unit atoms
        along the orthonormal columns of ``directions`` (shape (n_features,
        m)), the encoder their transpose: a pair's relu codes are the
        positive and negative parts of a row's coordinate along its
        direction, which the pair decodes back. The other units keep their
        start; :meth:`center_`, called after, sets the encoder biases."""
        weight = self.encoder.weight
        directions = torch.as_tensor(directions, dtype=weight.dtype, device=weight.device)
        n_features, n_directions = directions.shape
        atoms = torch.stack([directions, -directions], dim=2).reshape(n_features, -1)
        weight[: 2 * n_directions].copy_(atoms.T)
        if not self.tied_weights:
            self.decoder_weight[:, : 2 * n_directions].copy_(atoms)

    @torch.no_grad()
    def center_(self, center):
        """Start from reconstructing ``center`` (a point of the data, e.g. its
        geometric median): the decoder bias decodes to it and the encoder
        bias makes the pre-activations of ``center`` zero."""
        if self.output_activation == "sigmoid":
            # Clipped so that no output starts saturated (sigmoid' >= 0.01).
            self.decoder_bias.copy_(torch.logit(center, eps=0.01))
        else:
            center = center / self.input_scale
            self.decoder_bias.copy_(center)
        self.encoder.bias.copy_(-self.encoder.weight @ center)

    def unit_parameters(self):
        pairs = [(self.encoder.weight, 0), (self.encoder.bias, 0)]
        if not self.tied_weights:
            pairs.append((self.decoder_weight, 1))
        return pairs + self.encoder.code.unit_parameters()

    @torch.no_grad()
    def select_units_(self, keep, n_new, generator=None):
        """Keep the hidden units at indices ``keep`` (a long tensor), in that
        order, and append ``n_new`` new units.

        The new units start as a new autoencoder of the resulting size starts
        its units (Glorot-uniform weights for that size and zero biases; with
        ``unit_norm_decoder``, unit-norm atoms, the encoder as their transpose
        and the pre-activations of the current centre at zero), drawn from
        ``generator``. The parameters keep their identity (an optimizer's
        references to them stay valid) and change shape; their gradients are
        dropped.
        """
        keep = keep.to(self.encoder.weight.device)
        n_units = len(keep) + n_new
        weight = self.encoder.weight
        rows = weight.new_empty(n_new, self.n_features)
        glorot_uniform_(rows, self.n_features, n_units, self.encoder.activation, generator)
        bias = weight.new_zeros(n_new)
        if not self.tied_weights:
            columns = weight.new_empty(self.n_features, n_new)
            glorot_uniform_(columns, n_units, self.n_features, "identity", generator)
        if self.unit_norm_decoder:
            atoms = rows.T if self.tied_weights else columns
            atoms.div_(atoms.norm(dim=0, keepdim=True).clamp_min(1e-12))
            rows = atoms.T.clone()
            bias = -rows @ self._g(self.decoder_bias)
        by_feature = not weight.is_contiguous()  # (DenseLayer.store_by_feature_)
        self.encoder.weight.data = torch.cat([weight.index_select(0, keep), rows])
        if by_feature:
            self.encoder.store_by_feature_()
        self.encoder.bias.data = torch.cat([self.encoder.bias.index_select(0, keep), bias])
        if not self.tied_weights:
            kept = self.decoder_weight.index_select(1, keep)
            self.decoder_weight.data = torch.cat([kept, columns], dim=1)
        self.encoder.code.select_units_(keep, n_new)
        for parameter, _ in self.unit_parameters():
            parameter.grad = None
        self.n_components = n_units
        return self

    def decode(self, codes):
        """Reconstruct inputs from ``codes`` (dense, or sparse rows), in the
        inputs' units."""
        codes = self.encoder.code.decoded(sparse.to_dense(codes))
        decoded = nn.functional.linear(codes, self.decoder_weights, self.decoder_bias)
        return self._g(decoded if self.input_scale == 1.0 else decoded * self.input_scale)

    def decode_prefixes(self, codes, widths):
        """As :meth:`Autoencoder.decode_prefixes`, each from the one before
        through the next slice of units alone: all of them in the products
        of one decode of the widest prefix, where decoding each truncated
        code took a whole decode (a Matryoshka dictionary's two inner
        prefixes on MNIST at 1,024 units: two more decodes a step, and their
        gradients)."""
        decoder, linear, start = self.decoder_weights, self.decoder_bias, 0
        reconstructions = []
        for width in widths:
            linear = torch.addmm(linear, codes[:, start:width], decoder[:, start:width].T)
            start = width
            scaled = linear if self.input_scale == 1.0 else linear * self.input_scale
            reconstructions.append(self._g(scaled))
        return reconstructions

    def auxiliary_reconstruction(self, output, auxiliary_codes, units=None):
        """The reconstruction of ``output`` (held fixed) plus what the decoder
        makes of ``auxiliary_codes``: what AuxK trains dead units on.

        With an identity output this is Gao et al.'s residual fit: the
        auxiliary part alone is fitted to the residual ``x - reconstruction``.
        Given the dead ``units``, only their atoms decode (the others' codes
        are 0): a product of the dead units' width, not the layer's.
        """
        if self.output_activation == "identity":
            base = output.reconstruction.detach()
        else:
            with torch.no_grad():
                base = nn.functional.linear(output.codes, self.decoder_weights, self.decoder_bias)
        atoms = self.decoder_weights
        if units is not None:
            atoms = atoms.index_select(1, units)
        auxiliary = nn.functional.linear(auxiliary_codes, atoms)
        return self._g(base + self.input_scale * auxiliary)


class MaskedAutoencoder(SparseAutoencoder):
    """A :class:`SparseAutoencoder` that reads which entries are unknown.

    Unknown entries come as NaN; the encoder reads the others and, through
    ``known_weight`` ``V`` (shape (n_components, n_features), starting at
    0), which entries are known: ``h = f(W x_0 + V m + b)``, with ``x_0``
    the row with its unknown entries at 0 and ``m`` its indicator of known
    entries. Without ``m``, a hidden entry reads as an observed one at the
    column's centre. This is the network of
    :class:`~skl_sae.SparseAutoencoderImputer`, whose mask-aware inputs
    follow GAIN's and ReMasker's.
    """

    def __init__(self, n_features, n_components, *, dtype=None, **kwargs):
        super().__init__(n_features, n_components, dtype=dtype, **kwargs)
        self.known_weight = nn.Parameter(torch.zeros(n_components, n_features, dtype=dtype))

    def known_inputs(self, x, observed):
        return x if observed is None else x.masked_fill(~observed, float("nan"))

    def pre_activations(self, x):
        known = ~torch.isnan(x)
        pre = super().pre_activations(x.where(known, 0.0))
        return pre + nn.functional.linear(known.to(x.dtype), self.known_weight)

    def errors(self, output, x, observed=None):
        return super().errors(output, x.nan_to_num(0.0), observed)

    def weights(self):
        return [*super().weights(), self.known_weight]

    def unit_parameters(self):
        return [*super().unit_parameters(), (self.known_weight, 0)]

    @torch.no_grad()
    def select_units_(self, keep, n_new, generator=None):
        kept = self.known_weight.index_select(0, keep.to(self.known_weight.device))
        self.known_weight.data = torch.cat([kept, kept.new_zeros(n_new, self.n_features)])
        return super().select_units_(keep, n_new, generator)


class MaskedDeepAutoencoder(MaskedAutoencoder):
    """A :class:`MaskedAutoencoder` whose decoder has a hidden layer.

    The code ``h`` (``n_components`` units, read as by
    :class:`MaskedAutoencoder`) is decoded through ``n_hidden`` sigmoid units,
    ``g(W' sigmoid(E h + e) + c)``: the decoder is no dictionary of atoms,
    so the codes that need one (TopK, AuxK, Matryoshka prefixes, unit-norm
    atoms) and tied weights are not for it. This is the imputer's network
    for tables (``network="deep"``).

    Parameters
    ----------
    n_features, n_components : int
        As :class:`SparseAutoencoder`'s.
    n_hidden : int
        Units of the decoder's hidden layer (``expand``).
    **kwargs
        The other parameters of :class:`SparseAutoencoder`, but neither
        ``tied_weights`` nor ``unit_norm_decoder``.
    """

    def __init__(
        self, n_features, n_components, *, n_hidden, generator=None, dtype=None, **kwargs
    ):
        if kwargs.get("tied_weights") or kwargs.get("unit_norm_decoder"):
            raise ValueError("A decoder with a hidden layer has neither tied weights nor atoms.")
        super().__init__(n_features, n_components, generator=generator, dtype=dtype, **kwargs)
        self.n_hidden = n_hidden
        self.expand = DenseLayer(
            n_components, n_hidden, activation="sigmoid", generator=generator, dtype=dtype
        )
        self.decoder_weight = nn.Parameter(torch.empty(n_features, n_hidden, dtype=dtype))
        with torch.no_grad():
            # Each weight from U(+-1 / sqrt(fan_in)), as torch.nn.Linear starts
            # (the mask's too): Glorot's bound, 4 times larger for sigmoid
            # units, saturated the two layers (the imputer's Notes: wine 0.719
            # against 0.715, diabetes 0.741 against 0.732, digits 0.580
            # against 0.575, RMSE in column standard deviations).
            reading = (2 * n_features) ** -0.5  # (the values and the mask)
            uniform_(self.encoder.weight, reading, generator)
            uniform_(self.known_weight, reading, generator)
            uniform_(self.expand.weight, n_components**-0.5, generator)
            uniform_(self.decoder_weight, n_hidden**-0.5, generator)

    #: The reconstruction is no linear function of the codes.
    reads_nonzeros = False

    @property
    def inference_width(self):
        """Floats per row of the decoder's hidden layer."""
        return self.n_hidden

    def decode(self, codes):
        hidden = self.expand(codes)
        decoded = nn.functional.linear(hidden, self.decoder_weight, self.decoder_bias)
        return self._g(decoded if self.input_scale == 1.0 else decoded * self.input_scale)

    def weights(self):
        return [*super().weights(), self.expand.weight]

    def unit_parameters(self):
        units = [(self.encoder.weight, 0), (self.encoder.bias, 0), (self.known_weight, 0)]
        return [*units, (self.expand.weight, 1), *self.encoder.code.unit_parameters()]

    def _no_atoms(self, *args, **kwargs):
        raise NotImplementedError(
            "The deep decoder decodes codes through a hidden layer: it has no atoms, "
            "and a code's units cannot be decoded, added or removed one by one."
        )

    auxiliary_reconstruction = decode_prefixes = select_units_ = _no_atoms
    normalize_decoder_ = remove_parallel_gradient_ = start_along_ = center_ = _no_atoms


def _all_units(codes, units, n_units):
    """``codes`` of the given ``units`` (None: all of them) as codes of all
    ``n_units`` units, 0 for the others."""
    if units is None:
        return codes
    return codes.new_zeros(codes.shape[0], n_units).index_copy(1, units, codes)


def _deconvolve_placed(deconvolution, values, positions, map_size, output_size):
    """``deconvolution`` (a transposed convolution) of feature maps of
    ``map_size`` that are 0 but for one ``value`` per map, at
    ``positions`` (row-major; None for maps of one position): each map's
    kernels scaled by its value and added at its position, a product of the
    kernels' size rather than of the maps' (one 5 x 5 kernel per map on
    MNIST's 28 x 28 maps: 25 products where the whole maps take 19,600)."""
    if positions is None:  # maps of one position
        positions = torch.zeros(values.shape, dtype=torch.long, device=values.device)
    weight = deconvolution.weight  # (channels in, channels out, k, k)
    n_in, n_out, size, _ = weight.shape
    (stride,), (padding,) = set(deconvolution.stride), set(deconvolution.padding)
    (height, width), (height_out, width_out) = map_size, output_size
    # A canvas that every kernel fits on, cropped by the padding afterwards.
    canvas_height = max((height - 1) * stride + size, padding + height_out)
    canvas_width = max((width - 1) * stride + size, padding + width_out)
    rows, columns = positions.div(width, rounding_mode="floor"), positions.remainder(width)
    corners = (rows * canvas_width + columns) * stride  # (n_samples, channels in)
    kernel = torch.arange(size, device=weight.device)
    offsets = (
        torch.arange(n_out, device=weight.device).view(-1, 1, 1) * (canvas_height * canvas_width)
        + kernel.view(-1, 1) * canvas_width
        + kernel
    ).flatten()
    index = (corners.unsqueeze(2) + offsets).flatten(1)
    added = (values.unsqueeze(2) * weight.reshape(n_in, -1)).flatten(1)
    canvas = added.new_zeros(values.shape[0], n_out * canvas_height * canvas_width)
    canvas = canvas.scatter_add_(1, index, added).view(-1, n_out, canvas_height, canvas_width)
    maps = canvas[:, :, padding : padding + height_out, padding : padding + width_out]
    return maps + deconvolution.bias.view(-1, 1, 1)


def _dots(a, b, dim, block_bytes=2**20):
    """The dot products of ``a``'s and ``b``'s slices along ``dim`` (the
    decoder's atoms), summed over blocks of at most ``block_bytes`` of
    products: ``vecdot`` multiplies the whole matrices into a temporary of
    their size first, a fresh allocation of the model's size (in a fit on
    15,177 features at 64 units: 1.8 ms a call, against 0.2 ms in blocks)."""
    rows = max(1, block_bytes // max(1, a.numel() // a.shape[dim] * a.element_size()))
    total = None
    for a_part, b_part in zip(a.split(rows, dim), b.split(rows, dim), strict=True):
        part = torch.linalg.vecdot(a_part, b_part, dim=dim)
        total = part if total is None else total.add_(part)
    return total


class ConvolutionalAutoencoder(Autoencoder):
    """Convolutional autoencoder: a :class:`ConvolutionalEncoder`, then
    transposed convolutions back to the image.

    Its codes are rows of units, one per sample and position of the feature
    maps (see :class:`ConvolutionalEncoder`), as :class:`SparseAutoencoder`'s
    are rows of units, one per sample: losses, codes and statistics take
    either. :meth:`maps` and :meth:`unit_rows` convert between the rows and
    the flattened feature maps of each sample, ``(channels, height, width)``.

    Parameters
    ----------
    image_shape, filters, kernel_size, stride, activation, code, generator, dtype
        As in :class:`ConvolutionalEncoder`; the decoder mirrors the encoder
        (hidden transposed convolutions use relu).
    output_activation : {"identity", "sigmoid"}
        Output activation ``g``.
    """

    def __init__(
        self,
        image_shape,
        filters,
        *,
        kernel_size=3,
        stride=2,
        activation="relu",
        output_activation="identity",
        code=None,
        generator=None,
        dtype=None,
    ):
        height, width, channels = (int(d) for d in image_shape)
        super().__init__(height * width * channels, int(filters[-1]), output_activation)
        self.encoder = ConvolutionalEncoder(
            image_shape,
            filters,
            kernel_size=kernel_size,
            stride=stride,
            activation=activation,
            code=code,
            generator=generator,
            dtype=dtype,
        )
        self.deconvolutions = self.encoder.mirror(generator=generator, dtype=dtype)

    @property
    def rows_per_sample(self):
        """Rows of codes per sample: the positions of the feature maps."""
        _, height, width = self.encoder.map_shape
        return height * width

    @property
    def auxiliary_k(self):
        """Dead units that AuxK gives a code to per row: half the channels."""
        return max(1, self.n_components // 2)

    def weights(self):
        """The kernels (not the biases): what weight decay acts on."""
        return [layer.weight for layer in (*self.encoder.convolutions, *self.deconvolutions)]

    def unit_parameters(self):
        """The code's per-unit parameters; the kernels are not resized."""
        return self.encoder.code.unit_parameters()

    def maps(self, rows):
        """Rows of units, (n_samples * height * width, channels), as each
        sample's flattened feature maps, (n_samples, channels * height * width)."""
        channels, height, width = self.encoder.map_shape
        return rows.reshape(-1, height, width, channels).permute(0, 3, 1, 2).flatten(1)

    def unit_rows(self, maps):
        """The inverse of :meth:`maps`."""
        channels, height, width = self.encoder.map_shape
        maps = sparse.to_dense(maps).reshape(-1, channels, height, width)
        return maps.permute(0, 2, 3, 1).reshape(-1, channels)

    def _atoms(self):
        """Each unit's kernels in the first transposed convolution, one row per unit."""
        return self.deconvolutions[0].weight

    @torch.no_grad()
    def normalize_decoder_(self):
        """Rescale each unit's kernels in the first transposed convolution
        to unit norm (what a unit adds to the maps below it)."""
        weight = self._atoms()
        norms = weight.flatten(1).norm(dim=1).clamp_min(1e-12)
        weight.div_(norms.view(-1, 1, 1, 1))

    @torch.no_grad()
    def remove_parallel_gradient_(self):
        """Remove from those kernels' gradient its part along them."""
        weight = self._atoms()
        if weight.grad is not None:
            parallel = (weight.grad * weight).flatten(1).sum(dim=1)
            weight.grad.sub_(parallel.view(-1, 1, 1, 1) * weight)

    def center_(self, center):
        """Nothing: the decoder has no per-pixel bias to hold a centre."""

    def decode(self, codes):
        """Reconstruct inputs from ``codes``, rows of units."""
        channels, height, width = self.encoder.map_shape
        code = self.encoder.code
        codes = code.decoded(sparse.to_dense(codes))
        first, *others = self.deconvolutions
        if code.one_per_map:
            placed = code.placed(codes)
            maps = _deconvolve_placed(first, *placed, (height, width), self.encoder.map_sizes[-2])
        else:
            maps = first(codes.reshape(-1, height, width, channels).permute(0, 3, 1, 2))
        for deconvolution in others:
            maps = deconvolution(torch.relu(maps))
        return self._g(maps.permute(0, 2, 3, 1).flatten(1))

    def auxiliary_reconstruction(self, output, auxiliary_codes, units=None):
        """The reconstruction from the codes (held fixed) plus the dead
        units' ``auxiliary_codes``: the decoder is not linear, so the codes
        are added before decoding."""
        codes = output.codes.detach()
        return self.decode(codes + _all_units(auxiliary_codes, units, codes.shape[1]))
