"""SparseAutoencoderImputer: missing values filled from a sparse autoencoder's reconstruction."""

from functools import partial
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.impute import SimpleImputer
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._array_api import fit_in_namespace, method_in_namespace, to_numpy
from ._base import BaseSparseAutoencoder, own_constraints
from ._batches import apply_in_batches, inference_module
from ._callbacks import begin_fit_task, end_task
from ._data import compute_dtype, resolve_image_shape
from ._docstrings import fill_parameter_docs
from ._functional import hidden_entries
from ._inpainting import MaskedConvolutionalAutoencoder
from ._modules import MaskedAutoencoder, MaskedDeepAutoencoder
from ._runtime import call_settings, resolve_device
from ._sklearn import (
    Interval,
    MissingValues,
    StrOptions,
    _BaseImputer,
    _check_feature_names_in,
    _fit_context,
    _get_mask,
    is_scalar_nan,
)
from ._trainer import as_dtype, new_layer
from ._transformer import dense_module, dense_network, dense_weights
from ._validation import split_validation

#: The budget of ``max_iter="auto"`` by network: its optimizer steps, and
#: at most so many epochs.
BUDGETS = {"dense": (2000, 1000), "deep": (4000, 800), "convolutional": (1200, 1000)}

#: The codes of the deep and convolutional networks: those with no
#: dictionary of atoms (their decoders have hidden layers).
PLAIN_SPARSITIES = (None, "kl", "l1")

#: Units of the deep network's second hidden layer per trained column (at
#: most ``n_components``).
HIDDEN_PER_COLUMN = 4

#: The public weights of the dense network (``network="dense"``).
DENSE_WEIGHTS = (
    "encoder_weights_",
    "encoder_bias_",
    "components_",
    "decoder_bias_",
    "known_weights_",
)

#: ``n_fill_masks="auto"`` (of the deep and dense networks), and the fraction of a
#: row's observed entries that each of those masks hides.
FILL_MASKS, FILL_MASK_FRACTION = 32, 0.1

#: With ``sample_posterior``, the fewest rows of which some are held out to
#: calibrate ``residual_std_``, and how many times their entries are hidden.
HELD_OUT_ROWS, HELD_OUT_DRAWS = 20, 10

#: Entries per chunk of rows in the measure of ``residual_std_``.
RESIDUAL_CHUNK_ENTRIES = 2**20


