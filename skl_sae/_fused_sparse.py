"""The TopK autoencoder's loss on sparse rows and its gradient, by hand.

The default model of a scipy sparse matrix (TopK codes, a linear decoder of
unit-norm atoms, the error read from the rows' non-zeros by
:mod:`._sparse`) spends a step on the model, not on the rows: the decoder's
Gram matrix, one product of the decoder with a (k, k) matrix and the
products ``x^T g`` that give the weights' gradients, each the size of the
model. Through autograd each gradient is a new tensor of the model's size
every step, and the process's memory grew by the blocks that malloc keeps
after they are freed (20,000 x 50,000 float64 at 64 units: a fit grew by 290
to 347 MB over four runs, where it holds 205 MB). :func:`loss_and_gradients`
computes the same loss and writes its gradients block by block of features
into buffers kept from step to step (the same fit: 272 to 290 MB, as fast),
with one product of the transposed rows for both weights' gradients. AuxK's
term still goes through autograd, from the pre-activations: on the CPU on
the steps where units are dead, on a GPU on every step (its count of dead
units stays on the device, see :func:`~._codes.counts_on_host`).
:class:`~._losses.AutoencoderLoss` uses it in training whenever the model
and the loss are of that kind (:func:`supports`); ``tests/test_fused_sparse.py``
holds the two to the same values and gradients."""

import torch

from . import _sparse as sparse
from ._codes import TopK
from ._functional import accumulate_gradient_, weight_decay
from ._modules import AutoencoderOutput, SparseAutoencoder

#: The most bytes of one block of the gradients' products, (features, 2 k)
#: values, computed and written out while they are in cache.
BLOCK_BYTES = 4 * 2**20


def supports(module, loss):
    """Whether :func:`loss_and_gradients` computes ``loss`` (an
    :class:`~._losses.AutoencoderLoss`) on ``module`` fed sparse rows: an
    untied :class:`~._modules.SparseAutoencoder` with a linear decoder,
    relu TopK codes and its encoder stored by feature
    (:meth:`~._layers.DenseLayer.store_by_feature_`), no penalty but weight
    decay, and no corruption but masking noise."""
    return (
        type(module) is SparseAutoencoder
        and module.reads_nonzeros
        and not module.tied_weights
        and type(module.encoder.code) is TopK
        and module.encoder.code.activation == "relu"
        and module.encoder.weight.mT.is_contiguous()
        and loss.penalty is None
        and loss.contractive_weight == 0
        and loss.corruption in (None, "mask")
    )


@torch.no_grad()
def loss_and_gradients(module, noisy, x, loss, weight=1.0, buffers=None):
    """``weight`` times the loss of ``module`` fed the sparse rows ``noisy``
    and reconstructing ``x`` (the same rows, or ``noisy`` without its
    masking noise), with its gradient added to the parameters' ``.grad``
    (weight decay's aside, which ``loss.add_weight_decay_gradients_`` adds
    once a step).

    The loss is ``mean ||x - D h - c||^2 / (d * scale)`` (on the network's
    scaled inputs, times ``input_scale ** 2``), ``h`` the TopK codes of
    ``noisy``, plus ``alpha / 2 * ||W||^2`` and AuxK's term, whose value
    counts only with ``loss.report_auxiliary``. Gradients go into the
    tensors of ``buffers`` (a dict, kept by the caller from step to step)
    where a parameter has none yet.

    Returns
    -------
    value : torch.Tensor
        The weighted loss, a scalar without gradient.
    codes : torch.Tensor of shape (n_samples, n_components)
    errors : torch.Tensor of shape (n_samples,)
        Per-row mean squared reconstruction error.
    """
    buffers = {} if buffers is None else buffers
    encoder, bias = module.encoder.weight, module.encoder.bias
    decoder, center = module.decoder_weight, module.decoder_bias
    target = module.normalize(x)
    seen = target if noisy is x else module.normalize(noisy)
    n_samples, n_features = x.shape
    squared_scale = module.input_scale**2

    # Forward: the codes, then the error from the non-zeros (see _sparse).
    pre = sparse.matmul(seen, encoder.T).add_(bias)
    codes = module.encoder.code(pre)[0]
    products = sparse.matmul(target, decoder).sub_(decoder.T.mv(center))
    codes_gram = codes @ (decoder.T @ decoder)
    values = target.values()
    at_values = center.index_select(0, target.col_indices())
    norms = sparse.row_sums(target, values * (values - 2 * at_values))
    raw = ((codes_gram - 2 * products) * codes).sum(dim=1).add_(norms + center.dot(center))
    errors = raw.clamp_min(0) * (squared_scale / n_features)
    value = errors.mean() / loss.scale
    if loss.alpha > 0:
        value += loss.alpha * weight_decay(module.weights())

    # Backward: u is d(weighted loss) / d(squared error) per row, times 2.
    u = (raw >= 0).to(raw.dtype) * (
        2 * weight * squared_scale / (n_samples * n_features * loss.scale)
    )
    grad_pre = codes_gram.sub_(products).mul_(u[:, None]).mul_(codes > 0)
    auxiliary_decoder = None
    if loss.auxk_weight > 0:
        auxiliary, gradients = _auxiliary(module, codes, pre, x, loss, weight)
        if auxiliary is not None:
            grad_pre += gradients[0]
            auxiliary_decoder = gradients[1]
            if loss.report_auxiliary:
                value += auxiliary
    weighted = codes * u[:, None]
    _add_gradients(module, seen, target, grad_pre, weighted, u, codes.T @ weighted, buffers)
    if auxiliary_decoder is not None:
        decoder.grad.add_(auxiliary_decoder)
    return (value if weight == 1 else value * weight), codes, errors


