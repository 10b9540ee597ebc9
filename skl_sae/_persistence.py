"""How a fitted estimator holds its state: all or nothing, pickled through numpy.

A fit replaces the estimator's attributes as one transaction
(:func:`transaction`). The torch module lives beside the public numpy weights
that are the whole fitted model: pickling keeps the weights, the optimizer's
state and the AuxK counts as numpy arrays and plain values (no torch object,
no private type for skops to trust), and the module is rebuilt from the
weights when first needed, on the CPU if the GPU it was fitted on is absent.
"""

import copy
import inspect
import warnings
from contextlib import contextmanager

import numpy as np
import torch

from ._sklearn import move_to
from ._statistics import DeadLatents
from ._training import History

#: The attributes that hold torch objects, rebuilt after unpickling.
_TORCH_ATTRIBUTES = ("_module", "_optimizer", "_dead_latents")


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
    """``value`` with its tensors and the arrays of other Array API
    libraries (in dicts, lists and tuples) as numpy arrays."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if hasattr(value, "__array_namespace__") and not isinstance(value, np.ndarray):
        return move_to(value, xp=np, device="cpu")
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


def numpy_state(state):
    """A ``__getstate__`` dict with its tensors and other libraries' arrays
    (fitted under Array API dispatch) as numpy: a pickle holds numpy arrays
    only, and loads on a machine without the GPU it was fitted on."""
    return {key: _as_numpy(value) for key, value in state.items()}


class NumpyState:
    """Pickling through numpy for an estimator whose fitted module is
    ``_module``, rebuilt by ``_module_from_weights()`` from its public
    weights, with its optimizer in ``_optimizer``, its AuxK counts in
    ``_dead_latents`` and its training record in ``_history``."""

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

    def _get_module(self):
        """The fitted torch module, rebuilt from the public numpy weights after
        unpickling; on the CPU, with a warning, if it was fitted on a GPU that
        is not present here."""
        module = getattr(self, "_module", None)
        if module is None:
            device = torch.device(self.device_)
            if device.type == "cuda" and not torch.cuda.is_available():
                warnings.warn(
                    f"This model was fitted on {self.device_!r}, which is not available "
                    "here; it runs on the CPU.",
                    UserWarning,
                    stacklevel=3,
                )
                device = torch.device("cpu")
            module = self._module = self._module_from_weights().to(device)
        return module

    def __getstate__(self):
        """Numpy arrays, plain values and public classes only (fitted arrays
        of another library, under Array API dispatch, as numpy): the torch
        module is rebuilt from the public weights, the optimizer's state and
        the AuxK counts (what ``partial_fit`` continues from) from arrays."""
        state = numpy_state(super().__getstate__())
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
        # A parameter added since the model was pickled takes the value that
        # describes how the model was fitted and computes: its default
        # (``matmul_precision``: float32), or the class's
        # ``_values_before_added`` where the default is new behaviour (the
        # imputer's ``average``), so that a clone refits as the model was.
        parameters = inspect.signature(type(self).__init__).parameters.values()
        before = getattr(type(self), "_values_before_added", {})
        added = {
            parameter.name: before.get(parameter.name, parameter.default)
            for parameter in parameters
            if parameter.default is not inspect.Parameter.empty and parameter.name not in state
        }
        super().__setstate__({**added, **state})
