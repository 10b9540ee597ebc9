"""How pre-activations become codes: plain activations and the sparse codes.

A code module maps the pre-activations ``W x + b`` of a layer to
``(codes, gates)``. ``gates`` is None except for :class:`JumpReLU`, whose
gates (0 or 1, with a straight-through gradient for the thresholds) give the
L0 penalty. The sparse codes (Gao et al., 2024; Bussmann et al., 2024;
Rajamanoharan et al., 2024):

- :class:`TopK` keeps the ``k`` largest codes of each sample;
- :class:`BatchTopK` keeps the ``k * batch_size`` largest codes of a training
  batch and, for inference, every code above a threshold learned meanwhile,
  so that the code of a sample does not depend on the rest of its batch;
- :class:`MatryoshkaBatchTopK` is a BatchTopK whose every prefix of units
  is also trained to reconstruct alone (Bussmann et al., 2025);
- :class:`JumpReLU` keeps each unit's code above its own learned threshold.

Each code class carries its own hooks, which the estimators call without
knowing the class: how it is built from the estimator's parameters
(:meth:`Activation.from_params`), its inference thresholds to export and
load, its calibration after fit, whether its codes are exactly sparse (which
brings a unit-norm dictionary) and its auxiliary loss. A new variant is one
class here, one entry of :data:`CODES` and, if it has a penalty, one row of
``SPARSITY_PENALTIES`` in :mod:`._losses`.

:class:`~._statistics.DeadLatents` tracks which units have not fired for a
while, and :func:`auxiliary_codes` gives the codes that the AuxK loss trains on them.
Torch only; nothing here draws random numbers.
"""

import math
from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval
from torch import nn

from ._functional import auxk_loss
from ._statistics import count_above
from ._warnings import warn

ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "identity": lambda z: z,
}

#: The range that an activation's values lie in, where that counts its
#: firing cheaper (:func:`~._statistics.count_above`).
CODE_BOUNDS = {"sigmoid": (0, 1)}


