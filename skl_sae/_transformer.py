"""SparseAutoencoderTransformer: sparse autoencoder features for scikit-learn."""

import copy
from numbers import Integral

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._base import (
    INFERENCE_BATCH_SIZE,
    BaseSparseAutoencoder,
    apply_in_batches,
    begin_fit_task,
    calibrate_thresholds_,
    code_thresholds,
    data_range,
    end_task,
    load_code_thresholds,
    mean_feature_variance,
    numpy_dtype,
    resolve_device,
    resolve_output_activation,
    torch_dtype,
    torch_threads,
)
from ._codes import make_code
from ._losses import squared_error
from ._modules import SparseAutoencoder
from ._training import Batches


class SparseAutoencoderTransformer(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseSparseAutoencoder
):
    """Sparse autoencoder as a scikit-learn transformer.

    Learns a code ``h = f(W x + b)`` from which ``x_hat = g(W' h + c)``
    reconstructs ``x``, minimising

    ``MSE(x_hat, x) / s2 + sparsity_weight * penalty(h) + alpha / 2 * ||W||^2``

    (the sparse codes need no penalty, JumpReLU's is the fraction of active
    codes, and AuxK adds its gradient for dead units)

    where ``s2`` is the mean per-feature variance of the training data (so the
    first term is the fraction of variance left unexplained, whatever the
    data's scale), ``penalty`` is the KL divergence between
    ``sparsity_target`` and each unit's batch-mean activation or the mean
    absolute activation (both averaged over units, so the weights do not
    depend on ``n_components``), and ``||W||^2`` sums the squared weights
    (not biases). ``transform`` returns the codes, ``inverse_transform``
    decodes them, ``score_samples`` is the negative per-sample reconstruction
    error (an anomaly score).

    Parameters
    ----------
    n_components : int, default=256
        Number of hidden units (features out). More units than inputs (an
        over-complete code) work well with sparsity; 256 is over-complete
        for small images such as digits (64 pixels) and a fair size for
        tabular data, while MNIST-sized images gain from 1024.

    sparsity : {"kl", "l1", "topk", "batchtopk", "jumprelu"} or None, \
            default="kl"
        How the codes are made sparse. Penalties: ``"kl"`` pulls each unit's
        mean activation towards ``sparsity_target`` (the classic sparse
        autoencoder; needs sigmoid units), ``"l1"`` penalises the mean
        absolute activation. Sparse codes (Gao et al., 2024): ``"topk"``
        keeps the ``k`` largest codes of each sample; ``"batchtopk"`` keeps
        the ``k * batch_size`` largest of a training batch and, at inference,
        the codes above a threshold learned in training (``thresholds_``);
        ``"jumprelu"`` keeps the codes above learned per-unit thresholds,
        with ``sparsity_weight`` weighting the fraction of active codes (an
        L0 penalty). The sparse codes come with unit-norm decoder columns,
        an encoder initialised as the decoder's transpose, a start from the
        data's geometric median, and the AuxK loss for dead units. None
        trains a plain autoencoder.

    sparsity_target : float, default=0.05
        Target mean activation ``rho`` of each hidden unit with
        ``sparsity="kl"``: each unit should fire for about 5% of the samples.

    sparsity_weight : float, default=3.0
        Weight ``beta`` of the sparsity penalty. Both terms of the loss are
        averages (over features and over units), so ``beta`` does not depend
        on the data's scale or on ``n_components``; this differs from the
        UFLDL notes, which sum both. On MNIST, 3 gave the most useful codes
        for a linear classifier among the values from 0.3 to 30 we tried,
        with mean activations near ``sparsity_target`` (see ``benchmarks/``).
        With ``"jumprelu"`` it prices the fraction of units active per
        sample.

    k : int, default=32
        Active codes per sample with ``sparsity="topk"`` (at most
        ``n_components``) and on average with ``"batchtopk"``.

    auxk_weight : float, default=1/32
        Weight of the AuxK loss with the sparse codes: units that have not
        fired for a whole epoch (``n_samples`` training samples) are trained
        to reconstruct what the live codes miss, which revives them. 1/32 as
        in Gao et al. (2024); 0 turns it off.

    alpha : float, default=1e-5
        L2 weight decay on the weight matrices (not the biases). Small, so
        that it only keeps weights from growing without bound.

    corruption : {"mask", "gaussian"} or None, default=None
        Denoising: during training the autoencoder sees a corrupted input and
        reconstructs the clean one. ``"mask"`` zeroes a random fraction
        ``corruption_level`` of the entries, ``"gaussian"`` adds noise of
        standard deviation ``corruption_level`` (in the data's units) and
        clips the result to the range of the training data (its smallest and
        largest value), so that noisy pixels stay in [0, 1] as they do in
        noisy images.
        Evaluation, early stopping and ``transform`` see clean inputs.

    corruption_level : float, default=0.1
        Fraction of entries zeroed (``"mask"``, below 1) or standard deviation
        of the added noise (``"gaussian"``).

    contractive_weight : float, default=0.0
        Weight of the contractive penalty: the squared Frobenius norm of the
        encoder's Jacobian ``dh/dx`` (closed form for sigmoid and relu
        units), averaged over samples and divided by the number of units.
        0 turns it off.

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
        the sparse codes (their unit-norm atoms are meant for a linear
        decoder, and behind a sigmoid AuxK revived no dead units on MNIST:
        77% dead against 9% with identity, TopK k=32, 5 epochs on 10k
        images); ``output_activation_`` records the choice.

    tied_weights : bool, default=False
        If True the decoder is the encoder transposed (``W' = W.T``), halving
        the number of weights.

    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        ``"adam"`` and ``"sgd"`` (Nesterov momentum 0.9) take one step per
        minibatch; ``"lbfgs"`` takes one line-searched step on the
        full-batch loss per iteration (the classic UFLDL optimizer, good for
        small data).

    batch_size : int or "auto", default="auto"
        Minibatch size. ``"auto"`` takes ``min(256, max(32, n_samples //
        50))`` rows for the minibatch solvers, so that small data sets still
        get about 50 steps per epoch while large ones use efficient batches
        of 256, and all samples for ``"lbfgs"``.

    learning_rate_init : float, default=1e-3
        Step size of ``"adam"`` and ``"sgd"``; 1e-3 is Adam's usual step and
        scikit-learn's MLP default.

    max_iter : int, default=200
        Maximum number of epochs (``"lbfgs"``: iterations), as in
        scikit-learn's MLP. Large data sets need fewer: 30 epochs on MNIST
        give the README's benchmark.

    tol : float, default=1e-4
        Minimal decrease of the loss (of the validation loss with
        ``early_stopping``) that counts as an improvement. The loss is
        dimensionless, so the default means the same on every data set.

    n_iter_no_change : int, default=10
        Training stops after this many epochs in a row without improvement.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its
        reconstruction error (the first term of the loss) stops improving by
        ``tol`` and keep the best weights. Off by default, as in scikit-learn's
        MLP, so that all the data trains the model.

    validation_fraction : float, default=0.1
        Fraction of the training data held out with ``early_stopping``.

    shuffle : bool, default=True
        Shuffle the samples at every epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the validation split
        through a local ``torch.Generator``; torch's global seed is never
        touched. Pass an int for reproducible results.

    verbose : bool, default=False
        Print one line per epoch: loss, validation loss, elapsed seconds.
        For a live progress bar use scikit-learn's callbacks (1.9+):
        ``set_callbacks(sklearn.callback.ProgressBar())``; every epoch is a
        task of the fit.

    warm_start : bool, default=False
        If True, ``fit`` continues from the fitted weights (with a fresh
        optimizer) and appends to ``loss_curve_``; the network's shape (``n_components``,
        ``activation``, ``tied_weights``) cannot change in between.

    device : str, default="cpu"
        Where to train and compute: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, or
        ``"auto"`` for a GPU when there is one. Resolved at ``fit``; dense
        data move to the device once, sparse data one batch at a time.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Decoder dictionary: row ``j`` is what unit ``j`` adds to a
        reconstruction (the transposed decoder weight ``W'``).

    output_activation_ : {"sigmoid", "identity"}
        Output activation in use (``output_activation`` with ``"auto"``
        resolved).

    encoder_weights_ : ndarray of shape (n_components, n_features)
        Encoder weight ``W``.

    encoder_bias_ : ndarray of shape (n_components,)
        Encoder bias ``b``.

    decoder_bias_ : ndarray of shape (n_features,)
        Decoder bias ``c``.

    thresholds_ : ndarray of shape (n_components,) or None
        Inference thresholds of the codes: JumpReLU's per unit, or
        BatchTopK's single learned threshold repeated; None for the other
        sparsities.

    l0_ : float
        Mean number of active codes per sample on the training data. A code
        is active when it is positive, except with the penalties (``"kl"``,
        ``"l1"``, None) and sigmoid units, which are never exactly 0 and count
        as active above 1/2.

    feature_density_ : ndarray of shape (n_components,)
        Fraction of the training samples on which each unit is active.

    dead_latents_ : float
        Fraction of units active on no training sample.

    explained_variance_ : float
        ``1 - FVU``: the share of the training data's variance that the
        reconstructions explain.

    loss_curve_ : list of float
        Mean training loss at each epoch.

    validation_loss_curve_ : list of float or None
        Validation loss at each epoch with ``early_stopping``, else None.

    best_loss_ : float
        Lowest loss reached: the validation loss with ``early_stopping``,
        the training loss otherwise.

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
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "output_activation": [StrOptions({"auto", "identity", "sigmoid"})],
    }

    def __init__(
        self,
        n_components=256,
        *,
        sparsity="kl",
        sparsity_target=0.05,
        sparsity_weight=3.0,
        k=32,
        auxk_weight=1 / 32,
        alpha=1e-5,
        corruption=None,
        corruption_level=0.1,
        contractive_weight=0.0,
        activation="auto",
        output_activation="auto",
        tied_weights=False,
        solver="adam",
        batch_size="auto",
        learning_rate_init=1e-3,
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        verbose=False,
        warm_start=False,
        device="cpu",
    ):
        self.n_components = n_components
        self.sparsity = sparsity
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight
        self.k = k
        self.auxk_weight = auxk_weight
        self.alpha = alpha
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.contractive_weight = contractive_weight
        self.activation = activation
        self.output_activation = output_activation
        self.tied_weights = tied_weights
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

    # -- fitting ------------------------------------------------------------

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
            X = validate_data(
                self,
                X,
                accept_sparse="csr",
                dtype=(np.float64, np.float32),
                reset=not continuing,
            )
            self._fit(X, continuing=continuing, incremental=False)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train for one epoch on ``X``, continuing from the fitted state.

        The first call fixes what depends on the data: the loss scale (the
        variance of its chunk) and, with ``output_activation="auto"``, the
        output activation; give it a representative chunk. The optimizer's
        state carries over between calls in memory, not through pickling.

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
            X = validate_data(
                self,
                X,
                accept_sparse="csr",
                dtype=(np.float64, np.float32),
                reset=not continuing,
            )
            self._fit(X, continuing=continuing, incremental=True)
        return self

    def _fit(self, X, *, continuing, incremental):
        self._check_sparsity_activation()
        self._check_corruption()
        device = resolve_device(self.device)
        task = begin_fit_task(self, 1 if incremental else self.max_iter, X)
        if continuing:
            self._check_architecture_unchanged()
            module, optimizer = self._copy_state(
                self._get_module(),
                getattr(self, "_optimizer", None) if incremental else None,
                device,
            )
            history = copy.deepcopy(self._history)
            dead_latents = copy.deepcopy(getattr(self, "_dead_latents", None))
            scale = self._loss_scale
            dtype = next(module.parameters()).dtype
        else:
            history, optimizer, scale = None, None, mean_feature_variance(X)
            dtype = torch_dtype(X.dtype)
            self.output_activation_ = resolve_output_activation(
                self.output_activation, X, self._sparse_code
            )
            self._architecture = self._architecture_params()
            self._architecture["code_scale"] = scale**0.5
        rng, generator = self._seeds(offset=0 if history is None else history.n_iter)
        X = X.astype(numpy_dtype(dtype), copy=False)
        if not continuing:
            module = self._new_autoencoder(
                X,
                self.n_components,
                dtype,
                device,
                generator,
                self.output_activation_,
                self._architecture["code_scale"],
            )
        if not continuing or dead_latents is None:  # counts survive partial_fit calls
            dead_latents = self._new_dead_latents(self.n_components, X.shape[0], device)
        else:
            dead_latents.to_(device)
        loss_fn = self._autoencoder_loss(
            scale,
            self._corruption_generator(generator, device),
            dead_latents=dead_latents,
            bounds=data_range(X),
        )
        with torch_threads():
            optimizer, history = self._train(
                module,
                loss_fn,
                [X],
                device=device,
                rng=rng,
                generator=generator,
                optimizer=optimizer,
                history=history,
                incremental=incremental,
                validation_loss_fn=self._reconstruction_loss(scale),
                hooks=self._decoder_hooks(),
                task=task,
            )
            if self.sparsity == "batchtopk":
                calibrate_thresholds_([module.encoder], X, self._batch_size(X.shape[0]), generator)
            self._set_diagnostics(module, X)
        self._module, self._optimizer, self._history = module, optimizer, history
        self._dead_latents, self._loss_scale = dead_latents, scale
        self.device_ = str(device)
        self._export_weights(module)
        self.loss_curve_ = list(history.loss_curve)
        self.validation_loss_curve_ = (
            list(history.validation_loss_curve) if history.validation_loss_curve else None
        )
        self.best_loss_ = history.best_loss
        self.n_iter_ = history.n_iter
        end_task(task, self, X)

    def _architecture_params(self):
        """What the network's shape depends on: the parameters that
        ``warm_start`` cannot change, and the resolved activations."""
        return {
            "n_components": self.n_components,
            "activation": self.activation,
            "tied_weights": self.tied_weights,
            "sparsity": self.sparsity,
            "k": self.k if self.sparsity in ("topk", "batchtopk") else None,
            "hidden_activation": self._activation(),
            "output_activation": self.output_activation_,
        }

    def _check_architecture_unchanged(self):
        current = self._architecture_params()
        fitted = {k: v for k, v in self._architecture.items() if k in self.get_params()}
        changed = {name: value for name, value in fitted.items() if current[name] != value}
        if changed:
            raise ValueError(
                f"warm_start and partial_fit continue the fitted network, whose "
                f"{', '.join(changed)} cannot change (fitted with {changed}); "
                "set warm_start=False or refit a clone."
            )

    @torch.no_grad()
    def _export_weights(self, module):
        def numpy(tensor):
            return tensor.detach().cpu().clone().numpy()

        self.encoder_weights_ = numpy(module.encoder_weight)
        self.encoder_bias_ = numpy(module.encoder_bias)
        self.components_ = numpy(module.decoder_weights.T)
        self.decoder_bias_ = numpy(module.decoder_bias)
        self.thresholds_ = code_thresholds(module.encoder.code, module.n_components)

    @torch.no_grad()
    def _set_diagnostics(self, module, X):
        """Sparsity and fit of the codes of ``X`` at inference."""
        module.eval()
        parameter = next(module.parameters())
        fired = torch.zeros(module.n_components, dtype=torch.float64, device=parameter.device)
        squared_error = 0.0
        batches = Batches([X], batch_size=INFERENCE_BATCH_SIZE, device=parameter.device)
        for (x,) in batches:
            out = module(x)
            fired += module.encoder.code.firing(out.codes).sum(dim=0)
            squared_error += float((out.reconstruction - x).pow(2).sum())
        self.feature_density_ = (fired / X.shape[0]).cpu().numpy()
        self.l0_ = float(self.feature_density_.sum())
        self.dead_latents_ = float(np.mean(self.feature_density_ == 0))
        total_variance = mean_feature_variance(X) * X.shape[1] * X.shape[0]
        self.explained_variance_ = 1.0 - squared_error / total_variance

    def _module_from_arrays(self):
        n_components, n_features = self.encoder_weights_.shape
        architecture = self._architecture
        dtype = torch_dtype(self.encoder_weights_.dtype)
        module = SparseAutoencoder(
            n_features,
            n_components,
            activation=architecture["hidden_activation"],
            output_activation=architecture["output_activation"],
            tied_weights=architecture["tied_weights"],
            code=make_code(
                architecture["sparsity"],
                architecture["hidden_activation"],
                n_components,
                k=architecture["k"],
                scale=architecture["code_scale"],
                dtype=dtype,
            ),
            generator=torch.Generator(),
            dtype=dtype,
        )
        load_code_thresholds(module.encoder.code, self.thresholds_)
        with torch.no_grad():
            module.encoder_weight.copy_(torch.from_numpy(self.encoder_weights_))
            module.encoder_bias.copy_(torch.from_numpy(self.encoder_bias_))
            module.decoder_bias.copy_(torch.from_numpy(self.decoder_bias_))
            if not self._architecture["tied_weights"]:
                module.decoder_weight.copy_(torch.from_numpy(self.components_.T))
        return module

    # -- inference ----------------------------------------------------------

    def _map(self, X, function):
        """Apply ``function(module, batch)`` to ``X`` batch by batch, as numpy.

        ``X`` is computed in the model's dtype; the result has ``X``'s dtype.
        """
        module = self._get_module().eval()
        return apply_in_batches(lambda x: function(module, x), X, next(module.parameters()))

    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(
            self, X, accept_sparse="csr", dtype=(np.float64, np.float32), reset=False
        )

    def transform(self, X):
        """Encode ``X``: the hidden codes ``h = f(W x + b)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
            Codes, in the dtype of ``X`` (float32 stays float32).
        """
        X = self._validate_X(X)
        return self._map(X, lambda module, x: module.encode(x)[1])

    def _firing(self, X):
        """Boolean matrix of the units active on each row of validated ``X``
        (the rule of ``feature_density_``)."""

        def firing(module, x):
            return module.encoder.code.firing(module.encode(x)[1]).to(x.dtype)

        return self._map(X, firing).astype(bool)

    def inverse_transform(self, X):
        """Decode codes back to the input space: ``g(W' h + c)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            Reconstructions.
        """
        check_is_fitted(self)
        X = check_array(X, dtype=(np.float64, np.float32), input_name="X")
        if X.shape[1] != self.components_.shape[0]:
            raise ValueError(
                f"X has {X.shape[1]} features (codes), but this model has "
                f"n_components={self.components_.shape[0]}."
            )
        return self._map(X, lambda module, h: module.decode(h))

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
        return self._map(X, lambda module, x: -squared_error(module(x).reconstruction, x))

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
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
