"""SparseAutoencoderTransformer: sparse autoencoder features for scikit-learn."""

import copy
from functools import partial
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from ._array_api import dispatched_tensor, fit_in_namespace, method_in_namespace
from ._base import BaseSparseAutoencoder, own_constraints
from ._batches import apply_in_batches, inference_module
from ._callbacks import begin_fit_task, end_task
from ._codes import code_class
from ._data import is_streamed, mean_feature_variance, torch_dtype
from ._docstrings import fill_parameter_docs
from ._modules import SparseAutoencoder
from ._runtime import call_settings, resolve_device
from ._sklearn import Interval, StrOptions, _fit_context
from ._trainer import (
    AUTO_K,
    LayerFit,
    new_layer,
    resolve_init,
    resolve_k,
    resolve_learning_rate,
    resolve_output_activation,
    resolve_sparsity,
)
from ._validation import SPARSITIES_OR_AUTO, check_memory_map, check_tensor, validate_rows

#: The parameters that the transformer takes beyond the shared ones.
OWN_PARAMS = (
    "max_components",
    "corruption",
    "corruption_level",
    "contractive_weight",
    "tied_weights",
    "warm_start",
)


@fill_parameter_docs
class SparseAutoencoderTransformer(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseSparseAutoencoder
):
    """Sparse autoencoder as a scikit-learn transformer.

    Learns a code ``h = f(W x + b)`` from which ``x_hat = g(W' h + c)``
    reconstructs ``x``, minimising

    ``MSE(x_hat, x) / s2 + sparsity_weight * penalty(h) + alpha / 2 * ||W||^2``

    where ``s2`` is the mean per-feature variance of the training data (so the
    first term is the fraction of variance left unexplained, whatever the
    data's scale), ``penalty`` is that of ``sparsity``, averaged over units
    so that the weights do not depend on ``n_components`` (the classic
    ``"kl"``: the KL divergence between ``sparsity_target`` and each unit's
    batch-mean activation; a sparse code may need none, and AuxK adds its
    gradient for dead units), and ``||W||^2`` sums the squared weights (not
    biases). ``transform`` returns the codes, ``inverse_transform``
    decodes them, ``score_samples`` is the negative per-sample reconstruction
    error (an anomaly score).

    Parameters
    ----------
    n_components : int or "auto", default=256
        Number of hidden units (features out). More units than inputs (an
        over-complete code) work well with sparsity; 256 is over-complete
        for small images such as digits (64 pixels) and a fair size for
        tabular data, while MNIST-sized images gain from 1024. ``"auto"``
        learns it from the data (structure learning): training starts from
        as many units as principal components explain 95% of the variance;
        every 5 epochs it doubles the units while each doubling lowers the
        reconstruction error by a tenth and at least half of the new units
        carry information about the samples (up to ``max_components``), then
        prunes the units whose firing carries less than 0.01 bits (dead or
        constant units); see the user guide. ``n_components_`` is the size
        chosen.

    max_components : int or None, default=None
        Most hidden units that ``n_components="auto"`` may grow to; None
        allows four per input feature, between 256 and 4096. Ignored for a
        fixed ``n_components``.

    {{sparsity}}
        ``"auto"`` takes ``"topk"`` for a scipy sparse matrix (a TF-IDF,
        hashed features), on which the KL penalty's sigmoid units learn next
        to nothing, and ``"kl"`` otherwise; ``sparsity_`` records the choice.

    sparsity_target : float, default=0.05
        Target mean activation ``rho`` of each hidden unit with
        ``sparsity="kl"``: each unit should fire for about 5% of the samples.

    sparsity_weight : float, default=3.0
        Weight ``beta`` of the sparsity penalty. Both terms of the loss are
        averages (over features and over units), so ``beta`` does not depend
        on the data's scale or on ``n_components``; this differs from the
        UFLDL notes, which sum both. With an L0 penalty (``"jumprelu"``) it
        prices the fraction of units active per sample. How the default was
        chosen: :ref:`choosing_sparsity`.

    k : int or "auto", default="auto"
        Active codes per sample of the sparse codes that take it (``"topk"``,
        ``"batchtopk"``, ``"matryoshka_batchtopk"``): the ``k`` largest of
        each sample, or ``k`` per sample on average over a training batch
        (see :ref:`choosing_sparsity`); the other sparsities ignore it.
        ``"auto"`` takes 32, and for a scipy sparse matrix half of
        ``n_components``: the start along the singular directions (``init``)
        gives each pair of units one positive code a row, and half the units
        keep them all. ``code_params_`` records the value. A ``k`` above the
        number of units keeps every code, with a UserWarning: the codes are
        then not sparse.

    {{code_params}}

    {{auxk_weight}}

    alpha : float, default=1e-5
        L2 weight decay on the weight matrices (not the biases). Small, so
        that it only keeps weights from growing without bound.

    {{corruption}}

    {{corruption_level}}

    {{contractive_weight}}

    activation : {"auto", "sigmoid", "relu"}, default="auto"
        Hidden activation ``f``. Sigmoid codes lie in (0, 1), which the KL
        penalty needs; relu codes are exactly 0 when a unit is off. ``"auto"``
        takes sigmoid for ``sparsity="kl"`` and None, relu otherwise.

    output_activation : {"auto", "sigmoid", "identity"}, default="auto"
        Output activation ``g``. ``"sigmoid"`` confines reconstructions to
        (0, 1), for data scaled to [0, 1] such as pixels / 255: it lets the
        decoder saturate on background pixels instead of spending units on
        them, which gives markedly better codes on images. ``"identity"``
        reconstructs any real values, for standardized or other unbounded
        data. ``"auto"`` picks ``"sigmoid"`` when all training data lie in
        [0, 1] and ``"identity"`` otherwise, and always ``"identity"`` for
        the sparse codes, whose unit-norm atoms are meant for a linear
        decoder (behind a sigmoid, AuxK revives few dead units; see
        :ref:`choosing_sparsity`), and for a scipy sparse matrix, whose
        error a linear decoder computes from the non-zeros alone (a sigmoid
        decodes every entry of every batch) and whose entries may be
        negative (hashed features); ``output_activation_`` records the
        choice.

    tied_weights : bool, default=False
        If True the decoder is the encoder transposed (``W' = W.T``), halving
        the number of weights.

    init : {"auto", "random", "svd"}, default="auto"
        How the units start. ``"random"``: Glorot-uniform weights (the
        sparse codes: random unit-norm atoms, the encoder their transpose).
        ``"svd"``: pairs of opposite unit atoms along the leading singular
        directions of the training data about its geometric median (a
        randomized SVD, as ``TruncatedSVD``'s, of at most 20,000 rows; a
        sparse matrix is never densified), the encoder their transpose, so
        that each pair's relu codes are a row's coordinate along a direction
        split into its positive and negative parts; units beyond twice the
        directions start at random. ``"auto"`` takes ``"svd"`` for a scipy
        sparse matrix (a TF-IDF), where a random start learns features no
        better than ``TruncatedSVD``'s, and ``"random"`` otherwise;
        ``init_`` records the choice.

    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        ``"adam"`` and ``"sgd"`` (Nesterov momentum 0.9) take one step per
        minibatch; ``"lbfgs"`` takes one line-searched step on the
        full-batch loss per iteration (the classic UFLDL optimizer, good for
        small data).

    batch_size : int or "auto", default="auto"
        Minibatch size. ``"auto"`` takes ``min(200, n_samples)`` rows for
        the minibatch solvers, as scikit-learn's MLP, and all samples for
        ``"lbfgs"``; wide dense data get no more rows than a dense batch of
        16 MB holds (41 rows of a 50,000-column float64 array), so that
        memory stays bounded whatever the width. Sparse rows whose error
        comes from their non-zeros (a linear decoder) take up to 4,096 rows
        (all rows below), in batches of even sizes: a step costs mostly what
        the model costs, O(n_features * n_components**2) for the decoder's
        Gram matrix and the optimizer's update of every weight, which larger
        batches spread. On a CUDA device dense batches take up to 4,096
        rows, so that the products rather than kernel launches take a
        step's time, but keep at least 50 steps an epoch (and 200 rows),
        within 64 MB: 1,200 rows of MNIST's 60,000 (on the CPU, batches of
        1,024 trained codes almost as good as 200 rows did; see :ref:`gpu`).

    learning_rate_init : float or "auto", default="auto"
        Step size of ``"adam"`` and ``"sgd"``. The loss being dimensionless,
        one step size serves data sets of any scale; ``"auto"`` takes 1e-2
        for the penalties (why rather than scikit-learn's MLP's 1e-3:
        :ref:`performance`) and for the sparse codes of a scipy sparse
        matrix, 1e-3 for the sparse codes of dense rows (at 1e-2 most of
        their units die), up to 784 features (MNIST's width, where it was
        chosen), and that times ``sqrt(784 / n_features)`` beyond, so that
        a step moves a dictionary atom as far on wide data (a TF-IDF of
        15,000 terms: 2.3e-3) as on MNIST; ``learning_rate_init_`` records
        it.

    max_iter : int, default=200
        Maximum number of epochs (``"lbfgs"``: iterations), as in
        scikit-learn's MLP. Training usually stops well before, by ``tol``.

    tol : float, default=1e-3
        Minimal decrease of the loss (of the validation loss with
        ``early_stopping``) that counts as an improvement. The loss is
        dimensionless (its reconstruction term is the fraction of the data's
        variance left unexplained), so ``tol`` is relative to the data's
        variance and means the same on every data set: by default, training
        stops once ``n_iter_no_change`` epochs in a row each explain less
        than 0.1% more of it.

    n_iter_no_change : int, default=10
        Training stops after this many epochs in a row without improvement.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its
        reconstruction error (the first term of the loss) stops improving by
        ``tol`` and keep the best weights. Off by default, as in scikit-learn's
        MLP, so that all the data trains the model.

    {{validation_fraction}}

    {{shuffle}}

    {{random_state}}

    verbose : bool, default=False
        Print one line per epoch: loss, validation loss, elapsed seconds.
        For a live progress bar use scikit-learn's callbacks (1.9+):
        ``set_callbacks(sklearn.callback.ProgressBar())``; every epoch is a
        task of the fit.

    warm_start : bool, default=False
        If True, ``fit`` continues from the fitted weights (with a fresh
        optimizer) and appends to ``loss_curve_``; the network and its code
        (``n_components``, ``activation``, ``tied_weights``, ``sparsity``,
        ``k`` where the code takes it, ``code_params``) cannot change in
        between.

    {{device}}

    {{matmul_precision}}

    {{compute_dtype}}

    Attributes
    ----------
    n_components_ : int
        Number of hidden units: ``n_components``, or the size that
        ``"auto"`` chose.

    sparsity_ : str or None
        The sparsity that the fit used: ``sparsity``, or what ``"auto"``
        chose.

    init_ : {"random", "svd"}
        How the units started: ``init``, or what ``"auto"`` chose.

    learning_rate_init_ : float
        The step size that the fit used: ``learning_rate_init``, or what
        ``"auto"`` chose.

    input_scale_ : float
        What the network divides its inputs by: for a scipy sparse matrix
        and a linear decoder, the root of ``feature_variance_`` (the
        network then sees features that vary by about 1, whatever the
        data's scale: the codes are those of ``X / input_scale_``, their
        penalties and step size act at that scale), else 1. The public
        weights act on ``X`` itself.

    structure_curve_ : list of int
        Hidden units during each epoch, next to ``loss_curve_``; constant
        for a fixed ``n_components``. A pruning decided after the last epoch
        is made at the end of the fit, so that ``n_components_`` may be
        below the last entry.

    components_ : ndarray of shape (`n_components_`, n_features)
        Decoder dictionary: row ``j`` is what unit ``j`` adds to a
        reconstruction (the transposed decoder weight ``W'``).

    output_activation_ : {"sigmoid", "identity"}
        Output activation in use (``output_activation`` with ``"auto"``
        resolved).

    code_params_ : dict
        The parameters of the code as fitted: ``k`` for a code that takes
        it, and the code class's own hyperparameters (``code_params`` over
        their defaults); empty for a code that has neither.

    encoder_weights_ : ndarray of shape (`n_components_`, n_features)
        Encoder weight ``W``.

    encoder_bias_ : ndarray of shape (`n_components_`,)
        Encoder bias ``b``.

    decoder_bias_ : ndarray of shape (n_features,)
        Decoder bias ``c``.

    thresholds_ : ndarray of shape (`n_components_`,) or None
        Inference thresholds of the code, one per unit (e.g. JumpReLU's
        learned ones, or BatchTopK's single calibrated threshold repeated);
        None for a code that has none.

    activity_threshold_ : float
        A code counts as active above this value: 1/2 for sigmoid units
        whose codes are not exactly sparse (a penalty's, or None's), which
        are never exactly 0, and 0 otherwise. It is the rule of ``l0_``, ``feature_density_`` and
        ``dead_latents_``.

    l0_ : float
        Mean number of active codes per sample on the training data during
        the last epoch.

    feature_density_ : ndarray of shape (`n_components_`,)
        Fraction of the training samples on which each unit was active
        during the last epoch.

    dead_latents_ : float
        Fraction of units active on no training sample during the last
        epoch.

    explained_variance_ : float
        ``1 - FVU``: the share of the training data's variance that the
        reconstructions explained during the last epoch.

    feature_variance_ : float
        Mean per-feature variance ``s2`` of the training data (of the first
        chunk with ``partial_fit``): the scale of the reconstruction term of
        the loss.

    loss_curve_ : list of float
        Mean training loss at each epoch.

    best_loss_ : float
        Lowest training loss reached (the minimum of ``loss_curve_``).

    validation_scores_ : list of float or None
        With ``early_stopping``, the score on the held-out rows at each
        epoch: the share of their variance that the reconstructions explain
        (``1 -`` the validation reconstruction loss), which early stopping
        maximises; None otherwise.

    best_validation_score_ : float or None
        The validation score of the weights kept: the best epoch since the
        network last changed shape (with ``n_components="auto"``, of the final
        structure), or None.

    n_iter_ : int
        Number of epochs run (summed over ``warm_start`` and ``partial_fit``
        calls).

    device_ : str
        Device the model was fitted on.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    sklearn.neural_network.BernoulliRBM : Features from a restricted
        Boltzmann machine.
    sklearn.decomposition.DictionaryLearning : Sparse codes by optimisation
        per sample.
    sklearn.decomposition.PCA : Linear dimension reduction.

    References
    ----------
    A. Ng, "Sparse autoencoder", CS294A Lecture notes (UFLDL), 2011.

    L. Gao et al., "Scaling and evaluating sparse autoencoders", 2024.

    B. Bussmann, P. Leask and N. Nanda, "BatchTopK Sparse Autoencoders", 2024.

    S. Rajamanoharan et al., "Jumping Ahead: Improving Reconstruction
    Fidelity with JumpReLU Sparse Autoencoders", 2024.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skl_sae import SparseAutoencoderTransformer
    >>> X = load_digits().data / 16
    >>> sae = SparseAutoencoderTransformer(n_components=64, max_iter=20, random_state=0)
    >>> codes = sae.fit_transform(X)
    >>> codes.shape
    (1797, 64)
    >>> sae.inverse_transform(codes).shape
    (1797, 64)
    """

    _parameter_constraints: dict = {
        **BaseSparseAutoencoder._parameter_constraints,
        **own_constraints(*OWN_PARAMS),
        "sparsity": [StrOptions(SPARSITIES_OR_AUTO), None],
        "n_components": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "output_activation": [StrOptions({"auto", "identity", "sigmoid"})],
        "init": [StrOptions({"auto", "random", "svd"})],
        "k": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    }

    def __init__(
        self,
        n_components=256,
        *,
        max_components=None,
        sparsity="auto",
        sparsity_target=0.05,
        sparsity_weight=3.0,
        k="auto",
        code_params=None,
        auxk_weight=4.0,
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
        learning_rate_init="auto",
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

    # -- fitting ------------------------------------------------------------

    @fit_in_namespace
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; sparse input is densified one batch at a time.
        y : None
            Ignored.

        Returns
        -------
        self : SparseAutoencoderTransformer
            The fitted estimator.
        """
        with self._transaction():
            continuing = self.warm_start and hasattr(self, "_history")
            X = self._validate_X(X, reset=not continuing)
            self._fit(X, continuing=continuing, incremental=False)
        return self

    @fit_in_namespace
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train for one epoch on ``X``, continuing from the fitted state.

        The first call fixes what depends on the data: the loss scale (the
        variance of its chunk) and, with ``output_activation="auto"``, the
        output activation; give it a representative chunk. The optimizer's
        state carries over between calls, through pickling too.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of a stream of training data.
        y : None
            Ignored.

        Returns
        -------
        self : SparseAutoencoderTransformer
            The updated estimator.
        """
        with self._transaction():
            continuing = hasattr(self, "_history")
            X = self._validate_X(X, reset=not continuing)
            self._fit(X, continuing=continuing, incremental=True)
        return self

    def _resolve_sparsity(self, X):
        """``sparsity`` with ``"auto"`` resolved for the data ``X``."""
        return resolve_sparsity(self.sparsity, X)

    def _fit(self, X, *, continuing, incremental):
        if not continuing:
            self.sparsity_ = self._resolve_sparsity(X)
            if self.k == "auto":
                self._k = resolve_k(X, self.n_components)
        self.learning_rate_init_ = resolve_learning_rate(
            self.learning_rate_init, X.shape[1], self.sparsity_, sparse_input=sp.issparse(X)
        )
        self._check_params()
        device = resolve_device(self.device)
        task = begin_fit_task(self, 1 if incremental else self._schedule().max_iter, X)
        if continuing:
            self._check_architecture_unchanged()
        else:
            exactly_sparse = code_class(self.sparsity_).exactly_sparse
            self.output_activation_ = resolve_output_activation(
                self.output_activation, X, exactly_sparse
            )
            self.init_ = self._resolve_init(X)
            self.input_scale_ = input_scale(X, self.output_activation_)
            self._architecture = self._architecture_params()
        settings = self._layer_settings(
            device, max_components=self._max_components(), statistics=True
        )
        with call_settings(self.matmul_precision):
            layer = self._continued_layer(settings, incremental) if continuing else None
            seeds = self._seeds(offset=0 if layer is None else layer.history.n_iter)
            if layer is None:
                layer = new_layer(
                    settings,
                    X,
                    self._layer_size(),
                    output_activation=self.output_activation_,
                    rng=seeds[0],
                    generator=seeds[1],
                    input_scale=self.input_scale_,
                    init=self.init_,
                )
                self._architecture["code_scale"] = layer.scale**0.5 / self.input_scale_
                self._architecture["input_scale"] = self.input_scale_
            split = self.early_stopping and not incremental
            layer = self._fit_layer(
                settings, layer, X, seeds, incremental=incremental, split=split, task=task
            )
        self._dead_latents, self.feature_variance_ = layer.dead_latents, layer.scale
        self._set_structure(layer, continuing)
        variance = mean_feature_variance(X) if continuing else layer.scale
        self._set_diagnostics(layer.statistics, variance)
        self._finish_fit(layer.module, layer.optimizer, layer.history, device)
        end_task(task, self, X)

    def _shared_code_param(self, name):
        if name == "k" and self.k == "auto":
            return getattr(self, "_k", AUTO_K)
        return super()._shared_code_param(name)

    def _resolve_init(self, X):
        """How the units start (``init_``)."""
        return resolve_init(self.init, X)

    def _continued_layer(self, settings, incremental):
        """Copies of the fitted layer's state, to train further."""
        module, optimizer, history = self._copy_state(
            settings.schedule, settings.device, incremental
        )
        return LayerFit(
            module,
            self.feature_variance_,
            optimizer,
            history,
            self._fitted_dead_latents(),
            structure=copy.deepcopy(self._structure),
        )

    def _set_structure(self, layer, continuing):
        """``n_components_``, ``structure_curve_`` and what structure
        learning continues from."""
        self._structure = layer.structure
        self.n_components_ = layer.module.n_components
        curve = list(self.structure_curve_) if continuing else []
        if layer.structure is not None:
            curve = list(layer.structure["curve"])
        n_epochs = len(layer.history.loss_curve)
        self.structure_curve_ = curve + [self.n_components_] * (n_epochs - len(curve))

    # -- the contract of BaseSparseAutoencoder --------------------------------

    def _max_components(self):
        """The most units that ``n_components="auto"`` may learn."""
        return self.max_components

    def _layer_size(self):
        """What the layer is asked for: ``n_components``."""
        return self.n_components

    def _network(self, architecture):
        return dense_network(architecture)

    def _loss_settings(self):
        return self._shared_loss_settings(
            contractive_weight=self.contractive_weight,
            corruption=self.corruption,
            corruption_level=self.corruption_level,
        )

    def _shape_params(self):
        return {
            "n_components": self.n_components,
            "tied_weights": self.tied_weights,
            "output_activation": self.output_activation_,
        }

    def _validation_score(self, loss):
        return 1.0 - loss

    def _export_weights(self, module):
        vars(self).update(dense_weights(module))

    def _set_diagnostics(self, statistics, variance):
        """Sparsity and fit of the codes during the last epoch."""
        self.feature_density_ = statistics.feature_density()
        self.l0_ = float(self.feature_density_.sum())
        self.dead_latents_ = float(np.mean(self.feature_density_ == 0))
        self.explained_variance_ = 1.0 - statistics.mean_squared_error() / variance

    def _module_from_weights(self):
        return dense_module(self, self._architecture["output_activation"])

    # -- inference ----------------------------------------------------------

    def _map(self, X, function):
        """Apply ``function(module, batch)`` to ``X`` batch by batch, as numpy.

        ``X`` is computed in the model's dtype, in float64 for float64 data
        (:func:`~._batches.inference_module`); the result has ``X``'s dtype.
        """
        module = inference_module(self._get_module().eval(), X)
        return apply_in_batches(
            lambda x: function(module, x),
            X,
            next(module.parameters()),
            width=self._inference_width(X),
            matmul_precision=self.matmul_precision,
        )

    def _inference_width(self, X):
        """The widest row of one inference batch of ``X`` (inputs or codes):
        the codes and the inputs decoded at full width, but for sparse
        inputs whose error comes from their non-zeros (codes alone)."""
        n_components, n_features = self.components_.shape
        inputs = sp.issparse(X) and X.shape[1] == n_features  # (not codes)
        if inputs and self._get_module().reads_nonzeros:
            return n_components
        return max(n_components, n_features)

    def _validate_X(self, X, *, reset=False):
        """``X`` validated as scikit-learn does: fixing the features at a first
        fit (``reset``), checking them against the fitted ones otherwise. A
        torch tensor under Array API dispatch is checked as it is, on its
        device (:mod:`._array_api`)."""
        if not reset:
            check_is_fitted(self)
            if dispatched_tensor(X):
                expected = f"{type(self).__name__} is expecting {self.n_features_in_} features"
                return check_tensor(X, self.n_features_in_, expected + " as input")
        return validate_rows(
            self, X, accept_sparse="csr", dtype=(np.float64, np.float32), reset=reset
        )

    @method_in_namespace
    def transform(self, X):
        """Encode ``X``: the hidden codes ``h = f(W x + b)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        codes : ndarray of shape (n_samples, `n_components_`)
            Codes, in the dtype of ``X`` (float32 stays float32).
        """
        X = self._validate_X(X)
        return self._map(X, lambda module, x: module.encode(x)[1])

    @method_in_namespace
    def inverse_transform(self, X):
        """Decode codes back to the input space: ``g(W' h + c)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, `n_components_`)
            Codes, e.g. from :meth:`transform`; sparse codes are decoded one
            batch at a time.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            Reconstructions.
        """
        check_is_fitted(self)
        n_components = self.components_.shape[0]
        X = self._validate_codes(X, n_components, f"this model has n_components={n_components}")
        return self._map(X, lambda module, h: module.decode(h))

    def _validate_codes(self, X, width, expected):
        """``X`` checked as codes to decode: ``width`` features, which
        ``expected`` names in the error. Memory maps are checked as they are
        read."""
        if dispatched_tensor(X):
            return check_tensor(X, width, expected)
        if is_streamed(X):
            check_memory_map(X)
        else:
            X = check_array(X, accept_sparse="csr", dtype=(np.float64, np.float32), input_name="X")
        if X.shape[1] != width:
            raise ValueError(f"X has {X.shape[1]} features (codes), but {expected}.")
        return X

    @method_in_namespace
    def score_samples(self, X):
        """Negative mean squared reconstruction error of each sample.

        Higher means better reconstructed, i.e. more like the training data:
        an anomaly score where the lowest values are the most anomalous.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``-mean((x_hat - x) ** 2)`` over the features of each sample.
        """
        X = self._validate_X(X)
        return self._map(X, lambda module, x: -module.errors(module(x), x))

    @method_in_namespace
    def score(self, X, y=None):
        """Mean of :meth:`score_samples`: higher is better, for model selection.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Negative mean squared reconstruction error.
        """
        return float(self.score_samples(X).mean())

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    #: Methods that read a torch tensor directly under Array API dispatch.
    _torch_methods = ("transform", "inverse_transform", "score_samples", "score")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.array_api_support = True
        return tags


def input_scale(X, output_activation):
    """What the network divides its inputs by: for a sparse matrix and an
    identity output, the root of the mean feature variance (the network's
    inputs then vary by 1 per feature, as the loss measures them), else 1.

    On wide sparse data (a TF-IDF, whose features vary by about 0.01) the
    sparse codes learn more and lose no unit at that scale (a 15,177-term
    TF-IDF of docstrings, TopK at 64 units: 0.184 of the variance explained
    and no dead latent, against 0.161 and 22% dead), and their codes come
    in units that a linear model's default regularisation suits.
    """
    if not sp.issparse(X) or output_activation != "identity":
        return 1.0
    return mean_feature_variance(X) ** 0.5


def dense_network(architecture, network=SparseAutoencoder):
    """The network factory of a dense layer (``network``, a
    :class:`~._modules.SparseAutoencoder`) of ``architecture``: the sparse
    codes get unit-norm decoder columns."""
    return partial(
        network,
        activation=architecture["hidden_activation"],
        tied_weights=architecture["tied_weights"],
        unit_norm_decoder=code_class(architecture["sparsity"]).exactly_sparse,
    )


@torch.no_grad()
def dense_weights(module):
    """The public numpy weights of a :class:`~._modules.SparseAutoencoder`:
    ``encoder_weights_``, ``encoder_bias_``, ``components_`` (the decoder's
    atoms, one row per unit), ``decoder_bias_``, the code's ``thresholds_``
    and ``activity_threshold_``."""

    def numpy(tensor, times=1.0):
        return (tensor.detach() * times).cpu().numpy()

    code, scale = module.encoder.code, module.input_scale  # (folded in: weights of X)
    return {
        "encoder_weights_": numpy(module.encoder_weight, 1 / scale),
        "encoder_bias_": numpy(module.encoder_bias),
        "components_": numpy(module.decoder_weights.T, scale),
        "decoder_bias_": numpy(module.decoder_bias, scale),
        "thresholds_": code.export_thresholds(module.n_components),
        "activity_threshold_": float(code.firing_threshold),
    }


def dense_module(estimator, output_activation):
    """The :class:`~._modules.SparseAutoencoder` of ``estimator``'s public
    weights (:func:`dense_weights`) and fitted architecture."""
    n_components, n_features = estimator.encoder_weights_.shape
    architecture = estimator._architecture
    dtype = torch_dtype(estimator.encoder_weights_.dtype)
    code = estimator._fitted_code(
        n_components, architecture["code_scale"], estimator.thresholds_, dtype
    )
    module = estimator._network(architecture)(
        n_features,
        n_components,
        output_activation=output_activation,
        code=code,
        generator=torch.Generator(),
        dtype=dtype,
    )
    module.input_scale = scale = architecture.get("input_scale", 1.0)
    with torch.no_grad():
        module.encoder_weight.copy_(torch.from_numpy(estimator.encoder_weights_ * scale))
        module.encoder_bias.copy_(torch.from_numpy(estimator.encoder_bias_))
        module.decoder_bias.copy_(torch.from_numpy(estimator.decoder_bias_ / scale))
        if not architecture["tied_weights"]:
            module.decoder_weight.copy_(torch.from_numpy(estimator.components_.T / scale))
    return module