@fill_parameter_docs
class SparseAutoencoderImputer(_BaseImputer, BaseSparseAutoencoder):
    """Imputation of missing values with a sparse autoencoder.

    A sparse autoencoder (that of :class:`~skl_sae.SparseAutoencoderTransformer`)
    learns the data from their observed entries, and each missing entry is
    filled from its reconstruction. It follows scikit-learn's imputers
    (:class:`~sklearn.impute.SimpleImputer`,
    :class:`~sklearn.impute.KNNImputer`,
    :class:`~sklearn.impute.IterativeImputer`): ``missing_values``,
    ``add_indicator``, ``keep_empty_features``, feature names and
    ``set_output``.

    How it works:

    - Each column is centred at its initial fill (``initial_strategy``: by
      default its mean) and divided by the standard deviation of its
      observed values (1 for a constant column): for the dense network,
      images as tables (on MNIST a common scale for every pixel, the range,
      filled 20% of missing pixels with an RMSE of 0.174 against 0.150, a
      12 x 12 block with 0.286 against 0.269, with a rectangle hidden in
      every training row). The convolutional network (``network``), whose
      kernels read every pixel alike, takes one centre and one scale for
      all pixels: the mean and standard deviation of the observed values
      (on MNIST each pixel's own filled a 12 x 12 block with an RMSE of
      0.241 against 0.230, 20% of missing pixels with 0.074 against 0.061).
    - The network (:class:`~skl_sae._modules.MaskedDeepAutoencoder` for
      tables, whose decoder has a hidden layer,
      :class:`~skl_sae._inpainting.MaskedConvolutionalAutoencoder` for
      images, :class:`~skl_sae._modules.MaskedAutoencoder` for
      ``network="dense"``) reads the known entries and which entries are known: an
      unknown entry does not read as an observed value at the column's
      centre.
    - Training hides, at every step, a fresh random ``mask_fraction`` of the
      observed entries and, with ``image_shape``, also a rectangle of half
      the images (sides up to 0.7 of the image's, at random places), and
      minimises the error on the hidden entries alone, as masked
      autoencoders do (ReMasker): the network learns to fill gaps, and
      spends nothing on copying its input.
    - ``transform`` reconstructs each row from its observed entries and puts
      the reconstruction, clipped to the column's range in ``fit``, into the
      missing entries (``n_fill_iter`` times, later passes reading the fills
      of the previous one as known). Observed entries are returned
      unchanged, bit for bit. With ``sample_posterior``, a fill is a draw:
      the reconstruction plus Gaussian noise of the column's
      ``residual_std_``.

    A row with no observed entry is filled with the reconstruction of a row
    whose every entry is unknown (the same values for every such row). A feature with no
    observed value in ``fit`` is dropped, as by ``SimpleImputer``, unless
    ``keep_empty_features`` (it is then filled as ``SimpleImputer`` fills
    it: 0, or ``fill_value``). If ``missing_values`` never occurs in the
    training data, the network still learns to fill the entries it hides
    in training, and imputes what is missing in new data. Sparse matrices
    are refused: the network reconstructs dense rows (densify them first,
    with ``missing_values`` that is not 0).

    Parameters
    ----------
    n_components : int, default=256
        Number of hidden units, as in
        :class:`~skl_sae.SparseAutoencoderTransformer`.

    missing_values : int, float or np.nan, default=np.nan
        The placeholder of the missing values; all its occurrences are
        imputed. NaN that it does not name is an error, and so is infinity.

    mask_fraction : float, default=0.25
        Fraction of the observed entries hidden from the network at each
        training step, which it learns to reconstruct (in ``[0, 1)``; 0
        hides nothing, and the network learns to copy). See the Notes for
        the choice of the default.

    n_fill_iter : int, default=1
        Number of fill-and-reconstruct passes of ``transform``. The second
        and later passes feed the network its own reconstructions of the
        missing entries as if they were observed: on MNIST each pass made
        the fills worse (a 12 x 12 block: 0.269, 0.270, 0.274 for one, two
        and three passes).

    n_fill_masks : int or "auto", default="auto"
        Number of readings of a row whose reconstructions are averaged into
        its fill. Each reading hides, besides the missing entries, the
        columns that its mask marks: a random tenth of them, as training
        hides entries. The masks are the same for every row and call (drawn
        in ``fit`` from ``random_state``), so that a row's fill depends on
        that row alone. The mean of the network's answers to rows read with
        some more entries hidden is a smoother fill than its answer to the
        row as it is (test-time augmentation: an ensemble of the one
        network). 1: the row as it is. ``"auto"``: 32 for the dense
        network, 1 for the convolutional one. ``transform`` (and ``fit``,
        for ``residual_std_``) runs the network that many times. See the
        Notes for the measurements.

    initial_strategy : {"mean", "median", "most_frequent", "constant"}, \
            default="mean"
        The first fill of the missing entries, and the centre of each column
        of the dense network, by a :class:`~sklearn.impute.SimpleImputer`
        (``initial_imputer_``), as in :class:`~sklearn.impute.IterativeImputer`.

    fill_value : float, default=None
        The fill of ``initial_strategy="constant"`` (0 if None).

    image_shape : tuple of int or None, default=None
        ``(height, width)`` or ``(height, width, channels)`` of the rows, if
        they are images flattened row by row (channels last). Training then
        also hides rectangles, so that the network learns to fill holes, not
        only scattered pixels, and ``network="auto"`` fills them with a
        convolutional network. None: a table.

    network : {"auto", "deep", "dense", "convolutional"}, default="auto"
        The network that fills the gaps. ``"deep"``
        (:class:`~skl_sae._modules.MaskedDeepAutoencoder`): the code of
        ``n_components`` units, then a second hidden layer of sigmoid units
        (four per trained column, at most ``n_components``) that decodes it,
        trained for 4,000 optimizer steps for ``max_iter="auto"`` (at most
        800 epochs): it filled the bundled tables 1% to 6% better than
        ``"dense"`` (the Notes). Its
        decoder is no dictionary of atoms, so it takes the dense codes
        (``sparsity`` None, ``"kl"`` or ``"l1"``), neither ``tied_weights``
        nor ``contractive_weight``. ``"dense"``: one hidden layer, the code
        of ``n_components`` units (2,000 steps), with every option.
        ``"convolutional"`` (needs ``image_shape``): a U-Net of 32-channel
        convolutions (3 x 3 down, 2 x 2 transposed up) whose code is a dense
        layer of ``n_components`` units
        (:class:`~skl_sae._inpainting.MaskedConvolutionalAutoencoder`): the
        code fills a hole from the whole image, the skip connections a
        scattered pixel from its neighbours. It has one centre and scale for
        every pixel, relu units for ``sparsity=None`` (``activation="auto"``), and
        1,200 optimizer steps for ``max_iter="auto"``; it takes what the deep
        network takes. ``"auto"``: convolutional with ``image_shape``, deep
        without, unless ``sparsity``, ``tied_weights`` or
        ``contractive_weight`` asks for what only the dense network has. On
        MNIST the convolutional network filled
        holes 12% to 13% better than ``KNNImputer`` where the dense network
        filled them 1% worse, and scattered pixels half as far off as
        ``IterativeImputer``, in 12 times the dense network's time (the
        user guide's "Damaged images" has the tables). Every network
        computes in float32 by default (``compute_dtype``), whatever the
        input's dtype (the fills keep it): float64 convolutions run some
        five times slower on a CPU, and the dense network's fits of the
        bundled tables took 29% to 39% less time than in float64
        (training's step by hand in both), for the same RMSE to three
        decimals. The dense and deep networks fill float64 data in float64 (a copy of
        their weights), as the other estimators compute them; the
        convolutional one in its own dtype, whose float64 convolutions took
        3.8 times as long to fill 2,000 MNIST images (6.2 s against 1.6).

    sample_posterior : bool, default=False
        Whether ``transform`` draws each fill (the reconstruction plus
        Gaussian noise of standard deviation ``residual_std_``) instead of
        returning the reconstruction, for multiple imputation, as
        :class:`~sklearn.impute.IterativeImputer`'s. The draws come from
        ``random_state``: set another one (``set_params``) for another draw
        from the same fitted imputer; None draws anew at every call. A
        ``validation_fraction`` of the rows is then held out of training to
        calibrate the spread (see ``residual_std_``): 90% intervals of 20
        draws held 85% to 90% of the true values on the bundled tables (the
        draws' 5%-95% range; their mean ± 1.645 standard deviations, 89% to
        94%).

    add_indicator : bool, default=False
        If True, a :class:`~sklearn.impute.MissingIndicator` adds, after the
        imputed features, one binary column per feature that had missing
        values in ``fit``.

    keep_empty_features : bool, default=False
        If True, the features that have no observed value in ``fit`` are
        kept and filled with 0 (``fill_value`` with
        ``initial_strategy="constant"``), as by ``SimpleImputer``; they are
        dropped otherwise.

    sparsity : {"kl", "l1", "topk", "batchtopk", "jumprelu", ...} or None, \
            default=None
        As in :class:`~skl_sae.SparseAutoencoderTransformer`; the default
        here is a plain autoencoder, whose fills were the best measured (see
        the Notes): a sparse code is one option, not the default, of the
        imputer.

    {{k}}

    {{code_params}}

    solver : {"adam", "sgd"}, default="adam"
        As in :class:`~skl_sae.SparseAutoencoderTransformer`, without
        ``"lbfgs"``: the entries hidden in training are drawn anew at every
        evaluation of the loss, which the line search of L-BFGS (several
        evaluations of one objective per step) cannot follow.

    learning_rate_init : float, default=3e-3
        Step size of the optimizer: 1e-2 (the transformer's) and 1e-3 both
        filled worse (see the Notes).

    max_iter : int or "auto", default="auto"
        Most epochs. ``"auto"``: the epochs of 4,000 optimizer steps for
        the deep network (at most 800 epochs), 2,000 for the dense one and
        1,200 for the convolutional one (at most 1,000 epochs), all run,
        since the loss of randomly hidden entries is too noisy a signal
        for ``tol`` to stop on (with the
        convergence check, fits on the breast cancer table stopped after
        about 160 steps, with an error 15% higher in the Notes' protocol,
        both without ``average``).
        ``max_iter_`` records the epochs.

    average : bool, default=True
        Whether the fitted network takes the mean of its weights over the
        second half of the ``max_iter_`` epochs (stochastic weight
        averaging, the weights at the end of each epoch): steps of a
        constant size leave the weights scattered around a minimum, and
        their mean lies closer to it. It filled better than the last
        epoch's weights on every bundled table and pattern of missing
        values (by 0.2% to 2.2%), and on MNIST (by 1.0% to 1.4%; the user
        guide has the tables), at the cost of one copy of the weights.
        Ignored with ``early_stopping``, which keeps the weights of the
        epoch with the best validation score; a fit that ``tol`` stops
        before ``max_iter_ // 2`` epochs (an integer ``max_iter``) ends
        at its last weights.

    sparsity_target, sparsity_weight, auxk_weight, alpha, \
contractive_weight, activation, tied_weights, batch_size, tol, \
n_iter_no_change, early_stopping, validation_fraction, shuffle, \
random_state, verbose, device, \
matmul_precision, compute_dtype
        As in :class:`~skl_sae.SparseAutoencoderTransformer`, with the same
        defaults. The decoder is linear (``output_activation="identity"``) in
        the imputer's scaled units. ``early_stopping`` monitors the
        reconstruction of the observed entries of the held-out rows, with
        none hidden; ``random_state`` also draws the hidden entries and the
        draws of ``sample_posterior``.

    Attributes
    ----------
    initial_imputer_ : SimpleImputer
        The imputer of the first fill, whose statistics centre the columns
        of the dense network.

    indicator_ : MissingIndicator or None
        The indicator of ``add_indicator``; None otherwise.

    encoder_weights_ : ndarray of shape (n_components, n_trained)
        Dense network only (see ``network_weights_``). Encoder weight
        ``W``, in the imputer's units (each column centred at
        its initial fill and divided by its observed standard deviation). ``n_trained``
        counts the features that had an observed value in ``fit``: the
        network's inputs and outputs.

    encoder_bias_ : ndarray of shape (n_components,)
        Dense network only. Encoder bias ``b``.

    known_weights_ : ndarray of shape (n_components, n_trained)
        Dense network only. What each unit adds to its pre-activation per
        known entry of a row:
        the encoder reads ``W x_0 + V m + b``, ``x_0`` the row in the
        imputer's units with its unknown entries at 0 and ``m`` its 0/1
        indicator of known entries.

    components_ : ndarray of shape (n_components, n_trained)
        Dense network only. Decoder dictionary: row ``j`` is what unit
        ``j`` adds to a reconstruction.

    decoder_bias_ : ndarray of shape (n_trained,)
        Dense network only. Decoder bias ``c`` (the decoder is linear).

    thresholds_ : ndarray of shape (n_components,) or None
        Inference thresholds of the code, as in
        :class:`~skl_sae.SparseAutoencoderTransformer`; None for a code that
        has none.

    activity_threshold_ : float
        A code counts as active above this value, as in
        :class:`~skl_sae.SparseAutoencoderTransformer`.

    code_params_ : dict
        The parameters of the code as fitted: ``k`` for a code that takes
        it, and the code class's own hyperparameters (``code_params`` over
        their defaults); empty for a code that has neither.

    network_weights_ : dict of str to ndarray
        With the deep or convolutional network (``network``), its
        parameters by the module's names (``"encoder.weight"``,
        ``"expand.weight"``, ``"reading.weight"``, ...) in place of the
        dense network's ``encoder_weights_``, ``encoder_bias_``,
        ``known_weights_``, ``components_`` and ``decoder_bias_``, which
        they lack.

    residual_std_ : ndarray of shape (n_trained,)
        Per trained column, in the data's units, the spread of the draws of
        ``sample_posterior``: the root mean squared error of the fitted
        network on observed training entries hidden as in training (or the
        column's standard deviation where none was hidden; the pixels' one,
        for the convolutional network). With
        ``sample_posterior`` (and at least 20 rows), times one factor for
        all columns: the root mean square of the errors, in those units, on
        the entries of held-out rows (``validation_fraction`` of the rows,
        kept out of training), since the network fits its training rows
        closer than new ones (on the wine table's 133 training rows the
        one-layer network's factor was about 1.3). An imputer fitted without ``sample_posterior``
        has no such factor: set it before ``fit`` for calibrated draws.

    image_shape_ : tuple of int or None
        ``(height, width, channels)`` of ``image_shape``, or None.

    max_iter_ : int
        The most epochs of the fit (``max_iter``, ``"auto"`` resolved).

    loss_curve_ : list of float
        Mean training loss at each epoch (of the weights as they trained,
        not of their mean with ``average``).

    best_loss_ : float
        Lowest training loss reached.

    validation_scores_ : list of float or None
        With ``early_stopping``, ``1 -`` the reconstruction error of the
        observed entries of the held-out rows (nothing hidden) divided by
        the mean variance of the observed entries of all training rows, at
        each epoch; None otherwise.

    best_validation_score_ : float or None
        The validation score of the weights kept: the best epoch since the
        network last changed shape (with ``n_components="auto"``, of the final
        structure), or None.

    n_iter_ : int
        Number of epochs run.

    device_ : str
        Device the model was fitted on.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    sklearn.impute.SimpleImputer : Imputation by a statistic of each column.
    sklearn.impute.KNNImputer : Imputation from the nearest neighbours.
    sklearn.impute.IterativeImputer : Imputation by regressing each feature
        on the others, in turn.
    SparseAutoencoderTransformer : The sparse autoencoder.

    Notes
    -----
    The defaults were chosen on the bundled tables, 20% of the entries
    missing at random in training and test rows alike, each imputer fitted
    on 3/4 of the rows and filling all of them, by the RMSE on the missing
    entries in units of each column's standard deviation, mean of three
    splits (lower is better; the rows with 3,000 steps had ``max_iter``
    of 3,000 steps, the others the default 2,000):

    ====================================  ======  ========  =====  ======
    imputer                               cancer  diabetes  wine   digits
    ====================================  ======  ========  =====  ======
    **the defaults**                      0.464   0.755     0.733  0.599
    ``mask_fraction=0.2``                 0.462   0.756     0.740  0.599
    ``learning_rate_init=1e-2``           0.471   0.789     0.772  0.601
    ``learning_rate_init=1e-3``, 3,000    0.468   0.746     0.750  0.608
    ``sparsity="kl"``, 1e-3, 3,000        0.508   0.771     0.753  0.614
    ``alpha=1e-3``, 3,000 steps           0.500   0.758     0.755  0.650
    3,000 steps                           0.458   0.755     0.733  0.598
    before (no indicator, all entries     0.579   0.777     0.763  0.667
    scored, ``mask_fraction=0.5``, KL,
    1e-2, scaled by the range)
    ``IterativeImputer()``                0.427   0.774     0.792  0.806
    ``IterativeImputer`` (ExtraTrees)     0.470   0.793     0.720  0.585
    ``KNNImputer()``                      0.858   0.834     0.921  0.614
    ====================================  ======  ========  =====  ======

    The autoencoder's rows were measured before ``average`` (all with the
    last epoch's weights); averaging lowered each error of the defaults,
    by 0.2% to 2.2% (the user guide has the table). Then 32 readings of
    each row, each hiding a random tenth of its columns
    (``n_fill_masks="auto"``), lowered them by 0.0% to 0.9% more over five
    splits (0.447, 0.742, 0.726 and 0.613), where 64 readings gained a
    further 0.1% at most and hiding a quarter lost on the digits; on
    MNIST (the dense network) they moved the errors by -0.7% to +0.8%, and
    on the digits as images the convolutional network filled a little
    worse with them (by 0.1% to 0.5%): it reads an image once.

    All of these rows are the one-layer network's (``network="dense"``).
    Then the deep network (the default for tables, ``network="deep"``): its
    second hidden layer, four sigmoid units per column, decodes the code,
    in the same protocol over five splits (the benchmark's), the iris
    table kept apart to confirm it:

    ===================================  ======  ========  =====  ======  =====
    imputer                              cancer  diabetes  wine   digits  iris
    ===================================  ======  ========  =====  ======  =====
    ``"dense"``, 2,000 steps             0.447   0.742     0.726  0.613   0.559
    ``"deep"``, Glorot's start           0.444   0.741     0.719  0.580   0.511
    ``"deep"``, 1,000 epochs at most     0.438   0.732     0.715  0.575   0.517
    **the defaults** (800 at most)       0.441   0.735     0.713  0.575   0.526
    ``IterativeImputer()``               0.447   0.743     0.768  0.711   0.525
    ``IterativeImputer`` (ExtraTrees)    0.474   0.781     0.717  0.577   0.557
    ===================================  ======  ========  =====  ======  =====

    Its weights start as ``torch.nn.Linear``'s, from U(+-1 / sqrt(fan_in)):
    Glorot's bound, four times larger for sigmoid units, saturated the
    stacked layers (the second row). 4,000 steps, where 2,000 served the
    one-layer network: on the digits two layers of 256 sigmoid units
    filled with 0.589 after 2,000 steps and 0.572 after 4,000 (a scratch
    network in torch). 800 epochs at most, where 1,000 filled a little
    better, so that a fit of the diabetes table (2 steps an epoch) stays
    within the extra trees' time (1.4 s against 1.7 s). Second layers of
    two and eight units per column filled breast cancer, diabetes and wine
    within 0.6% of four (the scratch network). An ensemble of the one-layer
    and deep networks filled better still (wine 0.715, breast cancer 0.435
    in the scratch network), at twice the time. On MNIST without
    ``image_shape`` the deep network filled every damage better than the
    one-layer one (20% of pixels 0.1302 against 0.1313, a 12 x 12 block
    0.2733 against 0.2833).
    ``benchmarks/bench_imputation.py`` compares them over five splits,
    more patterns of missing values, and on MNIST, where ``image_shape``
    was chosen.

    References
    ----------
    P. Vincent et al., "Extracting and composing robust features with
    denoising autoencoders", ICML 2008.

    L. Gondara and K. Wang, "MIDA: Multiple Imputation using Denoising
    Autoencoders", PAKDD 2018.

    P. Izmailov, D. Podoprikhin, T. Garipov, D. Vetrov and A. G. Wilson,
    "Averaging weights leads to wider optima and better generalization",
    UAI 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.impute import SimpleImputer
    >>> from skl_sae import SparseAutoencoderImputer
    >>> X = load_digits().data / 16
    >>> missing = np.random.default_rng(0).random(X.shape) < 0.3
    >>> X_missing = np.where(missing, np.nan, X)
    >>> imputer = SparseAutoencoderImputer(n_components=128, max_iter=50, random_state=0)
    >>> X_filled = imputer.fit_transform(X_missing)
    >>> bool(np.array_equal(X_filled[~missing], X[~missing]))  # observed: unchanged
    True
    >>> X_mean = SimpleImputer().fit_transform(X_missing)
    >>> def rmse(X_imputed):
    ...     return np.sqrt(np.mean((X_imputed - X)[missing] ** 2))
    >>> bool(rmse(X_filled) < 0.75 * rmse(X_mean))
    True
    """

    #: Models pickled before ``average`` existed were fitted without it,
    #: before ``network`` existed with the dense network, and before
    #: ``n_fill_masks`` existed filled from one reading.
    _values_before_added: ClassVar[dict] = {
        "average": False,
        "network": "dense",
        "n_fill_masks": 1,
    }

    _parameter_constraints: dict = {
        **BaseSparseAutoencoder._parameter_constraints,
        **own_constraints("contractive_weight", "tied_weights"),
        **_BaseImputer._parameter_constraints,
        "missing_values": [MissingValues(numeric_only=True)],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions({"adam", "sgd"})],
        "mask_fraction": [Interval(Real, 0, 1, closed="left")],
        "n_fill_iter": [Interval(Integral, 1, None, closed="left")],
        "n_fill_masks": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "average": ["boolean"],
        "initial_strategy": [StrOptions({"mean", "median", "most_frequent", "constant"})],
        "fill_value": [Real, None],
        "image_shape": ["array-like", None],
        "network": [StrOptions({"auto", "dense", "deep", "convolutional"})],
        "sample_posterior": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    }

    def __init__(
        self,
        n_components=256,
        *,
        missing_values=np.nan,
        mask_fraction=0.25,
        n_fill_iter=1,
        n_fill_masks="auto",
        initial_strategy="mean",
        fill_value=None,
        image_shape=None,
        network="auto",
        sample_posterior=False,
        add_indicator=False,
        keep_empty_features=False,
        sparsity=None,
        sparsity_target=0.05,
        sparsity_weight=3.0,
        k=32,
        code_params=None,
        auxk_weight=1 / 32,
        alpha=1e-5,
        contractive_weight=0.0,
        activation="auto",
        tied_weights=False,
        solver="adam",
        batch_size="auto",
        learning_rate_init=3e-3,
        max_iter="auto",
        average=True,
        tol=1e-3,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        verbose=False,
        device="cpu",
        matmul_precision="highest",
        compute_dtype="float32",
    ):
        super().__init__(
            missing_values=missing_values,
            add_indicator=add_indicator,
            keep_empty_features=keep_empty_features,
        )
        self.n_components = n_components
        self.mask_fraction = mask_fraction
        self.n_fill_iter = n_fill_iter
        self.n_fill_masks = n_fill_masks
        self.initial_strategy = initial_strategy
        self.fill_value = fill_value
        self.image_shape = image_shape
        self.network = network
        self.sample_posterior = sample_posterior
        self.sparsity = sparsity
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight
        self.k = k
        self.code_params = code_params
        self.auxk_weight = auxk_weight
        self.alpha = alpha
        self.contractive_weight = contractive_weight
        self.activation = activation
        self.tied_weights = tied_weights
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.average = average
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.matmul_precision = matmul_precision
        self.compute_dtype = compute_dtype

    # -- fitting ------------------------------------------------------------

    @fit_in_namespace
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the autoencoder on ``X``, missing entries and all.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing values (``missing_values``).
        y : None
            Ignored.

        Returns
        -------
        self : SparseAutoencoderImputer
            The fitted imputer.
        """
        with self._transaction():
            self._regions = None
            X = self._validate_X(X, reset=True)
            missing = _get_mask(X, self.missing_values)
            self._check_params()
            self._fit_indicator(missing)
            self.image_shape_ = (
                None
                if self.image_shape is None
                else resolve_image_shape(self.image_shape, X.shape[1], rows=False)
            )
            self.initial_imputer_ = SimpleImputer(
                missing_values=self.missing_values,
                strategy=self.initial_strategy,
                fill_value=self.fill_value,
                keep_empty_features=self.keep_empty_features,
            ).set_output(transform="default")
            self.initial_imputer_.fit(X)
            self._set_scaling(X, missing)
            Z, observed = self._scaled(X, missing)
            seeds = self._seeds()
            Z, observed, held_out = self._hold_out(Z, observed, seeds[0])
            Z = as_dtype(Z, compute_dtype(self.compute_dtype, Z.dtype))
            self.max_iter_ = (
                self._epochs_of_steps(Z, *BUDGETS[self._network_kind()])
                if self.max_iter == "auto"
                else self.max_iter
            )
            self._architecture = self._architecture_params()
            device = resolve_device(self.device)
            settings = self._layer_settings(device)
            task = begin_fit_task(self, self.max_iter_, X)
            with call_settings(self.matmul_precision):
                layer = new_layer(
                    settings,
                    Z,
                    self.n_components,
                    output_activation="identity",
                    rng=seeds[0],
                    generator=seeds[1],
                    observed=observed,
                )
                self._architecture["code_scale"] = layer.scale**0.5
                split = self.early_stopping
                layer = self._fit_layer(
                    settings, layer, Z, seeds, observed=observed, split=split, task=task
                )
            self._finish_fit(layer.module, None, layer.history, device)
            # (drawn after training, whose random stream it leaves as it was)
            self._fill_mask_seed = int(seeds[0].randint(np.iinfo(np.int64).max))
            self.residual_std_ = self._residual_std(layer.module, Z, observed, held_out, seeds[1])
            end_task(task, self, X)
        return self

    def _hold_out(self, Z, observed, rng):
        """``(Z, observed, held_out)``: with ``sample_posterior`` (and at least
        :data:`HELD_OUT_ROWS` rows), a ``validation_fraction`` of the rows held
        out of training, ``(Z, observed)`` of theirs, to calibrate
        ``residual_std_``; otherwise all rows and None."""
        if not self.sample_posterior or Z.shape[0] < HELD_OUT_ROWS:
            return Z, observed, None
        (Z, observed), held_out = split_validation([Z, observed], self.validation_fraction, rng)
        return Z, observed, held_out

    def _residual_std(self, module, Z, observed, held_out, generator):
        """Per trained column, in the data's units, the root mean squared
        error of ``module`` on observed entries of ``Z`` hidden as training
        hides them (the column's standard deviation where none was hidden),
        times the root mean square of the errors on the ``held_out`` rows
        (``(Z, observed)``, hidden :data:`HELD_OUT_DRAWS` times) in those
        units: the network fits its training rows closer than new ones.
        Computed in chunks of rows, in memory of a few batches."""
        module = module.eval()

        def squares_and_counts(Z, observed):
            """Per column, the summed squared errors on the hidden entries
            and their count."""
            sums = np.zeros((2, Z.shape[1]))
            step = max(1, RESIDUAL_CHUNK_ENTRIES // max(1, Z.shape[1]))
            for start in range(0, Z.shape[0], step):
                rows, known = Z[start : start + step], observed[start : start + step]
                hidden = hidden_entries(
                    torch.from_numpy(known), self.mask_fraction, generator, self._regions
                ).numpy()
                reconstruction = self._reconstruct(module, np.where(hidden | ~known, np.nan, rows))
                error = np.where(hidden, reconstruction - rows, 0.0)
                sums += [(error**2).sum(0), hidden.sum(0)]
            return sums

        squares, counts = squares_and_counts(Z, observed)
        # A column's standard deviation is its unit here (0 if constant).
        spread = (self._scaling["high"] > self._scaling["low"]).astype(np.float64)
        std = np.where(counts > 0, np.sqrt(squares / np.maximum(counts, 1)), spread)
        if held_out is not None:
            unit = np.where(std > 0, std, np.inf) ** 2
            draws = [squares_and_counts(*held_out) for _ in range(HELD_OUT_DRAWS)]
            ratio_squares = sum((draw[0] / unit).sum() for draw in draws)
            count = sum(draw[1][std > 0].sum() for draw in draws)
            if count > 0:
                std = std * np.sqrt(ratio_squares / count)
        return std * self._scaling["scale"]

    def _reconstruct(self, module, rows):
        """The reconstruction of ``rows`` (NaN where unknown), in batches:
        the mean of the reconstructions under the masks of
        :meth:`_fill_masks`, each hiding the entries it marks."""

        def reconstruct(rows):
            return apply_in_batches(
                lambda x: module(x).reconstruction,
                rows,
                next(module.parameters()),
                width=max(module.n_features, module.n_components, module.inference_width),
                matmul_precision=self.matmul_precision,
            )

        masks = self._fill_masks(rows.shape[1])
        if masks is None:
            return reconstruct(rows)
        total = reconstruct(np.where(masks[0], np.nan, rows))
        for mask in masks[1:]:
            total += reconstruct(np.where(mask, np.nan, rows))
        return total / len(masks)

    def _fill_masks(self, n_columns):
        """The masks of ``n_fill_masks`` readings of a row of ``n_columns``
        trained columns, shape ``(n_fill_masks, n_columns)``, each marking a
        random :data:`FILL_MASK_FRACTION` of the columns; None for one
        reading. The same for every row and call: drawn from a seed taken in
        ``fit``, so that a row's fill depends on that row alone."""
        n_masks = self.n_fill_masks
        if n_masks == "auto":
            n_masks = 1 if self._network_kind() == "convolutional" else FILL_MASKS
        seed = getattr(self, "_fill_mask_seed", None)  # (none in older pickles)
        if n_masks == 1 or seed is None:
            return None
        return np.random.default_rng(seed).random((n_masks, n_columns)) < FILL_MASK_FRACTION

    def _set_scaling(self, X, missing):
        """The columns the autoencoder imputes (those with an observed entry),
        their centre (the initial fill), scale (the observed standard
        deviation) and observed range."""
        trained = ~missing.all(axis=0)
        if not trained.any():
            raise ValueError(
                "X has no observed entry (every value is missing): there is nothing to learn from."
            )
        statistics = np.asarray(self.initial_imputer_.statistics_, dtype=np.float64)
        kept = np.ones_like(trained) if self.keep_empty_features else ~np.isnan(statistics)
        values = np.where(missing, np.nan, X)[:, trained]
        low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        size = np.maximum(np.abs(low), np.abs(high))  # (no overflow near 1e308)
        size = np.where(size > 0, size, 1.0)
        scale = np.nanstd(values / size, axis=0) * size
        center = statistics[trained]
        if self._network_kind() == "convolutional":  # kernels read every pixel alike
            size = max(float(np.nanmax(np.abs(values))), np.finfo(np.float64).tiny)
            center = np.full_like(center, np.nanmean(values, dtype=np.float64))
            scale = np.full_like(scale, np.nanstd(values / size, dtype=np.float64) * size)
        # On the host as the imputer's computations are, in a dict: never
        # moved to another Array API namespace (move_fitted_arrays), and
        # pickled as plain values.
        self._scaling = {
            "trained": trained,
            "trained_out": np.flatnonzero(trained[kept]),
            "low": low,
            "high": high,
            "center": center,
            "scale": np.where(scale > 0, scale, 1.0),
        }
        columns = None if trained.all() else np.flatnonzero(trained)
        self._regions = None if self.image_shape_ is None else (self.image_shape_, columns)

    def _scaled(self, X, missing):
        """The trained columns of ``X`` centred and scaled, missing entries
        at 0 (the initial fill), and the mask of observed entries."""
        observed = ~missing[:, self._scaling["trained"]]
        Z = (X[:, self._scaling["trained"]] - self._scaling["center"]) / self._scaling["scale"]
        return np.where(observed, Z, 0.0).astype(X.dtype, copy=False), observed

    # -- imputing -----------------------------------------------------------

    @method_in_namespace
    def transform(self, X):
        """Impute the missing entries of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing values.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features_out)
            ``X`` with its missing entries filled (observed entries unchanged),
            without the features that had no observed value in ``fit``
            (unless ``keep_empty_features``), and the indicator columns with
            ``add_indicator``.
        """
        check_is_fitted(self)
        self._check_indicator()
        X = self._validate_X(X, reset=False)
        missing = _get_mask(X, self.missing_values)
        indicator = self._transform_indicator(missing)
        imputed = self.initial_imputer_.transform(X)
        Z, observed = self._scaled(X, missing)
        if not observed.all():
            module = self._get_module().eval()
            if not isinstance(module, MaskedConvolutionalAutoencoder):  # (see network)
                module = inference_module(module, Z)
            low = (self._scaling["low"] - self._scaling["center"]) / self._scaling["scale"]
            high = (self._scaling["high"] - self._scaling["center"]) / self._scaling["scale"]
            filled = np.where(observed, Z, np.nan)  # the network reads NaN as unknown
            for done in range(1, self.n_fill_iter + 1):
                reconstruction = self._reconstruct(module, filled)
                if self.sample_posterior and done == self.n_fill_iter:
                    noise = check_random_state(self.random_state).standard_normal(Z.shape)
                    spread = to_numpy(self.residual_std_) / self._scaling["scale"]
                    reconstruction = reconstruction + noise * spread
                filled = np.where(observed, Z, np.clip(reconstruction, low, high))
            trained = imputed[:, self._scaling["trained_out"]]
            values = filled * self._scaling["scale"] + self._scaling["center"]
            trained[~observed] = values[~observed]
            imputed[:, self._scaling["trained_out"]] = trained
        return self._concatenate_indicator(imputed, indicator)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features: those kept, then the indicators.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; ``feature_names_in_`` (or ``x0``, ``x1``,
            ...) if None.

        Returns
        -------
        feature_names_out : ndarray of str objects
            Transformed feature names.
        """
        check_is_fitted(self, "n_features_in_")
        self._check_indicator()
        input_features = _check_feature_names_in(self, input_features)
        names = self.initial_imputer_.get_feature_names_out(input_features)
        return self._concatenate_indicator_feature_names_out(names, input_features)

    def _check_indicator(self):
        """Raise if ``add_indicator`` asks for an indicator that ``fit`` did not make."""
        if self.add_indicator and self.indicator_ is None:
            raise ValueError(
                "add_indicator=True was set after fit, which made no missing indicator: "
                "fit the imputer again to add the indicator columns."
            )

    def _validate_X(self, X, *, reset):
        """``X`` as a float array (float32 kept), with NaN only where it marks
        the missing entries, and clear errors for data that cannot be imputed."""
        try:
            X = validate_data(
                self,
                X,
                dtype=(np.float64, np.float32),
                ensure_all_finite="allow-nan",
                reset=reset,
            )
        except ValueError as error:
            if "could not convert" not in str(error):
                raise
            raise ValueError(
                f"{type(self).__name__} imputes numeric data only: {error}. Encode "
                "categorical columns first (e.g. with OrdinalEncoder)."
            ) from error
        if not is_scalar_nan(self.missing_values) and np.isnan(X).any():
            raise ValueError(
                f"Input X contains NaN, which missing_values={self.missing_values!r} does "
                "not mark as missing: pass missing_values=np.nan, or replace them first."
            )
        return X

    # -- the contract of BaseSparseAutoencoder --------------------------------

    def _network_kind(self):
        """``network``, ``"auto"`` resolved: convolutional for images, deep
        for tables, unless asked for what only the dense network has."""
        if self.network != "auto":
            return self.network
        dense_only = (
            self.sparsity not in PLAIN_SPARSITIES
            or self.tied_weights
            or self.contractive_weight > 0
        )
        if dense_only:
            return "dense"
        return "deep" if self.image_shape is None else "convolutional"

    def _activation(self):
        # The convolutional network's plain code is relu, as its maps are.
        convolutional = self._network_kind() == "convolutional"
        if self.activation == "auto" and convolutional and self._sparsity() is None:
            return "relu"
        return super()._activation()

    def _check_params(self):
        super()._check_params()
        kind = self._network_kind()
        if kind == "dense":
            return
        if kind == "convolutional" and self.image_shape is None:
            raise ValueError("network='convolutional' reads images: give their image_shape.")
        if self._sparsity() not in PLAIN_SPARSITIES:
            raise ValueError(
                f"network={kind!r} takes the dense codes (sparsity None, 'kl' or 'l1'): "
                "its decoder has a hidden layer, so it has no dictionary for "
                f"sparsity={self.sparsity!r}; use network='dense'."
            )
        if self.tied_weights or self.contractive_weight > 0:
            raise ValueError(
                "tied_weights and contractive_weight describe the dense network; "
                f"network={kind!r} takes neither."
            )

    def _network(self, architecture):
        if architecture.get("network", "dense") == "convolutional":
            trained = self._scaling["trained"]
            return partial(
                MaskedConvolutionalAutoencoder,
                image_shape=self.image_shape_,
                columns=None if trained.all() else np.flatnonzero(trained),
                activation=architecture["hidden_activation"],
            )
        if architecture.get("network", "dense") == "deep":
            return partial(
                MaskedDeepAutoencoder,
                activation=architecture["hidden_activation"],
                n_hidden=architecture["n_hidden"],
            )
        return dense_network(architecture, MaskedAutoencoder)

    def _loss_settings(self):
        # Training hides observed entries (and, for images, a rectangle in
        # half of them) and scores the network on them; see AutoencoderLoss.
        return self._shared_loss_settings(
            contractive_weight=self.contractive_weight,
            corruption="hide",
            corruption_level=self.mask_fraction,
            hidden_regions=getattr(self, "_regions", None),
        )

    def _schedule(self, **changes):
        if self.max_iter == "auto":
            changes = {"check_convergence": False, **changes}
        changes = {"max_iter": self.max_iter_, "average": self.average, **changes}
        return super()._schedule(**changes)

    def _shape_params(self):
        kind = self._network_kind()
        params = {
            "n_components": self.n_components,
            "tied_weights": self.tied_weights,
            "network": kind,
        }
        if kind == "deep":
            n_trained = int(self._scaling["trained"].sum())
            params["n_hidden"] = min(self.n_components, HIDDEN_PER_COLUMN * n_trained)
        return params

    def _validation_score(self, loss):
        return 1.0 - loss

    def _export_weights(self, module):
        if isinstance(module, (MaskedConvolutionalAutoencoder, MaskedDeepAutoencoder)):
            for name in DENSE_WEIGHTS:  # (of an earlier fit)
                vars(self).pop(name, None)
            state = module.state_dict()
            self.network_weights_ = {
                name: value.cpu().numpy().copy() for name, value in state.items()
            }
            self.thresholds_ = module.encoder.code.export_thresholds(module.n_components)
            self.activity_threshold_ = float(module.encoder.code.firing_threshold)
            return
        vars(self).pop("network_weights_", None)
        vars(self).update(dense_weights(module))
        self.known_weights_ = module.known_weight.detach().cpu().numpy()

    def _module_from_weights(self):
        if hasattr(self, "network_weights_"):
            weights = {
                name: torch.tensor(np.asarray(value))
                for name, value in self.network_weights_.items()
            }
            n_components = weights["encoder.weight"].shape[0]
            dtype = weights["encoder.weight"].dtype
            code = self._fitted_code(
                n_components, self._architecture["code_scale"], self.thresholds_, dtype
            )
            module = self._network(self._architecture)(
                int(self._scaling["trained"].sum()),
                n_components,
                output_activation="identity",
                code=code,
                generator=torch.Generator(),
                dtype=dtype,
            )
            module.load_state_dict(weights)
            return module
        module = dense_module(self, "identity")
        with torch.no_grad():
            module.known_weight.copy_(torch.from_numpy(self.known_weights_))
        return module

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.array_api_support = True
        return tags
