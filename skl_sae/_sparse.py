"""Batches of sparse rows: read through their non-zeros, never densified.

A batch of a scipy sparse matrix reaches torch as a sparse CSR tensor
(:func:`csr_tensor`); the encoder multiplies it into its weight (a sparse x
dense product, on the CPU and on CUDA) and a linear decoder's squared error
comes from the non-zeros and the decoder's Gram matrix (:func:`linear_errors`):
for ``x_hat = D h + c``,

    ||x - x_hat||^2 = ||x - c||^2 - 2 (x - c)^T D h + h^T (D^T D) h,

with ``||x - c||^2 = ||x||^2 - 2 x^T c + ||c||^2``: per row O(nnz k + k^2),
plus O(d k^2) per batch for ``D^T D``, where the dense error costs O(d k)
per row. Autograd differentiates these expressions. What cannot be had from
the non-zeros (a sigmoid output, Gaussian noise on the inputs) takes the
dense batch (:func:`to_dense`). The bottom of the torch layer, with
:mod:`._functional`: it imports nothing of the package.
"""

import warnings

import numpy as np
import torch


def _csr(crow_indices, col_indices, values, size):
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
        warnings.filterwarnings("ignore", message=".*[Ss]parse CSR tensor.*", category=UserWarning)
        return torch.sparse_csr_tensor(
            crow_indices, col_indices, values, size=size, check_invariants=False
        )


def is_sparse(x):
    """Whether the tensor ``x`` is a sparse CSR batch."""
    return isinstance(x, torch.Tensor) and x.layout == torch.sparse_csr


def to_dense(x):
    """``x`` as a dense tensor (itself if it is one)."""
    return x.to_dense() if is_sparse(x) else x


def csr_tensor(rows, device="cpu", pin=False):
    """The scipy sparse ``rows`` as a torch sparse CSR tensor on ``device``,
    in their dtype (indices as int64); ``pin`` copies through pinned memory,
    asynchronously (for a CUDA ``device``)."""
    rows = rows.tocsr()
    parts = [
        torch.from_numpy(np.asarray(rows.indptr, dtype=np.int64)),
        torch.from_numpy(np.asarray(rows.indices, dtype=np.int64)),
        torch.from_numpy(np.ascontiguousarray(rows.data)),
    ]
    if pin:
        parts = [part.pin_memory() for part in parts]
    return _csr(*(part.to(device, non_blocking=pin) for part in parts), size=rows.shape)


def with_values(x, values):
    """The CSR tensor ``x`` with other ``values`` at the same places."""
    return _csr(x.crow_indices(), x.col_indices(), values, size=x.shape)


def rows(x, start, stop):
    """Rows ``start:stop`` of the tensor ``x`` (a view of a dense one; a
    sparse CSR one, which torch cannot slice, rebuilt from its parts)."""
    if not is_sparse(x):
        return x[start:stop]
    crow = x.crow_indices()
    first, last = int(crow[start]), int(crow[stop])
    return _csr(
        crow[start : stop + 1] - first,
        x.col_indices()[first:last],
        x.values()[first:last],
        size=(stop - start, x.shape[1]),
    )


def row_ids(x):
    """The row of each stored value of the CSR tensor ``x``."""
    crow = x.crow_indices()
    counts = crow[1:] - crow[:-1]
    return torch.repeat_interleave(torch.arange(x.shape[0], device=x.device), counts)


def row_sums(x, values):
    """Per-row sums of ``values`` (one per stored entry of ``x``), shape (n_rows,)."""
    return values.new_zeros(x.shape[0]).index_add_(0, row_ids(x), values)


def mask_values(x, level, generator):
    """``x`` with each non-zero set to 0 with probability ``level``: masking
    noise, which only ever changes the non-zeros."""
    values = x.values()
    keep = torch.rand(values.shape, generator=generator, device=x.device, dtype=values.dtype)
    return with_values(x, values * (keep >= level))


def matmul(x, matrix):
    """``x @ matrix`` for the sparse rows ``x``: O(nnz) work per column of
    ``matrix``, differentiable in ``matrix``.

    A contiguous ``matrix`` (a decoder, whose rows are the features) goes
    through ``embedding_bag``, whose gradient is scattered from the
    non-zeros (twice as fast as ``torch.sparse.mm``'s, which transposes the
    batch); a transposed one (an encoder's weight) through ``torch.sparse.mm``.
    """
    if matrix.is_contiguous():
        offsets = x.crow_indices()[:-1]
        return torch.nn.functional.embedding_bag(
            x.col_indices(), matrix, offsets, mode="sum", per_sample_weights=x.values()
        )
    return torch.sparse.mm(x, matrix)


def linear_errors(x, codes, decoder, bias):
    """Per-row mean squared error of ``decoder @ h + bias`` against the rows
    of ``x`` (sparse), from the non-zeros and the Gram matrix.

    ``decoder`` has shape (n_features, n_units), ``codes`` (n_rows,
    n_units). The error is clamped at 0: in float32 the subtraction loses
    the digits of an error far below ``||x||^2``.
    """
    norms, products = _centred(x, decoder, bias)
    errors = norms - 2 * (products * codes).sum(dim=1)
    errors = errors + ((codes @ (decoder.T @ decoder)) * codes).sum(dim=1)
    return errors.clamp_min(0) / x.shape[1]


def linear_auxiliary_errors(x, codes, auxiliary_codes, decoder, bias):
    """Per-row mean squared error of AuxK's reconstruction against ``x``
    (sparse): the main reconstruction ``D h + c`` held fixed (no gradient)
    plus ``D a``, ``a`` the ``auxiliary_codes``.

    With the residual ``e = x - D h - c`` fixed, ``||e - D a||^2 = ||e||^2
    - 2 e^T D a + a^T (D^T D) a``, where ``e^T D = x^T D - h^T (D_0^T D) -
    c_0^T D`` needs the mixed Gram matrix of the fixed decoder ``D_0`` and
    the trained one.
    """
    fixed_decoder, fixed_bias = decoder.detach(), bias.detach()
    residual = linear_errors(x, codes.detach(), fixed_decoder, fixed_bias) * x.shape[1]
    mixed_gram = fixed_decoder.T @ decoder
    products = matmul(x, decoder) - fixed_bias @ decoder - codes.detach() @ mixed_gram
    errors = residual - 2 * (products * auxiliary_codes).sum(dim=1)
    errors = errors + ((auxiliary_codes @ (decoder.T @ decoder)) * auxiliary_codes).sum(dim=1)
    return errors.clamp_min(0) / x.shape[1]


def _centred(x, decoder, bias):
    """``||x - c||^2`` per row and ``(x - c)^T D`` for the sparse rows ``x``."""
    values = x.values()
    x_bias = row_sums(x, values * bias.index_select(0, x.col_indices()))
    norms = row_sums(x, values.square()) - 2 * x_bias + bias @ bias
    return norms, matmul(x, decoder) - bias @ decoder
