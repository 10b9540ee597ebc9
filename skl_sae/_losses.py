"""The loss of one autoencoder layer, and the stacked classifier's.

The terms are pure functions of tensors in :mod:`._functional`;
:data:`SPARSITY_PENALTIES` maps the ``sparsity`` parameter to its penalty;
:class:`AutoencoderLoss` composes one layer's training loss from the terms
(through the hand-written gradient of :mod:`._fused` where it applies),
:class:`ClassifierLoss` the stacked classifier's. The top of the torch layer:
nothing else in it imports this module.
"""

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch.nn.functional import cross_entropy

from . import _fused as fused
from . import _fused_classifier as fused_classifier
from . import _fused_sparse as fused_sparse
from . import _sparse as sparse
from ._codes import CODES, code_class
from ._functional import (
    add_weight_decay_gradient_,
    batch_error,
    contractive_penalty,
    corrupt,
    hidden_entries,
    keep_mask,
    kl_sparsity,
    l0_sparsity,
    l1_sparsity,
    weight_decay,
)
from ._modules import MaskedAutoencoder


@dataclass(frozen=True)
class Penalty:
    """A sparsity penalty ``function(output, target)`` of an
    ``AutoencoderOutput``, and what it asks of the hidden units."""

    function: Callable
    activation: str = "relu"
    """The hidden activation that ``activation="auto"`` gives it."""
    activations: tuple | None = None
    """The hidden activations it works with (None: any)."""
    uses_target: bool = False
    """Whether it pulls the units towards ``sparsity_target``."""

    def __call__(self, output, target):
        return self.function(output, target)


#: Maps the ``sparsity`` parameter to its penalty (a :class:`Penalty`, or a
#: plain ``f(output, target)``); TopK and BatchTopK codes are sparse without one.
SPARSITY_PENALTIES = {
    "kl": Penalty(
        lambda output, target: kl_sparsity(output.codes, target),
        activation="sigmoid",
        activations=("sigmoid",),
        uses_target=True,
    ),
    "l1": Penalty(lambda output, target: l1_sparsity(output.codes)),
    "jumprelu": Penalty(lambda output, target: l0_sparsity(output.gates)),
}


def penalty_of(sparsity):
    """The :class:`Penalty` that ``sparsity`` selects (a plain function
    registered in :data:`SPARSITY_PENALTIES` as one with the defaults); None
    if it has none."""
    penalty = SPARSITY_PENALTIES.get(sparsity)
    return penalty if penalty is None or isinstance(penalty, Penalty) else Penalty(penalty)


def default_activation(sparsity):
    """The hidden activation of ``activation="auto"``: a sparse code's
    (:attr:`~._codes.Activation.default_activation`), else the penalty's,
    else (a plain autoencoder) sigmoid."""
    if sparsity in CODES:
        return code_class(sparsity).default_activation
    penalty = penalty_of(sparsity)
    return "sigmoid" if penalty is None else penalty.activation


@dataclass(frozen=True)
class LossTerms:
    """The terms of one autoencoder layer's loss, and their weights: the
    hidden ``activation`` and the ``sparsity`` (its :class:`Penalty`, if
    any), the penalties' weights, weight decay ``alpha``, the corruption of
    the inputs and the AuxK weight."""

    activation: str = "sigmoid"
    sparsity: str | None = None
    sparsity_target: float = 0.05
    sparsity_weight: float = 0.0
    alpha: float = 0.0
    contractive_weight: float = 0.0
    corruption: str | None = None
    corruption_level: float = 0.0
    hidden_regions: tuple | None = None
    auxk_weight: float = 0.0

    @property
    def noisy_inputs(self):
        """Whether training adds Gaussian noise to the inputs, which makes a
        batch of sparse rows dense."""
        return self.corruption == "gaussian" and self.corruption_level > 0


