"""The plain autoencoder's training loss and its gradient, by hand.

On small batches a training step costs what torch's dispatcher and autograd
engine do per operation, not what the arithmetic costs: the loss of a plain
autoencoder (a dense layer, an element-wise activation, the decoder, the
squared error, the KL or L1 penalty and weight decay) records some forty
operations forward and as many backward. :func:`loss_and_gradients`
computes the same loss and adds its gradient to the parameters' ``.grad``,
as scikit-learn's MLP does, in five matrix products and a few element-wise
passes, with no autograd graph. :class:`~._losses.AutoencoderLoss` uses it
in training whenever the model and the loss are of that plain kind
(:func:`supports`), and for the imputer's network, which also reads which
entries are known and is scored on some entries alone
(:class:`~._modules.MaskedAutoencoder`, and
:class:`~._modules.MaskedDeepAutoencoder`, whose decoder has a hidden
layer); everything else (sparse codes,
the contractive penalty, AuxK) goes through autograd.
``tests/test_fused.py`` holds the two to the same values and gradients. It
reads the loss's settings from its attributes and its terms from
:mod:`._functional`, so it sits below :mod:`._losses`, which imports it.
"""

import torch

from ._codes import Activation
from ._functional import EPS, accumulate_gradient_, negative_entropy, weight_decay
from ._modules import MaskedAutoencoder, MaskedDeepAutoencoder, SparseAutoencoder

_aten = torch.ops.aten

#: ``through(grad, out)``: the gradient at an activation's input from the one
#: at its output ``out``, in one pass (autograd's own backward kernels).
BACKWARDS = {
    "sigmoid": _aten.sigmoid_backward,
    "relu": lambda grad, out: _aten.threshold_backward(grad, out, 0),
    "tanh": _aten.tanh_backward,
    "identity": lambda grad, out: grad,
}


def supports(module, loss):
    """Whether :func:`loss_and_gradients` computes ``loss`` (an
    :class:`~._losses.AutoencoderLoss`) on ``module``."""
    code = module.encoder.code
    plain = type(module) is SparseAutoencoder and loss.corruption != "hide"
    masked = type(module) in (MaskedAutoencoder, MaskedDeepAutoencoder)
    masked = masked and loss.corruption in (None, "hide")
    return (
        (plain or masked)
        and module.input_scale == 1.0
        and type(code) is Activation
        and code.activation in BACKWARDS
        and module.output_activation in BACKWARDS
        and loss.sparsity in (None, "kl", "l1")
        and loss.contractive_weight == 0
        and loss.auxk_weight == 0
    )


def activate_(values, activation):
    if activation != "identity":
        getattr(values, f"{activation}_")()
    return values


