"""ConvolutionalSparseAutoencoderTransformer: sparse feature maps of images."""

import math
from numbers import Integral

import numpy as np
import torch
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._array_api import method_in_namespace
from ._base import BaseSparseAutoencoder, own_constraints
from ._data import resolve_image_shape, torch_dtype
from ._docstrings import fill_parameter_docs
from ._modules import ConvolutionalAutoencoder
from ._sklearn import Interval, StrOptions
from ._transformer import SparseAutoencoderTransformer
from ._validation import SPARSITIES_OR_AUTO, layer_sizes

#: The parameters that the convolutional transformer takes beyond the shared
#: ones. Not the dense transformer's ``n_components`` and ``max_components``
#: (its size is ``filters``), ``tied_weights`` (its decoder is not the
#: encoder transposed) nor ``contractive_weight`` (a dense layer's closed form).
_OWN_PARAMS = ("corruption", "corruption_level", "warm_start")

#: Optimizer steps of ``max_iter="auto"`` for winner-take-all codes: their
#: features for a classifier peak after about this many (see ``max_iter``).
WTA_STEPS = 800

#: The public weights, by the module's state-dict names: lists of one array
#: per convolution, encoder first, then the transposed convolutions.
_WEIGHTS = {
    "encoder_kernels_": "encoder.convolutions.{}.weight",
    "encoder_intercepts_": "encoder.convolutions.{}.bias",
    "decoder_kernels_": "deconvolutions.{}.weight",
    "decoder_intercepts_": "deconvolutions.{}.bias",
}


