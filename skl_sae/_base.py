"""The estimator contract that every sparse autoencoder estimator fulfils.

:class:`BaseSparseAutoencoder` declares, as abstract methods, what a subclass
provides (its network, its loss terms, its public weights); it translates the
shared parameters once into the trainer's settings (:mod:`._trainer`), holds
seeds, the validation split, the all-or-nothing fit, the architecture checks
of ``warm_start`` and pickling through the public numpy weights.
"""

import copy
import dataclasses
from abc import ABC, abstractmethod
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from ._callbacks import CallbackSupportMixin, EpochTasks
from ._codes import code_class
from ._data import COMPUTE_DTYPES, data_range
from ._distributed import broadcast_seed, process_group
from ._losses import LossTerms, default_activation, penalty_of
from ._persistence import NumpyState, transaction
from ._runtime import MATMUL_PRECISIONS, resolve_device
from ._sklearn import Interval, StrOptions, validate_parameter_constraints
from ._trainer import (
    CodeSettings,
    LayerSettings,
    Schedule,
    as_dtype,
    fit_layer,
    parameter_dtype,
    resolve_learning_rate,
)
from ._validation import SPARSITIES, split_validation

#: Constraints of the parameters that only some estimators take; each takes
#: its own with :func:`own_constraints`.
_OPTIONAL_CONSTRAINTS = {
    "max_components": [Interval(Integral, 1, None, closed="left"), None],
    "corruption": [StrOptions({"mask", "gaussian"}), None],
    "corruption_level": [Interval(Real, 0, None, closed="left")],
    "contractive_weight": [Interval(Real, 0, None, closed="left")],
    "tied_weights": ["boolean"],
    "warm_start": ["boolean"],
}


def own_constraints(*names):
    """The constraints of the optional parameters ``names``."""
    return {name: _OPTIONAL_CONSTRAINTS[name] for name in names}