class AutoencoderLoss:
    """The training loss of one autoencoder layer: ``loss(module, x,
    observed=None)``.

    ``reconstruction / scale + sparsity_weight * penalty + contractive_weight
    * jacobian + alpha * weight decay`` (the :class:`LossTerms` ``terms``);
    in training, the code's :meth:`~._codes.Activation.nested_errors` (a
    Matryoshka dictionary's prefixes) add to the reconstruction term and
    the penalty is scaled by its :meth:`~._codes.Activation.penalty_scale`
    (a target L0);
    plus ``auxk_weight`` times the code's
    auxiliary loss (AuxK) on the units that ``dead_latents`` finds dead. In
    training mode the input is corrupted (``corruption``, drawn from
    ``generator``; Gaussian noise clipped to ``bounds``, the training data's
    range) and the clean ``x`` is the target; evaluation sees clean inputs.
    The auxiliary loss adds its gradient but not its value, except with
    ``report_auxiliary`` (L-BFGS's line search needs the value whose gradient
    it follows). ``statistics`` (a :class:`~._statistics.CodeStatistics`),
    if given, records each batch. ``penalty_units`` fixes the price of a
    unit in the penalties for a layer whose size changes (:meth:`unit_price`).

    ``observed``, a boolean mask of ``x``'s shape, marks the entries that
    were measured; the others (missing values, held at a fill value in ``x``)
    count in neither the reconstruction error nor AuxK's residual, and the
    network reads them as unknown (:meth:`~._modules.Autoencoder.known_inputs`).
    With ``corruption="hide"``, training also hides a fraction
    ``corruption_level`` of the observed entries (and, with
    ``hidden_regions``, a rectangle in half the images:
    :func:`~._functional.hidden_entries`), which the network reads as
    unknown, and the error counts the hidden entries alone: what an imputer
    learns (:class:`~skl_sae.SparseAutoencoderImputer`).
    """

    def __init__(
        self,
        scale,
        terms=None,
        *,
        generator=None,
        bounds=None,
        dead_latents=None,
        statistics=None,
        penalty_units=None,
        report_auxiliary=False,
    ):
        terms = LossTerms() if terms is None else terms
        self.scale, self.terms = scale, terms
        self.activation, self.sparsity = terms.activation, terms.sparsity
        self.penalty = penalty_of(terms.sparsity) if terms.sparsity_weight > 0 else None
        self.sparsity_target, self.sparsity_weight = terms.sparsity_target, terms.sparsity_weight
        self.alpha, self.contractive_weight = terms.alpha, terms.contractive_weight
        hides = terms.corruption_level > 0 or terms.hidden_regions is not None
        self.corruption = terms.corruption if hides else None
        self.corruption_level, self.generator, self.bounds = (
            terms.corruption_level,
            generator,
            bounds,
        )
        self.dead_latents = dead_latents
        self.auxk_weight = terms.auxk_weight if dead_latents is not None else 0.0
        self.report_auxiliary, self.statistics = report_auxiliary, statistics
        self.penalty_units = penalty_units
        self._gradient_buffers = {}  # kept from step to step by _fused_sparse

    def unit_price(self, n_units):
        """What the penalties averaged over the ``n_units`` units of a layer
        (sparsity, contractive) are multiplied by: 1, or ``n_units /
        penalty_units`` if ``penalty_units`` is set, so that each unit's
        price stays that of a layer of ``penalty_units`` units whatever the
        layer's size (structure learning)."""
        return 1.0 if self.penalty_units is None else n_units / self.penalty_units

    def penalty_weight(self, n_units):
        """The weight of the sparsity penalty for a layer of ``n_units``:
        ``sparsity_weight`` times :meth:`unit_price`."""
        return self.sparsity_weight * self.unit_price(n_units)

    def _input(self, module, x):
        """What the model sees: ``x`` corrupted in training, if asked
        (sparse rows ``x`` lose some non-zeros to masking noise; Gaussian
        noise makes them dense)."""
        if self.corruption is None or not module.training:
            return x
        if sparse.is_sparse(x) and self.corruption == "mask":
            return sparse.mask_values(x, self.corruption_level, self.generator)
        level, generator = self.corruption_level, self.generator
        return corrupt(sparse.to_dense(x), self.corruption, level, generator, self.bounds)

    def accumulate_gradients(self, module, x, observed=None, weight=1.0):
        """Add ``weight`` times the gradient of the training loss to the
        parameters' ``.grad`` without autograd, and return the weighted loss
        (no gradient); None where :mod:`._fused` (dense rows) or
        :mod:`._fused_sparse` (sparse rows) does not cover the model or the
        loss (nor a mask of ``observed`` entries), which then go through
        autograd (see :func:`~._training.train_step`). The imputer's network
        (:class:`~._modules.MaskedAutoencoder`) reads and is scored as
        :meth:`__call__` has it, from the same draws."""
        if not module.training:
            return None
        if sparse.is_sparse(x):
            hides = observed is not None or self.corruption == "hide"
            if hides or not fused_sparse.supports(module, self):
                return None
            value, codes, errors = fused_sparse.loss_and_gradients(
                module, self._input(module, x), x, self, weight, self._gradient_buffers
            )
            error_sum = errors.sum()
        else:
            masked = isinstance(module, MaskedAutoencoder)  # reads a mask of known entries
            if not fused.supports(module, self) or (observed is not None and not masked):
                return None
            if masked:
                inputs, scored = self._read(module, x, observed)
                known = ~torch.isnan(inputs)  # what the network reads as known
                value, codes, error_sum = fused.loss_and_gradients(
                    module,
                    inputs.where(known, 0.0),
                    x.nan_to_num(0.0),
                    self,
                    weight,
                    known=known,
                    scored=scored,
                )
            else:
                value, codes, error_sum = fused.loss_and_gradients(
                    module, self._input(module, x), x, self, weight
                )
        if self.statistics is not None:
            self.statistics.add_sum(module.encoder.code, codes, error_sum, x.shape[0])
        return value

    def _read(self, module, x, observed):
        """What the network reads of ``x``, and the entries its error counts."""
        if self.corruption == "hide" and module.training:
            known = torch.ones_like(x, dtype=torch.bool) if observed is None else observed
            level, regions = self.corruption_level, self.terms.hidden_regions
            hidden = hidden_entries(known, level, self.generator, regions)
            return module.known_inputs(x, known & ~hidden), hidden
        if self.corruption == "hide":
            return module.known_inputs(x, observed), observed
        return module.known_inputs(self._input(module, x), observed), observed

    def __call__(self, module, x, observed=None):
        inputs, scored = self._read(module, x, observed)
        out = module(inputs)
        errors = module.errors(out, x, scored)
        if self.statistics is not None:
            self.statistics.add(module.encoder.code, out.codes.detach(), errors.detach())
        loss = batch_error(errors, scored) / self.scale
        if module.training:  # a nested dictionary: the sum of its levels' errors
            for level in module.encoder.code.nested_errors(module, out, x, scored):
                loss = loss + batch_error(level, scored) / self.scale
        if self.auxk_weight > 0 and module.training:
            # Where x was not observed, the target is the reconstruction: no residual.
            # (Under "hide", the entries scored: the others are not trained.)
            target = x if scored is None else x.where(scored, out.reconstruction.detach())
            auxiliary = module.encoder.code.auxiliary_loss(module, out, target, self.dead_latents)
            if auxiliary is not None:
                auxiliary = self.auxk_weight * auxiliary
                loss = loss + (
                    auxiliary if self.report_auxiliary else auxiliary - auxiliary.detach()
                )
        if self.penalty is not None:
            penalty = self.penalty(out, self.sparsity_target)
            if module.training:
                penalty = penalty * module.encoder.code.penalty_scale(out)
            loss = loss + self.penalty_weight(out.codes.shape[1]) * penalty
        if self.contractive_weight > 0:
            jacobian = contractive_penalty(out.codes, module.encoder_weight, self.activation)
            price = self.unit_price(out.codes.shape[1])
            loss = loss + self.contractive_weight * price * jacobian
        if self.alpha > 0:  # its value; its gradient: add_weight_decay_gradients_
            loss = loss + self.alpha * weight_decay(module.weights())
        return loss

    def add_weight_decay_gradients_(self, module):
        """Add weight decay's gradient to the weights' ``.grad``, in place:
        once a step, after the backward passes (the loss holds its value
        alone; see :func:`~._functional.add_weight_decay_gradient_`)."""
        if self.alpha > 0:
            add_weight_decay_gradient_(module.weights(), self.alpha)


