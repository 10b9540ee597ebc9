"""Pure functions of tensors: the terms of the losses, and per-unit slicing.

Every loss term is dimensionless so that default weights carry over between
data sets: the reconstruction error is divided by the variance of the
training data and the sparsity and contractive penalties are averaged over
hidden units. The bottom of the torch layer: it imports nothing of the
package, and :mod:`._codes`, :mod:`._statistics`, :mod:`._fused` and
:mod:`._losses` build on it.
"""

import math

import numpy as np
import torch

#: The clamp of a mean activation away from 0 and 1 in the KL penalty (and,
#: squared, the smallest residual that AuxK divides by).
EPS = 1e-6


def squared_error(reconstruction, x, observed=None):
    """Per-sample mean squared error over features, shape (n_samples,); over
    the ``observed`` entries only where that boolean mask (of ``x``'s shape)
    is given (0 for a row with none)."""
    if observed is None:
        return (reconstruction - x).pow(2).mean(dim=1)
    observed = observed.to(x.dtype)
    return ((reconstruction - x).pow(2) * observed).sum(dim=1) / observed.sum(dim=1).clamp_min(1)


def batch_error(errors, observed=None):
    """The mean squared error of a batch from its per-sample ``errors``
    (:func:`squared_error`): over every entry, or over the ``observed`` ones."""
    if observed is None:
        return errors.mean()
    counts = observed.sum(dim=1).to(errors.dtype)
    return errors @ counts / counts.sum().clamp_min(1)


def reconstruction_loss(reconstruction, x, scale=1.0, observed=None):
    """Mean squared error (over the ``observed`` entries, if given) divided by
    ``scale`` (the data's mean variance).

    With ``scale`` the average per-feature variance of the training data this
    is the fraction of variance left unexplained: 1 for predicting the mean.
    """
    return batch_error(squared_error(reconstruction, x, observed), observed) / scale


def kl_divergence(target, mean_activation):
    """KL(rho || rho_hat) between Bernoulli means, element-wise."""
    rho_hat = mean_activation.clamp(EPS, 1 - EPS)
    rho = target
    return rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))


def negative_entropy(target):
    """``t log t + (1 - t) log(1 - t)`` of a Bernoulli mean ``t`` (a number):
    the part of :func:`kl_divergence` that does not depend on ``rho_hat``."""
    return sum(p * math.log(p) for p in (target, 1 - target) if p > 0)


def kl_sparsity(codes, target):
    """KL divergence between ``target`` and each unit's batch-mean activation,
    averaged over units. Needs activations in (0, 1)."""
    return kl_divergence(target, codes.mean(dim=0)).mean()


def l1_sparsity(codes, target=None):
    """Mean absolute activation: the L1 norm of the codes per sample and unit."""
    return codes.abs().mean()


def l0_sparsity(gates):
    """Fraction of active codes: the L0 norm per sample, divided by the
    number of units. Its gradient reaches JumpReLU's thresholds through the
    gates' straight-through estimator."""
    return gates.mean(dim=0).sum() / gates.shape[1]


def auxk_loss(auxiliary_errors, errors):
    """Error of the AuxK reconstruction relative to the main one's, from
    their per-sample errors (:func:`squared_error`).

    Divided by the main reconstruction's (detached) error, as Gao et al.
    normalise by the residual, so that the term stays of order one however
    small the residual becomes.
    """
    return auxiliary_errors.mean() / errors.detach().mean().clamp_min(EPS**2)


def contractive_penalty(codes, encoder_weight, activation):
    """Squared Frobenius norm of the encoder's Jacobian ``dh/dx``, in closed form.

    Row ``j`` of the Jacobian is ``f'(pre_j) W_j``, so the norm is
    ``sum_j f'(pre_j)^2 ||W_j||^2``; it is averaged over samples and divided
    by the number of units, like the other penalties.
    """
    if activation == "sigmoid":
        slope = codes * (1 - codes)
    elif activation == "relu":
        slope = (codes > 0).to(codes.dtype)  # also right for TopK and JumpReLU
    else:
        raise ValueError(f"No closed-form Jacobian for activation={activation!r}.")
    row_norms = encoder_weight.pow(2).sum(dim=1)
    return (slope.pow(2) @ row_norms).mean() / codes.shape[1]


#: The resolution of :func:`keep_mask`'s draws: 16 bits each.
DRAW_LEVELS = 2**16


def keep_mask(shape, keep, generator, dtype, device=None):
    """A mask of ``shape`` and ``dtype``, each entry 1 with probability
    ``keep`` rounded to a multiple of ``1 / DRAW_LEVELS`` (at least one),
    else 0; return it and that probability.

    The draws are 16-bit (:func:`random_draws`), and the 1s are those among
    the ``kept`` highest: clamped to the two values either side of that
    boundary, then shifted to 0 and 1 as they are written in ``dtype``. On
    a CPU torch compares to booleans, and multiplies by them, several times
    slower than it clamps: a 200 x 256 mask built and applied twice
    (forward and backward) costs 110 us this way, 280 as booleans and 550
    as ``torch.rand``'s floats compared and scaled, on one thread.
    """
    n = math.prod(shape)
    kept = min(max(round(keep * DRAW_LEVELS), 1), DRAW_LEVELS)
    if kept == DRAW_LEVELS:
        return torch.ones(shape, dtype=dtype, device=device), 1.0
    draws = random_draws(n, generator, device).view(shape)  # uniform in [-2**15, 2**15)
    first = DRAW_LEVELS // 2 - kept  # the lowest draw kept, in (-2**15, 2**15)
    mask = torch.empty(shape, dtype=dtype, device=device)
    return torch.sub(draws.clamp(first - 1, first), first - 1, out=mask), kept / DRAW_LEVELS