@fill_parameter_docs
class ConvolutionalSparseAutoencoderTransformer(SparseAutoencoderTransformer):
    """Convolutional sparse autoencoder as a scikit-learn transformer.

    Takes the rows every other estimator takes, each an image flattened row
    by row (channels last, as ``images.reshape(n, -1)`` of an array of shape
    ``(n, height, width[, channels])``). Strided convolutions encode an image
    into feature maps (``filters[-1]`` channels), transposed convolutions
    decode them. The channels of the last maps are the code's units: the
    code at each position is one row of units, to which ``sparsity`` applies
    as to a dense code's rows: a penalty acts per channel (on a channel's
    activations over samples and positions), a sparse code on the channels
    at each position (TopK keeps the ``k`` largest, JumpReLU learns one
    threshold per channel). The loss, the training loop, callbacks,
    pickling, devices and diagnostics are those of
    :class:`SparseAutoencoderTransformer`; the diagnostics
    (``feature_density_``, ``dead_latents_``, ``l0_``) count channels over
    positions.

    Parameters
    ----------
    image_shape : tuple of int or None, default=None
        ``(height, width)`` or ``(height, width, channels)`` of an image.
        None takes square grey images when the number of features is a
        square (64 pixels: 8 x 8) and one row of pixels otherwise (so that
        any table is accepted, convolved along its columns). Rows whose
        width does not match raise a ValueError.

    filters : tuple of int, default=(128,)
        Channels of each convolution, bottom to top; the decoder mirrors
        them. One layer of 128 maps gives, with the other defaults, the
        features of :ref:`conv_features`; ``(16, 32)`` with ``kernel_size=5``
        and ``pooling=None`` is the denoiser measured there.

    kernel_size : int, default=7
        Side of every (square) kernel; odd, so that the padding
        ``(kernel_size - 1) // 2`` keeps the maps centred. Why 7:
        :ref:`conv_features`.

    stride : int, default=2
        Stride of every convolution: each halves the maps with 2 (28 x 28
        -> 14 x 14 with one convolution), keeps them with 1.

    pooling : {"mean", "max"} or None, default="max"
        What ``transform`` returns: each channel's maximum (or mean) over
        each region of ``pooling_regions``, features for a classifier; or,
        with None, the codes' feature maps flattened (``channels * height *
        width`` features, channel by channel), which ``inverse_transform``
        decodes. Pooled codes cannot be decoded: with ``"mean"`` or
        ``"max"`` the estimator has no ``inverse_transform`` (``hasattr`` is
        False). It also chooses ``sparsity="auto"``'s code.

    pooling_regions : int or tuple of int, default=5
        Where ``pooling`` pools: an int ``g`` divides each map into a ``g x
        g`` grid of regions (as torch's adaptive pooling does, overlapping
        by a position where the map's side is not a multiple of ``g``) and
        pools each, so that the features keep coarse position (2: the
        quadrants); a tuple of them pools at each level and concatenates
        them (a spatial pyramid, as ``(1, 2, 4)``). ``channels * sum(g * g)``
        features, level by level, each channel by channel and its regions
        row by row. Ignored with ``pooling=None``. 5: a 5 x 5 grid, 3,200
        features with the default 128 maps (MNIST, the default features
        after 3 epochs, three seeds: 0.9902 with 5, 0.9891 with 4; on one
        seed 0.9874 with 3, 0.9895 with ``(1, 2, 4)``, 0.9898 with 7, and
        0.9847 with ``"mean"`` over 4).

    {{sparsity}}
        In this transformer it acts per channel or per position, as said
        above. ``"auto"`` takes ``"wta"`` when ``pooling`` is set (features:
        winner-take-all codes in training, the whole maps pooled after, as
        Makhzani and Frey's convolutional WTA autoencoder) and ``"kl"``
        otherwise (codes to decode: a penalty keeps the codes a decoder
        reconstructs from, where WTA's few winners reconstruct coarsely);
        ``sparsity_`` records the choice.

    sparsity_target : float, default=0.2
        The mean activation ``"kl"`` pulls each channel to, over samples
        and positions: a fifth of the channels active at a position, where
        the dense transformer's 0.05 starves a small code of channels (see
        :ref:`convolutional`).

    {{k}}
        In this transformer: the channels kept at each position.

    {{code_params}}

    max_iter : int or "auto", default="auto"
        Most epochs, as in :class:`SparseAutoencoderTransformer`. ``"auto"``
        is, for winner-take-all codes (``sparsity_ == "wta"``) and a
        minibatch solver, a fixed budget of about :data:`WTA_STEPS` (800)
        optimizer steps in at most 200 epochs, with no convergence check (as
        the stacked classifier's pre-training): 3 epochs of MNIST's 60,000
        images in batches of 200, 114 of the digits' 1,347. Their features do not
        improve for a classifier as long as their coarse reconstructions
        do, and it is the steps, not the epochs, that count: on MNIST the
        same fit scored 0.9897 after 2 and 3 epochs, 0.9888 after 5, 0.9867
        after 12 and 0.9876 after 29, where ``tol`` stopped it (404 s, the
        dense transformer's fit 139 s); on the digits 0.9828 after about 85
        epochs and 0.9767 after 20. Otherwise 200, stopped by ``tol``.
        ``max_iter_`` records the epochs allowed.

    sparsity_weight, auxk_weight, alpha, corruption, \
corruption_level, activation, output_activation, solver, batch_size, \
learning_rate_init, tol, n_iter_no_change, early_stopping, \
validation_fraction, shuffle, random_state, verbose, warm_start, device, \
matmul_precision, compute_dtype
        As in :class:`SparseAutoencoderTransformer`, with the same
        defaults but ``learning_rate_init``'s (1e-2; the winner-take-all
        features of 64 maps at stride 1 on 10,000 MNIST images, 5 epochs:
        0.9827 at 1e-2, 0.9796 at the sparse codes' 1e-3). ``activation``
        is that of the code; the hidden convolutions use relu. The sparse
        codes' dictionary atoms are each channel's kernels in the first
        transposed convolution (kept at unit norm); a convolutional
        decoder has no per-pixel bias to start from the data's median.

    Attributes
    ----------
    image_shape_ : tuple of int
        ``(height, width, channels)`` of the images.

    map_shape_ : tuple of int
        ``(channels, height, width)`` of the codes' feature maps.

    max_iter_ : int
        The epochs that the fit allowed: ``max_iter``, or what ``"auto"``
        resolved to.

    kernels_ : ndarray of shape (filters[0], kernel_size, kernel_size, channels)
        The first convolution's kernels laid out as images: what each
        first-layer filter responds to (``skl_sae.plot.FiltersDisplay``
        shows them); ``encoder_kernels_[0]`` transposed.

    encoder_kernels_ : list of ndarray
        The kernels of each convolution, bottom to top:
        ``encoder_kernels_[i]`` of shape (filters[i], channels in,
        kernel_size, kernel_size), torch's layout, the channels in being
        the image's for ``i = 0`` and ``filters[i - 1]`` above.

    encoder_intercepts_ : list of ndarray
        The biases of each convolution: ``encoder_intercepts_[i]`` of shape
        (filters[i],).

    decoder_kernels_ : list of ndarray
        The kernels of each transposed convolution, top first, mirroring
        ``encoder_kernels_``: ``decoder_kernels_[i]`` has the shape of
        ``encoder_kernels_[-1 - i]`` (torch's layout for transposed
        convolutions: channels in first). ``decoder_kernels_[0]`` holds the
        dictionary atoms of the code, one set of kernels per channel.

    decoder_intercepts_ : list of ndarray
        The biases of each transposed convolution, top first:
        ``decoder_intercepts_[i]`` of shape (channels out,), the last one
        the image's channels.

    n_components_ : int
        Units of the code: ``filters[-1]``.

    thresholds_, activity_threshold_, code_params_, l0_, feature_density_, \
dead_latents_, explained_variance_, feature_variance_, output_activation_, \
structure_curve_, loss_curve_, best_loss_, validation_scores_, \
best_validation_score_, n_iter_, device_, n_features_in_, feature_names_in_
        As in :class:`SparseAutoencoderTransformer`, per channel (a
        channel's firing counted over samples and positions).

    See Also
    --------
    SparseAutoencoderTransformer : The dense sparse autoencoder.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skl_sae import ConvolutionalSparseAutoencoderTransformer
    >>> X = load_digits().data / 16
    >>> features = ConvolutionalSparseAutoencoderTransformer(max_iter=2, random_state=0).fit(X)
    >>> features.sparsity_, features.map_shape_, features.transform(X).shape
    ('wta', (128, 4, 4), (1797, 3200))
    >>> conv = ConvolutionalSparseAutoencoderTransformer(
    ...     filters=(8, 16), kernel_size=5, pooling=None, max_iter=5, random_state=0
    ... ).fit(X)
    >>> conv.sparsity_, conv.image_shape_, conv.map_shape_
    ('kl', (8, 8, 1), (16, 2, 2))
    >>> conv.transform(X).shape, conv.inverse_transform(conv.transform(X)).shape
    ((1797, 64), (1797, 64))
    """

    _parameter_constraints: dict = {
        **BaseSparseAutoencoder._parameter_constraints,
        **own_constraints(*_OWN_PARAMS),
        "output_activation": [StrOptions({"auto", "identity", "sigmoid"})],
        "image_shape": ["array-like", None],
        "filters": ["array-like"],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "stride": [Interval(Integral, 1, None, closed="left")],
        "sparsity": [StrOptions(SPARSITIES_OR_AUTO), None],
        "max_iter": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "pooling": [StrOptions({"mean", "max"}), None],
        "pooling_regions": [Interval(Integral, 1, None, closed="left"), "array-like"],
    }

    def __init__(
        self,
        image_shape=None,
        *,
        filters=(128,),
        kernel_size=7,
        stride=2,
        pooling="max",
        pooling_regions=5,
        sparsity="auto",
        sparsity_target=0.2,
        sparsity_weight=3.0,
        k=8,
        code_params=None,
        auxk_weight=1 / 32,
        alpha=1e-5,
        corruption=None,
        corruption_level=0.1,
        activation="auto",
        output_activation="auto",
        solver="adam",
        batch_size="auto",
        learning_rate_init=1e-2,
        max_iter="auto",
        tol=1e-3,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        verbose=False,
        warm_start=False,
        device="cpu",
        matmul_precision="highest",
        compute_dtype="float32",
    ):
        self.image_shape = image_shape
        self.filters = filters
        self.kernel_size = kernel_size
        self.stride = stride
        self.pooling = pooling
        self.pooling_regions = pooling_regions
        self.sparsity = sparsity
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight
        self.k = k
        self.code_params = code_params
        self.auxk_weight = auxk_weight
        self.alpha = alpha
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.activation = activation
        self.output_activation = output_activation
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.device = device
        self.matmul_precision = matmul_precision
        self.compute_dtype = compute_dtype

    # -- the network --------------------------------------------------------

    def _filters(self):
        return layer_sizes(self.filters, "filters")

    def _check_params(self):
        super()._check_params()
        self._filters()
        self._grids()
        if self.kernel_size % 2 == 0:
            raise ValueError(
                f"kernel_size must be odd, so that the maps stay centred; got {self.kernel_size}."
            )

    def _grids(self):
        """``pooling_regions`` as a tuple of grid sides, checked."""
        return layer_sizes(self.pooling_regions, "pooling_regions")

    def _fit(self, X, *, continuing, incremental):
        sparsity = self.sparsity_ if continuing else self._resolve_sparsity(X)
        self.max_iter_ = self._resolve_max_iter(X, sparsity)
        super()._fit(X, continuing=continuing, incremental=incremental)

    def _step_budget(self, sparsity):
        """Whether ``max_iter`` is a budget of steps: ``"auto"``, for
        winner-take-all codes and a minibatch solver."""
        return self.max_iter == "auto" and sparsity == "wta" and self.solver != "lbfgs"

    def _resolve_max_iter(self, X, sparsity):
        """``max_iter``, ``"auto"`` as a number of epochs for ``X`` and the
        resolved ``sparsity`` (see the parameter)."""
        if not self._step_budget(sparsity):
            return 200 if self.max_iter == "auto" else self.max_iter
        return self._epochs_of_steps(X, WTA_STEPS, 200)

    def _schedule(self, **changes):
        if self._step_budget(self._sparsity()):
            changes = {"check_convergence": False, **changes}
        return super()._schedule(**{"max_iter": self.max_iter_, **changes})

    def _resolve_sparsity(self, X):
        """``"auto"``: ``"wta"`` for pooled features, the dense transformer's
        choice (``"kl"`` for dense rows) for codes to decode."""
        if self.sparsity == "auto" and self.pooling is not None:
            return "wta"
        return super()._resolve_sparsity(X)

    def _resolve_init(self, X):
        """Random: the filters have no singular directions to start along."""
        return "random"

    def _layer_size(self):
        return self._filters()[-1]

    def _max_components(self):
        return None  # the size is ``filters``

    def _network(self, architecture):
        def network(n_features, n_units, **kwargs):
            return ConvolutionalAutoencoder(
                architecture["image_shape"],
                architecture["filters"],
                kernel_size=architecture["kernel_size"],
                stride=architecture["stride"],
                activation=architecture["hidden_activation"],
                **kwargs,
            )

        return network

    def _loss_settings(self):
        return self._shared_loss_settings(
            corruption=self.corruption, corruption_level=self.corruption_level
        )

    def _shape_params(self):
        return {
            "image_shape": self.image_shape_,
            "filters": self._filters(),
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "output_activation": self.output_activation_,
        }

    @torch.no_grad()
    def _export_weights(self, module):
        state = module.state_dict()
        n_layers = len(module.encoder.convolutions)
        for attribute, key in _WEIGHTS.items():
            setattr(
                self,
                attribute,
                [state[key.format(i)].cpu().clone().numpy() for i in range(n_layers)],
            )
        self.kernels_ = self.encoder_kernels_[0].transpose(0, 2, 3, 1).copy()
        self.map_shape_ = tuple(module.encoder.map_shape)
        self.thresholds_ = module.encoder.code.export_thresholds(module.n_components)
        self.activity_threshold_ = float(module.encoder.code.firing_threshold)

    def _module_from_weights(self):
        architecture = self._architecture
        dtype = torch_dtype(self.kernels_.dtype)
        n_units = architecture["filters"][-1]
        code = self._fitted_code(n_units, architecture["code_scale"], self.thresholds_, dtype)
        module = self._network(architecture)(
            self.n_features_in_,
            n_units,
            output_activation=architecture["output_activation"],
            code=code,
            generator=torch.Generator(),  # (overwritten: torch's global generator stays)
            dtype=dtype,
        )
        state = {
            key.format(i): torch.from_numpy(np.array(array))
            for attribute, key in _WEIGHTS.items()
            for i, array in enumerate(getattr(self, attribute))
        }
        # Strict but for the code's own state, which the thresholds set.
        missing = module.load_state_dict(state, strict=False).missing_keys
        if any(not key.startswith("encoder.code.") for key in missing):
            raise ValueError(f"The fitted weights lack {missing}: refit the model.")
        return module

    # -- data and codes -------------------------------------------------------

    def _validate_X(self, X, *, reset=False):
        X = super()._validate_X(X, reset=reset)
        if reset:  # a first fit (not one that continues): the images' shape
            self.image_shape_ = resolve_image_shape(self.image_shape, X.shape[1])
        return X

    def _inference_width(self, X):
        return max(self.n_features_in_, math.prod(self.map_shape_))

    @method_in_namespace
    def transform(self, X):
        """Encode ``X``: the codes' feature maps, flattened or pooled.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Images, one per row.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_features_out)
            ``channels * height * width`` features (channel by channel) with
            ``pooling=None``; pooled, ``channels`` times the number of
            regions of ``pooling_regions`` (``channels`` by default); in the
            dtype of ``X``.
        """
        X = self._validate_X(X)
        pooling, grids = self.pooling, self._grids()

        def encode(module, x):
            maps = module.maps(module.encode(x)[1])
            if pooling is None:
                return maps
            return pool_maps(maps.view(-1, *module.encoder.map_shape), pooling, grids)

        return self._map(X, encode)

    def _decodable(self):
        """Only codes that were not pooled over positions can be decoded."""
        return self.pooling is None

    @available_if(_decodable)
    @method_in_namespace
    def inverse_transform(self, X):
        """Decode feature maps (from ``transform`` with ``pooling=None``) to images.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, channels * height * width)
            Flattened feature maps, channel by channel.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            Reconstructed images, one per row.
        """
        check_is_fitted(self)
        width = math.prod(self.map_shape_)
        expected = f"the feature maps of this model have {width} (map_shape_={self.map_shape_})"
        X = self._validate_codes(X, width, expected)
        return self._map(X, lambda module, maps: module.decode(module.unit_rows(maps)))

    @property
    def _n_features_out(self):
        if self.pooling is not None:
            return self.map_shape_[0] * sum(grid * grid for grid in self._grids())
        return math.prod(self.map_shape_)


def pool_maps(maps, pooling, grids):
    """Each map of ``maps`` (n_samples, channels, height, width) pooled
    (``"mean"`` or ``"max"``) over each region of each ``g x g`` grid of
    ``grids``: (n_samples, channels * sum(g * g)), grid by grid, then channel
    by channel and region by region."""
    pool = (
        torch.nn.functional.adaptive_avg_pool2d
        if pooling == "mean"
        else (torch.nn.functional.adaptive_max_pool2d)
    )
    return torch.cat([pool(maps, grid).flatten(1) for grid in grids], dim=1)