class Activation(nn.Module):
    """A plain activation ``f`` applied element-wise; no gates.

    The base of every code: its hooks do nothing, and subclasses override
    what their code needs. A sigmoid unit counts as firing when its code
    exceeds 1/2 (its pre-activation is positive), since none is ever exactly
    0; other units fire when their code is positive.
    """

    #: Codes exactly 0 where a unit is off. Such codes come with unit-norm
    #: decoder columns, a start from the data's geometric median, a linear
    #: decoder by default and the AuxK loss for dead units.
    exactly_sparse = False

    #: Parameters of the estimator that shape the code (``warm_start`` may
    #: not change them).
    estimator_params = ()

    #: The code's own hyperparameters: ``{name: (default, constraints)}``,
    #: the constraints as in scikit-learn's ``_parameter_constraints``. The
    #: estimators take them through ``code_params`` and pass them by name to
    #: :meth:`from_params`.
    hyperparameters = {}

    #: Whether :meth:`calibrate_` needs a pass over the training data after fit.
    needs_calibration = False

    #: The hidden activation of ``activation="auto"`` for this code (the
    #: plain activation's: a plain autoencoder's sigmoid units).
    default_activation = "sigmoid"

    #: The step size of ``learning_rate_init="auto"`` on dense rows of up to
    #: 784 features (see :func:`~._trainer.resolve_learning_rate`).
    learning_rate = 1e-2

    def __init__(self, activation):
        super().__init__()
        self.activation = activation
        self._f = ACTIVATIONS[activation]
        self.firing_threshold = 0.5 if self.stochastic_firing else 0.0

    @property
    def stochastic_firing(self):
        """Whether a code is read as the unit's probability of firing (a
        sigmoid unit's, never exactly 0 or 1) rather than as fired or not:
        what the information of a unit (:meth:`CodeStatistics.information
        <._statistics.CodeStatistics.information>`) is measured on."""
        return self.activation == "sigmoid" and not self.exactly_sparse

    @classmethod
    def from_params(cls, activation, n_units, *, k=None, scale=1.0, dtype=None):
        """The code of a layer of ``n_units`` with the estimator's ``k``;
        ``scale`` is the typical size of a pre-activation."""
        return cls(activation)

    @classmethod
    def check_units(cls, n_units, **params):
        """Check that a layer of ``n_units`` can take the code's ``params``
        (see :attr:`estimator_params`); raise or warn if not."""

    #: Rows of pre-activations per sample: one for a dense layer, one per
    #: position for a convolutional one, whose encoder sets it, so that a
    #: code can see each sample's whole feature maps (:class:`WinnerTakeAll`).
    rows_per_sample = 1

    def forward(self, pre):
        return self._f(pre), None

    #: Whether what the decoder reads (:meth:`decoded`) holds at most one
    #: non-zero code per unit and sample, which :meth:`placed` gives: a
    #: convolutional decoder then adds each unit's kernels at that one
    #: position, not over whole maps.
    one_per_map = False

    def placed(self, codes):
        """``(values, positions)`` of the one non-zero code of each unit and
        sample of ``codes`` (0 at position 0 where there is none), each
        (n_samples, n_units); for codes with :attr:`one_per_map`."""
        raise NotImplementedError

    def decoded(self, codes):
        """The codes that the decoder reads of ``codes``, which this code gave
        (or :meth:`transform <._transformer.SparseAutoencoderTransformer.transform>`
        did): the same, except where a code's features differ from what it
        decodes (:class:`WinnerTakeAll` in evaluation)."""
        return codes

    def firing(self, codes):
        """Boolean mask of the codes that count as active: those above
        ``firing_threshold``."""
        return codes > self.firing_threshold

    def firing_counts(self, codes):
        """Per unit, the rows of ``codes`` on which it fires (:meth:`firing`),
        as numbers (integers or integral floats)."""
        bounds = CODE_BOUNDS.get(self.activation) if type(self) is Activation else None
        return count_above(codes, self.firing_threshold, bounds)

    def export_thresholds(self, n_units):
        """Inference thresholds as numpy, shape (n_units,); None if none."""
        return None

    def load_thresholds_(self, thresholds):
        """Set the thresholds that :meth:`export_thresholds` gave."""

    def calibrate_(self, pre_activation_batches):
        """Adjust the code to the trained weights from the pre-activations of
        the training data (see :attr:`needs_calibration`)."""

    def auxiliary_loss(self, autoencoder, output, x, dead_latents):
        """An extra training loss of the code for ``autoencoder``'s forward
        ``output`` on ``x``; None if it has none."""
        return None

    def nested_errors(self, autoencoder, output, x, observed=None):
        """Per-sample errors of the reconstructions that training asks of
        parts of the code besides the whole (a nested dictionary's
        prefixes); none for most codes."""
        return []

    def penalty_scale(self, output):
        """What the sparsity penalty's weight is multiplied by for the
        training forward ``output``: 1, unless the code steers its own
        sparsity (a target L0)."""
        return 1.0

    def unit_parameters(self):
        """``(parameter, dim)`` of each parameter with one slice per unit
        along ``dim``: what changes size with the number of units."""
        return []

    @torch.no_grad()
    def select_units_(self, keep, n_new):
        """Keep the units at indices ``keep`` and add ``n_new`` new ones,
        which start as this code starts a unit."""


class SparseCode(Activation):
    """Codes that are exactly 0 where a unit is off, trained with AuxK."""

    exactly_sparse = True
    default_activation = "relu"
    #: MNIST, TopK at 1,024 units: 89% of them dead at 1e-2, 19% at 3e-3
    #: and 2% at 1e-3 (counted on the test images).
    learning_rate = 1e-3

    def auxiliary_loss(self, autoencoder, output, x, dead_latents):
        """The AuxK loss of Gao et al. (2024): the dead units' ``k_aux``
        largest codes (``k_aux``: the autoencoder's ``auxiliary_k``, half the
        input width) reconstruct what the
        live codes missed; weighted by the share of ``k_aux`` that is dead.
        ``dead_latents`` (a :class:`~._statistics.DeadLatents`) is updated with the batch."""
        dead_latents.update(self.firing(output.codes))
        dead = dead_latents.mask()
        k_aux = autoencoder.auxiliary_k
        errors = autoencoder.errors(output, x)
        if not counts_on_host(dead.device):
            # On a GPU, no wait for the number of dead units: every unit's
            # column, the live ones never picked, weighted by a tensor.
            aux = auxiliary_codes(output.pre_activations, dead, k_aux, self.activation)
            weight = (dead.sum().to(errors.dtype) / k_aux).clamp(max=1.0)
            return weight * auxk_loss(autoencoder.auxiliary_errors(output, aux, x), errors)
        n_dead = int(dead.sum())
        if n_dead == 0:
            return output.codes.new_zeros(())
        # The dead units' columns alone: their codes, then the atoms that decode them.
        units = dead.nonzero().squeeze(1)
        pre = output.pre_activations.index_select(1, units)
        aux = auxiliary_codes(pre, dead.new_ones(n_dead), k_aux, self.activation, n_dead)
        return min(n_dead / k_aux, 1.0) * auxk_loss(
            autoencoder.auxiliary_errors(output, aux, x, units), errors
        )


