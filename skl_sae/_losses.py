"""Loss terms as pure functions of tensors, and the loss of one autoencoder layer.

Every term is dimensionless so that default weights carry over between data
sets: the reconstruction error is divided by the variance of the training data
and the sparsity and contractive penalties are averaged over hidden units.
:data:`SPARSITY_PENALTIES` maps the ``sparsity`` parameter to its penalty;
:class:`AutoencoderLoss` composes one layer's training loss from the terms,
:class:`ClassifierLoss` the stacked classifier's.
"""

from contextlib import contextmanager

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


#: Maps the ``sparsity`` parameter to its penalty ``f(output, target)`` of an
#: ``AutoencoderOutput``; TopK and BatchTopK codes are sparse without one.
SPARSITY_PENALTIES = {
    "kl": lambda output, target: kl_sparsity(output.codes, target),
    "l1": lambda output, target: l1_sparsity(output.codes),
    "jumprelu": lambda output, target: l0_sparsity(output.gates),
}


class CodeStatistics:
    """What the codes did during the last complete pass over the training data.

    Counts, per unit, the samples on which it fired and sums the per-sample
    mean squared reconstruction errors, on the model's device (no
    synchronisation per batch). Once ``n_samples`` rows have been added, the
    next batch starts a new pass, so that after training the counts describe
    the last epoch (for L-BFGS, its final evaluation).
    """

    def __init__(self, n_units, n_samples, device):
        self.n_samples = int(n_samples)
        self._fired = torch.zeros(n_units, dtype=torch.int64, device=device)
        self._error = torch.zeros((), dtype=torch.float64, device=device)
        self._rows = 0

    @torch.no_grad()
    def add(self, fired, errors):
        """Record a batch: its (rows, units) boolean ``fired`` and per-row ``errors``."""
        if self._rows >= self.n_samples:
            self._fired.zero_()
            self._error.zero_()
            self._rows = 0
        self._fired += fired.sum(dim=0)
        self._error += errors.sum()
        self._rows += fired.shape[0]

    def reduce_(self, all_reduce):
        """Sum the counts of the processes that shared the pass, with
        ``all_reduce(tensor)`` (see :mod:`._distributed`)."""
        rows = torch.tensor(self._rows, dtype=torch.int64, device=self._fired.device)
        all_reduce(self._fired)
        all_reduce(self._error)
        self._rows = int(all_reduce(rows))

    def feature_density(self):
        """Fraction of the pass's samples on which each unit fired (numpy)."""
        return (self._fired.double() / max(self._rows, 1)).cpu().numpy()

    def mean_squared_error(self):
        """Mean squared reconstruction error per sample and feature."""
        return float(self._error) / max(self._rows, 1)


