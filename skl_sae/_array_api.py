"""Arrays of other libraries in, and results out in kind: scikit-learn's Array API dispatch.

With ``sklearn.set_config(array_api_dispatch=True)``, an estimator takes the
arrays of another Array API library (torch tensors on the CPU or a GPU,
array-api-strict, CuPy, ...), returns its results in the input's namespace and
on its device, and holds its fitted arrays there, as scikit-learn's own
estimators do:

- torch tensors are read directly where the estimator computes in torch
  (:func:`is_direct`): inference takes the rows batch by batch from the
  tensor, on its device, and writes the results into a tensor made there,
  with no trip through the host;
- other inputs cross to numpy and back (through DLPack, where the library
  has it), and so does a fit's training data: the trainer's batches,
  statistics and validation split are numpy's, so that a CUDA tensor is
  copied to the host once a fit;
- after such a fit the estimator's arrays (``components_``, ...) are moved
  to the input's namespace and device (:func:`move_fitted_arrays`), and its
  methods then ask for inputs of the same namespace and device
  (:func:`check_same_namespace`). Pickling stores numpy arrays, as always:
  an unpickled model is a numpy one.

The model itself runs on the estimator's ``device``, whatever the input's:
rows travel to it batch by batch and results come back to the input's device.
Without dispatch, nothing here acts: inputs are read as numpy (``np.asarray``,
which reads a CPU tensor without a copy and refuses a CUDA one) and results
are numpy.
"""

import contextlib
import contextvars
import functools
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from sklearn import get_config
from sklearn.utils.validation import check_is_fitted

from ._persistence import transaction
from ._sklearn import get_namespace_and_device, move_to

#: Whether a call of a decorated method is under way: the calls it makes of
#: others (``score`` of ``score_samples``, a detector of its autoencoder's
#: methods) take their inputs as they come, already converted.
_INSIDE = contextvars.ContextVar("skl_sae_array_api_inside", default=False)


@contextlib.contextmanager
def _outermost():
    token = _INSIDE.set(True)
    try:
        yield
    finally:
        _INSIDE.reset(token)


class Namespace(NamedTuple):
    """An input's Array API namespace and device."""

    xp: object
    device: object

    def describe(self):
        return f"{self.xp.__name__} on {self.device}"


def input_namespace(X):
    """The :class:`Namespace` of ``X`` where dispatch is on and ``X`` is not
    numpy's (nor a sparse matrix, a list or a dataframe); None otherwise."""
    if not get_config()["array_api_dispatch"]:
        return None
    if X is None or sp.issparse(X) or isinstance(X, np.ndarray | list | tuple):
        return None
    if not (isinstance(X, torch.Tensor) or hasattr(X, "__array_namespace__")):
        return None
    xp, _, device = get_namespace_and_device(X)
    if xp.__name__.split(".")[-1] == "numpy":
        return None
    return Namespace(xp, device)


def to_numpy(array):
    """``array`` (a torch tensor or another library's array) as numpy, on
    the host; anything else as it is."""
    if isinstance(array, torch.Tensor):
        if array.dtype in (torch.bfloat16, torch.float16):  # (numpy has no bfloat16)
            array = array.float()
        return array.detach().cpu().resolve_conj().resolve_neg().numpy()
    if array is None or isinstance(array, np.ndarray) or not hasattr(array, "__dlpack__"):
        return array
    return move_to(array, xp=np, device="cpu")


def from_numpy(array, namespace):
    """The numpy ``array`` in ``namespace`` (numeric arrays only: labels of
    strings or objects stay numpy, as no Array API library holds them)."""
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        return array
    return move_to(array, xp=namespace.xp, device=namespace.device)


def _foreign_arrays(value):
    """The arrays of other libraries than numpy in ``value`` (an array, or a
    list or tuple of them)."""
    if isinstance(value, list | tuple):
        return [array for item in value for array in _foreign_arrays(item)]
    return [value] if _is_foreign(value) else []


def _is_foreign(value):
    return (
        not isinstance(value, np.ndarray)
        and not sp.issparse(value)
        and (isinstance(value, torch.Tensor) or hasattr(value, "__array_namespace__"))
    )


def _converted(value, convert, test):
    """``value`` with ``convert`` applied to the arrays (in lists and tuples
    too) for which ``test`` holds."""
    if isinstance(value, list | tuple):
        return type(value)(_converted(item, convert, test) for item in value)
    return convert(value) if test(value) else value


def fitted_namespace(estimator):
    """The :class:`Namespace` of the arrays a fitted ``estimator`` holds
    (alone or in lists); None for numpy's."""
    for _, value in _fitted_attributes(estimator):
        for array in _foreign_arrays(value):
            xp, _, device = get_namespace_and_device(array)
            return Namespace(xp, device)
    return None