class _KeepsK(SparseCode):
    """A code that keeps ``k`` codes per sample (on average, for BatchTopK)."""

    estimator_params = ("k",)

    @classmethod
    def check_units(cls, n_units, *, k, **params):
        """``k`` above the number of units keeps every code: the code keeps
        ``min(k, n_units)``, with a warning."""
        if k > n_units:
            warn(
                f"k={k} is more codes per sample than the layer's {n_units} units: "
                f"every code is kept (k={n_units}), so the codes are not sparse. "
                "Lower k or use more units."
            )


class TopK(_KeepsK):
    """``f`` of the ``k`` largest pre-activations of each sample, 0 elsewhere.

    Parameters
    ----------
    k : int
        Codes kept per sample (at most the number of units).
    activation : str
        ``f``, applied to the kept pre-activations (``"relu"`` also drops
        negative ones).
    """

    def __init__(self, k, activation="relu"):
        super().__init__(activation)
        self.k = int(k)

    @classmethod
    def from_params(cls, activation, n_units, *, k=None, scale=1.0, dtype=None):
        return cls(k, activation)

    def forward(self, pre):
        values, indices = pre.topk(min(self.k, pre.shape[1]), dim=1, sorted=False)
        return torch.zeros_like(pre).scatter(1, indices, self._f(values)), None


class BatchTopK(_KeepsK):
    """The ``k * batch_size`` largest codes of a batch in training; codes above
    ``threshold`` in evaluation.

    In training, each batch also updates ``threshold``, an exponential moving
    average of the smallest code kept, which inference uses instead of the
    batch so that a sample's code depends on that sample alone.

    Parameters
    ----------
    k : int
        Mean number of codes kept per sample.
    activation : str
        ``f``, applied before ranking the codes.
    momentum : float, default=0.01
        Weight of each batch in the moving average.
    dtype : torch.dtype, default=None
        Dtype of the ``threshold`` buffer.
    """

    needs_calibration = True

    def __init__(self, k, activation="relu", momentum=0.01, dtype=None):
        super().__init__(activation)
        self.k = int(k)
        self.momentum = momentum
        self.register_buffer("threshold", torch.tensor(math.nan, dtype=dtype))

    @classmethod
    def from_params(cls, activation, n_units, *, k=None, scale=1.0, dtype=None):
        return cls(k, activation, dtype=dtype)

    @torch.no_grad()
    def export_thresholds(self, n_units):
        """The one learned threshold, repeated for every unit."""
        return self.threshold.expand(n_units).cpu().numpy().copy()

    @torch.no_grad()
    def load_thresholds_(self, thresholds):
        self.threshold.fill_(float(thresholds[0]))

    def _n_kept(self, codes):
        """How many codes of the batch ``codes`` training keeps: ``k *
        batch_size``, or all of them."""
        return min(self.k * codes.shape[0], codes.numel())

    def _kept(self, codes):
        """Values and flat indices of the ``k * batch_size`` largest codes."""
        return codes.flatten().topk(self._n_kept(codes))

    def _gap_midpoint(self, codes):
        """Midway between the smallest positive code of the ``k *
        batch_size`` kept and the largest code dropped (0 if none is
        positive); inf if no code is positive."""
        n_kept = self._n_kept(codes)
        values = codes.flatten().topk(min(n_kept + 1, codes.numel())).values
        smallest = _smallest_positive(values[:n_kept])
        dropped = values[n_kept:].clamp(min=0).max() if values.numel() > n_kept else 0.0
        return (smallest + torch.as_tensor(dropped, dtype=values.dtype)) / 2

    def forward(self, pre):
        codes = self._f(pre)
        if not self.training:
            threshold = torch.nan_to_num(self.threshold, nan=0.0)
            return codes * (codes > threshold), None
        values, indices = self._kept(codes)
        _follow_(self.threshold, _smallest_positive(values.detach()), self.momentum)
        kept = torch.zeros_like(codes.flatten()).scatter(0, indices, values)
        return kept.view_as(codes), None

    @torch.no_grad()
    def calibrate_(self, pre_activation_batches):
        """Set ``threshold`` to the mean over training batches of the
        midpoint between the smallest code kept and the largest dropped (0 if
        none), with the weights as they are now.

        The moving average trails the codes while the weights move; this
        pass, after training, removes that lag. The midpoint, rather than
        the smallest kept code itself, leaves no training code at the
        threshold: calibrated on one batch, the smallest kept code was the
        threshold, and whether inference (``codes > threshold``) kept it
        depended on the rounding of the batch it came in (a row alone or
        with others).
        """
        midpoints = [self._gap_midpoint(self._f(pre)) for pre in pre_activation_batches]
        midpoints = torch.stack(midpoints)
        midpoints = midpoints[torch.isfinite(midpoints)]
        if midpoints.numel():
            self.threshold.copy_(midpoints.mean())
        elif torch.isnan(self.threshold):  # no code was ever positive: 0, as inference reads it
            self.threshold.zero_()


