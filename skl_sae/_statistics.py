"""What the codes did: firing and information of each unit, apart from the loss.

:class:`CodeStatistics` counts, during the last complete pass over the
training data, the rows of codes on which each unit fired, the
reconstruction error and, for structure learning, the information that each
unit's firing carried about the samples (:func:`binary_entropy`). The loss
of a layer (:class:`~._losses.AutoencoderLoss`) feeds it a batch at a time;
the estimators read its diagnostics after fit. :class:`DeadLatents` counts,
for the AuxK loss, the samples since each unit last fired. Torch only.
"""

import math
from copy import deepcopy

import torch

from ._functional import select_units

#: The most rows of a boolean mask that :func:`firing_counts` counts as
#: booleans (measured: 2.5 times faster than floats up to some thousands of
#: rows, 4 times slower at 20,000).
BOOLEAN_ROWS = 4096


class CodeStatistics:
    """What the codes did during the last complete pass over the training data.

    Counts, per unit, the rows of codes on which it fired and sums the
    per-sample mean squared reconstruction errors, on the model's device (no
    synchronisation per batch). A sample has one row of codes, or one per
    position of a convolutional code's feature maps. Once ``n_samples``
    samples have been added, the next batch starts a new pass, so that after
    training the counts describe the last epoch (for L-BFGS, its final
    evaluation).

    With ``information``, it also sums what :meth:`information` needs: each
    unit's probability of firing per sample and the entropy of that firing.
    """

    def __init__(self, n_units, n_samples, device, information=False):
        self.n_samples = int(n_samples)
        # float64 counts are exact to 2 ** 53 and add integer or float counts in one pass
        self._fired = torch.zeros(n_units, dtype=torch.float64, device=device)
        self._error = torch.zeros((), dtype=torch.float64, device=device)
        self._rows = self._samples = 0
        self._information = None
        if information:  # sums of the firing probability and of its entropy
            self._information = torch.zeros(2, n_units, dtype=torch.float64, device=device)

    @torch.no_grad()
    def add(self, code, codes, errors):
        """Record a batch: the ``codes`` that the code module ``code`` gave
        it, shape (rows, units), and its per-sample ``errors``."""
        self.add_sum(code, codes, errors.sum(), errors.shape[0])

    @torch.no_grad()
    def add_sum(self, code, codes, error_sum, n_samples):
        """Record a batch of ``n_samples`` samples from the ``codes`` that
        the code module ``code`` gave it and the sum of their errors."""
        if self._samples >= self.n_samples:
            self._fired.zero_()
            self._error.zero_()
            self._rows = self._samples = 0
            if self._information is not None:
                self._information.zero_()
        counts = code.firing_counts(codes)
        self._fired += counts
        self._error += error_sum
        self._rows += codes.shape[0]
        self._samples += n_samples
        if self._information is not None:
            if code.stochastic_firing:
                self._information[0] += codes.sum(dim=0)
                self._information[1] += binary_entropy(codes).sum(dim=0)
            else:  # a deterministic firing carries no entropy of its own
                self._information[0] += counts

    def reduce_(self, all_reduce):
        """Sum the counts of the processes that shared the pass, with
        ``all_reduce(tensor)`` (see :mod:`._distributed`)."""
        counts = torch.tensor(
            [self._rows, self._samples], dtype=torch.int64, device=self._fired.device
        )
        all_reduce(self._fired)
        all_reduce(self._error)
        if self._information is not None:
            all_reduce(self._information)
        self._rows, self._samples = (int(count) for count in all_reduce(counts))

    def reduced(self, all_reduce):
        """A copy with the counts of the processes that shared the pass
        summed (see :meth:`reduce_`); this one is left as it is."""
        reduced = deepcopy(self)
        reduced.reduce_(all_reduce)
        return reduced

    def feature_density(self):
        """Fraction of the pass's rows of codes on which each unit fired (numpy)."""
        return (self._fired / max(self._rows, 1)).cpu().numpy()

    def mean_squared_error(self):
        """Mean squared reconstruction error per sample and feature."""
        return float(self._error) / max(self._samples, 1)

    def information(self):
        """Bits of information that each unit's firing carried about the
        samples of the pass (numpy), as a binary channel: ``H(mean q) -
        mean H(q)``, where ``q`` is the unit's probability of firing on a
        sample (a sigmoid unit's code, else 0 or 1) and ``H`` the binary
        entropy. 0 for a unit that never fires, always fires or fires with
        the same probability on every sample; ``H(p)`` for a unit that fires
        deterministically on a fraction ``p`` of them."""
        rows = max(self._rows, 1)
        mean_q, mean_entropy = self._information / rows
        return (binary_entropy(mean_q) - mean_entropy).clamp_min(0).cpu().numpy()

    @torch.no_grad()
    def select_units_(self, keep, n_new):
        """Keep the counts of the units at indices ``keep`` and append zero
        counts for ``n_new`` new units, in place."""
        self._fired = select_units(self._fired, keep, n_new, dim=0)
        if self._information is not None:
            self._information = select_units(self._information, keep, n_new, dim=1)


