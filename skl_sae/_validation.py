"""Input and parameter validation the scikit-learn way, for every estimator.

scikit-learn's ``validate_data`` for rows in memory, the checks that need no
read for a memory map (whose NaN and infinity are checked batch by batch as
it is read), the validation split of early stopping, the live set of
``sparsity`` names and layer sizes.
"""

import collections.abc
from numbers import Integral

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_consistent_length, validate_data

from ._batches import StreamedRows
from ._codes import CODES
from ._data import check_streamed, is_streamed
from ._losses import SPARSITY_PENALTIES


class TableKeys(collections.abc.Set):
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


#: The names that ``sparsity`` takes (besides None): the code classes and the
#: penalties, live (a variant registered after import is in).
SPARSITIES = TableKeys(CODES, SPARSITY_PENALTIES)

#: :data:`SPARSITIES` and ``"auto"``, for an estimator that chooses by its data.
SPARSITIES_OR_AUTO = TableKeys(CODES, SPARSITY_PENALTIES, ("auto",))


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


def check_tensor(X, n_features, expected):
    """The torch tensor ``X`` checked as ``check_array`` checks rows, on its
    own device (one synchronisation, for NaN and infinity): two dimensions,
    at least one row, ``n_features`` columns (``expected`` says what the
    model has, in the error), finite values. Integers and booleans become
    float64 and half floats float32, as results of a numeric dtype."""
    if X.layout != torch.strided:
        raise TypeError(f"A {X.layout} torch tensor is not supported; pass a dense one.")
    if X.dim() != 2:
        raise ValueError(f"Expected a 2D tensor, got one of shape {tuple(X.shape)}.")
    if X.shape[0] < 1:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={tuple(X.shape)}) while a minimum of 1 is "
            "required."
        )
    if X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, but {expected}.")
    if X.is_complex():
        raise ValueError("Complex data not supported.")
    if not X.is_floating_point():
        X = X.to(torch.float64)
    elif X.dtype not in (torch.float32, torch.float64):
        X = X.to(torch.float32)
    if not bool(torch.isfinite(X).all()):
        raise ValueError("Input X contains NaN or infinity.")
    return X


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


def layer_sizes(value, name, *, auto=False):
    """The layer sizes that the parameter ``name`` gives as a list: one
    positive int (or ``"auto"``, where ``auto`` allows it) or a non-empty
    sequence of them."""
    sizes = [value] if isinstance(value, str | Integral) else list(value)

    def valid(size):
        if isinstance(size, str):
            return auto and size == "auto"
        return isinstance(size, Integral) and not isinstance(size, bool) and size >= 1

    if not sizes or not all(valid(size) for size in sizes):
        kinds = 'a positive int, "auto"' if auto else "a positive int"
        raise ValueError(f"{name} must be {kinds} or a non-empty sequence of them; got {value!r}.")
    return [size if isinstance(size, str) else int(size) for size in sizes]


def split_validation(arrays, fraction, rng, stratify=None):
    """Hold out a ``fraction`` of the rows of ``arrays`` for early stopping;
    returns the lists ``(train, validation)``.

    Stratified by ``stratify`` where each class has enough rows. From a
    memory map, a random ``fraction`` of 64 contiguous chunks of rows is held
    out (:meth:`~._batches.StreamedRows.split`), not stratified, so that
    neither part is read before training.
    """
    n_samples = arrays[0].shape[0]
    n_val = int(np.ceil(fraction * n_samples))
    if n_val < 1 or n_samples - n_val < 1:
        raise ValueError(
            f"early_stopping needs at least 2 samples to hold out "
            f"validation_fraction={fraction}; got n_samples={n_samples}."
        )
    if stratify is not None:
        _, counts = np.unique(stratify, return_counts=True)
        if counts.min() < 2 or n_val < len(counts) or n_samples - n_val < len(counts):
            stratify = None  # too few samples per class to stratify
    if is_streamed(arrays[0]):
        train, validation = StreamedRows(arrays).split(fraction, rng)
        return [train], [validation]
    parts = train_test_split(*arrays, test_size=n_val, random_state=rng, stratify=stratify)
    return parts[0::2], parts[1::2]