@torch.no_grad()
def loss_and_gradients(module, noisy, x, loss, weight=1.0, *, known=None, scored=None):
    """``weight`` times the loss of ``module`` fed ``noisy`` and
    reconstructing ``x``, with its gradient added to the parameters' ``.grad``
    (weight decay's aside, which ``loss.add_weight_decay_gradients_`` adds
    once a step, as for autograd's loss).

    For a :class:`~._modules.MaskedAutoencoder`, ``known`` (boolean, of
    ``x``'s shape) marks the entries it reads, ``noisy`` holding 0 at the
    others, and the pre-activations add ``V known``. With ``scored`` (a
    boolean mask) the error is the mean over the scored entries of the
    batch (:func:`~._functional.batch_error`), and a row's error the mean
    over its own.

    The loss is ``mean ||g(W' f(W x~ + b) + c) - x||^2 / (d * scale) + beta *
    penalty + alpha / 2 * (||W||^2 + ||W'||^2)`` with the terms of ``loss``:
    the penalty is the mean over units of KL(rho || mean code), means clamped
    to [1e-6, 1 - 1e-6] (no gradient beyond), or the mean absolute code.
    ``W'`` is the decoder's weight, or ``W`` transposed with tied weights.
    With a :class:`~._modules.MaskedDeepAutoencoder`, ``W' f(...)`` is
    ``W' sigmoid(E f(...) + e)``, and weight decay also reads ``E``.

    Returns
    -------
    value : torch.Tensor
        The weighted loss, a scalar without gradient.
    codes : torch.Tensor of shape (n_samples, n_components)
    error_sum : torch.Tensor
        The rows' mean squared reconstruction errors, summed (a scalar).
    """
    activation, output_activation = module.encoder.code.activation, module.output_activation
    weight_matrix, bias = module.encoder.weight, module.encoder.bias
    decoder = module.decoder_weights
    penalty = loss.sparsity if loss.sparsity_weight > 0 else None
    target, alpha = loss.sparsity_target, loss.alpha
    n_samples, n_features = x.shape

    # Forward.
    pre = torch.addmm(bias, noisy, weight_matrix.T)
    if known is not None:
        known = known.to(noisy.dtype)
        pre.addmm_(known, module.known_weight.T)
    codes = activate_(pre, activation)
    n_units = codes.shape[1]
    beta = loss.penalty_weight(n_units)
    expand = getattr(module, "expand", None)  # (the deep decoder's hidden layer)
    decoded = codes if expand is None else torch.addmm(expand.bias, codes, expand.weight.T)
    if expand is not None:
        decoded.sigmoid_()
    output = activate_(torch.addmm(module.decoder_bias, decoded, decoder.T), output_activation)
    residual = output - x
    if scored is None:
        flat = residual.view(-1)
        error_sum = flat.dot(flat).div_(n_features)  # the rows' mean squared errors, summed
        value = error_sum / (n_samples * loss.scale)
        grad_scale = 2 * weight / (n_samples * n_features * loss.scale)
    else:
        residual.mul_(scored)
        counts = scored.sum(dim=1).to(x.dtype)
        squares = torch.linalg.vecdot(residual, residual)  # per row, over its scored entries
        error_sum = squares.div(counts.clamp_min(1)).sum()
        total = counts.sum().clamp_min_(1).mul_(loss.scale)
        value = squares.sum().div_(total)
        grad_scale = total.reciprocal().mul_(2 * weight)
    if penalty == "kl":  # KL(t || r) = t log t + (1 - t) log(1 - t) + BCE(r, t)
        mean_code = codes.mean(dim=0)
        rho_hat = mean_code.clamp(EPS, 1 - EPS)
        targets = rho_hat.new_full((), target).expand(n_units)
        cross_entropy = torch.nn.functional.binary_cross_entropy(rho_hat, targets)
        value.add_(cross_entropy, alpha=beta).add_(beta * negative_entropy(target))
    elif penalty == "l1":
        value.add_(codes.abs().mean(), alpha=beta)
    if alpha > 0:
        value.add_(weight_decay(module.weights()), alpha=alpha)

    # Backward, each term times weight.
    grad_output = BACKWARDS[output_activation](residual.mul_(grad_scale), output)
    grad_decoder = grad_output.T @ decoded  # (n_features, n_units or n_hidden)
    accumulate_gradient_(module.decoder_bias, grad_output.sum(dim=0))
    if expand is not None:  # back through the hidden layer, to the codes
        grad_hidden = BACKWARDS["sigmoid"](grad_output @ decoder, decoded)
        accumulate_gradient_(expand.weight, grad_hidden.T @ codes)
        accumulate_gradient_(expand.bias, grad_hidden.sum(dim=0))
        grad_output, decoder = grad_hidden, expand.weight
    if penalty == "kl":  # the same for every row: added by the product
        # d KL / d r = (r - t) / (r (1 - r)) (BCE's), times the term's weight,
        # none where the clamp held r (hardtanh's gradient is the clamp's)
        scale = rho_hat.new_full((), weight * beta / (n_units * n_samples))
        per_unit = _aten.binary_cross_entropy_backward(scale, rho_hat, targets, None, 0)
        per_unit = _aten.hardtanh_backward(per_unit, mean_code, EPS, 1 - EPS)
        grad_codes = torch.addmm(per_unit, grad_output, decoder)
    else:
        grad_codes = grad_output @ decoder
    if penalty == "l1":
        grad_codes.add_(codes.sign(), alpha=weight * beta / (n_units * n_samples))
    grad_codes = BACKWARDS[activation](grad_codes, codes)
    grad_weight = grad_codes.T @ noisy
    if module.tied_weights:  # the decoder's gradient belongs to the same matrix
        grad_weight.add_(grad_decoder.T)
    else:
        accumulate_gradient_(module.decoder_weight, grad_decoder)
    accumulate_gradient_(weight_matrix, grad_weight)
    if known is not None:
        accumulate_gradient_(module.known_weight, grad_codes.T @ known)
    accumulate_gradient_(bias, grad_codes.sum(dim=0))
    return (value if weight == 1 else value * weight), codes, error_sum
