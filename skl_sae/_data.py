"""Data plumbing: numpy/scipy arrays in, torch tensors out.

Dtypes; rows read from arrays in memory, sparse matrices and memory maps
(:func:`read_rows`: a memory map is read, converted and checked one block
at a time, never whole); and the statistics
of the training data that the models start from (variance, geometric median,
range), computed block by block on memory maps. The batches built from these
rows live in :mod:`._batches`. Nothing here knows of scikit-learn's
estimators or of autoencoders.
"""

import math
import mmap
import os

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import assert_all_finite
from sklearn.utils.sparsefuncs import mean_variance_axis

from ._sparse import csr_tensor
from ._sparse import matmul as sparse_matmul

#: Bytes of converted rows that one block read from a memory map may take.
BLOCK_BYTES = 8 * 2**20


# -- dtypes ------------------------------------------------------------------


def float_dtype(dtype):
    """The float dtype that computes for ``dtype``: float32 stays, else float64
    (integers and booleans of a memory map become float64, as
    ``check_array`` makes them)."""
    return np.dtype(np.float32) if np.dtype(dtype) == np.float32 else np.dtype(np.float64)


#: The settings of ``compute_dtype``, besides None (the data's float dtype).
COMPUTE_DTYPES = ("float32", "float64")


def compute_dtype(setting, dtype):
    """The numpy float dtype that a network computes in for the
    ``compute_dtype`` ``setting`` and data of ``dtype``: the setting's, or
    with None the data's (:func:`float_dtype`)."""
    return float_dtype(dtype if setting is None else setting)


#: The torch dtype of each dtype that :func:`float_dtype` gives.
_TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def torch_dtype(dtype):
    """The torch dtype computing for numpy ``dtype``: that of :func:`float_dtype`."""
    return _TORCH_DTYPES[float_dtype(dtype)]


def numpy_dtype(dtype):
    """The numpy dtype of torch ``dtype`` (float32 or float64)."""
    return np.dtype(np.float32 if dtype == torch.float32 else np.float64)


# -- rows of arrays, sparse matrices and memory maps --------------------------


def is_streamed(X):
    """Whether ``X`` is a numpy memory map, whose rows are read block by block."""
    return isinstance(X, np.memmap)


def check_streamed(X):
    """Raise a ValueError if the file behind the memory map ``X`` is shorter
    than its rows: reading them would kill the process (SIGBUS)."""
    filename, memory = getattr(X, "filename", None), getattr(X, "_mmap", None)
    if filename is None or memory is None or not os.path.exists(filename):
        return
    start_in_file = X.offset - X.offset % mmap.ALLOCATIONGRANULARITY
    end = start_in_file + _position_in_map(X, memory) + X.nbytes
    size = os.path.getsize(filename)
    if end > size:
        raise ValueError(
            f"X is a memory map of {filename!r} that needs {end} bytes, but the file has "
            f"{size}: it was truncated after it was opened."
        )


def _position_in_map(X, memory):
    """Byte offset of ``X``'s first element from the start of ``memory``."""
    start = np.frombuffer(memory, dtype=np.uint8, count=0).ctypes.data
    return X.ctypes.data - start


