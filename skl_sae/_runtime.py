"""Run-time settings of torch for a fit or an inference: the device,
torch's threads, the flushing of denormal floats and the precision of
float32 matrix products.

Each setting is made for one call and restored after it. Nothing here
knows of arrays, estimators or autoencoders.
"""

import os
from contextlib import contextmanager

import torch

from ._sklearn import _openmp_effective_n_threads


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


def call_threads():
    """Torch's threads for one fit or inference: one, or as many as
    ``OMP_NUM_THREADS`` asks for; never a count read off the machine's load.

    The count decides how matrix products and sums split their work, and so
    the last bits of their results: on the digits, one and two threads gave
    two float32 classifiers (MKL split the 200 rows of the output layer's
    gradient product between the threads) and two L-BFGS transformers (its
    dot products of 8,320 weights), and eight threads changed even forward
    products; torch splits a sum over all entries once it passes 32,768 of
    them. A count that followed the load gave two models for one
    ``random_state``. One thread is also what a busy machine wants: torch's
    threads wait for each other at every operation, and one of them
    descheduled by another process stalls the rest (two threads beside
    another job on two cores made a digits fit 58 times slower than one).
    With ``OMP_NUM_THREADS`` set, the count is scikit-learn's for its OpenMP
    code (the variable, capped by the CPUs and their quota), as fixed as the
    variable is.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return max(1, _openmp_effective_n_threads())
    return 1


@contextmanager
def torch_threads():
    """Run torch on :func:`call_threads` threads inside; the previous count is
    restored after."""
    previous = torch.get_num_threads()
    wanted = call_threads()
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


#: The values of an estimator's ``matmul_precision`` (those of torch's
#: :func:`torch.set_float32_matmul_precision`), and the settings of CUDA's
#: and oneDNN's float32 matrix products that each stands for (as that
#: function sets them in torch 2.9 and later).
MATMUL_PRECISIONS = {
    "highest": ("ieee", "ieee"),
    "high": ("tf32", "tf32"),
    "medium": ("tf32", "bf16"),
}


def _matmul_backends():
    """The settings of CUDA's and oneDNN's float32 matrix products, where
    this torch has them (2.9 and later), else None."""
    backends = tuple(
        getattr(getattr(torch.backends, name, None), "matmul", None) for name in ("cuda", "mkldnn")
    )
    if all(hasattr(backend, "fp32_precision") for backend in backends):
        return backends
    return None


@contextmanager
def float32_matmul_precision(precision):
    """Compute float32 matrix products at ``precision`` inside (None: as
    torch is set); torch's settings are restored after.

    ``"highest"`` computes them in float32; ``"high"`` lets CUDA use TF32
    tensor cores (10 bits of mantissa in the products, float32 sums);
    ``"medium"`` also lets oneDNN on a CPU with bfloat16 units (Intel AMX)
    compute them in bfloat16 with float32 sums. Weights, their gradients,
    the optimizer's state and every other operation stay float32, and
    float64 products are not affected.

    Where torch has per-backend settings (2.9 and later), only those of the
    two backends' matrix products change, and are put back as they were
    (``"none"``, inherited, included): torch's global getter refuses to
    answer once they disagree with it, and its setter would overwrite both.
    """
    if precision is None:
        yield
        return
    backends = _matmul_backends()
    if backends is None:
        previous = torch.get_float32_matmul_precision()
        torch.set_float32_matmul_precision(precision)
        try:
            yield
        finally:
            torch.set_float32_matmul_precision(previous)
        return
    previous = [backend.fp32_precision for backend in backends]
    for backend, value in zip(backends, MATMUL_PRECISIONS[precision], strict=True):
        backend.fp32_precision = value
    try:
        yield
    finally:
        for backend, value in zip(backends, previous, strict=True):
            backend.fp32_precision = value


@contextmanager
def call_settings(matmul_precision=None):
    """torch's settings for a fit or an inference: :func:`torch_threads`,
    :func:`flush_denormals` and :func:`float32_matmul_precision`."""
    with torch_threads(), flush_denormals(), float32_matmul_precision(matmul_precision):
        yield