class MatryoshkaBatchTopK(BatchTopK):
    """BatchTopK whose dictionary is nested: each prefix of its units
    (the first ``w`` of them, for each width ``w`` of ``prefixes``) is also
    trained to reconstruct alone (Nabeshima, 2024; Bussmann et al., 2025).

    The early units then carry the coarse, general features and the later
    ones refine them, so that the codes truncated to any prefix remain a
    good code. The codes are those of :class:`BatchTopK` over the whole
    dictionary (and, at inference, its learned threshold); the training
    error is the sum of the whole dictionary's and each inner prefix's
    (:meth:`nested_errors`), as in the paper and SAELens. It was their mean,
    which left AuxK and weight decay three times the weight that they have
    beside a BatchTopK's error: on MNIST (20,000 images, 1,024 units, k=32,
    ``bench_reference_saes.py``, prefixes of 64 and 256 units) the sum
    reconstructs the test images with an NMSE of 0.114 against 0.121, and
    the prefixes 0.195 and 0.127 against 0.197 and 0.133.

    Parameters
    ----------
    k : int
        Mean number of codes kept per sample.
    activation : str
        ``f``, applied before ranking the codes.
    prefixes : sequence of int or float, default=(1/4, 1/2)
        The inner prefixes: an int is a number of units, a float in (0, 1)
        a fraction of the layer's units (rounded, at least 1), which follows
        the layer's size. Widths at or above the layer's size add nothing
        (the whole dictionary is always one level). The default was (1/16,
        1/4): on MNIST (20,000 images, 1,024 units, k=32) a level of a
        sixteenth of the units took 24 of the 32 codes, and the levels
        above it reconstructed 26% (256 units) and 13% (the whole) worse
        than a BatchTopK of their width at their number of codes; with
        (1/4, 1/2) each level is within 4% of it, and the whole 9% better
        (also (1/8, 1/2): 8%, 10%, 2% better; (1/4,): 3%, 7% better). On
        the digits (256 units, k=8, three splits) every choice was within
        5% of BatchTopK or better, (1/4, 1/2) 2% to 11% better.
    momentum : float, default=0.01
        Weight of each batch in the threshold's moving average.
    dtype : torch.dtype, default=None
        Dtype of the ``threshold`` buffer.
    """

    hyperparameters = {"prefixes": ((1 / 4, 1 / 2), [tuple, list])}

    def __init__(self, k, activation="relu", prefixes=(1 / 4, 1 / 2), momentum=0.01, dtype=None):
        super().__init__(k, activation, momentum=momentum, dtype=dtype)
        self.prefixes = tuple(prefixes)

    @classmethod
    def from_params(
        cls, activation, n_units, *, k=None, prefixes=(1 / 4, 1 / 2), scale=1.0, dtype=None
    ):
        return cls(k, activation, prefixes, dtype=dtype)

    @classmethod
    def check_units(cls, n_units, *, k, prefixes=(1 / 4, 1 / 2)):
        """As BatchTopK's, and each prefix a positive int or a fraction in (0, 1)."""
        super().check_units(n_units, k=k)
        for prefix in prefixes:
            fraction = isinstance(prefix, float) and 0 < prefix < 1
            count = isinstance(prefix, (int, np.integer)) and not isinstance(prefix, bool)
            if not (fraction or (count and prefix >= 1)):
                raise ValueError(
                    "Each of the prefixes must be a number of units (an int of at least 1) "
                    f"or a fraction of them (a float in (0, 1)); got {prefix!r}."
                )

    def widths(self, n_units):
        """The inner prefixes' widths for a layer of ``n_units``, increasing,
        each below ``n_units``."""
        widths = {
            max(1, round(prefix * n_units)) if isinstance(prefix, float) else int(prefix)
            for prefix in self.prefixes
        }
        return sorted(width for width in widths if width < n_units)

    def nested_errors(self, autoencoder, output, x, observed=None):
        """Per-sample errors of each inner prefix's reconstruction: the
        codes of the units beyond it set to 0 (decoded by the autoencoder's
        :meth:`~._modules.Autoencoder.decode_prefixes`; for sparse rows
        read through their non-zeros, the truncated codes' errors)."""
        codes = output.codes
        widths = self.widths(codes.shape[1])
        if output.reconstruction is None:
            units = torch.arange(codes.shape[1], device=codes.device)
            truncated = [codes * (units < width) for width in widths]
            return [
                autoencoder.errors(output._replace(codes=part), x, observed) for part in truncated
            ]
        return [
            autoencoder.errors(output._replace(reconstruction=reconstruction), x, observed)
            for reconstruction in autoencoder.decode_prefixes(codes, widths)
        ]


