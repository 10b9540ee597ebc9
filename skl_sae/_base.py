"""What the estimators share as estimators.

Parameter constraints, seeds, the validation split, :meth:`BaseSparseAutoencoder._fit_layer`
(the one method that fits one autoencoder layer, for the transformer and for
each pre-training layer of the classifier), training through the one loop of
:mod:`._training`, the end of fit, architecture checks for ``warm_start``, the
all-or-nothing fit, and pickling through numpy.
"""

import collections.abc
import copy
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_consistent_length, validate_data

from ._batches import StreamedRows, inference_batch_rows, make_batches
from ._callbacks import CallbackSupportMixin, EpochTasks
from ._codes import CODES, DeadLatents, calibrate_codes_, code_class, make_code
from ._data import (
    check_streamed,
    data_range,
    geometric_median,
    in_unit_interval,
    is_streamed,
    mean_feature_variance,
    numpy_dtype,
    torch_dtype,
)
from ._distributed import (
    AveragedGradients,
    ShardedBatches,
    all_reduce_,
    broadcast_seed,
    check_same_data,
    local_rows,
    process_group,
)
from ._losses import (
    SPARSITY_PENALTIES,
    AutoencoderLoss,
    CodeStatistics,
    reconstruction_objective,
)
from ._modules import SparseAutoencoder
from ._structure import StructureLearning, initial_components, resolve_max_components
from ._training import EpochHook, History, fit_loop, make_optimizer

_TORCH_ATTRIBUTES = ("_module", "_optimizer", "_dead_latents")

#: The most memory that one dense training batch of ``batch_size="auto"`` may
#: take: rows of wide data are fewer (and one batch's activations, outputs and
#: gradients take about ten times this).
AUTO_BATCH_BYTES = 16 * 2**20


class _TableKeys(collections.abc.Set):
    """The keys of some tables as one live set: a variant registered in a
    table after import is accepted by the parameter validation."""

    def __init__(self, *tables):
        self._tables = tables

    def __contains__(self, name):
        return any(name in table for table in self._tables)

    def __iter__(self):
        return iter(sorted(set().union(*self._tables)))

    def __len__(self):
        return len(set().union(*self._tables))

    @classmethod
    def _from_iterable(cls, iterable):
        return set(iterable)


def resolve_output_activation(output_activation, X, exactly_sparse=False):
    """``"auto"`` becomes ``"sigmoid"`` for data in [0, 1], else ``"identity"``.

    Exactly sparse codes always get ``"identity"``: a linear decoder of
    unit-norm atoms, as they were designed for. Behind a sigmoid output AuxK
    cannot revive dead units, whose residuals the saturated outputs hide.
    """
    if output_activation != "auto":
        return output_activation
    return "sigmoid" if in_unit_interval(X) and not exactly_sparse else "identity"


def validate_rows(estimator, X, y="no_validation", *, reset=True, **check_params):
    """scikit-learn's ``validate_data``, except that a memory map is not read.

    Its shape, numeric dtype, features (against the fitted ones unless
    ``reset``) and file are checked here; NaN and infinity are checked batch
    by batch as the rows are read, with ``check_array``'s errors
    (:func:`~._data.read_rows`). ``y``, if given, is validated as usual.
    Returns ``X`` or ``(X, y)`` as ``validate_data`` does.
    """
    if not is_streamed(X):
        return validate_data(estimator, X, y, reset=reset, **check_params)
    check_memory_map(X)
    validate_data(estimator, X, skip_check_array=True, reset=reset)
    if isinstance(y, str) and y == "no_validation":
        return X
    y = validate_data(estimator, y=y, reset=False)
    check_consistent_length(X, y)
    return X, y


def check_memory_map(X):
    """The checks of ``check_array`` that need no read of the memory map ``X``."""
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D memory map, got one of shape {X.shape}.")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"A memory map of dtype {X.dtype} is not numeric data.")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"Found array with {X.shape[0]} sample(s) and {X.shape[1]} feature(s) "
            f"(shape={X.shape}) while a minimum of 1 of each is required."
        )
    check_streamed(X)


