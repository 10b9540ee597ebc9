"""One prepared run on a CUDA machine: agreement, pickling, feeding.

1. cpu and cuda agree: a model fitted on the CPU transforms alike on both;
   fits on both (``compute_dtype="float64"``) follow the same loss curve.
2. A model fitted on CUDA pickles, and loads and transforms in a process that
   sees no GPU (``CUDA_VISIBLE_DEVICES=""``), with the same codes.
3. Feeding: one epoch on 1,000,000 x 784 float32 rows held on the GPU, held
   on the host (pinned copies one batch ahead), and streamed from a memory
   map on disk; rows per second of each.
4. Sparse rows: a CSR matrix read through its non-zeros on CUDA (sparse CSR
   batches copied from pinned memory) fits as on the CPU (in float64), and one
   epoch of 100,000 x 2**18 hashed rows in float32, rows per second.
5. Arithmetic: ``batch_size="auto"``'s rows on the GPU, and at each
   ``matmul_precision`` the measured rate of a 4096 x 784 x 4096 float32
   product beside the rate that a fit's epoch (784 -> 4096, its five
   products over the epoch's wall time) reaches, and its codes' largest
   difference from ``"highest"``'s.

    python benchmarks/gpu_check.py [--rows 1000000] [--dir /tmp]
"""

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import skl_sae._batches
import skl_sae._trainer
from skl_sae import SparseAutoencoderTransformer, StackedSparseAutoencoderClassifier
from skl_sae._runtime import float32_matmul_precision

warnings.simplefilter("ignore", ConvergenceWarning)


def agreement():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    for dtype in (np.float32, np.float64):
        Xd = X.astype(dtype)
        sae = SparseAutoencoderTransformer(  # a network in the data's dtype
            64, max_iter=5, compute_dtype=None, random_state=0
        ).fit(Xd)
        on_cpu = sae.transform(Xd)
        sae._module = sae._get_module().to("cuda")
        on_gpu = sae.transform(Xd)
        print(
            f"same model, {dtype.__name__}: max |cpu - cuda| codes = "
            f"{np.abs(on_cpu - on_gpu).max():.2e}"
        )
    for sparsity in ("kl", "topk", "batchtopk", "jumprelu"):
        curves = [
            SparseAutoencoderTransformer(
                64,
                sparsity=sparsity,
                max_iter=5,
                compute_dtype="float64",
                random_state=0,
                device=device,
            )
            .fit(X)
            .loss_curve_
            for device in ("cpu", "cuda")
        ]
        gap = np.max(np.abs(np.subtract(*curves)) / np.abs(curves[0]))
        print(f"fit {sparsity} float64 on cpu and cuda: max relative loss-curve gap {gap:.2e}")
    accuracy = [
        StackedSparseAutoencoderClassifier(
            (64,), pretrain_max_iter=3, max_iter=20, random_state=0, device=device
        )
        .fit(X[:1400], y[:1400])
        .score(X[1400:], y[1400:])
        for device in ("cpu", "cuda")
    ]
    print(f"classifier accuracy cpu {accuracy[0]:.4f}, cuda {accuracy[1]:.4f}")


LOAD_ON_CPU = """
import pickle, sys, warnings
import numpy as np
import torch
assert not torch.cuda.is_available()
with open(sys.argv[1], "rb") as f:
    sae, X, codes = pickle.load(f)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    again = sae.transform(X)
print("loaded on a CPU-only process; max |codes - cuda codes| =",
      f"{np.abs(again - codes).max():.2e};", "warning:", caught[0].message if caught else None)
sae.set_params(device="cpu").partial_fit(X)  # Adam's state, pickled on the GPU, goes on here
print("partial_fit continued on the CPU:", sae.device_, f"n_iter_={sae.n_iter_}")
"""


def pickling(folder):
    X = load_digits().data.astype(np.float32) / 16
    sae = SparseAutoencoderTransformer(64, max_iter=5, random_state=0, device="cuda").fit(X)
    sae.partial_fit(X)
    path = folder / "cuda_model.pkl"
    with open(path, "wb") as f:
        pickle.dump((sae, X, sae.transform(X)), f)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [sys.executable, "-c", LOAD_ON_CPU, str(path)], env=env, capture_output=True, text=True
    )
    print(done.stdout.strip(), done.stderr[-2000:] if done.returncode else "")


def one_epoch(X, **params):
    sae = SparseAutoencoderTransformer(256, max_iter=1, random_state=0, device="cuda", **params)
    torch.cuda.synchronize()
    start = time.perf_counter()
    sae.fit(X)
    torch.cuda.synchronize()
    return X.shape[0] / (time.perf_counter() - start)


