"""Run-time settings of torch for a fit or an inference: the device,
torch's threads and the flushing of denormal floats.

Each setting is made for one call and restored after it. Nothing here
knows of arrays, estimators or autoencoders.
"""

import os
from contextlib import contextmanager

import torch
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads


def resolve_device(device):
    """Turn ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"`` or a
    :class:`torch.device` into a torch device.

    Raises
    ------
    ValueError
        If ``device`` names no device or CUDA is asked for but absent.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a device; use 'cpu', 'cuda', 'cuda:N' or 'auto'."
        ) from exc
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r} is not supported; use 'cpu', 'cuda' or 'auto'.")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available.")
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)."
        )
    return resolved


def busy_cpus():
    """CPUs that other processes keep busy now: the machine's runnable
    threads (Linux's ``/proc/loadavg``) less this process's own (its threads
    in state R, torch's spinning workers included); 0 where unknown.

    A CPU-bound process is always runnable, so one reading counts it; a
    process that happens to pass at that instant costs one fit a thread.
    """
    try:
        with open("/proc/loadavg") as loadavg:
            running = int(loadavg.read().split()[3].split("/")[0])
        return max(0, running - _own_running_threads())
    except (OSError, ValueError, IndexError):
        return 0


def idle_cpus():
    """This process's CPUs (its affinity) less those that other processes
    keep busy; the others' threads are taken as spread over the whole
    machine, so that a container pinned to 2 of 64 CPUs counts its share of
    the host's load, not all of it."""
    machine = os.cpu_count() or 1
    try:
        ours = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        ours = machine
    return ours - round(busy_cpus() * ours / max(machine, ours))


def _own_running_threads():
    """This process's threads that are running or runnable (this one included)."""
    count = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/stat") as stat:
                # The state follows the command name, which is in parentheses.
                count += stat.read().rsplit(")", 1)[1].split()[0] == "R"
        except OSError:  # the thread ended meanwhile
            continue
    return max(count, 1)


@contextmanager
def torch_threads():
    """Run torch with as many threads as OpenMP code of scikit-learn would,
    and no more than the machine has idle.

    ``_openmp_effective_n_threads`` honours ``OMP_NUM_THREADS``, CPU quotas and
    the limits joblib sets in its workers (``cpu_count // n_jobs``), so that
    ``GridSearchCV(n_jobs=2)`` on two cores runs two single-threaded fits
    instead of oversubscribing them. Beyond that, CPUs that other processes
    keep busy (:func:`busy_cpus`) are left to them: torch's OpenMP threads
    wait for each other at every operation, and one of them descheduled by
    another process stalls all the others, so two threads on a two-core
    machine running another job made a fit of the digits 58 times slower
    than one thread (35 s against 0.6 s). The previous setting is restored
    after.
    """
    previous = torch.get_num_threads()
    wanted = max(1, _openmp_effective_n_threads())
    if wanted > 1:
        wanted = max(1, min(wanted, idle_cpus()))
    if wanted != previous:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if wanted != previous:
            torch.set_num_threads(previous)


def _flushing_denormals():
    """Whether this thread's CPU now computes denormal float32 values as 0."""
    return bool(torch.full((1,), 1e-39, dtype=torch.float32).mul(1.0).item() == 0.0)


@contextmanager
def flush_denormals():
    """Compute denormal floats (float32 below 1.2e-38) as zero inside.

    x86 CPUs take a slow path for each operation on a denormal, and
    trained sigmoid outputs and gradients reach them: the default
    convolutional autoencoder on MNIST took 5.5 s an epoch for four
    epochs, then 22 s, then 59 s, and 5.5 s throughout with denormals
    flushed, at the same losses. The previous mode is restored after
    (torch has no getter; it is read off a product). Where the CPU has no
    such mode, nothing changes.
    """
    previous = _flushing_denormals()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if not previous:
            torch.set_flush_denormal(False)


@contextmanager
def cpu_settings():
    """torch's CPU settings for a fit or an inference: :func:`torch_threads`
    and :func:`flush_denormals`."""
    with torch_threads(), flush_denormals():
        yield
