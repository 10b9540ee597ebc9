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
   (:meth:`~._statistics.CodeStatistics.information`).

The penalties are averaged over units (sparsity, contractive), so that a
unit's price depends on the layer's size
(:meth:`~._losses.AutoencoderLoss.unit_price`). While the layer grows they
price each unit as in a layer of ``max_components`` units: at the price of
a small layer, an L1 or L0 penalty would silence every unit of the first
ones. When growth ends, the price becomes that of the layer's size then, and
stays there while pruning removes units (which would otherwise raise the
price of the units left): the final layer is trained as a layer of its size
would be.

A change decided after an epoch is made when the next epoch begins, so that
no fit and no ``partial_fit`` call ends with untrained units: a growth
decided after the last epoch waits for more training (``warm_start``,
``partial_fit``), a pruning is made at the end. New units start as the code
family starts a unit; the optimizer's state and the counts that follow
units (AuxK's dead units, the statistics) keep the slices of the kept units,
so that training goes on where it was, and new units start with Adam's
moments at 0 (see :meth:`~._optimizers._Optimizer._new_state`). A growth and the
end of growth (a new price) restart the patience of convergence and early
stopping; a pruning does not, as removing uninformative units barely changes
the loss. Early stopping keeps the best weights of the final structure.
"""

import math

import numpy as np
import scipy.sparse as sp
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

#: Rows of the data that the initial size is measured on, at most.
INITIAL_SAMPLE = 1000

#: Memory that those rows may take as dense float64 rows, at most.
INITIAL_SAMPLE_BYTES = 32 * 2**20


def initial_components(X, max_components, rng):
    """Units to start structure learning with: the number of principal
    components that explain :data:`INITIAL_VARIANCE` of the variance of up to
    :data:`INITIAL_SAMPLE` random rows of ``X`` (dense, sparse or a memory
    map; no more rows than :data:`INITIAL_SAMPLE_BYTES` hold densely, and a
    sparse sample is never densified), at least 1 and at most
    ``max_components``."""
    n_samples, n_features = X.shape
    n_rows = min(n_samples, INITIAL_SAMPLE, max(2, INITIAL_SAMPLE_BYTES // (8 * n_features)))
    sample = X[np.sort(rng.choice(n_samples, n_rows, replace=False))]
    # Scaled to at most 1 in magnitude: the same shares of variance, and the
    # squares of data near float64's limits neither overflow nor underflow.
    largest = float(abs(sample).max())
    if largest > 0:
        sample = sample / largest
    if sp.issparse(sample) or n_rows < n_features:  # the smaller Gram matrix, rows'
        gram = sample @ sample.T
        gram = np.asarray(gram.toarray() if sp.issparse(gram) else gram, dtype=np.float64)
        means = gram.mean(axis=0)  # centred: (I - 11'/n) G (I - 11'/n)
        gram = gram - means[:, None] - means[None, :] + means.mean()
    else:
        centred = np.asarray(sample, dtype=np.float64)
        centred = centred - centred.mean(axis=0)
        gram = centred.T @ centred
    variances = np.sort(np.clip(np.linalg.eigvalsh(gram), 0, None))[::-1]
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
        growth, or None), ``"curve"`` (units per epoch),
        ``"penalty_units"`` (the size of layer whose price of a unit the
        penalties take) and ``"pending"`` (a change decided after the last
        epoch and not made yet: ``{"keep": [...], "n_new": int}``, or None),
        updated in place.
    generator : torch.Generator
        Source of the new units' weights.
    optimizer : Adam, SGD or torch.optim.LBFGS, default=None
        Its state follows the units.
    dead_latents : DeadLatents, default=None
        AuxK's counts, which follow the units.
    loss : AutoencoderLoss, default=None
        The loss whose ``penalty_units`` becomes the layer's size when
        growth ends.
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
        reduce=None,
    ):
        self.statistics, self.scale = statistics, scale
        self.max_components, self.state, self.generator = max_components, state, generator
        self.optimizer, self.dead_latents, self.loss = optimizer, dead_latents, loss
        self.reduce = reduce

    @staticmethod
    def new_state(max_components):
        """The state of a layer that has not taken a structure step yet."""
        return {
            "growing": True,
            "growth": None,
            "curve": [],
            "penalty_units": max_components,
            "pending": None,
        }

    def on_epoch_begin(self, module):
        """Make the change decided after the last epoch: decided changes are
        made when training goes on, so that no unit is left untrained at the
        end of a fit or of a ``partial_fit`` call."""
        pending, self.state["pending"] = self.state["pending"], None
        if pending is not None:
            self._select_units(module, np.asarray(pending["keep"]), pending["n_new"])

    def finish(self, module):
        """At the end of training: make a pending pruning now (a growth waits
        for more training)."""
        pending = self.state["pending"]
        if pending is not None and pending["n_new"] == 0:
            self.on_epoch_begin(module)

    def on_epoch_end(self, module, history):
        n_units = module.n_components
        self.state["curve"].append(n_units)
        if history.n_iter % CHECK_INTERVAL:
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
            # A new structure or a new price: patience starts again.
            history.best_loss, history.no_improvement_count = math.inf, 0
            history.best_state = None
            if n_new == 0:
                return False
            keep = np.arange(n_units)
        elif informative.all():
            return False
        else:  # prune, keeping the best unit rather than none
            informative[int(np.argmax(information))] = True
            keep, n_new = np.flatnonzero(informative), 0
            # Pruning uninformative units barely changes the loss: patience
            # goes on, but the best weights kept so far have the old shape.
            history.best_state = None
        self.state["pending"] = {"keep": keep.tolist(), "n_new": n_new}
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
