"""Rows served in batches of tensors: to the training loop and to inference.

One interface (``n_samples``, ``device``, ``len()``, ``epoch(generator)``)
over three kinds of data:

- dense arrays in memory move to the device once, when they fit there
  (:func:`fits_on_device`); otherwise they stay on the host, like
- scipy sparse matrices, served as sparse CSR tensors one batch at a time
  (never densified: :mod:`._sparse`), and
- memory maps (:class:`StreamedBatches`), read from disk in contiguous
  blocks, never whole.

Batches that live on the host reach a GPU through :func:`to_device`: copied
from pinned memory on a side stream, one batch ahead of the computation.
Inference (:func:`apply_in_batches`) takes batches sized by bytes, not rows,
so that a wide sparse matrix costs no more memory than a narrow one.
"""

import copy
import itertools
import math
import warnings

import numpy as np
import scipy.sparse as sp
import torch

from ._data import float_dtype, is_streamed, numpy_dtype, read_rows
from ._runtime import call_settings
from ._sparse import csr_tensor

#: Memory that one batch of inference may take, whatever the width of the data.
INFERENCE_BYTES = 64 * 2**20

#: Memory for the rows of a memory map read ahead and shuffled together.
BUFFER_BYTES = 32 * 2**20

#: Contiguous blocks read per buffer; their rows are shuffled together.
BLOCKS_PER_BUFFER = 8

#: Share of the free memory of a GPU that training data may take there.
DEVICE_SHARE = 0.5


def to_tensor(array, device, pin=False):
    """The ``array`` as a tensor on ``device``, in the array's dtype: a
    sparse CSR tensor for a scipy sparse matrix. ``pin`` copies through
    pinned memory, asynchronously (to a GPU).

    Read-only input (e.g. joblib's memory maps) is shared on the CPU, not
    copied: tensors made from it are only ever read.
    """
    if sp.issparse(array):
        return csr_tensor(array, device, pin=pin)
    if pin:
        return to_tensor(array, "cpu").pin_memory().to(device, non_blocking=True)
    array = np.ascontiguousarray(array)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not writable.*", category=UserWarning)
        return torch.as_tensor(array).to(device, non_blocking=True)


def fits_on_device(nbytes, device):
    """Whether ``nbytes`` of data may move to ``device`` whole: always on the
    CPU, within :data:`DEVICE_SHARE` of the free memory of a GPU."""
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes <= DEVICE_SHARE * free


def to_device(host_batches, device):
    """Tuples of host arrays as tuples of tensors on ``device``.

    On a GPU each batch is copied from pinned memory on a side stream while
    the previous one is computed on; the compute stream waits for the copy
    only when it needs the batch. On the CPU the tensors share the arrays'
    memory.
    """
    if device.type != "cuda":
        for batch in host_batches:
            yield tuple(to_tensor(array, device) for array in batch)
        return
    stream = torch.cuda.Stream(device)

    def send(batch):
        with torch.cuda.stream(stream):
            tensors = tuple(to_tensor(array, device, pin=True) for array in batch)
            copied = torch.cuda.Event()
            copied.record(stream)
        return tensors, copied

    pending = None
    for batch in host_batches:
        sent = send(batch)
        if pending is not None:
            yield _received(*pending, device)
        pending = sent
    if pending is not None:
        yield _received(*pending, device)


def _received(tensors, copied, device):
    compute = torch.cuda.current_stream(device)
    compute.wait_event(copied)
    for tensor in tensors:  # its memory is not reused before compute is done
        parts = (
            (tensor.crow_indices(), tensor.col_indices(), tensor.values())
            if tensor.layout == torch.sparse_csr
            else (tensor,)
        )
        for part in parts:
            part.record_stream(compute)
    return tensors


class BatchesBase:
    """What the training loop asks of batches: ``n_samples``, ``batch_size``,
    ``device``, ``epoch(generator)``, and :meth:`total`."""

    def __len__(self):
        return math.ceil(self.n_samples / self.batch_size)

    def __iter__(self):
        return self.epoch()

    def total(self, tensor):
        """``tensor`` summed over the processes that share these batches
        (see :mod:`._distributed`): itself, for one process."""
        return tensor


