"""The dense autoencoder's training loss as one autograd node.

On small batches a training step costs what torch's dispatcher and autograd
engine do per operation, not what the arithmetic costs: the loss of a plain
autoencoder (a dense layer, an element-wise activation, the decoder, the
squared error, the KL or L1 penalty and weight decay) takes some forty
recorded operations forward and as many backward. :class:`DenseAutoencoderLoss`
computes the same loss and its gradient by hand, as scikit-learn's MLP does,
in five matrix products and a few element-wise passes: a step of 200 rows of
64 features into 256 units costs half as much. :func:`fused_loss` is used by
:class:`~._losses.AutoencoderLoss` whenever the model and the loss are of
that plain kind; everything else (sparse codes, the contractive penalty,
AuxK) goes through autograd. ``tests/test_fused.py`` holds the two to the
same values and gradients.
"""

import torch

from . import _codes  # (which imports ._losses, which imports this module)

_EPS = 1e-6

#: The activations whose derivative is a function of their output.
_DERIVATIVES = {
    "sigmoid": lambda out: out * (1 - out),
    "relu": lambda out: (out > 0).to(out.dtype),
    "tanh": lambda out: 1 - out * out,
}


def supports(module, loss):
    """Whether :func:`fused_loss` computes ``loss`` (an
    :class:`~._losses.AutoencoderLoss`) on ``module`` in training."""
    code = module.encoder.code
    return (
        type(code) is _codes.Activation
        and (code.activation in _DERIVATIVES or code.activation == "identity")
        and module.output_activation in ("sigmoid", "identity")
        and loss.sparsity in (None, "kl", "l1")
        and loss.contractive_weight == 0
        and loss.auxk_weight == 0
    )


def fused_loss(module, noisy, x, loss):
    """``(loss value, codes, per-row squared errors)`` of ``module`` fed
    ``noisy`` and reconstructing ``x``, with the terms of ``loss``; the
    codes and errors carry no gradient."""
    penalty = loss.sparsity if loss.sparsity_weight > 0 else None
    config = (
        module.encoder.code.activation,
        module.output_activation,
        float(loss.scale),
        penalty,
        float(loss.sparsity_target),
        float(loss.sparsity_weight),
        float(loss.alpha),
    )
    decoder_weight = None if module.tied_weights else module.decoder_weight
    return DenseAutoencoderLoss.apply(
        noisy,
        x,
        module.encoder.weight,
        module.encoder.bias,
        decoder_weight,
        module.decoder_bias,
        config,
    )


def _derivative(activation, out):
    if activation == "identity":
        return None
    return _DERIVATIVES[activation](out)


class DenseAutoencoderLoss(torch.autograd.Function):
    """``mean ||g(W' f(W x~ + b) + c) - x||^2 / (d * scale) + beta * penalty
    + alpha / 2 * (||W||^2 + ||W'||^2)`` and its gradient, by hand.

    ``W'`` is ``decoder_weight`` or, if it is None (tied weights), ``W``
    transposed. The penalty is the mean over units of KL(rho || mean code)
    (means clamped to [1e-6, 1 - 1e-6]) or the mean absolute code.
    """

    @staticmethod
    def forward(ctx, noisy, x, weight, bias, decoder_weight, decoder_bias, config):
        activation, output_activation, scale, penalty, target, beta, alpha = config
        decoder = weight.T if decoder_weight is None else decoder_weight
        codes = torch.addmm(bias, noisy, weight.T)
        if activation != "identity":
            getattr(codes, f"{activation}_")()
        output = torch.addmm(decoder_bias, codes, decoder.T)
        if output_activation == "sigmoid":
            output.sigmoid_()
        residual = output - x
        errors = residual.square().mean(dim=1)
        value = errors.mean() / scale
        mean_code = None
        if penalty == "kl":
            mean_code = codes.mean(dim=0)
            rho_hat = mean_code.clamp(_EPS, 1 - _EPS)
            kl = target * torch.log(target / rho_hat) + (1 - target) * torch.log(
                (1 - target) / (1 - rho_hat)
            )
            value = value + beta * kl.mean()
        elif penalty == "l1":
            value = value + beta * codes.abs().mean()
        if alpha > 0:
            squares = weight.square().sum()
            if decoder_weight is not None:
                squares = squares + decoder_weight.square().sum()
            value = value + 0.5 * alpha * squares
        ctx.config = config
        ctx.tied = decoder_weight is None
        ctx.save_for_backward(noisy, weight, decoder_weight, codes, output, residual, mean_code)
        ctx.mark_non_differentiable(codes, errors)
        return value, codes, errors

    @staticmethod
    def backward(ctx, grad_value, grad_codes, grad_errors):
        activation, output_activation, scale, penalty, target, beta, alpha = ctx.config
        noisy, weight, decoder_weight, codes, output, residual, mean_code = ctx.saved_tensors
        decoder = weight.T if ctx.tied else decoder_weight
        n_samples, n_features = residual.shape
        n_units = codes.shape[1]
        # d value / d (decoder pre-activation)
        grad_output = residual * (grad_value * 2 / (n_samples * n_features * scale))
        slope = _derivative(output_activation, output)
        if slope is not None:
            grad_output.mul_(slope)
        grad_decoder = grad_output.T @ codes
        grad_decoder_bias = grad_output.sum(dim=0)
        grad_codes = grad_output @ decoder
        if penalty == "kl":
            rho_hat = mean_code.clamp(_EPS, 1 - _EPS)
            inside = (mean_code >= _EPS) & (mean_code <= 1 - _EPS)
            per_unit = ((1 - target) / (1 - rho_hat) - target / rho_hat) * inside
            grad_codes.add_(per_unit * (grad_value * beta / (n_units * n_samples)))
        elif penalty == "l1":
            grad_codes.add_(codes.sign() * (grad_value * beta / (n_units * n_samples)))
        slope = _derivative(activation, codes)
        if slope is not None:
            grad_codes.mul_(slope)
        grad_weight = grad_codes.T @ noisy
        grad_bias = grad_codes.sum(dim=0)
        if ctx.tied:  # the decoder's gradient belongs to the same matrix
            grad_weight.add_(grad_decoder.T)
            grad_decoder = None
        if alpha > 0:  # (grad_value stays a tensor: no device synchronisation)
            decay = grad_value * alpha
            grad_weight.addcmul_(weight, decay)
            if grad_decoder is not None:
                grad_decoder.addcmul_(decoder_weight, decay)
        return None, None, grad_weight, grad_bias, grad_decoder, grad_decoder_bias, None
