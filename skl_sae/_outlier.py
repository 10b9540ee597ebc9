"""SparseAutoencoderOutlierDetector: anomalies by reconstruction error and rare codes."""

import copy
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_is_fitted

from ._array_api import fit_in_namespace, method_in_namespace, to_numpy
from ._callbacks import CallbackSupportMixin, begin_fit_task, end_task, stage_task
from ._persistence import numpy_state, transaction
from ._sklearn import Interval, StrOptions, _fit_context
from ._transformer import SparseAutoencoderTransformer
from ._validation import validate_rows

_AUTOENCODER_PARAMS = tuple(SparseAutoencoderTransformer().get_params())


class SparseAutoencoderOutlierDetector(CallbackSupportMixin, OutlierMixin, BaseEstimator):
    """Outlier detection with a sparse autoencoder: bad reconstructions, rare codes.

    A :class:`~skl_sae.SparseAutoencoderTransformer` learns to reconstruct
    the training data with a few active units per sample. A sample is
    anomalous when it is reconstructed badly, or when it needs units that
    rarely fire on the training data. The conventions are scikit-learn's (as
    in :class:`~sklearn.ensemble.IsolationForest`): ``score_samples`` is
    higher for normal samples, ``decision_function`` is negative for outliers
    and ``predict`` returns +1 for inliers and -1 for outliers.

    The score adds two terms, each standardised by its median and
    inter-quartile range on the training data (so it reads the same whatever
    the data's scale)::

        score = -(z(error) + code_weight * z(rarity))

    where ``error`` is the sample's mean squared reconstruction error and
    ``rarity`` is the mean of ``-log(density)`` over the units
    active on it, ``density`` being how often each unit fires on the
    training data: how unusual the features it is made of are.

    Parameters
    ----------
    n_components : int or "auto", default=128
        Number of hidden units; ``"auto"`` learns it from the data, as in
        :class:`~skl_sae.SparseAutoencoderTransformer`.

    max_components : int or None, default=None
        Most units that ``n_components="auto"`` may grow to (see
        :class:`~skl_sae.SparseAutoencoderTransformer`).

    contamination : "auto" or float, default="auto"
        Expected fraction of outliers in the training data; it sets
        ``offset_`` to that quantile of the training scores. ``"auto"`` uses
        Tukey's rule on the training scores: outliers lie more than 1.5
        inter-quartile ranges below the first quartile.

    code_weight : float, default=1.0
        Weight of the code rarity against the reconstruction error in the
        score; 0 scores by the reconstruction error alone.

    sparsity : str or None, default="batchtopk"
        How the codes are made sparse, as in
        :class:`~skl_sae.SparseAutoencoderTransformer`, which lists the
        names (what each does: :ref:`choosing_sparsity`). The default,
        BatchTopK, gives each sample a few active units and learns how many
        it needs.

    k : int, default=8
        Active codes per sample of the sparse codes that take it, as in
        :class:`~skl_sae.SparseAutoencoderTransformer`: with the default
        BatchTopK, the mean number of active units per sample. A ``k``
        above ``n_components`` keeps every code, with a UserWarning.

    learning_rate_init : float, default=1e-3
        Step size of ``"adam"`` and ``"sgd"``; smaller than the
        transformer's, which ranked outliers worse (see
        :ref:`outlier_detection`).

    code_params, sparsity_target, sparsity_weight, auxk_weight, alpha, corruption, \
corruption_level, contractive_weight, activation, output_activation, \
tied_weights, init, solver, batch_size, max_iter, tol, \
n_iter_no_change, early_stopping, validation_fraction, shuffle, \
random_state, verbose, warm_start, device, \
matmul_precision, compute_dtype
        As in :class:`~skl_sae.SparseAutoencoderTransformer`, with the same
        defaults.

    Attributes
    ----------
    autoencoder_ : SparseAutoencoderTransformer
        The fitted autoencoder: its public weights (``components_``, ...)
        and ``code_params_``, the parameters of its code as fitted.

    n_components_ : int
        Its number of hidden units (the size that ``n_components="auto"``
        chose).

    structure_curve_ : list of int
        Its hidden units during each epoch (see
        :class:`~skl_sae.SparseAutoencoderTransformer`).

    offset_ : float
        Threshold on ``score_samples``: ``decision_function`` is
        ``score_samples - offset_``.

    error_center_, error_scale_ : float
        Median and inter-quartile range of the training samples'
        reconstruction errors (relative to the training data's variance).

    unit_rarity_ : ndarray of shape (`n_components_`,)
        ``-log`` of each unit's firing frequency on the training data (at
        least one sample's worth): what a sample's code rarity averages.

    rarity_center_, rarity_scale_ : float
        Median and inter-quartile range of the training samples' code rarity.

    n_iter_ : int
        Number of epochs the autoencoder trained.

    loss_curve_ : list of float
        The autoencoder's training loss at each epoch.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    sklearn.ensemble.IsolationForest : Isolation-based outlier detection.
    sklearn.neighbors.LocalOutlierFactor : Density-based outlier detection.

    Notes
    -----
    The defaults (128 units, BatchTopK with ``k=8``, ``code_weight=1``,
    ``learning_rate_init=1e-3``) were chosen on MNIST's
    one-digit-against-the-rest tasks; :ref:`outlier_detection` compares the
    detector there with scikit-learn's.

    Examples
    --------
    >>> import numpy as np
    >>> from skl_sae import SparseAutoencoderOutlierDetector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2)) @ [[1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 1.0, -1.0]]
    >>> detector = SparseAutoencoderOutlierDetector(8, max_iter=100, random_state=0).fit(X)
    >>> detector.predict([[1.0, 1.0, 1.0, 1.0], [4.0, -4.0, -4.0, 4.0]])
    array([ 1, -1])
    """

    _parameter_constraints: dict = {
        **SparseAutoencoderTransformer._parameter_constraints,
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "code_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=128,
        *,
        max_components=None,
        contamination="auto",
        code_weight=1.0,
        sparsity="batchtopk",
        sparsity_target=0.05,
        sparsity_weight=3.0,
        k=8,
        code_params=None,
        auxk_weight=1 / 32,
        alpha=1e-5,
        corruption=None,
        corruption_level=0.1,
        contractive_weight=0.0,
        activation="auto",
        output_activation="auto",
        tied_weights=False,
        init="auto",
        solver="adam",
        batch_size="auto",
        learning_rate_init=1e-3,
        max_iter=200,
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
        self.n_components = n_components
        self.max_components = max_components
        self.contamination = contamination
        self.code_weight = code_weight
        self.sparsity = sparsity
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight
        self.k = k
        self.code_params = code_params
        self.auxk_weight = auxk_weight
        self.alpha = alpha
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.contractive_weight = contractive_weight
        self.activation = activation
        self.output_activation = output_activation
        self.tied_weights = tied_weights
        self.init = init
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

    @fit_in_namespace
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on ``X`` and set the threshold ``offset_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, mostly normal samples.
        y : None
            Ignored.

        Returns
        -------
        self : SparseAutoencoderOutlierDetector
            The fitted detector.
        """
        # All or nothing, as the transformer's fit: a failure (Ctrl-C too)
        # restores vars(self).
        with transaction(self):
            X = validate_rows(self, X, accept_sparse="csr", dtype=(np.float64, np.float32))
            params = {name: getattr(self, name) for name in _AUTOENCODER_PARAMS}
            if self.warm_start and hasattr(self, "autoencoder_"):
                # A copy: the transaction restores the detector's attributes,
                # not what is inside its autoencoder.
                autoencoder = copy.deepcopy(self.autoencoder_).set_params(**params)
            else:
                autoencoder = SparseAutoencoderTransformer(**params)
            task = begin_fit_task(self, 1, X)
            # The autoencoder's epochs become sub-tasks of this fit.
            with stage_task(task, "fit-autoencoder", 0, self, X, propagate_to=autoencoder):
                autoencoder.fit(X)
            error, active = _error_and_activity(autoencoder, X)
            # How often each unit fires on the training data, at inference.
            density = np.clip(active.mean(axis=0), 1.0 / X.shape[0], 1.0)
            self.unit_rarity_ = -np.log(density)
            rarity = _rarity(active, self.unit_rarity_)
            self.error_center_, self.error_scale_ = _center_and_scale(error)
            self.rarity_center_, self.rarity_scale_ = _center_and_scale(rarity)
            self.autoencoder_ = autoencoder
            self.n_components_ = autoencoder.n_components_
            self.structure_curve_ = list(autoencoder.structure_curve_)
            scores = self._combine(error, rarity)
            if self.contamination == "auto":
                q1, q3 = np.percentile(scores, [25, 75])
                offset = q1 - 1.5 * (q3 - q1)
            else:
                offset = np.percentile(scores, 100 * self.contamination)
            self.offset_ = float(offset)
            end_task(task, self, X)
            self.n_iter_, self.loss_curve_ = autoencoder.n_iter_, autoencoder.loss_curve_
        return self

    @method_in_namespace
    def score_samples(self, X):
        """Minus the standardised reconstruction error and code rarity.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``-(z(error) + code_weight * z(rarity))``: higher is more
            normal; a typical training sample scores about 0.
        """
        check_is_fitted(self)
        X = validate_rows(
            self, X, accept_sparse="csr", dtype=(np.float64, np.float32), reset=False
        )
        error, active = _error_and_activity(self.autoencoder_, X)
        return self._combine(error, _rarity(active, to_numpy(self.unit_rarity_)))

    def _combine(self, error, rarity):
        error = (error - self.error_center_) / self.error_scale_
        rarity = (rarity - self.rarity_center_) / self.rarity_scale_
        return -(error + self.code_weight * rarity)

    @method_in_namespace
    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Shifted scores; outliers are below 0.
        """
        return self.score_samples(X) - self.offset_

    @method_in_namespace
    def predict(self, X):
        """+1 for inliers and -1 for outliers.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to classify.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            +1 where ``decision_function(X) >= 0``, else -1.
        """
        return np.where(self.decision_function(X) >= 0, 1, -1)

    def __getstate__(self):
        """Numpy arrays only: ``unit_rarity_`` of another library (Array API
        dispatch) is pickled as numpy."""
        return numpy_state(super().__getstate__())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        return tags


def _error_and_activity(autoencoder, X):
    """Per-sample reconstruction error (relative to the training variance)
    and the boolean matrix of the units active on each sample."""
    error = -autoencoder.score_samples(X) / autoencoder.feature_variance_
    return error, autoencoder.transform(X) > autoencoder.activity_threshold_


def _rarity(active, unit_rarity):
    """Code rarity: the mean ``unit_rarity`` of the units active on each
    sample (0 when none is)."""
    return active @ unit_rarity / np.maximum(active.sum(axis=1), 1)


def _center_and_scale(values):
    """Median and inter-quartile range (or 1 where the values do not spread)."""
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    scale = q3 - q1
    if not scale > 0:
        scale = np.std(values) if np.std(values) > 0 else 1.0
    return float(median), float(scale)