def _auxiliary(module, codes, pre, x, loss, weight):
    """AuxK's term (unweighted by the batch) and its gradients (weighted)
    with respect to the pre-activations and the decoder, through autograd;
    None where no unit is dead. Updates the dead units' counts."""
    with torch.enable_grad():
        leaf = pre.detach().requires_grad_()
        output = AutoencoderOutput(codes, None, leaf, None)
        auxiliary = module.encoder.code.auxiliary_loss(module, output, x, loss.dead_latents)
        if auxiliary is None or not auxiliary.requires_grad:
            return None, None
        auxiliary = loss.auxk_weight * auxiliary
        gradients = torch.autograd.grad(
            auxiliary * weight, [leaf, module.decoder_weight], allow_unused=True
        )
    return auxiliary.detach(), gradients


def _add_gradients(module, seen, target, grad_pre, weighted, u, mixed, buffers):
    """Add the gradients of the encoder's weight and bias and of the
    decoder's, from the transposed rows, block by block of features:

        dW^T = X~^T g,  dD = D M - X^T (u h) + c (u^T h)^T,  dc = D (h^T u) + c sum(u) - X^T u

    (``g`` the pre-activations' gradient, ``M = h^T (u h)`` the ``mixed``
    matrix, ``X~`` the rows seen, ``X`` the target's). Where ``seen`` is
    ``target`` (no noise), one product of the transposed rows gives both
    weights' gradients."""
    encoder, decoder, center = module.encoder.weight, module.decoder_weight, module.decoder_bias
    n_features, n_units = decoder.shape
    same_rows = seen is target
    table = torch.cat([grad_pre, weighted], dim=1) if same_rows else weighted
    rows = sparse.transposed(target)
    rows_seen = rows if same_rows else sparse.transposed(seen)
    encoder_t = _buffer(buffers, "encoder", encoder, encoder.mT.shape)
    decoder_t = _buffer(buffers, "decoder", decoder, decoder.shape)
    code_sums = weighted.sum(dim=0)  # h^T u
    per_block = max(1, BLOCK_BYTES // (table.shape[1] * table.element_size()))
    for start in range(0, n_features, per_block):
        stop = min(n_features, start + per_block)
        block = sparse.weighted_row_sums(sparse.rows(rows, start, stop), table)
        if same_rows:
            encoder_t[start:stop] = block[:, :n_units]
            block = block[:, n_units:]
        else:
            seen_block = sparse.rows(rows_seen, start, stop)
            encoder_t[start:stop] = sparse.weighted_row_sums(seen_block, grad_pre)
        decoder_block = decoder_t[start:stop]
        torch.addmm(block, decoder[start:stop], mixed, beta=-1, out=decoder_block)
        decoder_block.addr_(center[start:stop], code_sums)
    accumulate_gradient_(encoder, encoder_t.mT)
    accumulate_gradient_(decoder, decoder_t)
    grad_center = decoder.mv(code_sums).addcmul_(center, u.sum()).sub_(rows @ u)
    accumulate_gradient_(center, grad_center)
    accumulate_gradient_(module.encoder.bias, grad_pre.sum(dim=0))


def _buffer(buffers, name, parameter, shape):
    """A tensor of ``shape`` to write ``parameter``'s gradient into: the one
    kept in ``buffers`` under ``name`` (made if missing or unlike), so that
    steps reuse it, where the parameter has no gradient yet; a new one
    where a gradient is being added to (L-BFGS's batches)."""
    if parameter.grad is not None:
        return parameter.new_empty(shape)
    kept, wanted = buffers.get(name), (shape, parameter.dtype, parameter.device)
    if kept is None or (kept.shape, kept.dtype, kept.device) != wanted:
        kept = buffers[name] = parameter.new_empty(shape)
    return kept