def random_draws(n, generator, device=None):
    """``n`` uniform 16-bit integers (int16), four from each 64-bit random
    integer of ``generator``: a :class:`torch.Generator` on ``device``, or a
    numpy bit generator for the CPU, whose PCG64 draws them in about a third
    of the time of torch's Mersenne twister (12,800 words: 28 us against 65
    to 140 on one thread).

    Raises
    ------
    ValueError
        If a numpy bit generator is asked for draws on another device.
    """
    n_words = (n + 3) // 4
    if isinstance(generator, np.random.BitGenerator):
        if device is not None and torch.device(device).type != "cpu":
            raise ValueError(f"A numpy bit generator draws on the CPU, not on {device}.")
        return torch.from_numpy(generator.random_raw(n_words).view(np.int16)[:n])
    words = torch.empty(n_words, dtype=torch.int64, device=device)
    words.random_(-(2**63), None, generator=generator)  # all 2**64 values: every bit uniform
    return words.view(torch.int16)[:n]


def corrupt(x, corruption, level, generator, bounds=None):
    """``x`` with a fraction ``level`` of its entries zeroed (``"mask"``) or
    with Gaussian noise of standard deviation ``level`` added (``"gaussian"``),
    then clipped to ``bounds`` (low, high) if given."""
    if corruption == "mask":
        keep = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) >= level
        return x * keep
    if corruption == "gaussian":
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        noisy = x + level * noise
        return noisy if bounds is None else noisy.clamp(*bounds)
    raise ValueError(f"Unknown corruption {corruption!r}.")


def hidden_entries(observed, level, generator, regions=None):
    """Which ``observed`` entries (a boolean mask, rows of samples) a training
    step hides: each with probability ``level`` and, with ``regions``, also
    every observed entry of one rectangle in half the rows, drawn at random
    (MNIST, 20% of the pixels missing in training: rectangles in every row
    filled a 12 x 12 block with an RMSE of 0.269 and 20% of the pixels at
    random with 0.150; in half the rows, 0.273 and 0.145; in none, 0.290
    and 0.134).

    ``regions`` is ``(image_shape, columns)``: the rows are images of
    ``image_shape`` (height, width, channels) flattened row by row, of which
    the indices ``columns`` (or all pixels, if None) are the columns of
    ``observed``. A rectangle's height and width are drawn uniformly from 1
    to ``round(0.7 * side)`` (so up to about half the image's area) and its
    place uniformly where it fits; it covers every channel.
    """
    hidden = torch.zeros_like(observed)
    if level > 0:
        draw = torch.rand(observed.shape, generator=generator, device=observed.device)
        hidden = (draw < level) & observed
    if regions is None:
        return hidden
    (height, width, channels), columns = regions
    n_rows, device = observed.shape[0], observed.device

    def spans(side):
        longest = max(1, round(0.7 * side))
        length = torch.randint(1, longest + 1, (n_rows, 1), generator=generator, device=device)
        start = torch.rand((n_rows, 1), generator=generator, device=device) * (side - length + 1)
        inside = torch.arange(side, device=device) - start.floor().long()
        return (inside >= 0) & (inside < length)  # (n_rows, side)

    rectangle = spans(height)[:, :, None, None] & spans(width)[:, None, :, None]
    rectangle = rectangle.expand(-1, -1, -1, channels).reshape(n_rows, -1)
    rectangle &= torch.rand((n_rows, 1), generator=generator, device=device) < 0.5
    if columns is not None:
        rectangle = rectangle[:, columns]
    return hidden | (rectangle & observed)


@torch.no_grad()
def weight_decay(weights):
    """Half the summed squared entries of ``weights`` (biases excluded): a
    value without gradient, whose gradient :func:`add_weight_decay_gradient_`
    adds in place."""
    # The norms in one call whatever the weights' layouts (a weight stored by
    # feature is not copied), squared and summed: four operations where one
    # product per weight and the sums took seven for two weights.
    weights = list(weights)
    if not weights:  # (tied unit-norm weights decay no weight)
        return torch.zeros(())
    norms = torch.stack(torch._foreach_norm(weights))
    return 0.5 * norms.dot(norms)


def accumulate_gradient_(parameter, gradient):
    """Add ``gradient`` to ``parameter.grad`` (the tensor itself where there
    is none yet), as autograd accumulates: what the gradients by hand
    (:mod:`._fused`, :mod:`._fused_sparse`) end with."""
    if parameter.grad is None:
        parameter.grad = gradient
    else:
        parameter.grad.add_(gradient)


@torch.no_grad()
def add_weight_decay_gradient_(weights, alpha):
    """Add ``alpha * w``, the gradient of ``alpha`` times :func:`weight_decay`,
    to the ``.grad`` of each of ``weights``, in place: one pass over each
    weight, where autograd's gradient of the term multiplied it into a
    temporary of its size, then added that (on a 15,177-feature TF-IDF at 128
    units, 5 of a step's 45 ms and a transient of the encoder's size)."""
    with_grad, grads = [], []
    for weight in weights:
        if weight.grad is None:
            weight.grad = weight.detach() * alpha
        else:
            with_grad.append(weight.detach())
            grads.append(weight.grad)
    if grads:  # one call for all (a step on a small table pays per call)
        torch._foreach_add_(grads, with_grad, alpha=alpha)


def select_units(tensor, keep, n_new, dim):
    """``tensor``'s slices at ``keep`` along ``dim``, then ``n_new`` zero slices:
    how a per-unit tensor follows the units that structure learning keeps and adds."""
    kept = tensor.index_select(dim, keep)
    shape = list(kept.shape)
    shape[dim] = n_new
    return torch.cat([kept, kept.new_zeros(shape)], dim=dim)