@torch.no_grad()
def _follow_(average, value, momentum):
    """Move the moving ``average`` towards ``value`` by ``momentum``
    (element-wise): set to ``value`` where it is NaN (never set), kept where
    ``value`` is not finite. Tensor operations only: no synchronisation with
    a GPU per batch."""
    moved = average.lerp(value, momentum)
    updated = torch.where(torch.isnan(average), value, moved)
    average.copy_(torch.where(torch.isfinite(value), updated, average))


def _smallest_positive(values):
    """The smallest positive entry of ``values``; inf if there is none."""
    return torch.where(values > 0, values, torch.inf).min()


class _Step(torch.autograd.Function):
    """Heaviside step ``H(pre - threshold)`` with a straight-through gradient.

    On samples within ``bandwidth / 2`` of the threshold, the step passes the
    rectangle-kernel estimate of its derivative: ``-1/bandwidth`` to the
    threshold, as in Rajamanoharan et al. (2024), and ``+1/bandwidth`` to the
    pre-activation, which the paper does not. Without the latter the L0
    penalty reaches the thresholds alone, and on data sets of thousands of
    samples they trail the growing pre-activations for hundreds of epochs.
    """

    @staticmethod
    def forward(ctx, pre, threshold, bandwidth):
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth
        return (pre > threshold).to(pre.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        pre, threshold = ctx.saved_tensors
        near = ((pre - threshold).abs() < ctx.bandwidth / 2).to(pre.dtype)
        grad_pre = grad_output * near / ctx.bandwidth
        return grad_pre, -grad_pre.sum(dim=0), None


class JumpReLU(SparseCode):
    """``f(pre) * H(pre - threshold)``, with one learned threshold per unit.

    The thresholds are trained through the straight-through estimator of
    :class:`_Step`, both by the reconstruction error and by the L0 penalty on
    the gates. They are stored as logarithms so that they stay positive.

    Parameters
    ----------
    n_units : int
        Number of units (thresholds).
    activation : str
        ``f`` (``"relu"`` gives the JumpReLU of the paper).
    threshold : float, default=1.0
        Initial threshold of every unit.
    bandwidth : float, default=0.5
        Width of the window around the threshold where the straight-through
        gradient is non-zero; in the pre-activations' units.
    dtype : torch.dtype, default=None
        Dtype of the thresholds.
    """

    hyperparameters = {"target_l0": (None, [Interval(Real, 0, None, closed="neither"), None])}

    #: How fast the penalty's multiplier follows a target L0: its logarithm
    #: moves by this much per step times the relative excess of the batch's
    #: L0 (an integral controller: the multiplier settles where L0 is on target).
    target_rate = 0.02

    def __init__(
        self,
        n_units,
        activation="relu",
        threshold=1.0,
        bandwidth=0.5,
        target_l0=None,
        dtype=None,
    ):
        super().__init__(activation)
        self.bandwidth = float(bandwidth)
        self.initial_threshold = float(threshold)
        self.target_l0 = None if target_l0 is None else float(target_l0)
        self.log_threshold = nn.Parameter(torch.full((n_units,), math.log(threshold), dtype=dtype))
        self.register_buffer("log_penalty_scale", torch.zeros((), dtype=dtype))

    @classmethod
    def from_params(cls, activation, n_units, *, k=None, target_l0=None, scale=1.0, dtype=None):
        """Thresholds start at ``scale`` (about a sixth of the units fire at
        first) and the bandwidth is half of it: the paper's 1e-3 of it needs
        far more training steps than data sets of thousands of samples give."""
        return cls(
            n_units,
            activation,
            threshold=scale,
            bandwidth=0.5 * scale,
            target_l0=target_l0,
            dtype=dtype,
        )

    def penalty_scale(self, output):
        """With a ``target_l0``, the L0 penalty's multiplier: each training
        batch moves its logarithm by :attr:`target_rate` times ``L0 /
        target_l0 - 1`` (``L0`` the batch's mean number of open gates), so
        that the penalty grows while the codes are denser than the target
        and shrinks while they are sparser, until they meet it."""
        if self.target_l0 is None:
            return 1.0
        with torch.no_grad():
            l0 = output.gates.sum(dim=1).mean()
            excess = (l0 / self.target_l0 - 1).clamp(-1.0, 1.0)
            self.log_penalty_scale.add_(self.target_rate * excess)
        return self.log_penalty_scale.exp()

    @property
    def threshold(self):
        """Per-unit thresholds, shape (n_units,)."""
        return self.log_threshold.exp()

    @torch.no_grad()
    def export_thresholds(self, n_units):
        return self.threshold.cpu().numpy().copy()

    @torch.no_grad()
    def load_thresholds_(self, thresholds):
        self.log_threshold.copy_(torch.from_numpy(np.log(thresholds)))

    def unit_parameters(self):
        return [(self.log_threshold, 0)]

    @torch.no_grad()
    def select_units_(self, keep, n_new):
        kept = self.log_threshold.index_select(0, keep)
        new = kept.new_full((n_new,), math.log(self.initial_threshold))
        self.log_threshold.data = torch.cat([kept, new])

    def forward(self, pre):
        gates = _Step.apply(pre, self.threshold, self.bandwidth)
        return self._f(pre) * gates, gates


class WinnerTakeAll(SparseCode):
    """Winner-take-all sparsity (Makhzani and Frey, 2015), in training only.

    In training each unit keeps, in each sample, its largest code over the
    sample's positions (spatial sparsity: one winner per feature map; a
    dense layer has one position) and, of those winners, only the largest
    ``lifetime`` fraction over the batch (lifetime sparsity: each unit
    fires on that share of a batch, so none dies). The decoder learns from
    these few codes alone, which makes each unit a part that is worth
    reconstructing on its own.

    In evaluation the codes are the plain ``f(pre)``: the features are the
    whole, non-sparse maps, as in the paper, where the sparse codes of
    training are a regulariser (MNIST, a plain-torch run of 64 maps of 5 x 5
    max-pooled over a 4 x 4 grid, then a linear classifier: 0.984 with the
    whole maps, 0.952 with their winners alone). What the decoder reads in evaluation
    (:meth:`decoded`) is the winners again, each kept above its unit's
    threshold: a moving average of the smallest winner that training kept,
    so that reconstructions (``inverse_transform``, ``score_samples``) are
    of the codes the decoder learned from, one sample at a time.

    Parameters
    ----------
    n_units : int
        Number of units (thresholds).
    activation : str
        ``f``, applied before the winners are chosen.
    lifetime : float, default=0.2
        Fraction of a batch's samples on which each unit keeps its winner.
    momentum : float, default=0.01
        Weight of each batch in the thresholds' moving average.
    dtype : torch.dtype, default=None
        Dtype of the ``threshold`` buffer.
    """

    needs_calibration = True
    one_per_map = True

    hyperparameters = {"lifetime": (0.2, [Interval(Real, 0, 1, closed="right")])}

    def __init__(self, n_units, activation="relu", lifetime=0.2, momentum=0.01, dtype=None):
        super().__init__(activation)
        self.lifetime = float(lifetime)
        self.momentum = momentum
        self.register_buffer("threshold", torch.full((n_units,), math.nan, dtype=dtype))

    @classmethod
    def from_params(cls, activation, n_units, *, k=None, lifetime=0.2, scale=1.0, dtype=None):
        return cls(n_units, activation, lifetime, dtype=dtype)

    @torch.no_grad()
    def export_thresholds(self, n_units):
        return torch.nan_to_num(self.threshold, nan=0.0).cpu().numpy().copy()

    @torch.no_grad()
    def load_thresholds_(self, thresholds):
        self.threshold.copy_(torch.from_numpy(np.asarray(thresholds)))

    @torch.no_grad()
    def select_units_(self, keep, n_new):
        kept = self.threshold.index_select(0, keep)
        self.threshold = torch.cat([kept, kept.new_full((n_new,), math.nan)])

    def _winners(self, codes):
        """Each sample's largest code of each unit over its positions and
        where it lies: ``(values, positions)``, each (n_samples, n_units);
        positions None for a dense layer."""
        if self.rows_per_sample == 1:
            return codes, None
        maps = codes.view(-1, self.rows_per_sample, codes.shape[1])
        return maps.max(dim=1)

    def auxiliary_loss(self, autoencoder, output, x, dead_latents):
        """None: lifetime sparsity leaves no unit dead (each fires on its
        share of every batch), so AuxK has nothing to revive."""
        return None

    def firing_counts(self, codes):
        """In training, counted on each map's winner alone (the other
        positions are 0): a pass over the samples' winners rather than over
        every position."""
        if not self.training or self.rows_per_sample == 1:
            return super().firing_counts(codes)
        return super().firing_counts(self.placed(codes)[0])

    def placed(self, codes):
        if self.rows_per_sample == 1:
            return codes, None
        maps = codes.view(-1, self.rows_per_sample, codes.shape[1])
        if self.activation in ("relu", "sigmoid"):  # the non-zero is the largest
            return maps.max(dim=1)
        positions = maps.abs().argmax(dim=1)
        return maps.gather(1, positions.unsqueeze(1)).squeeze(1), positions

    def _place(self, values, positions):
        """Codes (rows of units) that hold ``values`` at ``positions``, 0 elsewhere."""
        if positions is None:
            return values
        maps = values.new_zeros(values.shape[0], self.rows_per_sample, values.shape[1])
        return maps.scatter_(1, positions.unsqueeze(1), values.unsqueeze(1)).flatten(0, 1)

    def _smallest_kept(self, values):
        """Each unit's smallest winner among the ``lifetime`` share of the
        samples that it keeps, shape (n_units,)."""
        kept = max(1, math.ceil(self.lifetime * values.shape[0]))
        return values.topk(kept, dim=0, sorted=False).values.amin(dim=0)

    def forward(self, pre):
        if not self.training:
            return self._f(pre), None
        # f does not decrease: the winners of f(pre) are f of pre's, so f runs
        # on the winners alone (on MNIST's 28 x 28 maps, a 784th of them).
        values, positions = self._winners(pre)
        values = self._f(values)
        smallest = self._smallest_kept(values)
        _follow_(self.threshold, smallest.detach(), self.momentum)
        return self._place(values * (values >= smallest), positions), None

    def decoded(self, codes):
        """In evaluation, the winners of ``codes`` above their unit's
        threshold; in training the codes are those winners already."""
        if self.training:
            return codes
        values, positions = self._winners(codes)
        threshold = torch.nan_to_num(self.threshold, nan=0.0)
        return self._place(values * (values >= threshold) * (values > 0), positions)

    @torch.no_grad()
    def calibrate_(self, pre_activation_batches):
        """Set each unit's threshold to the mean over training batches of its
        smallest kept winner, with the weights as they are now (the moving
        average trails the codes while the weights move)."""
        smallest = [
            self._smallest_kept(self._winners(self._f(pre))[0]) for pre in pre_activation_batches
        ]
        if smallest:
            self.threshold.copy_(torch.stack(smallest).mean(dim=0))


#: The sparse codes by the value of ``sparsity`` that selects them; any other
#: value (a penalty, or None) gives the plain :class:`Activation`.
CODES = {
    "topk": TopK,
    "batchtopk": BatchTopK,
    "matryoshka_batchtopk": MatryoshkaBatchTopK,
    "jumprelu": JumpReLU,
    "wta": WinnerTakeAll,
}


def code_class(sparsity):
    """The code class that ``sparsity`` selects."""
    return CODES.get(sparsity, Activation)


@torch.no_grad()
def calibrate_codes_(layers, batches):
    """Calibrate the codes of ``layers`` (applied in turn, bottom first) that
    need it, on the input batches that each call of ``batches()`` yields;
    leaves the layers in eval mode."""
    for layer in layers:
        layer.eval()
    for depth, layer in enumerate(layers):
        if not layer.code.needs_calibration:
            continue

        def pre_activations(x, below=layers[:depth], layer=layer):
            for lower in below:
                x = lower(x)
            return layer.pre_activations(x)

        layer.code.calibrate_(pre_activations(x) for x in batches())


def counts_on_host(device):
    """Whether AuxK reads the number of dead units on the host, to compute
    on their columns alone: on the CPU, where reading it costs nothing; on
    a GPU it would wait for the device at every step, and the loss takes
    every unit's column instead (the same values)."""
    return device.type == "cpu"


def auxiliary_codes(pre, dead, k_aux, activation="relu", n_dead=None):
    """Codes of the AuxK loss: the ``k_aux`` largest pre-activations of the
    dead units in each sample, through ``f``; 0 for every live unit.
    ``n_dead``, the number of dead units if known on the host, bounds the
    codes kept; without it, nothing waits for the device (the units picked
    beyond the dead ones get 0).

    Their gradient reaches the pre-activations as if ``f`` were the identity
    (a straight-through estimator): most dead units have a negative
    pre-activation on every sample, where relu's gradient is 0 and AuxK
    could never revive them. Through the estimator, a dead unit whose atom
    points along what the live codes miss is pushed to fire on those samples
    (MNIST, TopK at 1,024 units and a step size of 1e-3: 14% of them dead
    on the test images with relu's gradient, 2% with the estimator, both
    with AuxK weighed 1).
    """
    masked = pre.masked_fill(~dead, -math.inf)
    count = pre.shape[1] if n_dead is None else n_dead
    values, indices = masked.topk(min(k_aux, count), dim=1, sorted=False)
    if n_dead is not None:
        values = values + (ACTIVATIONS[activation](values) - values).detach()
        return torch.zeros_like(pre).scatter(1, indices, values)
    # Picks of live units (-inf) give 0, before f (no infinity in it) and
    # after (f(0) is not 0 for every f), with no gradient.
    picked = dead[indices]
    values = torch.where(picked, values, torch.zeros_like(values))
    values = values + (ACTIVATIONS[activation](values) - values).detach()
    values = torch.where(picked, values, torch.zeros_like(values))
    return torch.zeros_like(pre).scatter(1, indices, values)
