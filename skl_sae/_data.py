"""Data and device plumbing: numpy/scipy arrays in, torch tensors out.

The device, torch's threads and dtypes; :class:`Batches` of tensors for the
training loop; inference in batches; and the statistics of the training data
that the models start from (variance, geometric median, range). Nothing here
knows of scikit-learn's estimators or of autoencoders.
"""

import math
import warnings
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from sklearn.utils.sparsefuncs import mean_variance_axis

#: Rows per batch when computing codes or scores: large enough to keep the
#: matrix multiplications efficient, small enough to bound memory.
INFERENCE_BATCH_SIZE = 8192


# -- device, threads, dtypes ---------------------------------------------------


def resolve_device(device):
    """Turn ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"`` or a
    :class:`torch.device` into a torch device.

    Raises
    ------
    ValueError
        If ``device`` names no device or CUDA is asked for but absent.
    """
    if isinstance(device, str) and device == "auto":
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


# -- tensors and batches -------------------------------------------------------


def to_tensor(array, device):
    """Rows of ``array`` (dense, or scipy sparse densified here) as a tensor
    on ``device``, in the array's dtype.

    Read-only input (e.g. joblib's memory maps) is shared on the CPU, not
    copied: tensors made from it are only ever read.
    """
    if sp.issparse(array):
        array = array.toarray()
    array = np.ascontiguousarray(array)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not writable.*", category=UserWarning)
        return torch.as_tensor(array).to(device, non_blocking=True)


class Batches:
    """Aligned arrays served as minibatches of tensors on ``device``.

    Dense arrays move to the device once; scipy sparse matrices stay where
    they are and are densified one batch at a time.

    Parameters
    ----------
    arrays : sequence of ndarray or sparse matrix
        Arrays with the same number of rows; each keeps its dtype.
    batch_size : int
        Rows per batch (the last batch may be smaller).
    device : torch.device
        Where the batches are served.
    """

    def __init__(self, arrays, *, batch_size, device):
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.n_samples = arrays[0].shape[0]
        self._arrays = [self._place(a) for a in arrays]

    def _place(self, array):
        if sp.issparse(array):
            return array.tocsr()
        return to_tensor(array, self.device)

    def _take(self, array, rows, index):
        if isinstance(array, torch.Tensor):
            return array[index]
        return to_tensor(array[rows], self.device)

    def __len__(self):
        return math.ceil(self.n_samples / self.batch_size)

    def __iter__(self):
        return self.iterate()

    def iterate(self, order=None):
        """Yield tuples of tensors, in ``order`` (a CPU permutation) if given.

        The permutation moves to the device once; sparse rows are picked with
        its CPU copy, so no index travels back from the device.
        """
        rows_order = None if order is None else order.numpy()
        device_order = None if order is None else order.to(self.device)
        for start in range(0, self.n_samples, self.batch_size):
            stop = min(start + self.batch_size, self.n_samples)
            if order is None:
                rows = index = slice(start, stop)
            else:
                rows, index = rows_order[start:stop], device_order[start:stop]
            yield tuple(self._take(a, rows, index) for a in self._arrays)


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


# -- statistics of the training data ------------------------------------------


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
