"""What the estimators share: parameters, device, threads, data, pickling."""

import copy
import math
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.sparsefuncs import mean_variance_axis

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9 has no callbacks

    class CallbackSupportMixin:
        """Stands in for ``sklearn.callback.CallbackSupportMixin`` before 1.9."""


from ._codes import (
    SPARSE_CODES,
    BatchTopK,
    DeadLatents,
    JumpReLU,
    auxiliary_codes,
    make_code,
)
from ._losses import (
    SPARSITY_PENALTIES,
    auxk_loss,
    contractive_penalty,
    corrupt,
    reconstruction_loss,
    weight_decay,
)
from ._modules import SparseAutoencoder
from ._training import Batches, fit_loop, make_optimizer, to_tensor

#: Rows per batch when computing codes or scores: large enough to keep the
#: matrix multiplications efficient, small enough to bound memory.
INFERENCE_BATCH_SIZE = 8192

_TORCH_ATTRIBUTES = ("_module", "_optimizer", "_dead_latents")


def resolve_device(device):
    """Turn ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` into a torch device.

    Raises
    ------
    ValueError
        If the string names no device or CUDA is asked for but absent.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a device; use 'cpu', 'cuda', 'cuda:N' or 'auto'."
        ) from exc
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r} is not supported; use 'cpu', 'cuda' or 'auto'.")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available.")
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)."
        )
    return resolved


@contextmanager
def torch_threads():
    """Run torch with as many threads as OpenMP code of scikit-learn would.

    ``_openmp_effective_n_threads`` honours ``OMP_NUM_THREADS``, CPU quotas and
    the limits joblib sets in its workers (``cpu_count // n_jobs``), so that
    ``GridSearchCV(n_jobs=2)`` on two cores runs two single-threaded fits
    instead of oversubscribing them. The previous setting is restored after.
    """
    previous = torch.get_num_threads()
    wanted = max(1, _openmp_effective_n_threads())
    if wanted != previous:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if wanted != previous:
            torch.set_num_threads(previous)


def torch_dtype(dtype):
    """The torch dtype computing for numpy ``dtype``: float32 stays, else float64."""
    return torch.float32 if np.dtype(dtype) == np.float32 else torch.float64


def numpy_dtype(dtype):
    """The numpy dtype of torch ``dtype`` (float32 or float64)."""
    return np.float32 if dtype == torch.float32 else np.float64


@torch.no_grad()
def apply_in_batches(function, X, like):
    """``function`` applied to the rows of ``X`` (dense or sparse) in batches.

    The rows are computed in the dtype and on the device of the tensor
    ``like`` (a parameter of the model); the result is numpy in ``X``'s dtype.
    Rows travel to the device (and change dtype) one batch of
    ``INFERENCE_BATCH_SIZE`` at a time, and the results fill one array made
    for them, so that besides ``X`` and the result, memory holds one batch.
    """
    dtype = numpy_dtype(like.dtype)
    result = None
    with torch_threads():
        for start in range(0, X.shape[0], INFERENCE_BATCH_SIZE):
            rows = X[start : start + INFERENCE_BATCH_SIZE].astype(dtype, copy=False)
            out = function(to_tensor(rows, like.device)).cpu().numpy()
            if result is None:
                result = np.empty((X.shape[0], *out.shape[1:]), dtype=X.dtype)
            result[start : start + out.shape[0]] = out
    return result


@torch.no_grad()
def code_thresholds(code, n_units):
    """The inference thresholds of a code module as numpy, shape (n_units,):
    JumpReLU's per unit, BatchTopK's shared one repeated; None for others."""
    if isinstance(code, JumpReLU):
        return code.threshold.cpu().numpy().copy()
    if isinstance(code, BatchTopK):
        return np.full(n_units, code.threshold.item(), dtype=numpy_dtype(code.threshold.dtype))
    return None


@torch.no_grad()
def load_code_thresholds(code, thresholds):
    """Set the thresholds that :func:`code_thresholds` exported."""
    if isinstance(code, JumpReLU):
        code.log_threshold.copy_(torch.from_numpy(np.log(thresholds)))
    elif isinstance(code, BatchTopK):
        code.threshold.fill_(float(thresholds[0]))


@torch.no_grad()
def calibrate_thresholds_(layers, X, batch_size, generator):
    """Calibrate the BatchTopK codes of ``layers`` (applied in turn to ``X``)
    on shuffled batches as in training (``generator`` shuffles), bottom
    layer first; leaves the layers in eval mode."""
    for layer in layers:
        layer.eval()
    parameter = layers[0].weight
    batches = Batches([X], batch_size=batch_size, device=parameter.device)
    order = torch.randperm(X.shape[0], generator=generator)
    for depth, layer in enumerate(layers):
        if not isinstance(layer.code, BatchTopK):
            continue

        def pre_activations(x, below=layers[:depth], layer=layer):
            for lower in below:
                x = lower(x)
            return layer.pre_activations(x)

        layer.code.calibrate_(
            pre_activations(x.to(parameter.dtype)) for (x,) in batches.iterate(order)
        )


def mean_feature_variance(X):
    """Average per-feature variance of ``X`` (dense or sparse); 1 if it is 0."""
    if sp.issparse(X):
        variance = mean_variance_axis(X, axis=0)[1].mean()
    else:
        variance = X.var(axis=0).mean()
    variance = float(variance)
    return variance if variance > 0 else 1.0


def geometric_median(X, max_rows=10_000, max_iter=100, tol=1e-7):
    """The point minimising the summed Euclidean distances to the rows of ``X``.

    Weiszfeld's iterations from the mean, on at most ``max_rows`` evenly
    spaced rows (dense or sparse; sparse rows are never densified). Robust
    to outliers, unlike the mean; the decoder bias of the sparse codes starts
    from it (Gao et al., 2024).
    """
    rows = X[:: -(-X.shape[0] // max_rows)]
    if sp.issparse(rows):
        rows = rows.tocsr().astype(np.float64)
        squared_norms = np.asarray(rows.multiply(rows).sum(axis=1)).ravel()
    else:
        rows = np.asarray(rows, dtype=np.float64)
        squared_norms = np.einsum("ij,ij->i", rows, rows)
    median = np.asarray(rows.mean(axis=0)).ravel()
    for _ in range(max_iter):
        squared = squared_norms - 2 * (rows @ median) + median @ median
        weights = 1.0 / np.maximum(np.sqrt(np.maximum(squared, 0.0)), 1e-12)
        updated = np.asarray(rows.T @ weights).ravel() / weights.sum()
        moved = np.linalg.norm(updated - median)
        median = updated
        if moved <= tol * max(1.0, np.linalg.norm(median)):
            break
    return median


def data_range(X):
    """``(min, max)`` of the entries of ``X`` (dense or sparse, implicit zeros
    included)."""
    if sp.issparse(X):
        values = X.data
        if X.nnz < X.shape[0] * X.shape[1]:
            values = np.append(values, 0.0)
    else:
        values = X
    if values.size == 0:
        return 0.0, 0.0
    return float(values.min()), float(values.max())


def in_unit_interval(X):
    """Whether every entry of ``X`` (dense or sparse) lies in [0, 1]."""
    values = X.data if sp.issparse(X) else X
    return values.size == 0 or (values.min() >= 0 and values.max() <= 1)


def resolve_output_activation(output_activation, X, sparse_code=False):
    """``"auto"`` becomes ``"sigmoid"`` for data in [0, 1], else ``"identity"``.

    The sparse codes always get ``"identity"``: a linear decoder of unit-norm
    atoms, as they were designed for. Behind a sigmoid output AuxK cannot
    revive dead units, whose residuals the saturated outputs hide.
    """
    if output_activation != "auto":
        return output_activation
    return "sigmoid" if in_unit_interval(X) and not sparse_code else "identity"


def begin_fit_task(estimator, max_subtasks, X, y=None):
    """The root task of ``estimator``'s fit for scikit-learn's callbacks
    (``sklearn.callback``, 1.9+), begun; None where they do not exist.

    Within a ``Pipeline`` or a search, the root joins the enclosing
    estimator's task tree, so a ``ProgressBar`` set there shows it.
    """
    init = getattr(estimator, "_init_callback_context", None)
    if init is None:
        return None
    task = init(max_subtasks=max_subtasks)
    return task.call_on_fit_task_begin(estimator=estimator, X=X, y=y)


def end_task(task, estimator, X, y=None):
    """End ``task`` (if any); True if a callback asks to stop."""
    if task is None:
        return False
    return bool(task.call_on_fit_task_end(estimator=estimator, X=X, y=y))


@contextmanager
def stage_task(parent, name, n_epochs, estimator, X, y=None):
    """A sub-task ``name`` of ``parent`` for one training stage of at most
    ``n_epochs`` epochs (None without callbacks)."""
    if parent is None:
        yield None
        return
    task = parent.subcontext(task_name=name, max_subtasks=n_epochs)
    task.call_on_fit_task_begin(estimator=estimator, X=X, y=y)
    yield task
    task.call_on_fit_task_end(estimator=estimator, X=X, y=y)


class EpochTasks:
    """One callback task per epoch under ``parent``, for :func:`fit_loop`."""

    def __init__(self, parent, estimator, X, y=None):
        self.parent, self.estimator, self.X, self.y = parent, estimator, X, y
        self._task = None

    def begin(self):
        self._task = self.parent.subcontext(task_name="epoch")
        self._task.call_on_fit_task_begin(estimator=self.estimator, X=self.X, y=self.y)

    def end(self):
        return end_task(self._task, self.estimator, self.X, self.y)


class BaseSparseAutoencoder(CallbackSupportMixin, BaseEstimator):
    """Parameters and machinery shared by the sparse autoencoder estimators.

    Subclasses state their own ``__init__`` and ``fit``; this base trains
    autoencoder layers and classifiers through the one loop of ``_training``,
    resolves the device, seeds torch locally, and pickles through numpy.
    """

    _parameter_constraints: dict = {
        "sparsity": [StrOptions(set(SPARSITY_PENALTIES) | set(SPARSE_CODES)), None],
        "k": [Interval(Integral, 1, None, closed="left")],
        "auxk_weight": [Interval(Real, 0, None, closed="left")],
        "sparsity_target": [Interval(Real, 0, 1, closed="neither")],
        "sparsity_weight": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "corruption": [StrOptions({"mask", "gaussian"}), None],
        "corruption_level": [Interval(Real, 0, None, closed="left")],
        "contractive_weight": [Interval(Real, 0, None, closed="left")],
        "activation": [StrOptions({"auto", "sigmoid", "relu"})],
        "tied_weights": ["boolean"],
        "solver": [StrOptions({"adam", "sgd", "lbfgs"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "device": [str],
    }

    # -- checks and small resolutions ---------------------------------------

    def _activation(self):
        """``activation`` with ``"auto"`` resolved: sigmoid units for the KL
        penalty and the plain autoencoder, relu for L1 and the sparse codes."""
        if self.activation != "auto":
            return self.activation
        return "sigmoid" if self.sparsity in ("kl", None) else "relu"

    def _check_sparsity_activation(self):
        if self.sparsity == "kl" and self._activation() != "sigmoid":
            raise ValueError(
                "sparsity='kl' compares mean activations with sparsity_target and "
                f"needs activation='sigmoid', got activation={self.activation!r}; "
                "use sparsity='l1' with 'relu'."
            )

    @property
    def _sparse_code(self):
        """Whether ``sparsity`` is one of the sparse codes (TopK and kin)."""
        return self.sparsity in SPARSE_CODES

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            if self.solver == "lbfgs":
                return n_samples
            return min(256, max(32, n_samples // 50), n_samples)
        return min(self.batch_size, n_samples)

    def _seeds(self, offset=0):
        """A numpy RNG and a local torch generator, both from ``random_state``.

        ``offset`` (the epochs run so far) gives each ``partial_fit`` call its
        own shuffling while staying reproducible.
        """
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max)) + offset
        return rng, torch.Generator().manual_seed(seed)

    def _split_validation(self, arrays, rng, stratify=None):
        """Hold out ``validation_fraction`` of the rows for early stopping."""
        n_samples = arrays[0].shape[0]
        n_val = int(np.ceil(self.validation_fraction * n_samples))
        if n_val < 1 or n_samples - n_val < 1:
            raise ValueError(
                f"early_stopping needs at least 2 samples to hold out "
                f"validation_fraction={self.validation_fraction}; got n_samples={n_samples}."
            )
        if stratify is not None:
            _, counts = np.unique(stratify, return_counts=True)
            if counts.min() < 2 or n_val < len(counts) or n_samples - n_val < len(counts):
                stratify = None  # too few samples per class to stratify
        parts = train_test_split(*arrays, test_size=n_val, random_state=rng, stratify=stratify)
        return parts[0::2], parts[1::2]

    # -- training -----------------------------------------------------------

    def _autoencoder_loss(self, scale, generator=None, dead_latents=None, bounds=None):
        """``loss_fn(module, x)`` for an autoencoder layer with this model's penalties.

        In training mode the input is corrupted (``corruption``, drawn from
        ``generator``; Gaussian noise clipped to ``bounds``, the training
        data's range) and the clean ``x`` is the target; evaluation sees
        clean inputs. With a sparse code, the units that ``dead_latents``
        (a :class:`DeadLatents`, updated in place) finds dead are trained by
        the AuxK loss.
        """
        penalty = SPARSITY_PENALTIES.get(self.sparsity)
        beta, rho, alpha = self.sparsity_weight, self.sparsity_target, self.alpha
        corruption, level = self.corruption, self.corruption_level
        contractive, activation = self.contractive_weight, self._activation()
        auxk_weight = self.auxk_weight if dead_latents is not None else 0.0
        # L-BFGS's line search needs the value whose gradient it follows;
        # minibatch solvers report the model's own loss without AuxK.
        report_auxk = self.solver == "lbfgs"

        def loss_fn(module, x):
            noisy = x
            if corruption is not None and level > 0 and module.training:
                noisy = corrupt(x, corruption, level, generator, bounds)
            out = module(noisy)
            loss = reconstruction_loss(out.reconstruction, x, scale)
            if auxk_weight > 0 and module.training:
                auxiliary = auxk_weight * self._auxk_term(module, out, x, dead_latents)
                loss = loss + (auxiliary if report_auxk else auxiliary - auxiliary.detach())
            if penalty is not None and beta > 0:
                loss = loss + beta * penalty(out, rho)
            if contractive > 0:
                jacobian = contractive_penalty(out.codes, module.encoder_weight, activation)
                loss = loss + contractive * jacobian
            if alpha > 0:
                loss = loss + alpha * weight_decay(module.weights())
            return loss

        return loss_fn

    @staticmethod
    def _auxk_term(module, out, x, tracker):
        """The AuxK loss of Gao et al. (2024): the dead units' ``k_aux``
        largest codes (``k_aux`` = half the input width) reconstruct what the
        live codes missed; weighted by the share of ``k_aux`` that is dead."""
        tracker.update(module.encoder.code.firing(out.codes))
        dead = tracker.mask()
        n_dead = int(dead.sum())
        if n_dead == 0:
            return out.reconstruction.new_zeros(())
        k_aux = max(1, module.n_features // 2)
        aux = auxiliary_codes(out.pre_activations, dead, k_aux, module.encoder.activation)
        reconstruction = module.auxiliary_reconstruction(out, aux)
        return min(n_dead / k_aux, 1.0) * auxk_loss(reconstruction, out.reconstruction, x)

    def _new_dead_latents(self, n_units, n_samples, device):
        """A :class:`DeadLatents` for AuxK (dead after one epoch of
        ``n_samples``), or None when AuxK is off."""
        if not self._sparse_code or self.auxk_weight == 0:
            return None
        return DeadLatents(n_units, n_samples, device)

    def _check_corruption(self):
        if self.corruption == "mask" and self.corruption_level >= 1:
            raise ValueError(
                "corruption='mask' zeroes a fraction corruption_level of the inputs, which "
                f"must be below 1; got corruption_level={self.corruption_level}."
            )

    def _corruption_generator(self, generator, device):
        """A generator on ``device`` for the corruption noise, seeded from
        ``generator``; None (and nothing drawn) without corruption."""
        if self.corruption is None:
            return None
        seed = int(torch.randint(2**62, (1,), generator=generator))
        return torch.Generator(device=device).manual_seed(seed)

    @staticmethod
    def _reconstruction_loss(scale):
        """``loss_fn(module, x)``: the scaled reconstruction error alone, which
        early stopping monitors."""

        def loss_fn(module, x):
            return reconstruction_loss(module(x).reconstruction, x, scale)

        return loss_fn

    def _new_code(self, n_units, scale=1.0, dtype=None):
        """The code module of a hidden layer (see :func:`make_code`)."""
        return make_code(
            self.sparsity, self._activation(), n_units, k=self.k, scale=scale, dtype=dtype
        )

    def _new_autoencoder(
        self, X, n_components, dtype, device, generator, output_activation, code_scale
    ):
        """A fresh autoencoder for data ``X``.

        With a sparse code it follows the practice of Gao et al. (2024): unit
        norm decoder columns, the encoder as the decoder's transpose, and a
        start from the geometric median of ``X``. ``code_scale`` is the
        typical size of a pre-activation along a unit-norm direction: the
        square root of ``X``'s mean feature variance.
        """
        module = SparseAutoencoder(
            X.shape[1],
            n_components,
            activation=self._activation(),
            output_activation=output_activation,
            tied_weights=self.tied_weights,
            code=self._new_code(n_components, code_scale, dtype),
            unit_norm_decoder=self._sparse_code,
            generator=generator,
            dtype=dtype,
        )
        if self._sparse_code:
            module.center_(torch.as_tensor(geometric_median(X), dtype=dtype))
        return module.to(device)

    def _decoder_hooks(self):
        """``before_step`` and ``after_step`` of :func:`fit_loop` for an
        autoencoder: the sparse codes keep decoder columns at unit norm."""
        if not self._sparse_code:
            return {}
        return {
            "before_step": SparseAutoencoder.remove_parallel_gradient_,
            "after_step": SparseAutoencoder.normalize_decoder_,
        }

    def _train(
        self,
        module,
        loss_fn,
        arrays,
        *,
        device,
        rng,
        generator,
        optimizer=None,
        history=None,
        incremental=False,
        stratify=None,
        max_iter=None,
        early_stopping=None,
        parameters=None,
        validation_loss_fn=None,
        validation=None,
        check_convergence=True,
        callbacks=(),
        name="",
        hooks=None,
        task=None,
    ):
        """Fit ``module`` on ``arrays`` through :func:`fit_loop`.

        ``incremental`` runs one epoch without early stopping or convergence
        checks (``partial_fit``). ``max_iter`` and ``early_stopping`` default
        to the estimator's parameters; ``parameters`` (default: all of
        ``module``'s) are what the optimizer updates; ``validation_loss_fn``
        is what early stopping monitors (default: ``loss_fn``), on the
        ``validation`` arrays if given, else on a split of ``arrays``. A continued
        ``history`` keeps its curves but starts a new search for the best
        epoch. ``hooks`` holds ``before_step``/``after_step`` for the loop;
        each epoch becomes a sub-task of the callback ``task`` if given.
        Returns ``(optimizer, history)``.
        """
        max_iter = self.max_iter if max_iter is None else max_iter
        early_stopping = self.early_stopping if early_stopping is None else early_stopping
        validation_batches = None
        if early_stopping and not incremental:
            if validation is None:
                arrays, validation = self._split_validation(arrays, rng, stratify)
            validation_batches = Batches(
                validation, batch_size=INFERENCE_BATCH_SIZE, device=device
            )
        batches = Batches(arrays, batch_size=self._batch_size(arrays[0].shape[0]), device=device)
        if optimizer is None:
            parameters = module.parameters() if parameters is None else parameters
            optimizer = make_optimizer(self.solver, parameters, self.learning_rate_init)
        if history is not None and not incremental:
            history.best_loss, history.no_improvement_count = math.inf, 0
        history = fit_loop(
            module,
            loss_fn,
            batches,
            optimizer,
            max_iter=1 if incremental else max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            validation_batches=validation_batches,
            validation_loss_fn=validation_loss_fn,
            shuffle=self.shuffle,
            generator=generator,
            history=history,
            verbose=self.verbose,
            callbacks=callbacks,
            check_convergence=check_convergence and not incremental,
            name=name,
            epoch_tasks=None if task is None else EpochTasks(task, self, *arrays[:2]),
            **(hooks or {}),
        )
        history.best_state = None
        return optimizer, history

    @contextmanager
    def _transaction(self):
        """Leave the estimator exactly as it was if the block raises."""
        saved = dict(vars(self))
        try:
            yield
        except BaseException:
            vars(self).clear()
            vars(self).update(saved)
            raise

    def _copy_state(self, module, optimizer=None, device=None, parameters=None):
        """Copies of a fitted module (on ``device``) and of its optimizer's state.

        Training works on the copies so that a failure leaves the fitted model
        untouched. ``parameters(module)`` lists what the optimizer updates
        (default: all parameters).
        """
        module = copy.deepcopy(module).to(device)
        if optimizer is None:
            return module, None
        trainable = module.parameters() if parameters is None else parameters(module)
        copied = make_optimizer(self.solver, trainable, self.learning_rate_init)
        if type(copied) is not type(optimizer):  # the solver was changed: start afresh
            return module, None
        try:
            copied.load_state_dict(optimizer.state_dict())
        except ValueError:  # other parameters are trained now: start afresh
            return module, None
        return module, copied

    # -- device and pickling ------------------------------------------------

    def _get_module(self):
        """The fitted torch module, rebuilt from the numpy weights after unpickling.

        A model fitted on a GPU that is not present here is rebuilt on the CPU,
        with a warning.
        """
        module = getattr(self, "_module", None)
        if module is None:
            device = torch.device(self.device_)
            if device.type == "cuda" and not torch.cuda.is_available():
                warnings.warn(
                    f"This model was fitted on {self.device_!r}, which is not available "
                    "here; it runs on the CPU.",
                    UserWarning,
                    stacklevel=2,
                )
                device = torch.device("cpu")
            module = self._module = self._module_from_arrays().to(device)
        return module

    def __getstate__(self):
        state = super().__getstate__()
        state = {k: v for k, v in state.items() if k not in _TORCH_ATTRIBUTES}
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.non_deterministic = False
        return tags
