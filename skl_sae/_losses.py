"""Loss terms as pure functions of tensors.

Every term is dimensionless so that default weights carry over between data
sets: the reconstruction error is divided by the variance of the training data
and the sparsity and contractive penalties are averaged over hidden units.
"""

import torch

_EPS = 1e-6


def squared_error(reconstruction, x):
    """Per-sample mean squared error over features, shape (n_samples,)."""
    return (reconstruction - x).pow(2).mean(dim=1)


def reconstruction_loss(reconstruction, x, scale=1.0):
    """Mean squared error divided by ``scale`` (the data's mean variance).

    With ``scale`` the average per-feature variance of the training data this
    is the fraction of variance left unexplained: 1 for predicting the mean.
    """
    return squared_error(reconstruction, x).mean() / scale


def kl_divergence(target, mean_activation):
    """KL(rho || rho_hat) between Bernoulli means, element-wise."""
    rho_hat = mean_activation.clamp(_EPS, 1 - _EPS)
    rho = target
    return rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))


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


def auxk_loss(auxiliary_reconstruction, reconstruction, x):
    """Error of the AuxK reconstruction relative to the main one's.

    Divided by the main reconstruction's (detached) error, as Gao et al.
    normalise by the residual, so that the term stays of order one however
    small the residual becomes.
    """
    residual = squared_error(reconstruction.detach(), x).mean()
    return squared_error(auxiliary_reconstruction, x).mean() / residual.clamp_min(_EPS**2)


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


def weight_decay(weights):
    """Half the summed squared entries of ``weights`` (biases excluded)."""
    return 0.5 * sum(w.pow(2).sum() for w in weights)


SPARSITY_PENALTIES = {
    "kl": lambda output, target: kl_sparsity(output.codes, target),
    "l1": lambda output, target: l1_sparsity(output.codes),
    "jumprelu": lambda output, target: l0_sparsity(output.gates),
}
"""Maps the ``sparsity`` parameter to its penalty ``f(output, target)`` of an
``AutoencoderOutput``; TopK and BatchTopK codes are sparse without one."""