def move_fitted_arrays(estimator, namespace):
    """Move the numeric numpy arrays that ``estimator`` holds as attributes
    (alone or in lists) to ``namespace`` (labels of strings stay numpy)."""
    for key, value in _fitted_attributes(estimator):
        moved = _converted(
            value, lambda a: from_numpy(a, namespace), lambda a: isinstance(a, np.ndarray)
        )
        setattr(estimator, key, moved)


def _fitted_attributes(estimator):
    """``(name, value)`` of ``estimator``'s attributes but its parameters
    (which a fit never changes)."""
    parameters = set(estimator.get_params(deep=False))
    return [(key, value) for key, value in vars(estimator).items() if key not in parameters]


def move_fitted_arrays_to_numpy(estimator):
    """The inverse of :func:`move_fitted_arrays`, before a fit continues."""
    for key, value in _fitted_attributes(estimator):
        setattr(estimator, key, _converted(value, to_numpy, _is_foreign))


def check_same_namespace(estimator, X, method):
    """Raise where dispatch is on and ``X`` is of another namespace or
    device than the arrays ``estimator`` was fitted on, in scikit-learn's
    words."""
    if not get_config()["array_api_dispatch"]:
        return
    fitted, given = fitted_namespace(estimator), input_namespace(X)
    same = (fitted is None and given is None) or (
        fitted is not None
        and given is not None
        and fitted.xp.__name__ == given.xp.__name__
        and str(fitted.device) == str(given.device)
    )
    if not same:
        describe = lambda ns: "numpy" if ns is None else ns.describe()  # noqa: E731
        raise ValueError(
            f"Inputs passed to {type(estimator).__name__}.{method}() must use the same "
            "namespace and the same device as those passed to fit(): fit had "
            f"{describe(fitted)}, {method} has {describe(given)}. Pass inputs like fit's, "
            "or refit on such inputs."
        )


def dispatched_tensor(X):
    """Whether ``X`` is a torch tensor under dispatch: what a method that an
    estimator lists in its ``_torch_methods`` reads as it is."""
    return isinstance(X, torch.Tensor) and get_config()["array_api_dispatch"]


def is_direct(estimator, X, method):
    """Whether ``estimator.method`` reads the torch tensor ``X`` as it is
    (it lists ``method`` in its ``_torch_methods``)."""
    return dispatched_tensor(X) and method in getattr(estimator, "_torch_methods", ())


def fit_in_namespace(fit):
    """Decorate a ``fit`` or ``partial_fit(self, X, y=None, ...)``: under
    dispatch, ``X`` and ``y`` of another library are read as numpy and the
    fitted arrays are moved to ``X``'s namespace and device after. A fit
    that continues a model fitted on another library's arrays reads them as
    numpy; if it raises, the estimator keeps them as they were."""

    @functools.wraps(fit)
    def wrapper(self, X, y=None, *args, **kwargs):
        if _INSIDE.get() or not get_config()["array_api_dispatch"]:
            return fit(self, X, y, *args, **kwargs)
        namespace = input_namespace(X)
        with transaction(self), _outermost():
            move_fitted_arrays_to_numpy(self)
            args = [to_numpy(arg) for arg in args]
            kwargs = {key: to_numpy(value) for key, value in kwargs.items()}
            result = fit(self, to_numpy(X), to_numpy(y), *args, **kwargs)
        if namespace is not None:
            move_fitted_arrays(self, namespace)
        return result

    return wrapper


def method_in_namespace(method):
    """Decorate an inference method ``method(self, X)``: under dispatch, its
    input's namespace checked against the fit's, and its array result in
    ``X``'s namespace and on its device. A torch ``X`` that the estimator
    reads directly (:func:`is_direct`) passes as it is; others are read as
    numpy."""

    @functools.wraps(method)
    def wrapper(self, X, *args, **kwargs):
        if _INSIDE.get() or not get_config()["array_api_dispatch"]:
            return method(self, X, *args, **kwargs)
        name = method.__name__
        check_is_fitted(self)  # (before the namespaces: an unfitted model has none)
        check_same_namespace(self, X, name)
        namespace = input_namespace(X)
        with _outermost():
            if namespace is None:
                return method(self, X, *args, **kwargs)
            if is_direct(self, X, name):
                result = method(self, X, *args, **kwargs)
                return result.to(X.device) if isinstance(result, torch.Tensor) else result
            return from_numpy(method(self, to_numpy(X), *args, **kwargs), namespace)

    return wrapper
