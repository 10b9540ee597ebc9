"""Batches of sparse rows: read through their non-zeros, never densified.

A batch of a scipy sparse matrix reaches torch as a sparse CSR tensor
(:func:`csr_tensor`); the encoder multiplies it into its weight (a sparse x
dense product, on the CPU and on CUDA) and a linear decoder's squared error
comes from the non-zeros and the decoder's Gram matrix (:func:`linear_errors`):
for ``x_hat = D h + c``,

    ||x - x_hat||^2 = ||x - c||^2 - 2 (x - c)^T D h + h^T (D^T D) h,

with ``||x - c||^2 = ||x||^2 - 2 x^T c + ||c||^2``: per row O(nnz k + k^2),
plus O(d k^2) per batch for ``D^T D``, where the dense error costs O(d k)
per row. Their gradients are written by hand (:class:`_LinearErrors`), in
one more product of the decoder with a (k, k) matrix. What cannot be had from
the non-zeros (a sigmoid output, Gaussian noise on the inputs) takes the
dense batch (:func:`to_dense`). The bottom of the torch layer, with
:mod:`._functional`: it imports nothing of the package.
"""

import warnings

import numpy as np
import scipy.sparse
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
    """The CSR tensor ``x`` with other ``values`` at the same places (and
    the same :func:`transposed` structure, computed once for both)."""
    result = _csr(x.crow_indices(), x.col_indices(), values, size=x.shape)
    result._transposition = _transposition(x)
    return result


class _Transposition:
    """Where each stored value of a CSR structure goes in its transpose,
    computed on first use: shared by the tensors with the same non-zeros
    (:func:`with_values`), so that a step transposes its batch once."""

    __slots__ = ("order", "crow_indices", "col_indices")

    def __init__(self):
        self.order = None

    def of(self, x):
        """Itself, computed for the structure of ``x`` if not yet."""
        if self.order is None:
            transpose = _scipy_transposition if x.device.type == "cpu" else _sorted_transposition
            self.order, self.crow_indices, self.col_indices = transpose(x)
        return self


def _scipy_transposition(x):
    """(order, crow_indices, col_indices) of ``x``'s transpose by scipy's
    counting sort (CPU)."""
    structure = scipy.sparse.csr_matrix(
        (np.arange(x._nnz()), x.col_indices().numpy(), x.crow_indices().numpy()), shape=x.shape
    ).tocsc()
    parts = (structure.data, structure.indptr, structure.indices)
    return tuple(torch.from_numpy(part.astype(np.int64, copy=False)) for part in parts)


def _sorted_transposition(x):
    """The same as :func:`_scipy_transposition` by a stable sort of the
    column indices, on ``x``'s device."""
    columns = x.col_indices()
    order = torch.argsort(columns, stable=True)
    counts = torch.bincount(columns, minlength=x.shape[1])
    crow_indices = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    return order, crow_indices, row_ids(x).index_select(0, order)


def _transposition(x):
    if not hasattr(x, "_transposition"):
        x._transposition = _Transposition()
    return x._transposition


