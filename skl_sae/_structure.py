"""Structure learning: the number of hidden units chosen from the data.

An autoencoder layer asked for ``n_components="auto"`` starts from
:func:`initial_components` units and, every :data:`CHECK_INTERVAL` epochs,
takes a structure step (:class:`StructureLearning`) on what its units did
during the epoch just ended:

1. **Grow**, while the layer is growing: the units are multiplied by
   :data:`GROWTH_FACTOR` (up to ``max_components``). Growth ends for good at
   the first step where the reconstruction error (the fraction of variance
   unexplained) fell by less than :data:`MIN_GAIN` of itself since the
   previous growth (more units no longer pay), where fewer than
   :data:`MIN_BUSY` of the units that it added became informative, net (the
   data keep no more units busy), or where ``max_components`` is reached.
   Nothing is pruned while the layer grows: a unit that is dead now may find
   a role among more units.
2. **Prune**, from the step after growth ended: units whose firing carried
   less than :data:`MIN_INFORMATION` bits about the samples are removed:
   dead units, units that always fire and units that fire with the same
   probability on every sample. The information of a unit is that of its
   firing as a binary channel, ``H(mean q) - mean H(q)``, with ``q`` its
   probability of firing on a sample (a sigmoid unit's code; 0 or 1 for the
   others) and ``H`` the binary entropy
   (:meth:`~._losses.CodeStatistics.information`).

The sparsity penalties are averaged over units, so that a unit's price
depends on the layer's size (:meth:`~._losses.AutoencoderLoss.penalty_weight`).
While the layer grows they price each unit as in a layer of
``max_components`` units: at the price of a small layer, an L1 or L0 penalty
would silence every unit of the first ones. When growth ends, the price
becomes that of the layer's size then, and stays there while pruning
removes units (which would otherwise raise the price of the units left): the
final layer is trained as a layer of its size would be.

New units start as the code family starts a unit; the optimizer's state
and the counts that follow units (AuxK's dead units, the statistics) keep
the slices of the kept units, so that training goes on where it was. After
a change the patience of early stopping and convergence starts again (and
the best weights kept by early stopping are those of the new structure). No
change is made after the last epoch of a fixed budget, so that every unit
trains.
"""

import math

import numpy as np
import torch

from ._training import EpochHook

#: Epochs between two structure steps: enough for new units to find a role
#: (with Adam at ``learning_rate_init=1e-2``) and for the statistics of an
#: epoch to describe them.
CHECK_INTERVAL = 5

#: Bits below which a unit is uninformative: a deterministic unit that fires
#: on fewer than one sample in a thousand carries 0.011 bits.
MIN_INFORMATION = 0.01

#: Growth goes on while at least this share of the units that the last growth
#: added became informative (net of the units that stopped being so).
MIN_BUSY = 0.5

#: Growth multiplies the number of units by this factor.
GROWTH_FACTOR = 2.0

#: Growth ends once a growth step lowered the fraction of variance
#: unexplained by less than this fraction of itself.
MIN_GAIN = 0.1

#: Share of the variance that the first units could explain linearly.
INITIAL_VARIANCE = 0.95

#: Rows of the data that the initial size is measured on.
INITIAL_SAMPLE = 1000


def initial_components(X, max_components, rng):
    """Units to start structure learning with: the number of principal
    components that explain :data:`INITIAL_VARIANCE` of the variance of up to
    :data:`INITIAL_SAMPLE` random rows of ``X`` (dense, sparse or a memory
    map), at least 1 and at most ``max_components``."""
    n_samples = X.shape[0]
    rows = np.sort(rng.choice(n_samples, min(n_samples, INITIAL_SAMPLE), replace=False))
    sample = X[rows]
    sample = sample.toarray() if hasattr(sample, "toarray") else np.asarray(sample)
    sample = sample.astype(np.float64) - sample.mean(axis=0, dtype=np.float64)
    if sample.shape[0] < sample.shape[1]:  # the smaller Gram matrix
        variances = np.linalg.eigvalsh(sample @ sample.T)
    else:
        variances = np.linalg.eigvalsh(sample.T @ sample)
    variances = np.sort(np.clip(variances, 0, None))[::-1]
    total = variances.sum()
    if total <= 0:
        return 1
    explained = np.cumsum(variances) / total
    n_components = int(np.searchsorted(explained, INITIAL_VARIANCE * (1 - 1e-12)) + 1)
    return int(np.clip(n_components, 1, max_components))


def resolve_max_components(max_components, n_features):
    """``max_components``, or for None, four units per input feature, between
    256 and 4096."""
    if max_components is not None:
        return int(max_components)
    return int(np.clip(4 * n_features, 256, 4096))


