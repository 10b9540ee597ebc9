"""StackedSparseAutoencoderClassifier: layer-wise pre-training, softmax, fine-tuning."""

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import ClassifierMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._array_api import fit_in_namespace, method_in_namespace, to_numpy
from ._base import BaseSparseAutoencoder, own_constraints
from ._batches import apply_in_batches, inference_module
from ._callbacks import begin_fit_task, end_task, stage_hooks
from ._data import compute_dtype, feature_variances, is_streamed, torch_dtype
from ._docstrings import fill_parameter_docs
from ._layers import StackedNetwork
from ._losses import ClassifierLoss, misclassification_rate
from ._pretraining import pretrain_stack
from ._runtime import call_settings, resolve_device
from ._sklearn import Interval, StrOptions, _check_partial_fit_first_call, _fit_context
from ._trainer import (
    Run,
    as_dtype,
    calibrate_codes,
    mask_generator,
    parameter_dtype,
    train_run,
)
from ._transformer import OWN_PARAMS, dense_network
from ._validation import (
    layer_sizes,
    split_validation,
    validate_rows,
)


@fill_parameter_docs
class StackedSparseAutoencoderClassifier(
    ClassNamePrefixFeaturesOutMixin, ClassifierMixin, TransformerMixin, BaseSparseAutoencoder
):
    """Stacked sparse autoencoders with a softmax output layer, fine-tuned.

    Training runs in three stages, each through the same training loop:

    1. Greedy layer-wise pre-training: layer 1 is a sparse autoencoder
       trained on ``X`` (the loss of
       :class:`~skl_sae.SparseAutoencoderTransformer`), layer ``k`` one
       trained on the codes of layer ``k - 1``. Only the encoders are kept.
    2. A softmax (multinomial logistic) layer trained on the top codes with
       cross-entropy, the encoders frozen.
    3. Fine-tuning (``fine_tune=True``): the whole stack and the softmax layer
       trained end to end with cross-entropy plus weight decay, with dropout,
       on each batch and on its adversarial rows (``adversarial_eps``).

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(256, 256)
        Number of units of each hidden layer, bottom to top (each is one
        pre-trained autoencoder). Two layers, as in the classic stacked
        autoencoder (the user guide's MNIST network has ``(512, 512)``). An
        entry ``"auto"`` (e.g. ``("auto", 128)``) learns that layer's size
        during its pre-training, as ``n_components="auto"`` does in
        :class:`~skl_sae.SparseAutoencoderTransformer`;
        ``hidden_layer_sizes_`` holds the sizes chosen.

    max_components : int or None, default=None
        Most units that an ``"auto"`` layer may grow to; None allows four
        per input of the layer, between 256 and 4096.

    {{sparsity}}
        In this classifier: the sparsity of the pre-training autoencoders. A
        penalty acts in pre-training only; a sparse code stays part of each
        hidden layer through fine-tuning and prediction.

    sparsity_target : float, default=0.05
        Target mean activation ``rho`` of each hidden unit with
        ``sparsity="kl"``.

    sparsity_weight : float, default=3.0
        Weight ``beta`` of the sparsity penalty during pre-training (the
        classic value; see :class:`~skl_sae.SparseAutoencoderTransformer`).

    {{k}}
        In this classifier: of each hidden layer.

    {{code_params}}

    {{auxk_weight}}

    alpha : float, default=1e-5
        L2 weight decay ``alpha / 2 * ||W||^2`` on the weight matrices (not
        the biases), in every stage. Unlike in MLPClassifier it is not divided
        by the batch size, so equal values are stronger here.

    {{corruption}}

    {{corruption_level}}

    {{contractive_weight}}

    activation : {"auto", "sigmoid", "relu"}, default="auto"
        Activation of the hidden units. ``sparsity="kl"`` needs sigmoid;
        ``"auto"`` takes sigmoid for ``"kl"`` and None, relu otherwise.

    tied_weights : bool, default=False
        Pre-train autoencoders whose decoder is the encoder transposed.

    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        Optimizer of every stage: minibatch Adam, minibatch SGD with
        Nesterov momentum 0.9, or full-batch L-BFGS.

    batch_size : int or "auto", default="auto"
        Minibatch size: ``min(200, n_samples)`` for the minibatch solvers,
        as scikit-learn's MLP, all samples for ``"lbfgs"``, and for wide data no more rows than a
        dense batch of 16 MB holds. On a CUDA device, up to 4,096 rows but
        at least 50 steps an epoch (and 200 rows), as
        :class:`~skl_sae.SparseAutoencoderTransformer`'s.

    learning_rate_init : float, default=1e-2
        Step size of ``"adam"`` and ``"sgd"`` in every stage; why 1e-2
        rather than scikit-learn's MLP's 1e-3: :ref:`performance`.

    max_iter : int, default=200
        Maximum number of epochs of supervised training: of fine-tuning, or
        of the softmax layer alone when ``fine_tune=False``.

    pretrain_max_iter : int, default=20
        Epochs of pre-training for each autoencoder layer and, when
        ``fine_tune=True``, for the softmax layer before fine-tuning: a fixed
        budget, with no convergence check, since pre-training only has to
        give fine-tuning a good start (see :ref:`stacked_classifier`). 0
        skips pre-training: the encoders keep their random initial weights.

    fine_tune : bool, default=True
        Train the whole stack end to end after pre-training. False keeps the
        pre-trained encoders frozen and trains only the softmax layer.

    fine_tune_learning_rate : float or "auto", default="auto"
        Step size of ``"adam"`` and ``"sgd"`` in fine-tuning
        (``fine_tune_learning_rate_``); ``"auto"`` is ``learning_rate_init``,
        which the other stages take. A smaller step adjusts the pre-trained
        weights rather than leaving them, and pays when fine-tuning runs
        long: with the KL codes, ``learning_rate="constant"`` and ``(512,
        512)`` on MNIST (one seed, stopped by ``tol``) fine-tuning at 1e-3
        scored 0.9860 against 0.9808 at 1e-2 (the pre-trained features
        alone: 0.9823), and on the digits (4 splits x 3 seeds, ``(256,
        256)``, scaled) 0.9806 against 0.9787
        (a scaled ``MLPClassifier((256,))``: 0.9789). It is not the default
        because it loses where fine-tuning is short or the codes are exactly
        sparse: 20 epochs of ``partial_fit`` of ``(32, 16)`` on the digits
        scored 0.56 instead of above 0.8, and with TopK, BatchTopK and
        JumpReLU (``(32, 16)``, k=6) 0.924, 0.954 and 0.883 against 0.963,
        0.972 and 0.926.

    learning_rate : {"constant", "adaptive"}, default="adaptive"
        How the step size of ``"adam"`` and ``"sgd"`` moves in the
        supervised stage (fine-tuning, or the softmax layer alone with
        ``fine_tune=False``). ``"constant"`` keeps it. ``"adaptive"``
        divides it by 10 each time the loss (with ``early_stopping``, the
        held-out accuracy) has not improved by ``tol`` for more than
        ``n_iter_no_change // 2`` epochs in a row, twice, and then stops
        after more than ``n_iter_no_change`` such epochs at the last step
        size: as scikit-learn's MLP's ``"adaptive"`` (which divides by 5
        where training would stop, until the step falls below 1e-6) or
        torch's ``ReduceLROnPlateau``, so that fine-tuning ends with small
        steps that settle the weights instead of stopping where the large
        ones stall. Every ``fit`` (``warm_start`` too) starts again from
        ``fine_tune_learning_rate_``; ``partial_fit``, whose epochs check
        nothing, steps at it, never lowered. Ignored with ``"lbfgs"``.

        Why ``"adaptive"``: with ``(512, 512)`` on MNIST (3 seeds) the
        classifier scored 0.9871 against 0.9804 with ``"constant"`` (at a
        smaller constant step, 1e-3: 0.9860, one seed), in 435 s against 280
        (154 fine-tuning epochs against 79; one fit of 3 with
        ``input_dropout=0.2`` ran to ``max_iter``, which warns); on the
        digits (4 splits x 3 seeds) 0.9817 against 0.9787 with ``(256,
        256)``, 0.9813 against 0.9817 with ``(256, 128)``, 0.9804 against
        0.9796 with ``(64,)``, 0.9698 against 0.9730 with ``(32, 16)``.
        The dropout masks drawn since (other draws, a third of the cost)
        gave 0.9869 on MNIST and 0.9807 with ``(256, 256)`` on the digits.
        Unlike a smaller ``fine_tune_learning_rate``, it leaves short fits
        and the exactly sparse codes their large first steps (see
        :ref:`stacked_classifier`).

    dropout : float, default=0.2
        Probability that fine-tuning drops each hidden code of a training
        sample (Srivastava et al., 2014): the codes kept are scaled by ``1 /
        (1 - dropout)``, so that inference, which drops none, sees codes of
        the same mean. The masks are drawn to 16 bits: the probability of
        keeping is a multiple of ``2**-16``, and a rate under ``2**-17``
        drops nothing. Not with ``fine_tune=False``, whose softmax layer
        trains on the inference codes. Why 0.2: on the digits (4 splits,
        ``(256, 256)``) 0.9761 without dropout, 0.9806 at 0.2, 0.9789 at
        0.5 (a scaled ``MLPClassifier((256,))``: 0.9789); on MNIST,
        ``(512, 512)``, within a tenth of a point either way (60 epochs:
        0.9793 at 0.2, 0.9805 without).

    input_dropout : float, default=0.0
        Probability that fine-tuning drops each input feature of a training
        sample (for sparse rows, each non-zero), the others scaled by ``1 /
        (1 - input_dropout)``: Srivastava et al.'s 0.2 on the inputs. It
        helps wide networks and hurts narrow ones, hence 0 by default: with
        ``learning_rate="adaptive"``, on the digits (4 splits x 3 seeds)
        0.2 scored 0.9841 against 0.9817 with ``(256, 256)`` and 0.9830
        against 0.9813 with ``(256, 128)``, but 0.9728 against 0.9804 with
        ``(64,)`` and 0.9569 against 0.9698 with ``(32, 16)``; on MNIST,
        ``(512, 512)``, 0.9881, 0.9880 and 0.9880 (seeds 0 to 2) against
        0.9871 without. Not with ``fine_tune=False``.

    adversarial_eps : float, default=0.25
        Size of the adversarial rows that fine-tuning also trains on, in
        standard deviations of each input feature (those of the first fit's
        data; ``warm_start`` and ``partial_fit`` keep them). Each training
        batch is moved by ``adversarial_eps`` deviations of each feature
        along the sign of the gradient of its loss with respect to the
        inputs (the fast gradient sign method, Goodfellow et al., 2015), and
        fine-tuning minimises the mean of the clean and the moved batch's
        cross-entropy, each pass with its own dropout masks. A feature
        constant in the training data is not moved. The network learns an
        output less sensitive to such moves near the training samples: a
        regularisation beyond dropout and weight decay, at the cost of two
        passes a step instead of one (fine-tuning takes about twice as
        long). 0 trains on the clean rows alone. Sparse rows train on the
        clean rows (moving their zeros would make them dense). With
        ``input_dropout``, the gradient is that of the inputs the network
        read, a dropped input's taken at 0. A first ``partial_fit`` takes the
        deviations of its own rows: give it a representative chunk. Not with
        ``fine_tune=False``. Why 0.25: with ``(512, 512)`` on MNIST (3
        seeds) 0.9904 against 0.9869 without (0.9886 at 0.5, one seed;
        ``MLPClassifier((512, 512))``: 0.9845); on the digits (4 splits x 3
        seeds) 0.9878 against 0.9807 with ``(256, 256)``, 0.9848 against
        0.9798 with ``(64,)`` and 0.9746 against 0.9724 with ``(32, 16)``,
        where 0.5 gave 0.9874, 0.9835 and 0.9659 (too far for the narrow
        networks); on three small tables, within the spread between splits
        (see :ref:`stacked_classifier`).

    tol : float, default=1e-4
        Minimal decrease of the supervised loss, the cross-entropy in nats,
        that counts as an improvement (with ``early_stopping``, minimal rise
        of the held-out accuracy): scikit-learn's MLP's rule and default.

    n_iter_no_change : int, default=10
        Supervised training stops after more than this many epochs in a row
        without improvement (with ``learning_rate="adaptive"``, at its last
        step size).

    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the data before
        pre-training, stop the supervised training when the accuracy on it
        (``validation_scores_``) stops improving by ``tol``, and keep the
        best weights, as scikit-learn's MLP does.

    {{validation_fraction}}

    {{shuffle}}

    {{random_state}}

    verbose : bool, default=False
        Print one line per epoch of every stage.

    warm_start : bool, default=False
        If True, ``fit`` continues the supervised training from the fitted
        network (no new pre-training) and appends to ``loss_curve_``; the
        network and its codes (``hidden_layer_sizes``, ``activation``,
        ``sparsity``, ``k`` where the code takes it, ``code_params``) cannot
        change in between.

    {{device}}

    {{matmul_precision}}

    {{compute_dtype}}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    fine_tune_learning_rate_ : float or None
        The step size of fine-tuning (``fine_tune_learning_rate`` with
        ``"auto"`` resolved); None with ``fine_tune=False``.

    n_layers_ : int
        Number of layers, input and output included (as in
        :class:`~sklearn.neural_network.MLPClassifier`).

    n_outputs_ : int
        Number of output units (``n_classes``).

    hidden_layer_sizes_ : list of int
        Units of each hidden layer: ``hidden_layer_sizes`` with the
        ``"auto"`` entries resolved.

    structure_curves_ : list of list of int
        Units of each hidden layer during each of its pre-training epochs;
        constant for a layer of fixed size.

    coefs_ : list of ndarray
        Weight matrices, ``coefs_[i]`` of shape (units in layer i, units in
        layer i + 1): the pre-trained (and fine-tuned) encoders, then the
        softmax layer.

    intercepts_ : list of ndarray
        Bias vectors, ``intercepts_[i]`` of shape (units in layer i + 1,).

    thresholds_ : list of (ndarray or None)
        Inference thresholds of each hidden layer's code, bottom to top:
        ``thresholds_[i]`` of shape (units in layer i + 1,), or None where
        the code has none (a penalty's plain activation, for one). With ``coefs_`` and
        ``intercepts_`` they are the whole fitted network.

    code_params_ : dict
        The parameters of the hidden layers' code as fitted: ``k`` for a
        code that takes it, and the code class's own hyperparameters
        (``code_params`` over their defaults); empty for a code that has
        neither.

    loss_curve_ : list of float
        Supervised loss (cross-entropy plus weight decay) at each epoch of
        fine-tuning, or of the softmax layer when ``fine_tune=False``. With
        ``adversarial_eps > 0`` the cross-entropy of fine-tuning is the mean
        of the clean and the adversarial rows' (the clean rows' alone with
        ``solver="lbfgs"``, whose epochs are evaluated after the steps, and
        for sparse rows).

    best_loss_ : float
        Lowest supervised training loss (the minimum of ``loss_curve_``).

    validation_scores_ : list of float or None
        With ``early_stopping``, the accuracy on the held-out rows at each
        epoch of supervised training (as ``MLPClassifier``'s), which early
        stopping maximises; None otherwise.

    best_validation_score_ : float or None
        The validation score of the weights kept (the best epoch), or None.

    pretrain_loss_curves_ : list of list of float
        Pre-training loss of each autoencoder layer, bottom to top (empty
        with ``pretrain_max_iter=0``): the loss of
        :class:`~skl_sae.SparseAutoencoderTransformer`, whose reconstruction
        term is relative to the variance of the layer's input.

    softmax_loss_curve_ : list of float
        Loss (cross-entropy plus weight decay) of the softmax layer trained
        on the frozen pre-trained codes before fine-tuning; empty without
        fine-tuning (where ``loss_curve_`` is that stage) or pre-training.

    n_iter_ : int
        Number of epochs of supervised training.

    device_ : str
        Device the model was fitted on.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    SparseAutoencoderTransformer : One sparse autoencoder layer as a
        transformer.
    sklearn.neural_network.MLPClassifier : The same network without
        pre-training.

    References
    ----------
    Y. Bengio, P. Lamblin, D. Popovici, H. Larochelle, "Greedy layer-wise
    training of deep networks", NIPS 2006.

    A. Ng et al., "Stacked autoencoders", UFLDL tutorial, 2011.

    I. Goodfellow, J. Shlens, C. Szegedy, "Explaining and harnessing
    adversarial examples", ICLR 2015.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skl_sae import StackedSparseAutoencoderClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = StackedSparseAutoencoderClassifier(
    ...     (64, 32), pretrain_max_iter=5, max_iter=20, random_state=0
    ... ).fit(X / 16, y)
    >>> clf.predict(X[:3] / 16)
    array([0, 1, 2])
    >>> clf.predict_proba(X[:3] / 16).shape
    (3, 10)
    """

    #: Models pickled before ``adversarial_eps`` existed fine-tuned on the
    #: clean rows alone.
    _values_before_added: ClassVar[dict] = {
        **BaseSparseAutoencoder._values_before_added,
        "adversarial_eps": 0.0,
    }

    _parameter_constraints: dict = {
        **BaseSparseAutoencoder._parameter_constraints,
        **own_constraints(*OWN_PARAMS),
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "pretrain_max_iter": [Interval(Integral, 0, None, closed="left")],
        "fine_tune": ["boolean"],
        "fine_tune_learning_rate": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        "learning_rate": [StrOptions({"constant", "adaptive"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "input_dropout": [Interval(Real, 0, 1, closed="left")],
        "adversarial_eps": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        hidden_layer_sizes=(256, 256),
        *,
        max_components=None,
        sparsity="kl",
        sparsity_target=0.05,
        sparsity_weight=3.0,
        k=32,
        code_params=None,
        auxk_weight=1 / 32,
        alpha=1e-5,
        corruption=None,
        corruption_level=0.1,
        contractive_weight=0.0,
        activation="auto",
        tied_weights=False,
        solver="adam",
        batch_size="auto",
        learning_rate_init=1e-2,
        max_iter=200,
        pretrain_max_iter=20,
        fine_tune=True,
        fine_tune_learning_rate="auto",
        learning_rate="adaptive",
        dropout=0.2,
        input_dropout=0.0,
        adversarial_eps=0.25,
        tol=1e-4,
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
        self.hidden_layer_sizes = hidden_layer_sizes
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
        self.tied_weights = tied_weights
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.pretrain_max_iter = pretrain_max_iter
        self.fine_tune = fine_tune
        self.fine_tune_learning_rate = fine_tune_learning_rate
        self.learning_rate = learning_rate
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.adversarial_eps = adversarial_eps
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
    def fit(self, X, y):
        """Pre-train the layers, train the softmax layer, then fine-tune.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; sparse input stays sparse, batch by batch.
        y : array-like of shape (n_samples,)
            Class labels (integers, strings, ...).

        Returns
        -------
        self : StackedSparseAutoencoderClassifier
            The fitted classifier.
        """
        with self._transaction():
            continuing = self.warm_start and hasattr(self, "_history")
            X, y = self._validate_X_y(X, y, reset=not continuing, split=self.early_stopping)
            if not continuing:
                self.classes_ = np.unique(y)
            self._fit(X, y, continuing=continuing, incremental=False)
        return self

    @fit_in_namespace
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """One epoch of supervised training on ``X``, continuing the fitted state.

        The first call builds the network with one pre-training epoch per
        layer (and for the softmax layer) on its data; every call then runs
        one epoch of fine-tuning (of the softmax layer when
        ``fine_tune=False``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of a stream of training data.
        y : array-like of shape (n_samples,)
            Its labels.
        classes : array-like of shape (n_classes,), default=None
            All labels of the stream; required at the first call, and equal
            to ``classes_`` if given later.

        Returns
        -------
        self : StackedSparseAutoencoderClassifier
            The updated classifier.
        """
        with self._transaction():
            first_call = _check_partial_fit_first_call(self, classes)
            X, y = self._validate_X_y(X, y, reset=first_call, split=False)
            self._fit(X, y, continuing=not first_call, incremental=True)
        return self

    def _validate_X_y(self, X, y, *, reset, split):
        """``X`` and ``y`` validated; a memory map is streamed, except when
        a validation ``split`` is held out of it: then it is read whole."""
        if split and is_streamed(X):
            X = np.asarray(X)
        X, y = validate_rows(
            self, X, y, accept_sparse="csr", dtype=(np.float64, np.float32), reset=reset
        )
        check_classification_targets(y)
        return X, y

    def _encode_labels(self, y):
        if len(self.classes_) < 2:
            raise ValueError(
                f"The classifier needs samples of at least 2 classes; got only one class: "
                f"{self.classes_[0]!r}."
            )
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels not seen in the first fit or in classes: {unknown[:5]}."
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _fine_tune_learning_rate(self):
        """``fine_tune_learning_rate``, ``"auto"`` resolved: the other
        stages' step size."""
        if self.fine_tune_learning_rate == "auto":
            return self._learning_rate()
        return self.fine_tune_learning_rate

    def _fit(self, X, y, *, continuing, incremental):
        self._check_params()
        sizes, targets = self._sizes(), self._encode_labels(y)
        device = resolve_device(self.device)
        self.fine_tune_learning_rate_ = self._fine_tune_learning_rate() if self.fine_tune else None
        if self.fine_tune:
            schedule = self._schedule(
                name="Fine-tuning: ",
                learning_rate_init=self.fine_tune_learning_rate_,
                learning_rate=self.learning_rate,
            )
        else:
            schedule = self._schedule(name="Softmax: ", learning_rate=self.learning_rate)
        module = optimizer = history = None
        if continuing:
            self._check_architecture_unchanged()
            module, optimizer, history = self._copy_state(
                schedule, device, incremental, parameters=self._trainable_parameters
            )
        else:
            self._architecture = self._architecture_params()
        rng, generator = seeds = self._seeds(offset=0 if history is None else history.n_iter)
        X = as_dtype(
            X,
            parameter_dtype(module) if continuing else compute_dtype(self.compute_dtype, X.dtype),
        )
        validation = None
        if self.early_stopping and not incremental:
            # Held out before pre-training, so that no stage sees these rows.
            (X, targets), validation = split_validation(
                [X, targets], self.validation_fraction, rng, targets
            )
        epochs = min(1, self.pretrain_max_iter) if incremental else self.pretrain_max_iter
        n_stages = 1 if continuing else len(sizes) + int(self.fine_tune and epochs > 0) + 1
        task = begin_fit_task(self, n_stages, X, targets)
        with call_settings(self.matmul_precision):
            if module is None:
                module = self._pretrain(X, targets, sizes, device, seeds, epochs, task)
            last_stage = "fine-tune" if self.fine_tune else "softmax"
            n_epochs = 1 if incremental else self.max_iter
            loss = ClassifierLoss(
                alpha=self.alpha,
                frozen=not self.fine_tune,
                dropout=self.dropout,
                input_dropout=self.input_dropout,
                adversarial_eps=self.adversarial_eps,
                input_deviations=self._input_deviations(X, continuing, module),
            )
            if loss.drops:
                loss.generator = mask_generator(generator, device)
            with stage_hooks(task, last_stage, n_epochs, self, X, targets) as hooks:
                run = Run(
                    module,
                    loss,
                    [X, targets],
                    validation,
                    validation_loss_fn=misclassification_rate,
                    parameters=self._trainable_parameters(module),
                    optimizer=optimizer,
                    history=history,
                )
                optimizer, history = train_run(
                    schedule,
                    run,
                    device=device,
                    generator=generator,
                    incremental=incremental,
                    hooks=hooks,
                )
            if self.fine_tune:
                calibrate_codes(schedule, module.layers[:-1], X, generator)
        self.n_layers_, self.n_outputs_ = len(sizes) + 2, len(self.classes_)
        self._finish_fit(module, optimizer, history, device)
        end_task(task, self, X, targets)

    def _input_deviations(self, X, continuing, module):
        """Each input feature's standard deviation on the data of the first
        fit (continued fits keep it), a tensor of ``module``'s, which scales
        the adversarial rows' perturbation; None where fine-tuning trains on
        the clean rows alone (``adversarial_eps=0``, sparse rows, no
        fine-tuning)."""
        if not continuing:  # (a new fit forgets those of the one before)
            vars(self).pop("_feature_deviations", None)
        if not self.fine_tune or self.adversarial_eps == 0 or sp.issparse(X):
            return None
        if not hasattr(self, "_feature_deviations"):
            self._feature_deviations = np.sqrt(feature_variances(X))
        weight = next(module.parameters())
        return torch.as_tensor(self._feature_deviations, dtype=weight.dtype, device=weight.device)

    def _sizes(self):
        """``hidden_layer_sizes`` as a list of ints and ``"auto"``."""
        return layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes", auto=True)

    def _pretrain(self, X, targets, sizes, device, seeds, epochs, task):
        """Stages 1 and 2 (:func:`~._pretraining.pretrain_stack`), each a
        sub-task of the callback ``task``; returns the assembled network."""

        def layer_settings(depth):
            return self._layer_settings(
                device,
                max_components=self.max_components,
                max_iter=epochs,
                check_convergence=False,
                name=f"Layer {depth}: ",
            )

        softmax = None
        if self.fine_tune and epochs:
            softmax = self._schedule(max_iter=epochs, check_convergence=False, name="Softmax: ")
        stack = pretrain_stack(
            layer_settings,
            X,
            targets,
            sizes,
            n_classes=len(self.classes_),
            seeds=seeds,
            stage=lambda name, n_epochs, X, y: stage_hooks(task, name, n_epochs, self, X, y),
            softmax=softmax,
        )
        self._architecture["code_scales"] = stack.code_scales
        self.hidden_layer_sizes_, self.structure_curves_ = stack.sizes, stack.structure_curves
        self.pretrain_loss_curves_ = stack.loss_curves
        self.softmax_loss_curve_ = stack.softmax_loss_curve
        return stack.network

    def _trainable_parameters(self, module):
        if self.fine_tune:
            return list(module.parameters())
        return list(module.layers[-1].parameters())

    def _network(self, architecture):
        # tied_weights shapes the pre-training autoencoders only, not the
        # fitted network: warm_start may change it.
        return dense_network({**architecture, "tied_weights": self.tied_weights})

    def _loss_settings(self):
        return self._shared_loss_settings(
            contractive_weight=self.contractive_weight,
            corruption=self.corruption,
            corruption_level=self.corruption_level,
        )

    def _shape_params(self):
        return {"hidden_layer_sizes": self._sizes()}

    def _validation_score(self, loss):
        return 1.0 - loss  # the accuracy

    def _export_weights(self, module):
        self.coefs_, self.intercepts_, self.thresholds_ = module.export_weights()

    def _module_from_weights(self):
        codes = [
            self._fitted_code(coef.shape[1], scale, thresholds, torch_dtype(coef.dtype))
            for coef, scale, thresholds in zip(
                self.coefs_, self._architecture["code_scales"], self.thresholds_, strict=False
            )
        ]
        return StackedNetwork.from_weights(self.coefs_, self.intercepts_, codes)

    # -- inference ----------------------------------------------------------

    def _forward(self, X, function):
        check_is_fitted(self)
        X = validate_rows(
            self, X, accept_sparse="csr", dtype=(np.float64, np.float32), reset=False
        )
        module = inference_module(self._get_module().eval(), X)
        width = max(max(p.shape) for p in module.parameters())
        return apply_in_batches(
            function(module),
            X,
            next(module.parameters()),
            width=width,
            matmul_precision=self.matmul_precision,
        )

    @method_in_namespace
    def decision_function(self, X):
        """Logits of the softmax layer.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            Logits per class; for two classes, the logit of ``classes_[1]``
            minus that of ``classes_[0]``.
        """
        logits = self._forward(X, lambda module: module)
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    @method_in_namespace
    def predict_proba(self, X):
        """Class probabilities: the softmax of the logits.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; rows sum to 1.
        """
        return self._forward(X, lambda module: _Then(module, torch.softmax))

    @method_in_namespace
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`; where a probability rounds to
        0, the log-softmax of the logits (finite).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            log_proba = np.log(proba)
        underflow = np.isneginf(log_proba)  # probabilities that round to 0
        if underflow.any():
            exact = self._forward(X, lambda module: _Then(module, torch.log_softmax))
            log_proba[underflow] = exact[underflow]
        return log_proba

    @method_in_namespace
    def predict(self, X):
        """Most probable class of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        logits = self._forward(X, lambda module: module)
        return to_numpy(self.classes_)[np.argmax(logits, axis=1)]

    @method_in_namespace
    def transform(self, X):
        """Codes of the top hidden layer, e.g. to feed another model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        codes : ndarray of shape (n_samples, `hidden_layer_sizes_[-1]`)
            Top hidden codes, in the dtype of ``X``.
        """
        return self._forward(X, lambda module: module.encode)

    @property
    def _n_features_out(self):
        return self.coefs_[-1].shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.array_api_support = True
        return tags


class _Then:
    """``module`` followed by ``function(..., dim=1)``."""

    def __init__(self, module, function):
        self.module, self.function = module, function

    def __call__(self, x):
        return self.function(self.module(x), dim=1)