class AutoencoderLoss:
    """The training loss of one autoencoder layer: ``loss(module, x)``.

    ``reconstruction / scale + sparsity_weight * penalty + contractive_weight
    * jacobian + alpha * weight decay``, plus ``auxk_weight`` times the code's
    auxiliary loss (AuxK) on the units that ``dead_latents`` finds dead. In
    training mode the input is corrupted (``corruption``, drawn from
    ``generator``; Gaussian noise clipped to ``bounds``, the training data's
    range) and the clean ``x`` is the target; evaluation sees clean inputs.
    The auxiliary loss adds its gradient but not its value, except with
    ``report_auxiliary`` (L-BFGS's line search needs the value whose gradient
    it follows). ``statistics`` (a :class:`CodeStatistics`), if given,
    records each batch.
    """

    def __init__(
        self,
        scale,
        *,
        activation,
        sparsity=None,
        sparsity_target=0.05,
        sparsity_weight=0.0,
        alpha=0.0,
        contractive_weight=0.0,
        corruption=None,
        corruption_level=0.0,
        generator=None,
        bounds=None,
        auxk_weight=0.0,
        dead_latents=None,
        report_auxiliary=False,
        statistics=None,
    ):
        self.scale, self.activation = scale, activation
        self.sparsity = sparsity
        self.penalty = SPARSITY_PENALTIES.get(sparsity) if sparsity_weight > 0 else None
        self.sparsity_target, self.sparsity_weight = sparsity_target, sparsity_weight
        self.alpha, self.contractive_weight = alpha, contractive_weight
        self.corruption = corruption if corruption_level > 0 else None
        self.corruption_level, self.generator, self.bounds = corruption_level, generator, bounds
        self.dead_latents = dead_latents
        self.auxk_weight = auxk_weight if dead_latents is not None else 0.0
        self.report_auxiliary, self.statistics = report_auxiliary, statistics

    def _input(self, module, x):
        """What the model sees: ``x`` corrupted in training, if asked."""
        if self.corruption is not None and module.training:
            return corrupt(x, self.corruption, self.corruption_level, self.generator, self.bounds)
        return x

    def accumulate_gradients(self, module, x, weight=1.0):
        """Add ``weight`` times the gradient of the training loss to the
        parameters' ``.grad`` without autograd, and return the weighted loss
        (no gradient); None where :mod:`._fused` does not cover the model or
        the loss, which then go through autograd (see
        :func:`~._training.train_step`)."""
        from . import _fused as fused  # (which builds on this module)

        if not (module.training and fused.supports(module, self)):
            return None
        value, codes, errors = fused.loss_and_gradients(
            module, self._input(module, x), x, self, weight
        )
        if self.statistics is not None:
            self.statistics.add(module.encoder.code.firing(codes), errors)
        return value

    def __call__(self, module, x):
        out = module(self._input(module, x))
        errors = squared_error(out.reconstruction, x)
        if self.statistics is not None:
            self.statistics.add(module.encoder.code.firing(out.codes), errors.detach())
        loss = errors.mean() / self.scale
        if self.auxk_weight > 0 and module.training:
            auxiliary = module.encoder.code.auxiliary_loss(module, out, x, self.dead_latents)
            if auxiliary is not None:
                auxiliary = self.auxk_weight * auxiliary
                loss = loss + (
                    auxiliary if self.report_auxiliary else auxiliary - auxiliary.detach()
                )
        if self.penalty is not None:
            loss = loss + self.sparsity_weight * self.penalty(out, self.sparsity_target)
        if self.contractive_weight > 0:
            jacobian = contractive_penalty(out.codes, module.encoder_weight, self.activation)
            loss = loss + self.contractive_weight * jacobian
        if self.alpha > 0:
            loss = loss + self.alpha * weight_decay(module.weights())
        return loss


def reconstruction_objective(scale):
    """``loss(module, x)``: the scaled reconstruction error alone, which
    early stopping monitors."""

    def loss(module, x):
        return reconstruction_loss(module(x).reconstruction, x, scale)

    return loss


class ClassifierLoss:
    """Cross-entropy of a stacked network's logits plus weight decay:
    ``loss(module, x, y)``.

    With ``frozen`` encoders (the softmax layer trained alone) no gradient
    flows below the output layer, and the codes are computed as inference
    computes them (in eval mode: BatchTopK's threshold).
    """

    def __init__(self, *, alpha=0.0, frozen=False):
        self.alpha, self.frozen = alpha, frozen

    def __call__(self, module, x, y):
        if self.frozen:
            with torch.no_grad(), _evaluating(module.layers[:-1]):
                codes = module.encode(x)
            logits = module.layers[-1](codes)
            weights = [module.layers[-1].weight]
        else:
            logits = module(x)
            weights = module.weights()
        loss = torch.nn.functional.cross_entropy(logits, y)
        if self.alpha > 0:
            loss = loss + self.alpha * weight_decay(weights)
        return loss


@contextmanager
def _evaluating(modules):
    """Run ``modules`` in evaluation mode, then restore their modes."""
    modes = [module.training for module in modules]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for module, mode in zip(modules, modes, strict=True):
            module.train(mode)