class StructureLearning(EpochHook):
    """Prunes and grows the hidden units of a :class:`~._modules.SparseAutoencoder`
    between epochs, by the rule of this module.

    Parameters
    ----------
    statistics : CodeStatistics
        Records the codes of each epoch, with ``information=True``.
    scale : float
        The loss scale (the data's mean feature variance): the reconstruction
        error divided by it is the fraction of variance unexplained.
    max_components : int
        Units at most.
    state : dict
        What carries over between fits (``warm_start``, ``partial_fit``):
        ``"growing"`` (bool), ``"growth"`` (the fraction of variance
        unexplained, the informative units and the units added at the last
        growth, or None), ``"curve"`` (units per epoch) and
        ``"penalty_units"`` (the size of layer whose price of a unit the
        sparsity penalty takes), updated in place.
    generator : torch.Generator
        Source of the new units' weights.
    optimizer : Adam, SGD or torch.optim.LBFGS, default=None
        Its state follows the units.
    dead_latents : DeadLatents, default=None
        AuxK's counts, which follow the units.
    loss : AutoencoderLoss, default=None
        The loss whose ``penalty_units`` becomes the layer's size when
        growth ends.
    last_epoch : int, default=None
        The value of ``history.n_iter`` after the last epoch of the budget:
        no change then.
    reduce : callable, default=None
        ``reduce(tensor)`` sums a tensor over the processes of a
        ``torch.distributed`` group, so that all take the same step.
    """

    def __init__(
        self,
        statistics,
        scale,
        max_components,
        state,
        generator,
        *,
        optimizer=None,
        dead_latents=None,
        loss=None,
        last_epoch=None,
        reduce=None,
    ):
        self.statistics, self.scale = statistics, scale
        self.max_components, self.state, self.generator = max_components, state, generator
        self.optimizer, self.dead_latents, self.loss = optimizer, dead_latents, loss
        self.last_epoch, self.reduce = last_epoch, reduce

    @staticmethod
    def new_state(max_components):
        """The state of a layer that has not taken a structure step yet."""
        return {"growing": True, "growth": None, "curve": [], "penalty_units": max_components}

    def on_epoch_end(self, module, history):
        n_units = module.n_components
        self.state["curve"].append(n_units)
        if history.n_iter % CHECK_INTERVAL or history.n_iter == self.last_epoch:
            return False
        statistics = self.statistics
        if self.reduce is not None:
            statistics = statistics.reduced(self.reduce)
        information = statistics.information()
        informative = information >= MIN_INFORMATION
        unexplained = statistics.mean_squared_error() / self.scale
        if self.state["growing"]:
            # No pruning while growing, nor at the step where growth ends:
            # the units of the last growth get one more interval to find a role.
            n_new = self._growth(n_units, int(informative.sum()), unexplained)
            if n_new == 0:  # growth ends: the penalty prices units as in this layer
                self.state["penalty_units"] = n_units
                if self.loss is not None:
                    self.loss.penalty_units = n_units
                _restart_patience(history)
                return False
            keep = np.arange(n_units)
        elif informative.all():
            return False
        else:  # prune, keeping the best unit rather than none
            informative[int(np.argmax(information))] = True
            keep, n_new = np.flatnonzero(informative), 0
        self._select_units(module, keep, n_new)
        _restart_patience(history)
        return False

    def _growth(self, n_units, n_informative, unexplained):
        """Units to add at this step; 0 if growth ends now."""
        state, last = self.state, self.state["growth"]
        paid = busy = True
        if last is not None:
            paid = unexplained <= (1 - MIN_GAIN) * last["unexplained"]
            busy = n_informative >= last["informative"] + MIN_BUSY * last["added"]
        target = min(self.max_components, math.ceil(GROWTH_FACTOR * n_units))
        if not (paid and busy) or target <= n_units:
            state["growing"] = False
            return 0
        state["growth"] = {
            "unexplained": unexplained,
            "informative": n_informative,
            "added": target - n_units,
        }
        return target - n_units

    def _select_units(self, module, keep, n_new):
        """Keep the units at ``keep`` and add ``n_new``, with everything that
        follows them."""
        keep = torch.as_tensor(keep, dtype=torch.int64, device=module.encoder.weight.device)
        unit_parameters = module.unit_parameters()
        module.select_units_(keep, n_new, self.generator)
        if isinstance(self.optimizer, torch.optim.LBFGS):
            # Its curvature pairs are flat vectors of the old parameters: start afresh.
            self.optimizer.state.clear()
            self.optimizer._numel_cache = None
        elif self.optimizer is not None:
            for parameter, dim in unit_parameters:
                self.optimizer.select_units_(parameter, dim, keep, n_new)
        self.statistics.select_units_(keep, n_new)
        if self.dead_latents is not None:
            self.dead_latents.select_units_(keep, n_new)


def _restart_patience(history):
    """A new structure or a new loss: patience and the best weights start again."""
    history.best_loss, history.no_improvement_count = math.inf, 0
    history.best_state = None