def reconstruction_objective(scale):
    """``loss(module, x, observed=None)``: the scaled reconstruction error
    alone (of the ``observed`` entries, if given), which early stopping
    monitors."""

    def loss(module, x, observed=None):
        output = module(module.known_inputs(x, observed))
        return batch_error(module.errors(output, x, observed), observed) / scale

    return loss


def _scaled(x, scale):
    """``x`` times the number ``scale`` (``x`` itself at 1)."""
    return x if scale == 1 else x * scale


class ClassifierLoss:
    """Cross-entropy of a stacked network's logits plus weight decay:
    ``loss(module, x, y)``; weight decay's gradient is added by
    :meth:`add_weight_decay_gradients_`, once a step.

    With ``frozen`` encoders (the softmax layer trained alone) no gradient
    flows below the output layer, and the codes are computed as inference
    computes them (in eval mode: BatchTopK's threshold). Otherwise, in
    training, each input is dropped with probability ``input_dropout`` and
    each hidden code with probability ``dropout`` (drawn from ``generator``,
    a :class:`torch.Generator` on the data's device or, for the CPU, a numpy
    bit generator: see :func:`~._functional.keep_mask`; the inputs' mask
    first), those kept scaled by the inverse of their probability to be kept.

    With ``adversarial_eps > 0`` and ``input_deviations`` (each input
    feature's standard deviation, a tensor), dense training rows also train
    on their fast-gradient-sign perturbation (Goodfellow et al., 2015): the
    loss is the mean of the clean rows' cross-entropy and that of the rows
    moved by ``adversarial_eps`` deviations along the sign of the clean
    loss's gradient with respect to the inputs (:meth:`perturbed`), each
    pass with its own dropout masks. Sparse rows train on the clean loss
    alone: moving their zeros would make them dense.
    """

    #: The adversarial rows' share of the loss: Goodfellow et al.'s 0.5.
    ADVERSARIAL_WEIGHT = 0.5

    def __init__(
        self,
        *,
        alpha=0.0,
        frozen=False,
        dropout=0.0,
        input_dropout=0.0,
        adversarial_eps=0.0,
        input_deviations=None,
        generator=None,
    ):
        self.alpha, self.frozen = alpha, frozen
        self.dropout, self.input_dropout, self.generator = dropout, input_dropout, generator
        self.adversarial_eps, self.input_deviations = adversarial_eps, input_deviations
        # Each feature's step, once for the whole fit.
        self._steps = None if input_deviations is None else input_deviations * adversarial_eps
        self._covered = (None, False)  # (network, whether the gradient goes by hand)

    def __call__(self, module, x, y):
        if self.frozen:
            loss = cross_entropy(module.layers[-1](self.frozen_codes(module, x)), y)
        elif module.training and self.adversarial(x):
            inputs, scale = self.dropped_inputs(x)
            inputs = inputs.detach().requires_grad_()
            clean = cross_entropy(self._training_logits(module, inputs, scale), y)
            (gradient,) = torch.autograd.grad(clean, inputs, retain_graph=True)
            moved = self._dropped_cross_entropy(module, self.perturbed(x, gradient), y)
            loss = torch.lerp(clean, moved, self.ADVERSARIAL_WEIGHT)
        elif module.training and self.drops:
            loss = self._dropped_cross_entropy(module, x, y)
        else:
            loss = cross_entropy(module(x), y)
        if self.alpha > 0:
            loss = loss + self.alpha * weight_decay(self.trained_weights(module))
        return loss

    def _dropped_cross_entropy(self, module, x, y):
        """The cross-entropy of the rows ``x``, their inputs and hidden codes
        dropped as in training."""
        return cross_entropy(self._training_logits(module, *self.dropped_inputs(x)), y)

    def _training_logits(self, module, x, scale):
        """The logits of the rows ``x``, whose inputs were dropped and are
        multiplied by ``scale``, with each hidden code dropped in turn."""
        for layer in module.layers[:-1]:
            codes = layer(_scaled(x, scale))
            kept, scale = self.dropout_mask(codes)
            x = codes if kept is None else codes * kept
        return module.layers[-1](_scaled(x, scale))

    def adversarial(self, x):
        """Whether training also steps on the adversarial rows of the batch
        ``x``: fine-tuning (not ``frozen``), a positive ``adversarial_eps``
        with ``input_deviations``, dense rows."""
        return (
            not self.frozen
            and self.adversarial_eps > 0
            and self.input_deviations is not None
            and not sparse.is_sparse(x)
        )

    def perturbed(self, x, gradient):
        """The rows ``x`` moved by ``adversarial_eps`` times each feature's
        deviation along the sign of ``gradient``, the loss's gradient with
        respect to the inputs: the fast gradient sign method, each feature
        in its own units (a constant feature stays)."""
        return torch.addcmul(x, gradient.sign(), self._steps.to(x.dtype))

    def accumulate_gradients(self, module, x, y, weight=1.0):
        """Add ``weight`` times the gradient of the training loss to the
        parameters' ``.grad`` without autograd and return the weighted loss
        (no gradient), where :mod:`._fused_classifier` covers the network
        and the rows are dense; None otherwise (autograd's, see :func:`~._training.train_step`)."""
        if not module.training or sparse.is_sparse(x) or not self._by_hand(module):
            return None
        return fused_classifier.loss_and_gradients(module, x, y, self, weight)

    def _by_hand(self, module):
        """Whether :mod:`._fused_classifier` covers ``module``, asked once per
        network (its layers' kinds do not change in training)."""
        if self._covered[0] is not module:
            self._covered = (module, fused_classifier.supports(module))
        return self._covered[1]

    @torch.no_grad()
    def frozen_codes(self, module, x):
        """The top hidden codes of ``x`` as inference computes them (eval
        mode: BatchTopK's threshold), without gradient."""
        with _evaluating(module.layers[:-1]):
            return module.encode(x)

    @property
    def drops(self):
        """Whether training drops anything (inputs or codes): what the
        dropout masks are drawn from ``generator`` for."""
        return not self.frozen and (self.dropout > 0 or self.input_dropout > 0)

    def dropout_mask(self, codes):
        """``(kept, scale)``: which hidden ``codes`` training keeps, and what
        it multiplies those kept by (:meth:`_mask` at ``dropout``). Training
        alone asks for it."""
        return self._mask(codes, self.dropout)

    def dropped_inputs(self, x):
        """``(rows, scale)``: the training rows ``x`` with each entry dropped
        with probability ``input_dropout`` (of sparse rows, each non-zero,
        the others keep their places), and what the network multiplies them
        by (:meth:`_mask`); ``x`` itself and 1 at a rate of 0."""
        if self.input_dropout == 0:
            return x, 1.0
        if sparse.is_sparse(x):  # scaled here: sparse rows take the autograd path
            values = x.values()
            kept, scale = self._mask(values, self.input_dropout)
            return sparse.with_values(x, values * kept * scale), 1.0
        kept, scale = self._mask(x, self.input_dropout)
        return x * kept, scale

    def _mask(self, like, rate):
        """``(kept, scale)``: a mask of 0s and 1s of the shape and dtype of
        ``like``, each entry 0 with probability ``rate`` (drawn from
        ``generator``, see :func:`~._functional.keep_mask`), and the inverse
        of the probability of a 1, which keeps the mean of the entries kept
        and scaled; ``(None, 1.0)`` at a rate of 0. The scale stays a number,
        which the gradient by hand (:mod:`._fused_classifier`) folds into its
        matrix products."""
        if rate == 0:
            return None, 1.0
        kept, keep = keep_mask(like.shape, 1.0 - rate, self.generator, like.dtype, like.device)
        return kept, 1.0 / keep

    def add_weight_decay_gradients_(self, module):
        """As :meth:`AutoencoderLoss.add_weight_decay_gradients_`."""
        if self.alpha > 0:
            add_weight_decay_gradient_(self.trained_weights(module), self.alpha)

    def trained_weights(self, module):
        """The weights that training changes, and weight decay acts on."""
        return [module.layers[-1].weight] if self.frozen else module.weights()


def misclassification_rate(module, x, y):
    """The fraction of the samples of a batch whose most probable class is
    not ``y`` (one minus the accuracy): what the classifier's early stopping
    monitors, as scikit-learn's MLP monitors its accuracy."""
    return (module(x).argmax(dim=1) != y).to(torch.float64).mean()


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