def feeding(folder, n_rows):
    rng = np.random.default_rng(0)
    path = folder / "rows.npy"
    rows = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_rows, 784))
    for start in range(0, n_rows, 100_000):
        stop = min(start + 100_000, n_rows)
        rows[start:stop] = rng.random((stop - start, 784), dtype=np.float32)
    rows.flush()
    del rows
    X = np.load(path)
    one_epoch(X[:20_000])  # warm up CUDA and the kernels
    rates = {"on the GPU (in device memory)": one_epoch(X)}
    fits = skl_sae._batches.fits_on_device
    skl_sae._batches.fits_on_device = lambda nbytes, device: False
    try:
        rates["in host memory, pinned copies one batch ahead"] = one_epoch(X)
    finally:
        skl_sae._batches.fits_on_device = fits
    rates["memory map on disk, streamed"] = one_epoch(np.load(path, mmap_mode="r"))
    for where, rate in rates.items():
        print(f"one epoch of {n_rows:,} x 784 float32 -> 256, {where}: {rate:,.0f} rows/s")


def sparse_rows():
    from scipy import sparse as sp

    X = sp.csr_matrix(load_digits().data / 16)
    params = dict(n_components=32, k=8, max_iter=3, compute_dtype="float64", random_state=0)
    fits = [SparseAutoencoderTransformer(device=d, **params).fit(X) for d in ("cpu", "cuda")]
    gap = np.abs(fits[0].components_ - fits[1].components_).max()
    print(f"digits as CSR, float64: components cpu vs cuda, max difference {gap:.1e}")
    rng = np.random.default_rng(0)
    n_rows, width, per_row = 100_000, 2**18, 100
    places = (np.repeat(np.arange(n_rows), per_row), rng.integers(0, width, n_rows * per_row))
    values = rng.standard_normal(n_rows * per_row).astype(np.float32)
    H = sp.csr_matrix((values, places), shape=(n_rows, width))
    sae = SparseAutoencoderTransformer(256, max_iter=1, device="cuda", random_state=0)
    start = time.perf_counter()
    sae.fit(H)
    rate = n_rows / (time.perf_counter() - start)
    print(f"one epoch of {n_rows:,} x 2**18 hashed float32 -> 256: {rate:,.0f} rows/s")


def matmul_rate(precision, size=(4096, 784, 4096), repeats=50):
    """FLOP/s of a float32 product of ``size`` at ``precision``."""
    m, k, n = size
    a = torch.rand(m, k, device="cuda")
    b = torch.rand(k, n, device="cuda")
    with float32_matmul_precision(precision):
        a @ b
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        torch.cuda.synchronize()
    return 2 * m * k * n * repeats / (time.perf_counter() - start)


def arithmetic(n_rows=60_000, units=4096, epochs=3):
    rows = skl_sae._trainer.Schedule().batch_rows((n_rows, 784), np.float32, device="cuda")
    print(f"batch_size='auto' on cuda for {n_rows:,} x 784 float32: {rows} rows")
    X = np.random.default_rng(0).random((n_rows, 784), dtype=np.float32)
    codes = {}
    for precision in ("highest", "high", "medium"):
        params = dict(max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1, random_state=0)
        sae = SparseAutoencoderTransformer(
            units, device="cuda", matmul_precision=precision, **params
        )
        sae.fit(X[:5000])  # warm up
        torch.cuda.synchronize()
        start = time.perf_counter()
        sae.fit(X)
        torch.cuda.synchronize()
        per_epoch = (time.perf_counter() - start) / epochs
        achieved = 5 * 2 * n_rows * 784 * units / per_epoch
        measured = matmul_rate(precision)
        codes[precision] = sae.transform(X[:2000])
        gap = np.abs(codes[precision] - codes["highest"]).max()
        print(
            f"{precision}: product {measured / 1e12:.1f} TFLOP/s; fit {per_epoch:.2f} s an epoch, "
            f"{achieved / 1e12:.1f} TFLOP/s ({achieved / measured:.0%} of it); "
            f"codes vs 'highest' {gap:.1e}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args()
    print(torch.__version__, torch.cuda.get_device_name(0))
    folder = Path(args.dir)
    for name, check in (
        ("agreement", agreement),
        ("pickling", lambda: pickling(folder)),
        ("feeding", lambda: feeding(folder, args.rows)),
        ("sparse rows", sparse_rows),
        ("arithmetic", arithmetic),
    ):
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        check()
        print(f"({time.perf_counter() - start:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