class Batches(BatchesBase):
    """Aligned arrays in memory served as minibatches of tensors on ``device``.

    Dense arrays move to the device once if they fit there
    (:func:`fits_on_device`); scipy sparse matrices (served as sparse CSR
    tensors), and dense arrays too large for a GPU, stay on the host and
    reach the device one batch at a time (:func:`to_device`).

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
        dense_bytes = sum(a.nbytes for a in arrays if not sp.issparse(a))
        self.on_device = not any(sp.issparse(a) for a in arrays) and fits_on_device(
            dense_bytes, self.device
        )
        if self.on_device:
            self._arrays = [to_tensor(a, self.device) for a in arrays]
        else:
            self._arrays = [a.tocsr() if sp.issparse(a) else np.asarray(a) for a in arrays]

    def epoch(self, generator=None):
        """Yield the batches of one pass, rows in a random order drawn from
        ``generator`` (a CPU :class:`torch.Generator`) if given.

        The permutation moves to the device once; host rows are picked with
        its CPU copy, so no index travels back from the device.
        """
        order = None
        if generator is not None:
            order = torch.randperm(self.n_samples, generator=generator)
        if self.on_device:
            device_order = None if order is None else order.to(self.device)
            for start in range(0, self.n_samples, self.batch_size):
                rows = slice(start, start + self.batch_size)
                if device_order is None:
                    yield tuple(array[rows] for array in self._arrays)
                else:  # index_select gathers rows three times faster than indexing
                    index = device_order[rows]
                    yield tuple(array.index_select(0, index) for array in self._arrays)
        else:
            yield from to_device(self._host_batches(order), self.device)

    def _host_batches(self, order):
        rows_order = None if order is None else order.numpy()
        for start in range(0, self.n_samples, self.batch_size):
            rows = slice(start, start + self.batch_size)
            if rows_order is not None:
                rows = rows_order[rows]
            yield tuple(array[rows] for array in self._arrays)


class StreamedRows:
    """Some contiguous ranges of the rows of a memory map (and of arrays
    aligned with it), read only when batches are served.

    Parameters
    ----------
    arrays : sequence of array-like
        A memory map first, then arrays with the same number of rows (e.g.
        the targets).
    ranges : list of (int, int)
        ``(start, stop)`` ranges of rows; all rows if None.
    """

    def __init__(self, arrays, ranges=None):
        self.arrays = list(arrays)
        n_rows = self.arrays[0].shape[0]
        self.ranges = [(0, n_rows)] if ranges is None else list(ranges)
        self.shape = (sum(stop - start for start, stop in self.ranges), *arrays[0].shape[1:])

    def split(self, fraction, rng, n_chunks=64):
        """Two :class:`StreamedRows`: the rows cut in ``n_chunks`` contiguous
        chunks, a random ``fraction`` of which (at least one) is held out."""
        n_rows = self.arrays[0].shape[0]
        edges = np.unique(np.linspace(0, n_rows, min(n_chunks, n_rows) + 1).astype(int))
        chunks = list(zip(edges[:-1], edges[1:], strict=True))
        held = set(rng.permutation(len(chunks))[: max(1, math.ceil(fraction * len(chunks)))])
        kept = [c for i, c in enumerate(chunks) if i not in held]
        return StreamedRows(self.arrays, kept), StreamedRows(
            self.arrays, [c for i, c in enumerate(chunks) if i in held]
        )


class StreamedBatches(BatchesBase):
    """Batches of rows read from a memory map as they are needed.

    The rows are cut into contiguous blocks, each read in one sequential
    pass, converted to ``dtype`` and checked (:func:`~._data.read_rows`). A
    shuffled epoch visits the blocks in a random order and shuffles the rows
    of :data:`BLOCKS_PER_BUFFER` blocks together (a buffer of about
    :data:`BUFFER_BYTES`), so that each batch mixes rows from eight places
    of the file while the disk is read in long runs. Memory holds one buffer
    and the batch on its way to the device, whatever the size of the file.

    Parameters
    ----------
    rows : StreamedRows
        The memory map and aligned arrays, and which of their rows to serve.
    batch_size : int
        Rows per batch (the last batch may be smaller).
    device : torch.device
        Where the batches are served.
    dtype : numpy dtype
        The dtype that the rows of the memory map are converted to.
    """

    def __init__(self, rows, *, batch_size, device, dtype):
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.dtype = np.dtype(dtype)
        self._arrays = rows.arrays
        self.n_samples = rows.shape[0]
        width = int(np.prod(rows.shape[1:]))
        buffer_rows = max(self.batch_size, BUFFER_BYTES // (width * self.dtype.itemsize))
        block_rows = max(1, buffer_rows // BLOCKS_PER_BUFFER)
        self._blocks = [
            (first, min(first + block_rows, stop))
            for start, stop in rows.ranges
            for first in range(start, stop, block_rows)
        ]

    def epoch(self, generator=None):
        """Yield the batches of one pass, shuffled with ``generator`` if given."""
        return to_device(self._host_batches(generator), self.device)

    def _buffer(self, chosen):
        """The rows of the blocks ``chosen``, read into one new array per
        array (the memory map's rows converted to ``dtype``)."""
        sizes = [self._blocks[i][1] - self._blocks[i][0] for i in chosen]
        first, *others = self._arrays
        buffer = [np.empty((sum(sizes), *first.shape[1:]), dtype=self.dtype)]
        buffer += [np.empty((sum(sizes), *a.shape[1:]), dtype=a.dtype) for a in others]
        position = 0
        for i, size in zip(chosen, sizes, strict=True):
            start, stop = self._blocks[i]
            buffer[0][position : position + size] = read_rows(first, start, stop, self.dtype)
            for target, array in zip(buffer[1:], others, strict=True):
                target[position : position + size] = array[start:stop]
            position += size
        return buffer

    def _host_batches(self, generator):
        order = range(len(self._blocks))
        if generator is not None:
            order = torch.randperm(len(self._blocks), generator=generator).tolist()
        carried = []  # the last rows of a buffer, which begin the next batch
        for group in range(0, len(order), BLOCKS_PER_BUFFER):
            buffer = self._buffer(order[group : group + BLOCKS_PER_BUFFER])
            n_rows = buffer[0].shape[0]
            rows = None
            if generator is not None:
                rows = torch.randperm(n_rows, generator=generator).numpy()

            def take(start, stop, buffer=buffer, rows=rows):
                index = slice(start, stop) if rows is None else rows[start:stop]
                return [array[index] for array in buffer]

            position = 0
            if carried:
                position = min(n_rows, self.batch_size - carried[0].shape[0])
                head = take(0, position)
                carried = [np.concatenate(pair) for pair in zip(carried, head, strict=True)]
                if carried[0].shape[0] < self.batch_size:
                    continue
                yield tuple(carried)
                carried = []
            for start in range(position, n_rows - self.batch_size + 1, self.batch_size):
                yield tuple(take(start, start + self.batch_size))
                position = start + self.batch_size
            if position < n_rows:
                carried = [np.array(rows) for rows in take(position, n_rows)]
            buffer = take = None  # freed before the next buffer is read
        if carried:
            yield tuple(carried)


def make_batches(arrays, *, batch_size, device, dtype=None):
    """:class:`StreamedBatches` for a memory map or :class:`StreamedRows`
    (converted to ``dtype``), :class:`Batches` for arrays in memory."""
    if is_streamed(arrays[0]):
        arrays = [StreamedRows(arrays)]
    if isinstance(arrays[0], StreamedRows):
        dtype = dtype or np.float64
        return StreamedBatches(arrays[0], batch_size=batch_size, device=device, dtype=dtype)
    return Batches(arrays, batch_size=batch_size, device=device)


def inference_batch_rows(width, itemsize):
    """Rows per inference batch: four arrays of ``width`` columns of
    ``itemsize`` bytes (the rows, their densified or converted copy, an
    output and an error) within :data:`INFERENCE_BYTES`."""
    return max(1, INFERENCE_BYTES // (4 * max(1, width) * itemsize))


def inference_module(module, X):
    """The module that computes ``X`` at inference: ``module``, or for float64
    data (a float64 tensor, or an array that computes in float64) and
    float32 weights a float64 copy of it. Float32 products of a row round
    differently with the rows computed beside it (BLAS blocks a batch by
    its size), so that a row's codes would depend on its batch to some 1e-7;
    in float64 they agree to some 1e-16, as scikit-learn asks of float64
    data, and the float32 weights lose nothing.

    The copy is kept on ``module`` until its tensors change (``partial_fit``
    steps them in place, which moves their version counters; a move to
    another device gives them new storage): a 1,024 x 784 model's copy took
    6 ms, a row's codes 0.8 ms."""
    weights = next(module.parameters())
    if isinstance(X, torch.Tensor):
        wide = X.dtype == torch.float64
    else:
        wide = float_dtype(X.dtype) == np.float64
    if not (wide and weights.dtype == torch.float32):
        return module
    state = tuple(
        (tensor.data_ptr(), tensor._version)
        for tensor in itertools.chain(module.parameters(), module.buffers())
    )
    saved = module.__dict__.pop("_float64_copy", None)  # (not deep-copied below)
    if saved is None or saved[0] != state:
        saved = (state, copy.deepcopy(module).to(torch.float64))
    module.__dict__["_float64_copy"] = saved
    return saved[1].train(module.training)


@torch.no_grad()
def apply_in_batches(function, X, like, width=None, matmul_precision=None):
    """``function`` applied to the rows of ``X`` in batches, as numpy.

    ``X`` may be dense, sparse or a memory map; a torch tensor gives a
    tensor (:func:`_apply_to_tensor`). The rows are computed in the
    dtype and on the device of the tensor ``like`` (a parameter of the
    model); the result has ``X``'s float dtype (float64 for the integers of
    a memory map). Rows travel to the device (and change dtype) one batch at
    a time, of at most :data:`INFERENCE_BYTES` for arrays as wide as the
    widest of ``X``'s rows (a sparse row: its non-zeros, on average) and
    ``width`` (the model's), and the results fill one array made for them:
    besides ``X`` and the result, memory holds one batch. Float32 products
    run at ``matmul_precision`` (see
    :func:`~._runtime.float32_matmul_precision`; None: as they are).

    Raises
    ------
    ValueError
        If a result is not finite: inputs far larger than the training data
        overflow the float type of the model or of the result.
    """
    if isinstance(X, torch.Tensor):
        return _apply_to_tensor(function, X, like, width, matmul_precision)
    dtype = numpy_dtype(like.dtype)
    row_width = X.shape[1]
    if sp.issparse(X):  # (the non-zeros' values and indices, on average)
        row_width = min(row_width, 2 * X.nnz // max(1, X.shape[0]))
    n_rows = inference_batch_rows(max(row_width, width or 0), np.dtype(dtype).itemsize)
    starts = range(0, X.shape[0], n_rows)
    host = ((read_rows(X, start, start + n_rows, dtype),) for start in starts)
    result_dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    result = None
    with call_settings(matmul_precision):
        for start, (rows,) in zip(starts, to_device(host, like.device), strict=True):
            out = function(rows).cpu().numpy()
            if result is None:
                result = np.empty((X.shape[0], *out.shape[1:]), dtype=result_dtype)
            stop = start + out.shape[0]
            with np.errstate(over="ignore"):  # float64 results beyond float32: inf
                result[start:stop] = out
            if not np.isfinite(result[start:stop]).all():
                _raise_overflow(X[start:stop], result.dtype, like.dtype)
    return result


def _apply_to_tensor(function, X, like, width=None, matmul_precision=None):
    """:func:`apply_in_batches` of a torch tensor ``X``: batches read from it
    on its device (moved to the model's, if another), the results written
    into a tensor of ``X``'s dtype made on ``X``'s device; nothing goes
    through numpy or the host (but one check that the results are finite)."""
    n_rows = inference_batch_rows(max(X.shape[1], width or 0), like.element_size())
    result = None
    with call_settings(matmul_precision), torch.no_grad():
        for start in range(0, X.shape[0], n_rows):
            rows = X[start : start + n_rows].to(like.device, like.dtype)
            out = function(rows)
            if result is None:
                result = X.new_empty((X.shape[0], *out.shape[1:]))
            result[start : start + out.shape[0]] = out.to(result.device, result.dtype)
    if not bool(torch.isfinite(result).all()):
        _raise_overflow(X, numpy_dtype(result.dtype), like.dtype)
    return result


def _raise_overflow(rows, result_dtype, model_dtype):
    """The error for ``rows`` of X whose results are not finite."""
    largest = float(abs(rows).max())  # (numpy, scipy or torch)
    in_float32 = result_dtype == np.float32 or model_dtype == torch.float32
    raise ValueError(
        f"The outputs for some rows of X are not finite: X holds values up to {largest:.3g} "
        f"in magnitude, beyond what {'float32' if in_float32 else 'float64'} can compute "
        "with this model. Scale X as the training data were scaled"
        + (
            ", or fit with compute_dtype='float64' and use the model on float64 data."
            if in_float32
            else "."
        )
    )