@contextmanager
def transaction(estimator):
    """Leave ``estimator``'s attributes exactly as they were if the block
    raises anything, ``KeyboardInterrupt`` included: a failed first fit
    leaves it unfitted, a failed refit leaves the fitted model. Fitting must
    replace attributes, not mutate the objects they hold."""
    saved = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(saved)
        raise


def _as_numpy(value):
    """``value`` with its tensors (in dicts, lists and tuples) as numpy arrays."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {key: _as_numpy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_as_numpy(item) for item in value)
    return value


def _as_tensors(value):
    """The inverse of :func:`_as_numpy`."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, dict):
        return {key: _as_tensors(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_as_tensors(item) for item in value)
    return value


def as_dtype(X, dtype):
    """``X`` in ``dtype``; a memory map stays as it is, converted batch by batch."""
    return X if is_streamed(X) or isinstance(X, StreamedRows) else X.astype(dtype, copy=False)


class _UnitNormDecoder(EpochHook):
    """Keeps the decoder columns of an autoencoder at unit norm: the part of
    the gradient along each column is removed before the step, and the
    columns are rescaled after it."""

    def before_step(self, module):
        module.remove_parallel_gradient_()

    def after_step(self, module):
        module.normalize_decoder_()


@dataclass
class LayerFit:
    """One fitted autoencoder layer and what continuing its training needs."""

    module: SparseAutoencoder
    scale: float
    """Mean feature variance of the first data it was fitted on: the loss scale."""
    optimizer: object | None = None
    """From :func:`~._training.make_optimizer`."""
    history: History | None = None
    dead_latents: DeadLatents | None = None
    statistics: CodeStatistics | None = None
    """What the codes did in the last epoch (when asked for)."""
    structure: dict | None = None
    """Structure learning's state (see :class:`~._structure.StructureLearning`);
    None for a layer of fixed size."""


class BaseSparseAutoencoder(CallbackSupportMixin, BaseEstimator):
    """Parameters and machinery shared by the sparse autoencoder estimators.

    Subclasses state their own ``__init__`` and ``fit``, and define
    ``_export_weights(module)``, ``_module_from_arrays()``,
    ``_shape_params()`` (what the network's shape depends on besides the
    code) and ``_validation_score(loss)``.
    """

    _parameter_constraints: dict = {
        "sparsity": [StrOptions(_TableKeys(CODES, SPARSITY_PENALTIES)), None],
        "k": [Interval(Integral, 1, None, closed="left")],
        "max_components": [Interval(Integral, 1, None, closed="left"), None],
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
        "device": [str, torch.device],
    }

    # -- checks and small resolutions ---------------------------------------

    def _activation(self):
        """``activation`` with ``"auto"`` resolved: sigmoid units for the KL
        penalty and the plain autoencoder, relu for L1 and the sparse codes."""
        if self.activation != "auto":
            return self.activation
        return "sigmoid" if self.sparsity in ("kl", None) else "relu"

    def _check_params(self):
        """Each parameter's constraints, then the checks that involve more
        than one parameter. (``_fit_context`` skips the former for a
        ``partial_fit`` that continues a fitted model, whose parameters may
        have been set since.)"""
        self._validate_params()
        if self.sparsity == "kl" and self._activation() != "sigmoid":
            raise ValueError(
                "sparsity='kl' compares mean activations with sparsity_target and "
                f"needs activation='sigmoid', got activation={self.activation!r}; "
                "use sparsity='l1' with 'relu'."
            )
        if self.corruption == "mask" and self.corruption_level >= 1:
            raise ValueError(
                "corruption='mask' zeroes a fraction corruption_level of the inputs, which "
                f"must be below 1; got corruption_level={self.corruption_level}."
            )

    @property
    def _exactly_sparse(self):
        """Whether ``sparsity`` selects an exactly sparse code (TopK and kin)."""
        return code_class(self.sparsity).exactly_sparse

    def _batch_size(self, shape, dtype):
        """Rows per batch of data of ``shape`` computed in ``dtype``.

        ``"auto"``: ``min(200, n_samples)`` for the minibatch solvers (as
        scikit-learn's MLP), all rows for L-BFGS (whose step sums the loss of every batch),
        and in both cases no more rows than a dense batch of
        :data:`AUTO_BATCH_BYTES` holds, so that wide data (a TF-IDF of 50,000
        terms) train in bounded memory.
        """
        n_samples, width = shape[0], int(np.prod(shape[1:]))
        if self.batch_size != "auto":
            return min(self.batch_size, n_samples)
        widest = max(1, AUTO_BATCH_BYTES // (width * np.dtype(dtype).itemsize))
        if self.solver == "lbfgs":
            return min(n_samples, widest)
        return min(200, n_samples, widest)

    def _seeds(self, offset=0):
        """A numpy RNG and a local torch generator, both from ``random_state``.

        ``offset`` (the epochs run so far) gives each ``partial_fit`` call its
        own shuffling while staying reproducible.
        """
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max)) + offset
        if process_group() is not None and not isinstance(self.random_state, Integral):
            seed = broadcast_seed(seed)  # every rank starts from rank 0's seed
            rng = np.random.RandomState(seed)
        return rng, torch.Generator().manual_seed(seed)

    def _split_validation(self, arrays, rng, stratify=None):
        """Hold out ``validation_fraction`` of the rows for early stopping.

        From a memory map, a random ``validation_fraction`` of 64 contiguous
        chunks of rows is held out (:meth:`StreamedRows.split`), not
        stratified, so that neither part is read before training.
        """
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
        if is_streamed(arrays[0]):
            train, validation = StreamedRows(arrays).split(self.validation_fraction, rng)
            return [train], [validation]
        parts = train_test_split(*arrays, test_size=n_val, random_state=rng, stratify=stratify)
        return parts[0::2], parts[1::2]

    # -- fitting one autoencoder layer ----------------------------------------

    def _fit_layer(
        self,
        X,
        n_components,
        *,
        device,
        rng,
        generator,
        output_activation,
        previous=None,
        observed=None,
        incremental=False,
        max_iter=None,
        early_stopping=None,
        check_convergence=True,
        statistics=False,
        name="",
        task=None,
    ):
        """Fit one autoencoder layer on ``X`` with this estimator's loss.

        ``n_components="auto"`` learns the number of units from the data
        (:mod:`._structure`), up to the estimator's ``max_components``; a
        ``previous`` layer that was learning its structure goes on learning it.
        A new layer (``previous`` None) starts as its code family starts: the
        sparse codes with unit-norm decoder columns, the encoder as their
        transpose, and the geometric median of ``X``. A ``previous``
        :class:`LayerFit` (copies, for ``warm_start`` and ``partial_fit``)
        is trained further. The rest is as :meth:`_train`; codes that need it
        are calibrated after training. ``statistics`` records what the codes
        do during the last epoch. ``observed``, a boolean mask of ``X``'s
        shape, travels with ``X`` through the batches (and the validation
        split): the loss and the loss scale count its entries only (see
        :class:`~._losses.AutoencoderLoss`). Returns a :class:`LayerFit`.
        """
        exactly_sparse = self._exactly_sparse
        structure = None
        if previous is None:
            dtype = torch_dtype(X.dtype)
            X = as_dtype(X, numpy_dtype(dtype))
            scale = mean_feature_variance(X, observed)
            if n_components == "auto":
                max_components = self._max_components(X.shape[1])
                structure = StructureLearning.new_state(max_components)
                n_components = initial_components(X, max_components, rng)
            module = self._new_module(
                X.shape[1], n_components, output_activation, scale, generator, dtype
            )
            if exactly_sparse:
                module.center_(torch.as_tensor(geometric_median(X), dtype=dtype))
            layer = LayerFit(module.to(device), scale, structure=structure)
        else:
            layer = previous
            X = as_dtype(X, numpy_dtype(next(layer.module.parameters()).dtype))
        n_components = layer.module.n_components
        if layer.dead_latents is not None:  # counts survive partial_fit calls
            layer.dead_latents.to_(device)
        elif exactly_sparse and self.auxk_weight > 0:
            rows = X.shape[0] * layer.module.rows_per_sample  # rows of codes an epoch
            layer.dead_latents = DeadLatents(n_components, rows, device)
        noise = self._corruption_generator(generator, device)
        early_stopping = self.early_stopping if early_stopping is None else early_stopping
        train, validation = ([X] if observed is None else [X, observed]), None
        if early_stopping and not incremental:
            train, validation = self._split_validation(train, rng)
        if statistics or layer.structure is not None:
            n_rows, group = train[0].shape[0], process_group()
            if group is not None:  # this rank's share of each epoch
                dtype = numpy_dtype(next(layer.module.parameters()).dtype)
                batch_size = self._batch_size(train[0].shape, dtype)
                n_rows = local_rows(n_rows, batch_size, *group)
            layer.statistics = CodeStatistics(
                n_components, n_rows, device, information=layer.structure is not None
            )
        loss_fn = AutoencoderLoss(
            layer.scale,
            activation=self._activation(),
            sparsity=self.sparsity,
            sparsity_target=self.sparsity_target,
            sparsity_weight=self.sparsity_weight,
            alpha=self.alpha,
            contractive_weight=getattr(self, "contractive_weight", 0.0),
            corruption=self.corruption,
            corruption_level=self.corruption_level,
            generator=noise,
            bounds=data_range(X),
            auxk_weight=self.auxk_weight,
            dead_latents=layer.dead_latents,
            report_auxiliary=self.solver == "lbfgs",
            statistics=layer.statistics,
            penalty_units=None if layer.structure is None else layer.structure["penalty_units"],
        )
        hooks = [_UnitNormDecoder()] if exactly_sparse else []
        structure = None
        if layer.structure is not None:
            structure = self._structure_learning(layer, loss_fn, generator)
            hooks.append(structure)
        layer.optimizer, layer.history = self._train(
            layer.module,
            loss_fn,
            train,
            validation=validation,
            device=device,
            generator=generator,
            optimizer=layer.optimizer,
            history=layer.history,
            incremental=incremental,
            max_iter=max_iter,
            validation_loss_fn=reconstruction_objective(layer.scale),
            check_convergence=check_convergence,
            hooks=hooks,
            name=name,
            task=task,
            task_data=train[:1] if observed is not None else None,
        )
        if structure is not None:
            structure.finish(layer.module)
        if layer.statistics is not None and process_group() is not None:
            layer.statistics.reduce_(all_reduce_)
        self._calibrate_codes([layer.module.encoder], X, generator)
        return layer

    def _new_module(self, n_features, n_components, output_activation, scale, generator, dtype):
        """The network of a new layer: a :class:`~._modules.SparseAutoencoder`
        as its code family starts it (``scale``: the data's mean feature
        variance)."""
        return SparseAutoencoder(
            n_features,
            n_components,
            activation=self._activation(),
            output_activation=output_activation,
            tied_weights=self.tied_weights,
            code=self._new_code(n_components, scale**0.5, dtype),
            unit_norm_decoder=self._exactly_sparse,
            generator=generator,
            dtype=dtype,
        )

    def _max_components(self, n_features):
        """``max_components`` resolved for data of ``n_features`` columns."""
        return resolve_max_components(getattr(self, "max_components", None), n_features)

    def _structure_learning(self, layer, loss_fn, generator):
        """The epoch hook that learns ``layer``'s number of units. Its
        optimizer is built here, so that the hook can resize its state."""
        if layer.optimizer is None:
            layer.optimizer = make_optimizer(
                self.solver, layer.module.parameters(), self.learning_rate_init
            )
        return StructureLearning(
            layer.statistics,
            layer.scale,
            self._max_components(layer.module.n_features),
            layer.structure,
            generator,
            optimizer=layer.optimizer,
            dead_latents=layer.dead_latents,
            loss=loss_fn,
            reduce=all_reduce_ if process_group() is not None else None,
        )

    def _calibrate_codes(self, layers, X, generator):
        """Calibrate the codes of ``layers`` (applied in turn to ``X``) that
        need it, on shuffled batches as in training (BatchTopK's threshold:
        also when untrained, so that none is NaN)."""
        if not any(layer.code.needs_calibration for layer in layers):
            return
        parameter = layers[0].weight
        batches = make_batches(
            [X],
            batch_size=self._batch_size(X.shape, numpy_dtype(parameter.dtype)),
            device=parameter.device,
            dtype=numpy_dtype(parameter.dtype),
        )
        calibrate_codes_(
            layers, lambda: (x.to(parameter.dtype) for (x,) in batches.epoch(generator))
        )

    def _new_code(self, n_units, scale=1.0, dtype=None):
        """The code module of a new hidden layer (see :func:`make_code`)."""
        return make_code(
            self.sparsity, self._activation(), n_units, k=self.k, scale=scale, dtype=dtype
        )

    def _corruption_generator(self, generator, device):
        """A generator on ``device`` for the corruption noise, seeded from
        ``generator``; None (and nothing drawn) without corruption."""
        if self.corruption is None:
            return None
        seed = int(torch.randint(2**62, (1,), generator=generator))
        return torch.Generator(device=device).manual_seed(seed)

    # -- the training loop ----------------------------------------------------

    def _train(
        self,
        module,
        loss_fn,
        arrays,
        *,
        device,
        generator,
        validation=None,
        optimizer=None,
        history=None,
        incremental=False,
        max_iter=None,
        parameters=None,
        validation_loss_fn=None,
        check_convergence=True,
        hooks=(),
        name="",
        task=None,
        task_data=None,
    ):
        """Fit ``module`` on ``arrays`` through :func:`fit_loop`.

        ``incremental`` runs one epoch without convergence checks
        (``partial_fit``). ``max_iter`` defaults to the estimator's;
        ``parameters`` (default: all of ``module``'s) are what a new optimizer
        updates; early stopping monitors ``validation_loss_fn`` (default:
        ``loss_fn``) on the ``validation`` arrays, if given. A continued
        ``history`` keeps its curves but starts a new search for the best
        epoch. ``hooks`` are the loop's epoch hooks; each epoch also becomes a
        sub-task of the callback ``task`` if given, which sees ``task_data``
        (default: the first two of ``arrays``, as ``X`` and ``y``). Returns ``(optimizer,
        history)``.
        """
        max_iter = self.max_iter if max_iter is None else max_iter
        dtype = numpy_dtype(next(module.parameters()).dtype)
        validation_batches = None
        if validation is not None:
            n_rows = inference_batch_rows(validation[0].shape[1], dtype.itemsize)
            validation_batches = make_batches(
                validation, batch_size=n_rows, device=device, dtype=dtype
            )
        batches = make_batches(
            arrays, batch_size=self._batch_size(arrays[0].shape, dtype), device=device, dtype=dtype
        )
        group = process_group()
        if group is not None:
            if self.solver == "lbfgs":
                raise ValueError(
                    "solver='lbfgs' takes full-batch steps that torch.distributed does not "
                    "share here; use solver='adam' or 'sgd' in a process group."
                )
            check_same_data(arrays[0].shape)
            batches = ShardedBatches(batches, *group)
            hooks = [AveragedGradients(batches), *hooks]
            if validation_batches is not None:
                validation_batches = ShardedBatches(validation_batches, *group)
        if optimizer is None:
            parameters = module.parameters() if parameters is None else parameters
            optimizer = make_optimizer(self.solver, parameters, self.learning_rate_init)
        if history is not None and not incremental:
            history.best_loss, history.no_improvement_count = np.inf, 0
        if task is not None:
            hooks = [
                *hooks,
                EpochTasks(task, self, *(arrays[:2] if task_data is None else task_data)),
            ]
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
            hooks=hooks,
            check_convergence=check_convergence and not incremental,
            name=name,
        )
        return optimizer, history

    def _transaction(self):
        """Leave the estimator exactly as it was if the block raises."""
        return transaction(self)

    def _copy_state(self, device, incremental, parameters=None):
        """Copies of the fitted module (on ``device``), of its history and,
        for ``incremental`` training, of its optimizer's state.

        Training works on the copies so that a failure leaves the fitted model
        untouched. ``parameters(module)`` lists what the optimizer updates
        (default: all parameters). Returns ``(module, optimizer, history)``.
        """
        module = copy.deepcopy(self._get_module()).to(device)
        history = copy.deepcopy(self._history)
        saved = self._optimizer_state() if incremental else None
        if saved is None:
            return module, None, history
        kind, state = saved
        trainable = module.parameters() if parameters is None else parameters(module)
        copied = make_optimizer(self.solver, trainable, self.learning_rate_init)
        if type(copied).__name__ != kind:  # the solver was changed: start afresh
            return module, None, history
        try:
            copied.load_state_dict(state)
        except ValueError:  # other parameters are trained now: start afresh
            return module, None, history
        return module, copied, history

    def _optimizer_state(self):
        """``(class name, state dict)`` of the fitted optimizer, live or
        unpickled (its tensors were pickled as numpy arrays); None if none."""
        optimizer = getattr(self, "_optimizer", None)
        if optimizer is not None:
            return type(optimizer).__name__, optimizer.state_dict()
        saved = getattr(self, "_pickled_optimizer", None)
        return None if saved is None else (saved[0], _as_tensors(saved[1]))

    def _fitted_dead_latents(self):
        """A copy of the AuxK dead-unit counts, live or unpickled; None if none."""
        dead_latents = getattr(self, "_dead_latents", None)
        if dead_latents is None and getattr(self, "_pickled_dead_latents", None) is not None:
            dead_after, counts = self._pickled_dead_latents
            dead_latents = DeadLatents(len(counts), dead_after, "cpu")
            dead_latents.samples_since_fired = torch.from_numpy(counts.copy())
        return copy.deepcopy(dead_latents)

    # -- the network's shape --------------------------------------------------

    def _architecture_params(self):
        """What the network's shape depends on: the parameters that
        ``warm_start`` cannot change, and the resolved hidden activation."""
        code = code_class(self.sparsity)
        return {
            **self._shape_params(),
            "activation": self.activation,
            "sparsity": self.sparsity,
            "hidden_activation": self._activation(),
            **{name: getattr(self, name) for name in code.estimator_params},
        }

    def _check_architecture_unchanged(self):
        current = self._architecture_params()
        fitted = {name: self._architecture.get(name) for name in current}
        changed = {name: value for name, value in fitted.items() if current[name] != value}
        if changed:
            raise ValueError(
                "warm_start and partial_fit continue the fitted network, whose "
                f"{', '.join(changed)} cannot change (fitted with {changed}); "
                "set warm_start=False or refit a clone."
            )

    def _fitted_code(self, n_units, scale, thresholds, dtype):
        """The code module of a fitted layer, rebuilt from the fitted
        architecture and exported ``thresholds``."""
        architecture = self._architecture
        code = make_code(
            architecture["sparsity"],
            architecture["hidden_activation"],
            n_units,
            k=architecture.get("k"),
            scale=scale,
            dtype=dtype,
        )
        if thresholds is not None:
            code.load_thresholds_(thresholds)
        return code

    # -- the end of fit -------------------------------------------------------

    def _finish_fit(self, module, optimizer, history, device):
        """Keep the trained state and set the fitted attributes that every
        estimator shares."""
        self._module, self._optimizer, self._history = module, optimizer, history
        for unpickled in ("_pickled_optimizer", "_pickled_dead_latents"):  # superseded
            vars(self).pop(unpickled, None)
        self.device_ = str(device)
        self._export_weights(module)
        self.loss_curve_ = list(history.loss_curve)
        self.best_loss_ = float(min(history.loss_curve)) if history.loss_curve else np.inf
        self.validation_scores_ = None
        self.best_validation_score_ = None
        if history.validation_loss_curve:
            self.validation_scores_ = [
                self._validation_score(loss) for loss in history.validation_loss_curve
            ]
            self.best_validation_score_ = max(self.validation_scores_)
        self.n_iter_ = history.n_iter

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
        """Numpy arrays, plain values and public classes only: the torch
        state is rebuilt from the exported weights, the optimizer's state and
        the AuxK counts (what ``partial_fit`` continues from) from arrays."""
        state = super().__getstate__()
        state = {k: v for k, v in state.items() if k not in _TORCH_ATTRIBUTES}
        if isinstance(state.get("_history"), History):
            state["_history"] = state["_history"].to_dict()
        optimizer = self._optimizer_state()
        if optimizer is not None:
            state["_pickled_optimizer"] = (optimizer[0], _as_numpy(optimizer[1]))
        dead_latents = getattr(self, "_dead_latents", None)
        if dead_latents is not None:
            counts = dead_latents.samples_since_fired.cpu().numpy()
            state["_pickled_dead_latents"] = (dead_latents.dead_after, counts)
        return state

    def __setstate__(self, state):
        if isinstance(state.get("_history"), dict):
            state = {**state, "_history": History(**state["_history"])}
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.non_deterministic = False
        return tags
