"""Data-parallel training under ``torch.distributed``.

When a process group of more than one process is initialised (by
``torchrun``, Ray Train's ``TorchTrainer`` or ``accelerate launch``) every
rank passes the same data to ``fit``, and the ranks share the work of each
batch: a global batch of ``batch_size`` rows is cut into one contiguous slice
per rank (:class:`ShardedBatches`), each rank computes the gradient of its
slice, and :class:`AveragedGradients` all-reduces the gradients, weighted by
the slices' sizes, before every optimizer step. The epoch losses, validation
losses and statistics of the codes are summed across ranks. Every rank thus
takes the same steps, stops at the same epoch and ends with the same fitted
estimator; for losses that are means over rows the steps are those of one
process on the global batch.

Nothing here starts processes: the launcher does, as users already do.
"""

import torch
import torch.distributed as dist

from . import _sparse as sparse
from ._batches import BatchesBase
from ._training import EpochHook


def process_group():
    """``(rank, world_size)`` of an initialised process group of more than
    one process, else None."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist.get_rank(), dist.get_world_size()
    return None


def _communication_device(device):
    """Where collectives run: on the GPU for NCCL, else where the tensors are."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device(device)


def all_reduce_(tensor, op=None):
    """Sum (or ``op``) ``tensor`` in place across the ranks; return it."""
    device = _communication_device(tensor.device)
    reduced = tensor.to(device)
    dist.all_reduce(reduced, op=op or dist.ReduceOp.SUM)
    if reduced is not tensor:
        tensor.copy_(reduced)
    return tensor


def broadcast_seed(seed):
    """Rank 0's ``seed`` on every rank."""
    holder = [int(seed)]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def check_same_data(shape, name="X"):
    """Raise the same ValueError on every rank if the ranks' data differ in shape."""
    local = torch.tensor(shape, dtype=torch.int64)
    low = all_reduce_(local.clone(), dist.ReduceOp.MIN)
    high = all_reduce_(local.clone(), dist.ReduceOp.MAX)
    if not torch.equal(low, high):
        raise ValueError(
            f"torch.distributed: the ranks passed {name} of different shapes (from "
            f"{tuple(low.tolist())} to {tuple(high.tolist())}). Every rank must fit on the "
            "same data: each computes its share of every batch."
        )


def _slice(n_rows, rank, world_size):
    return n_rows * rank // world_size, n_rows * (rank + 1) // world_size


def local_rows(n_samples, batch_size, rank, world_size):
    """The rows one rank computes on in an epoch of :class:`ShardedBatches`."""
    rows = 0
    for first in range(0, n_samples, batch_size):
        n_rows = min(batch_size, n_samples - first)
        if n_rows >= world_size:  # smaller batches are left out
            start, stop = _slice(n_rows, rank, world_size)
            rows += stop - start
    return rows


class ShardedBatches(BatchesBase):
    """This rank's slice of every batch of ``batches``.

    All ranks draw the same batches (the same data and generator); rank
    ``r`` of ``W`` takes rows ``n * r // W`` to ``n * (r + 1) // W`` of each.
    A final batch of fewer rows than ranks is left out of the epoch.
    """

    def __init__(self, batches, rank, world_size):
        self.inner, self.rank, self.world_size = batches, rank, world_size
        self.device, self.batch_size = batches.device, batches.batch_size
        last = batches.n_samples % batches.batch_size
        self.n_samples = batches.n_samples - (last if last < world_size else 0)
        self.rows = self.global_rows = 0

    def epoch(self, generator=None):
        for batch in self.inner.epoch(generator):
            n_rows = batch[0].shape[0]
            if n_rows < self.world_size:
                continue
            start, stop = _slice(n_rows, self.rank, self.world_size)
            self.rows, self.global_rows = stop - start, n_rows
            yield tuple(sparse.rows(array, start, stop) for array in batch)

    def total(self, tensor):
        """``tensor`` summed over the ranks."""
        return all_reduce_(tensor)


class AveragedGradients(EpochHook):
    """Before each step, the gradients summed across ranks, each rank's
    weighted by its share of the global batch: the gradient of the global
    batch's mean loss, on every rank."""

    def __init__(self, batches):
        self.batches = batches

    @torch.no_grad()
    def before_step(self, module):
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        flat *= self.batches.rows / self.batches.global_rows
        all_reduce_(flat)
        offset = 0
        for grad in grads:
            grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
            offset += grad.numel()