class BaseSparseAutoencoder(NumpyState, CallbackSupportMixin, BaseEstimator, ABC):
    """What the sparse autoencoder estimators share, and what each provides.

    A subclass declares its own ``__init__``, ``fit`` and the parameters
    beyond the shared ones below, and implements the abstract methods: its
    network (:meth:`_network`), its loss terms (:meth:`_loss_settings`),
    what its network's shape depends on (:meth:`_shape_params`), its public
    weights (:meth:`_export_weights`, :meth:`_module_from_weights`) and the
    score its early stopping reports (:meth:`_validation_score`).
    """

    _parameter_constraints: dict = {
        "sparsity": [StrOptions(SPARSITIES), None],
        "k": [Interval(Integral, 1, None, closed="left")],
        "code_params": [dict, None],
        "auxk_weight": [Interval(Real, 0, None, closed="left")],
        "sparsity_target": [Interval(Real, 0, 1, closed="neither")],
        "sparsity_weight": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "activation": [StrOptions({"auto", "sigmoid", "relu"})],
        "solver": [StrOptions({"adam", "sgd", "lbfgs"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [str, torch.device],
        "matmul_precision": [StrOptions(set(MATMUL_PRECISIONS))],
        "compute_dtype": [StrOptions(set(COMPUTE_DTYPES)), None],
    }

    #: What a parameter added since a model was pickled meant before it
    #: existed (see :class:`~._persistence.NumpyState`): networks computed in
    #: the data's dtype.
    _values_before_added: ClassVar[dict] = {"compute_dtype": None}

    # -- the contract ---------------------------------------------------------

    @abstractmethod
    def _network(self, architecture):
        """``network(n_features, n_units, *, output_activation, code,
        generator, dtype)``: builds this estimator's module for the
        ``architecture`` (:meth:`_architecture_params`)."""

    @abstractmethod
    def _loss_settings(self):
        """The :class:`~._losses.LossTerms` of this estimator's layers
        (see :meth:`_shared_loss_settings`)."""

    @abstractmethod
    def _shape_params(self):
        """What the network's shape depends on besides the code (a dict)."""

    @abstractmethod
    def _export_weights(self, module):
        """Set the public numpy attributes that hold ``module``'s weights."""

    @abstractmethod
    def _module_from_weights(self):
        """The torch module rebuilt from the public numpy weights."""

    @abstractmethod
    def _validation_score(self, loss):
        """The score (higher is better) of a validation ``loss``."""

    # -- parameters -> trainer settings ---------------------------------------

    def _sparsity(self):
        """``sparsity``; ``"auto"`` (which an estimator may offer) as its
        first fit resolved it, in ``sparsity_``."""
        return self.sparsity_ if self.sparsity == "auto" else self.sparsity

    def _learning_rate(self):
        """``learning_rate_init``; ``"auto"`` as the first fit resolved it
        (``learning_rate_init_``), or for dense rows of the fitted width."""
        if self.learning_rate_init != "auto":
            return self.learning_rate_init
        if hasattr(self, "learning_rate_init_"):
            return self.learning_rate_init_
        return resolve_learning_rate("auto", self.n_features_in_, self._sparsity())

    def _activation(self):
        """``activation`` with ``"auto"`` resolved by the sparsity's code or
        penalty (:func:`~._losses.default_activation`)."""
        if self.activation != "auto":
            return self.activation
        return default_activation(self._sparsity())

    def _code_params(self):
        """The code's parameters: the shared ones it takes (``k``) and its own
        hyperparameters (``code_params`` over the code class's defaults)."""
        family = code_class(self._sparsity())
        own = dict(self.code_params or {})
        unknown = sorted(set(own) - set(family.hyperparameters))
        if unknown:
            raise ValueError(
                f"code_params {unknown} are not hyperparameters of "
                f"sparsity={self._sparsity()!r}, "
                f"whose are {sorted(family.hyperparameters) or 'none'}."
            )
        defaults = {name: default for name, (default, _) in family.hyperparameters.items()}
        constraints = {name: rules for name, (_, rules) in family.hyperparameters.items()}
        validate_parameter_constraints(constraints, own, caller_name=type(self).__name__)
        shared = {name: self._shared_code_param(name) for name in family.estimator_params}
        return {**shared, **defaults, **own}

    def _shared_code_param(self, name):
        """The value that the code takes for the shared parameter ``name``
        (``k``): the parameter itself, unless a subclass resolves it."""
        return getattr(self, name)

    def _check_params(self):
        """Each parameter's constraints, then the checks that involve more
        than one. (``_fit_context`` skips the former for a ``partial_fit``
        that continues a fitted model, whose parameters may have been set
        since.)"""
        self._validate_params()
        penalty = penalty_of(self._sparsity())
        if penalty is not None and penalty.activations is not None:
            if self._activation() not in penalty.activations:
                raise ValueError(
                    f"sparsity={self._sparsity()!r} needs activation in {penalty.activations}, "
                    f"got activation={self.activation!r}; use another sparsity (e.g. 'l1' "
                    "with 'relu')."
                )
        loss = self._loss_settings()
        if loss.corruption == "mask" and loss.corruption_level >= 1:
            raise ValueError(
                "corruption='mask' zeroes a fraction corruption_level of the inputs, which "
                f"must be below 1; got corruption_level={loss.corruption_level}."
            )
        self._code_params()

    def _shared_loss_settings(self, **own):
        """:class:`~._losses.LossTerms` from the shared parameters and the
        subclass's ``own`` terms (contractive weight, corruption)."""
        return LossTerms(
            activation=self._activation(),
            sparsity=self._sparsity(),
            sparsity_target=self.sparsity_target,
            sparsity_weight=self.sparsity_weight,
            alpha=self.alpha,
            auxk_weight=self.auxk_weight,
            **own,
        )

    def _schedule(self, **changes):
        """The :class:`~._trainer.Schedule` of the parameters, with ``changes``."""
        schedule = Schedule(
            solver=self.solver,
            learning_rate_init=self._learning_rate(),
            batch_size=self.batch_size,
            max_iter=self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            shuffle=self.shuffle,
            verbose=bool(self.verbose),
        )
        return dataclasses.replace(schedule, **changes)

    def _epochs_of_steps(self, X, steps, most):
        """Epochs of about ``steps`` optimizer steps over ``X`` in the batches
        of ``batch_size``: at least 1, at most ``most``."""
        rows = Schedule(batch_size=self.batch_size).batch_rows(
            X.shape, X.dtype, device=resolve_device(self.device)
        )
        steps_per_epoch = -(-X.shape[0] // rows)
        return max(1, min(most, round(steps / steps_per_epoch)))

    def _layer_settings(self, device, *, max_components=None, statistics=False, **schedule):
        """The trainer's :class:`~._trainer.LayerSettings` of one layer of the
        fitted architecture; ``schedule`` changes the :meth:`_schedule`."""
        architecture, loss = self._architecture, self._loss_settings()
        # One source for the code's sparsity and units: the loss terms'.
        code = CodeSettings(loss.sparsity, loss.activation, self._code_params())
        return LayerSettings(
            code,
            loss,
            self._schedule(**schedule),
            self._network(architecture),
            torch.device(device),
            max_components=max_components,
            statistics=statistics,
            dtype=self.compute_dtype,
        )

    # -- fitting --------------------------------------------------------------

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

    def _fit_layer(
        self,
        settings,
        layer,
        X,
        seeds,
        *,
        observed=None,
        incremental=False,
        split=False,
        task=None,
    ):
        """Train ``layer`` (a :class:`~._trainer.LayerFit`) on ``X``
        (``observed``: the mask of its observed entries), holding out a
        validation ``split`` for early stopping; ``incremental`` runs one
        epoch; each epoch is a sub-task of the callback ``task`` if given.
        ``seeds`` is :meth:`_seeds`'s pair. Returns the layer."""
        rng, generator = seeds
        X = as_dtype(X, parameter_dtype(layer.module))
        train, validation = ([X] if observed is None else [X, observed]), None
        if split:
            train, validation = split_validation(train, self.validation_fraction, rng)
        hooks = [] if task is None else [EpochTasks(task, self, X)]
        return fit_layer(
            settings,
            layer,
            train,
            validation,
            bounds=data_range(X),
            generator=generator,
            incremental=incremental,
            hooks=hooks,
        )

    def _transaction(self):
        """Leave the estimator exactly as it was if the block raises."""
        return transaction(self)

    def _copy_state(self, schedule, device, incremental, parameters=None):
        """Copies of the fitted module (on ``device``), of its history and,
        for ``incremental`` training, of its optimizer's state: training
        works on copies, so that a failure leaves the fitted model untouched.
        ``parameters(module)`` lists what the optimizer updates (default:
        all). Returns ``(module, optimizer, history)``."""
        module = copy.deepcopy(self._get_module()).to(device)
        history = copy.deepcopy(self._history)
        saved = self._optimizer_state() if incremental else None
        if saved is None:
            return module, None, history
        kind, state = saved
        copied = schedule.new_optimizer(
            module.parameters() if parameters is None else parameters(module)
        )
        if type(copied).__name__ != kind:  # the solver was changed: start afresh
            return module, None, history
        try:
            copied.load_state_dict(state)
        except ValueError:  # other parameters are trained now: start afresh
            return module, None, history
        return module, copied, history

    # -- the network's shape --------------------------------------------------

    def _architecture_params(self):
        """What the network's shape depends on: the parameters that
        ``warm_start`` cannot change, the resolved hidden activation and the
        code's parameters."""
        return {
            **self._shape_params(),
            "activation": self.activation,
            "sparsity": self._sparsity(),
            "hidden_activation": self._activation(),
            "code_params": self._code_params(),
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
        code = CodeSettings(
            architecture["sparsity"],
            architecture["hidden_activation"],
            architecture["code_params"],
        ).build(n_units, scale, dtype)
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
        self.code_params_ = dict(self._architecture["code_params"])
        self._export_weights(module)
        self.loss_curve_ = list(history.loss_curve)
        self.best_loss_ = float(min(history.loss_curve)) if history.loss_curve else np.inf
        self.validation_scores_ = None
        self.best_validation_score_ = None
        if history.validation_loss_curve:
            self.validation_scores_ = [
                self._validation_score(loss) for loss in history.validation_loss_curve
            ]
            best = history.best_state_index  # the epoch whose weights were kept
            self.best_validation_score_ = self.validation_scores_[-1 if best is None else best]
        self.n_iter_ = history.n_iter

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.non_deterministic = False
        return tags