def transposed(x):
    """The CSR tensor ``x`` transposed, as a CSR tensor: what ``x^T @ y``
    needs, many times faster than through the CSC view of ``x.t()``."""
    plan = _transposition(x).of(x)
    values = x.values().index_select(0, plan.order)
    return _csr(plan.crow_indices, plan.col_indices, values, size=(x.shape[1], x.shape[0]))


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
    ``matrix``, differentiable in ``matrix`` (whose gradient ``x^T @ grad``
    multiplies the :func:`transposed` rows)."""
    return _SparseProduct.apply(x, matrix)


class _SparseProduct(torch.autograd.Function):
    """``x @ matrix``, ``x`` sparse rows, through :func:`weighted_row_sums`;
    its gradient ``x^T @ grad`` the same way through the :func:`transposed`
    rows."""

    @staticmethod
    def forward(ctx, x, matrix):
        ctx.x = x
        return weighted_row_sums(x, matrix)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        return None, weighted_row_sums(transposed(ctx.x), grad)


def weighted_row_sums(x, matrix):
    """``x @ matrix`` for the CSR tensor ``x``: the sum of ``matrix``'s rows at
    each row's columns, weighted by its values, through ``embedding_bag``.

    ``torch.sparse.mm`` takes two to three times as long on the CPU (MKL's
    product into a zeroed buffer, then copied to the output); a transposed
    ``matrix`` (an encoder's weight) is copied contiguous first.
    """
    return torch.nn.functional.embedding_bag(
        x.col_indices(),
        matrix.contiguous(),
        x.crow_indices()[:-1],
        mode="sum",
        per_sample_weights=x.values(),
    )


def linear_errors(x, codes, decoder, bias):
    """Per-row mean squared error of ``decoder @ h + bias`` against the rows
    of ``x`` (sparse), from the non-zeros and the Gram matrix.

    ``decoder`` has shape (n_features, n_units), ``codes`` (n_rows,
    n_units). The error is clamped at 0: in float32 the subtraction loses
    the digits of an error far below ``||x||^2``.
    """
    errors = _LinearErrors.apply(x, codes, decoder, bias, None)
    return errors.clamp_min(0) / x.shape[1]


def linear_auxiliary_errors(x, codes, auxiliary_codes, decoder, bias):
    """Per-row mean squared error of AuxK's reconstruction against ``x``
    (sparse): the main reconstruction ``D h + c`` held fixed (no gradient)
    plus ``D a``, ``a`` the ``auxiliary_codes``.

    With the residual ``e = x - D_0 h - c_0`` fixed (``D_0`` and ``c_0`` the
    decoder and bias without gradient), the error is ``||x - c_0 - D_0 h -
    D a||^2``, whose value is that of ``D (h + a)``: the same identity, with
    the gradient reaching ``D`` through ``a`` alone.
    """
    errors = _LinearErrors.apply(x, auxiliary_codes, decoder, bias.detach(), codes.detach())
    return errors.clamp_min(0) / x.shape[1]


class _LinearErrors(torch.autograd.Function):
    """``||x - c - D_0 h_0 - D a||^2`` per sparse row of ``x``, ``D_0 = D``
    and the codes ``h_0`` held fixed (None: none): the reconstruction error
    of the codes ``a``, or AuxK's on top of the fixed ``h_0``.

    With ``t = h_0 + a`` and ``P = (x - c)^T D``, the value is ``||x - c||^2
    - 2 P t + t^T (D^T D) t``. Its gradients, weighted by ``u`` per row,
    are written by hand so that a step does O(d k^2) work twice (the Gram
    matrix forward, one product of ``D`` with a (k, k) matrix backward) and
    the rest from the non-zeros: autograd on the same expressions
    differentiates the Gram matrix through both factors, the centring ``c^T
    D`` through an outer product, and adds each term's (d, k) gradient
    separately, about ten passes over the decoder's size a step::

        da = 2 u (t G - P)
        dD = 2 D T^T (u a) + 2 c (u^T a)^T - 2 X^T (u a)
        dc = 2 D T^T u + 2 c sum(u) - 2 X^T u
    """

    @staticmethod
    def forward(ctx, x, codes, decoder, bias, fixed_codes):
        ctx.x = x  # (with its transposition, which save_for_backward would not keep)
        values, columns = x.values(), x.col_indices()
        gram = decoder.T @ decoder
        products = matmul(x, decoder) - decoder.T.mv(bias)
        total = codes if fixed_codes is None else codes + fixed_codes
        total_gram = total @ gram
        norms = row_sums(x, values * (values - 2 * bias.index_select(0, columns)))
        errors = norms + bias.dot(bias) + ((total_gram - 2 * products) * total).sum(dim=1)
        ctx.save_for_backward(codes, decoder, bias, total, total_gram - products)
        return errors

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_errors):
        x = ctx.x
        codes, decoder, bias, total, residual_products = ctx.saved_tensors
        need_codes, need_decoder, need_bias = ctx.needs_input_grad[1:4]
        grad_codes = grad_decoder = grad_bias = None
        u = 2 * grad_errors
        if need_codes:
            grad_codes = residual_products * u[:, None]
        features = transposed(x) if need_decoder or need_bias else None
        if need_decoder:
            weighted = codes * u[:, None]
            grad_decoder = weighted_row_sums(features, weighted)  # updated in place
            grad_decoder.addmm_(decoder, total.T @ weighted, beta=-1)
            grad_decoder.addr_(bias, weighted.sum(dim=0))
        if need_bias:
            grad_bias = decoder.mv(total.T @ u) + bias * u.sum()
            grad_bias.sub_(features @ u)
        return None, grad_codes, grad_decoder, grad_bias, None