def release_pages(X, start=0, stop=None):
    """Drop the pages of rows ``start:stop`` of the memory map ``X`` from this
    process's resident memory, once they have been read and copied.

    The file stays in the page cache, so reading them again costs no disk
    access; but the pages no longer count in this process's memory, which a
    pass over a file larger than memory would otherwise fill. Only for maps
    shared with the file (modes "r", "r+", "w+") with contiguous rows; a
    no-op otherwise.
    """
    memory = getattr(X, "_mmap", None)
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if memory is None or advice is None or X.mode == "c" or not X.flags.c_contiguous:
        return
    stop = X.shape[0] if stop is None else stop
    row_bytes = X.strides[0] if X.ndim > 1 and X.shape[0] > 1 else X.nbytes
    first = _position_in_map(X, memory) + start * row_bytes
    last = first + (stop - start) * row_bytes
    first -= first % mmap.PAGESIZE
    last = min(len(memory), -(-last // mmap.PAGESIZE) * mmap.PAGESIZE)
    if last > first:
        memory.madvise(advice, first, last - first)


def converted(X, dtype):
    """``X`` (an array or a sparse matrix, of no infinity) in ``dtype``.

    Raises
    ------
    ValueError
        If values of float64 ``X`` lie beyond float32's range (about 3.4e38)
        and ``dtype`` is float32: they would become infinite.
    """
    with np.errstate(over="ignore"):  # (the error below says it)
        result = X.astype(dtype, copy=False)
    if X.dtype == np.float64 and result.dtype == np.float32:
        values = result.data if sp.issparse(result) else result
        if np.isinf(values).any():
            largest = float(np.nanmax(abs(X.data if sp.issparse(X) else X)))
            raise ValueError(
                f"X holds values up to {largest:.3g} in magnitude, beyond the range of "
                "float32, in which the network computes (compute_dtype='float32'). "
                "Scale X, or fit with compute_dtype='float64'."
            )
    return result


def read_rows(X, start, stop, dtype):
    """Rows ``start:stop`` of ``X`` in ``dtype``: a dense ndarray, or a
    sparse CSR matrix for sparse ``X`` (never densified).

    Rows of a memory map are read from its file (or copied from the map,
    whose pages are then released: :func:`release_pages`), checked for NaN
    and infinity (with ``check_array``'s errors) and converted. Dense rows already in ``dtype``
    are a view.
    """
    rows = X[start:stop]
    if sp.issparse(rows):
        return converted(rows.tocsr(), dtype)
    if not is_streamed(X):
        return converted(np.asarray(rows), dtype)
    read = _read_file(X, start, min(stop, X.shape[0]))
    if read is None:  # through the map, whose pages are then released
        read = np.array(rows)
        release_pages(X, start, stop)
    if X.dtype.kind in "fc":
        assert_all_finite(read, input_name="X")
    return converted(read, dtype)


def _read_file(X, start, stop):
    """Rows ``start:stop`` of the memory map ``X`` read from its file with one
    sequential read (no page faults, nothing mapped), or None where the file
    may not hold them: a copy-on-write map ("c"), rows not contiguous."""
    memory, filename = getattr(X, "_mmap", None), getattr(X, "filename", None)
    if memory is None or filename is None or X.mode == "c" or not X.flags.c_contiguous:
        return None
    rows = np.empty((max(0, stop - start), *X.shape[1:]), dtype=X.dtype)
    row_bytes = rows.itemsize * int(np.prod(X.shape[1:]))
    offset = X.offset - X.offset % mmap.ALLOCATIONGRANULARITY + _position_in_map(X, memory)
    with open(filename, "rb", buffering=0) as file:
        file.seek(offset + start * row_bytes)
        if file.readinto(memoryview(rows).cast("B")) != rows.nbytes:
            return None
    return rows


def blocks(X, dtype=np.float64):
    """The rows of ``X`` as consecutive dense blocks of ``dtype`` of about
    :data:`BLOCK_BYTES` each (:func:`read_rows`)."""
    n_rows = max(1, BLOCK_BYTES // max(1, X.shape[1] * np.dtype(dtype).itemsize))
    for start in range(0, X.shape[0], n_rows):
        yield read_rows(X, start, start + n_rows, dtype)


# -- statistics of the training data ------------------------------------------


def mean_feature_variance(X, observed=None):
    """Average per-feature variance of ``X`` (dense or sparse); 1 if it is 0.

    With ``observed``, a boolean mask of the dense ``X``'s shape, each
    feature's variance is that of its observed entries (0 with fewer than two).
    """
    if observed is not None:
        counts = observed.sum(axis=0)
        values = np.where(observed, X, 0.0)
        mean = values.sum(axis=0) / np.maximum(counts, 1)
        squares = np.where(observed, (X - mean) ** 2, 0.0).sum(axis=0)
        variance = (squares / np.maximum(counts, 1)).mean()
    else:
        variance = feature_variances(X).mean()
    variance = float(variance)
    return variance if variance > 0 else 1.0


def feature_variances(X):
    """Per-feature variance of ``X`` (dense, sparse or a memory map, read
    block by block), a float64 array of shape (n_features,): a float32
    ``X``'s variances are computed in float32 and averaged in float64."""
    if sp.issparse(X):
        return np.asarray(mean_variance_axis(X, axis=0)[1], dtype=np.float64)
    if is_streamed(X):
        return _streamed_variance(X)
    return np.asarray(X.var(axis=0), dtype=np.float64)


def _streamed_variance(X):
    """Per-feature variance of the memory map ``X``, block by block (Chan et
    al.'s pairwise update, as stable as one pass over all rows)."""
    count, mean, squares = 0, np.zeros(X.shape[1]), np.zeros(X.shape[1])
    for block in blocks(X):
        n, block_mean = block.shape[0], block.mean(axis=0)
        block_squares = ((block - block_mean) ** 2).sum(axis=0)
        delta = block_mean - mean
        total = count + n
        squares += block_squares + delta**2 * count * n / total
        mean += delta * n / total
        count = total
    return squares / count


def geometric_median(X, max_rows=10_000, max_iter=100, tol=1e-7):
    """The point minimising the summed Euclidean distances to the rows of ``X``.

    Weiszfeld's iterations from the mean, on at most ``max_rows`` evenly
    spaced rows (dense or sparse; sparse rows are never densified). Robust
    to outliers, unlike the mean; the decoder bias of the sparse codes starts
    from it (Gao et al., 2024).
    """
    rows = X[:: -(-X.shape[0] // max_rows)]
    if is_streamed(X):
        rows = np.array(rows, dtype=np.float64)
        release_pages(X)
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


def leading_directions(X, center, n_directions, rng, *, scale=1.0, max_rows=20_000, n_iter=4):
    """The ``n_directions`` leading right singular vectors of the rows of
    ``X`` less ``center``, as the columns of an array of shape (n_features,
    n_directions), computed on ``(X - center) / scale`` (what a network on
    scaled inputs sees: the same directions, rounded alike, whatever the
    data's scale); None where the products overflow.

    The randomized range finder of Halko et al. (2011; Algorithm 4.4, as
    ``TruncatedSVD``'s ``"randomized"`` solver, 10 extra columns and
    ``n_iter`` power iterations with QR) on at most ``max_rows`` rows drawn
    from ``rng``, in torch (whose QR of a tall matrix is several times
    numpy's). Sparse rows are centred through products, never densified.
    """
    if X.shape[0] > max_rows:
        X = X[np.sort(rng.choice(X.shape[0], max_rows, replace=False))]
    dtype = float_dtype(X.dtype)
    if sp.issparse(X):
        rows = (X.tocsr() / scale).astype(dtype)
        left, right = csr_tensor(rows), csr_tensor(rows.T.tocsr())
    else:
        left = torch.from_numpy((np.asarray(X) / scale).astype(dtype, copy=False))
        right = left.T
    center = torch.from_numpy((np.asarray(center) / scale).astype(dtype))

    times = sparse_matmul if sp.issparse(X) else torch.mm

    def product(vectors):  # (rows - center) @ vectors
        return times(left, vectors).sub_(center @ vectors)

    def transposed_product(vectors):  # (rows - center).T @ vectors, centred in place
        return times(right, vectors).addr_(center, vectors.sum(dim=0), alpha=-1)

    size = min(n_directions + 10, *X.shape)
    basis = product(torch.from_numpy(rng.standard_normal((X.shape[1], size)).astype(dtype)))
    for _ in range(n_iter):
        basis = torch.linalg.qr(basis).Q
        basis = product(torch.linalg.qr(transposed_product(basis)).Q)
    projected = transposed_product(torch.linalg.qr(basis).Q).T
    if not torch.isfinite(projected).all():  # data near the float range's end
        return None
    _, _, directions = torch.linalg.svd(projected, full_matrices=False)
    return directions[:n_directions].T.numpy()


def data_range(X):
    """``(min, max)`` of the entries of ``X`` (dense or sparse, implicit zeros
    included)."""
    if is_streamed(X):
        ranges = [data_range(block) for block in blocks(X, float_dtype(X.dtype))]
        lows, highs = zip(*ranges, strict=True) if ranges else ((0.0,), (0.0,))
        return min(lows), max(highs)
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
    if is_streamed(X):
        low, high = data_range(X)
        return low >= 0 and high <= 1
    values = X.data if sp.issparse(X) else X
    return values.size == 0 or (values.min() >= 0 and values.max() <= 1)


def resolve_image_shape(image_shape, n_features, *, rows=True):
    """``(height, width, channels)`` of the images in rows of ``n_features``.

    None takes a square grey image where ``n_features`` is a square, and
    otherwise a row of ``n_features`` pixels (one-dimensional convolutions)
    where ``rows`` allows it, or raises.
    """
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side == n_features:
            return (side, side, 1)
        if rows:
            return (1, n_features, 1)
        raise ValueError(f"{n_features} features do not make a square image; pass image_shape.")
    shape = tuple(int(d) for d in image_shape)
    if len(shape) == 2:
        shape = (*shape, 1)
    if math.prod(shape) != n_features:
        raise ValueError(
            f"image_shape={tuple(image_shape)} holds {math.prod(shape)} pixels, but X has "
            f"{n_features} features; rows must be images flattened row by row (channels last)."
        )
    return shape
