"""Data and device plumbing: numpy/scipy arrays in, torch tensors out.

The device, torch's threads and dtypes; rows read from arrays in memory,
sparse matrices and memory maps (:func:`read_rows`: a memory map is read,
converted and checked one block at a time, never whole); and the statistics
of the training data that the models start from (variance, geometric median,
range), computed block by block on memory maps. The batches built from these
rows live in :mod:`._batches`. Nothing here knows of scikit-learn's
estimators or of autoencoders.
"""

import mmap
import os
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import assert_all_finite
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from sklearn.utils.sparsefuncs import mean_variance_axis

#: Bytes of converted rows that one block read from a memory map may take.
BLOCK_BYTES = 8 * 2**20


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


def busy_cpus():
    """CPUs that other processes keep busy now: the machine's runnable
    threads (Linux's ``/proc/loadavg``) less this process's own (its threads
    in state R, torch's spinning workers included); 0 where unknown.

    A CPU-bound process is always runnable, so one reading counts it; a
    process that happens to pass at that instant costs one fit a thread.
    """
    try:
        with open("/proc/loadavg") as loadavg:
            running = int(loadavg.read().split()[3].split("/")[0])
        return max(0, running - _own_running_threads())
    except (OSError, ValueError, IndexError):
        return 0


def idle_cpus():
    """This process's CPUs (its affinity) less those that other processes
    keep busy; the others' threads are taken as spread over the whole
    machine, so that a container pinned to 2 of 64 CPUs counts its share of
    the host's load, not all of it."""
    machine = os.cpu_count() or 1
    try:
        ours = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        ours = machine
    return ours - round(busy_cpus() * ours / max(machine, ours))


def _own_running_threads():
    """This process's threads that are running or runnable (this one included)."""
    count = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/stat") as stat:
                # The state follows the command name, which is in parentheses.
                count += stat.read().rsplit(")", 1)[1].split()[0] == "R"
        except OSError:  # the thread ended meanwhile
            continue
    return max(count, 1)


@contextmanager
def torch_threads():
    """Run torch with as many threads as OpenMP code of scikit-learn would,
    and no more than the machine has idle.

    ``_openmp_effective_n_threads`` honours ``OMP_NUM_THREADS``, CPU quotas and
    the limits joblib sets in its workers (``cpu_count // n_jobs``), so that
    ``GridSearchCV(n_jobs=2)`` on two cores runs two single-threaded fits
    instead of oversubscribing them. Beyond that, CPUs that other processes
    keep busy (:func:`busy_cpus`) are left to them: torch's OpenMP threads
    wait for each other at every operation, and one of them descheduled by
    another process stalls all the others, so two threads on a two-core
    machine running another job made a fit of the digits 58 times slower
    than one thread (35 s against 0.6 s). The previous setting is restored
    after.
    """
    previous = torch.get_num_threads()
    wanted = max(1, _openmp_effective_n_threads())
    if wanted > 1:
        wanted = max(1, min(wanted, idle_cpus()))
    if wanted != previous:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if wanted != previous:
            torch.set_num_threads(previous)


def _flushing_denormals():
    """Whether this thread's CPU now computes denormal float32 values as 0."""
    return bool(torch.full((1,), 1e-39, dtype=torch.float32).mul(1.0).item() == 0.0)


@contextmanager
def flush_denormals():
    """Compute denormal floats (float32 below 1.2e-38) as zero inside.

    x86 CPUs take a slow path for each operation on a denormal, and
    trained sigmoid outputs and gradients reach them: the default
    convolutional autoencoder on MNIST took 5.5 s an epoch for four
    epochs, then 22 s, then 59 s, and 5.5 s throughout with denormals
    flushed, at the same losses. The previous mode is restored after
    (torch has no getter; it is read off a product). Where the CPU has no
    such mode, nothing changes.
    """
    previous = _flushing_denormals()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if not previous:
            torch.set_flush_denormal(False)


@contextmanager
def cpu_settings():
    """torch's CPU settings for a fit or an inference: :func:`torch_threads`
    and :func:`flush_denormals`."""
    with torch_threads(), flush_denormals():
        yield


def torch_dtype(dtype):
    """The torch dtype computing for numpy ``dtype``: float32 stays, else float64."""
    return torch.float32 if np.dtype(dtype) == np.float32 else torch.float64


def numpy_dtype(dtype):
    """The numpy dtype of torch ``dtype`` (float32 or float64)."""
    return np.dtype(np.float32 if dtype == torch.float32 else np.float64)


# -- rows of arrays, sparse matrices and memory maps --------------------------


def float_dtype(dtype):
    """The float dtype that computes for ``dtype``: float32 stays, else float64
    (integers and booleans of a memory map become float64, as
    ``check_array`` makes them)."""
    return np.dtype(np.float32) if np.dtype(dtype) == np.float32 else np.dtype(np.float64)


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


def read_rows(X, start, stop, dtype):
    """Rows ``start:stop`` of ``X`` as a dense ndarray of ``dtype``.

    Sparse rows are densified. Rows of a memory map are read from its file
    (or copied from the map, whose pages are then released:
    :func:`release_pages`), checked for NaN and infinity (with
    ``check_array``'s errors) and converted. Dense rows already in ``dtype``
    are a view.
    """
    rows = X[start:stop]
    if sp.issparse(rows):
        return rows.toarray().astype(dtype, copy=False)
    if not is_streamed(X):
        return np.asarray(rows).astype(dtype, copy=False)
    read = _read_file(X, start, min(stop, X.shape[0]))
    if read is None:  # through the map, whose pages are then released
        read = np.array(rows)
        release_pages(X, start, stop)
    if X.dtype.kind in "fc":
        assert_all_finite(read, input_name="X")
    return read.astype(dtype, copy=False)


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
    elif sp.issparse(X):
        variance = mean_variance_axis(X, axis=0)[1].mean()
    elif is_streamed(X):
        variance = _streamed_variance(X).mean()
    else:
        variance = X.var(axis=0).mean()
    variance = float(variance)
    return variance if variance > 0 else 1.0


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