def firing_counts(fired):
    """Per unit, the rows of the (rows, units) boolean mask ``fired`` on
    which it fired. Up to :data:`BOOLEAN_ROWS` rows (a training batch)
    the booleans are counted as they are, in integers (200 x 256: 13 us
    against 35 as floats, on one thread); beyond, summed as floats, whose
    reduction along many rows is faster than the booleans' (a convolutional
    code's 156,800 x 64 rows: 4 ms against 27 on two threads, 26 against 44
    on one), in float64 beyond the integers that float32 holds exactly."""
    if fired.shape[0] <= BOOLEAN_ROWS:
        return torch.count_nonzero(fired, dim=0)
    dtype = torch.float32 if fired.shape[0] < 2**24 else torch.float64
    return fired.to(dtype).sum(dim=0)


def count_above(values, threshold, bounds=None):
    """Per column, the rows of the (rows, columns) ``values`` above
    ``threshold``: :func:`firing_counts` of ``values > threshold``, without
    the comparison for a training batch of float32 or float64 codes.

    ``bounds``, the ``(low, high)`` that the values are known to lie in,
    allows two passes where the general case below takes four: values in
    [0, 1] above 0.5 are those that round to 1 (0.5 itself rounds to 0,
    half to even), a sigmoid's codes (200 x 256 float64 codes: 40 us
    against 86, on one thread). Near a threshold of 0 no such shortcut
    keeps the comparison's reading of subnormals with denormals flushed
    (``ceil`` took a subnormal as above 0 where the comparison did not).

    torch compares on a CPU several times slower than it clamps (200 x 256
    float64 codes: 97 us for the mask and 70 to count it, against 113 us
    for this, on one slow thread; float32: 159 against 66). ``values -
    threshold`` is positive exactly where a value is above, and never below
    ``tiny``, the dtype's smallest normal number, where ``|threshold| >= 2
    * tiny / eps`` (the difference of two such floats is a multiple of an
    ulp of at least ``tiny``); a threshold of 0 multiplies the values by
    ``2 ** bits`` instead, which takes every positive subnormal above
    ``tiny``. No difference is then subnormal, so that with denormals
    flushed to 0 (as fits run) the count is still the comparison's in the
    same mode (which reads a subnormal value as 0). Clamped to [0, tiny], each is
    ``tiny`` or 0, and their sum an exact multiple of ``tiny``. Other
    thresholds, dtypes and longer batches compare. A column holding a NaN
    (training has diverged: the loop raises) counts 0.
    """
    if values.dtype not in (torch.float32, torch.float64) or values.shape[0] > BOOLEAN_ROWS:
        return firing_counts(values > threshold)
    if bounds == (0, 1) and threshold == 0.5:
        return values.round().sum(dim=0).nan_to_num_(nan=0.0)
    info = torch.finfo(values.dtype)
    if threshold == 0:
        positive = torch.mul(values, 2.0**info.bits)
    elif abs(threshold) >= 2 * info.tiny / info.eps:
        positive = torch.sub(values, threshold)
    else:
        return firing_counts(values > threshold)
    counts = positive.clamp_(0, info.tiny).sum(dim=0).div_(info.tiny)
    return counts.round_().nan_to_num_(nan=0.0)


def binary_entropy(p):
    """Entropy in bits of a coin that comes up heads with probability ``p``,
    element-wise; 0 at 0 and 1."""
    p = p.clamp(0, 1)
    return -(torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p)) / math.log(2)


class DeadLatents:
    """Counts, per unit, the training samples seen since it last fired.

    A unit is dead once ``dead_after`` samples have passed without it firing.

    Parameters
    ----------
    n_units : int
        Number of units tracked.
    dead_after : int
        Samples without firing after which a unit counts as dead.
    device : torch.device
        Where the counts live (the model's device).
    """

    def __init__(self, n_units, dead_after, device):
        self.dead_after = int(dead_after)
        self.samples_since_fired = torch.zeros(n_units, dtype=torch.int64, device=device)

    @torch.no_grad()
    def update(self, fired):
        """Record a batch; ``fired`` is its (n_samples, n_units) boolean mask."""
        self.samples_since_fired += fired.shape[0]
        self.samples_since_fired.masked_fill_(fired.any(dim=0), 0)

    def to_(self, device):
        """Move the counts to ``device``."""
        self.samples_since_fired = self.samples_since_fired.to(device)
        return self

    def select_units_(self, keep, n_new):
        """Keep the counts of the units at indices ``keep``; ``n_new`` new
        units start with a count of 0."""
        self.samples_since_fired = select_units(self.samples_since_fired, keep, n_new, dim=0)
        return self

    def mask(self):
        """Boolean mask of the dead units."""
        return self.samples_since_fired >= self.dead_after
