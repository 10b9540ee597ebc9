"""Shared by the benchmarks: MNIST loading, timing and table printing."""

import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def data_dir(path=None):
    """The MNIST folder: ``path``, else ``$SKL_SAE_DATA``, else ``../shared/data``."""
    return Path(path or os.environ.get("SKL_SAE_DATA") or DEFAULT_DATA)


def load_mnist(path=None, n_train=None):
    """MNIST as float32 pixels / 255: ``X_train, y_train, X_test, y_test``.

    Exits with a clear message when the ``.npz`` files are not there.
    """
    folder = data_dir(path)
    files = [folder / "mnist_train.npz", folder / "mnist_test.npz"]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        sys.exit(f"MNIST not found ({', '.join(missing)}); pass --data DIR or set SKL_SAE_DATA.")
    arrays = []
    for file in files:
        with np.load(file) as data:
            arrays += [data["X"].astype(np.float32) / 255.0, data["y"].astype(np.int64)]
    X_train, y_train, X_test, y_test = arrays
    if n_train is not None:
        X_train, y_train = X_train[:n_train], y_train[:n_train]
    return X_train, y_train, X_test, y_test


def timed(function, *args, **kwargs):
    """``(result, seconds)`` of one call."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def print_table(header, rows):
    """Print a GitHub-flavoured markdown table."""
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def current_rss():
    """Resident memory of this process now, in bytes (0 where unknown)."""
    try:
        with open("/proc/self/status") as status:
            return 1024 * next(
                int(line.split()[1]) for line in status if line.startswith("VmRSS:")
            )
    except (OSError, StopIteration):
        return 0


def peak_rss(reset=False):
    """Peak resident memory of this process, in bytes: since the last
    ``reset`` where Linux lets us reset it (``/proc/self/clear_refs``), else
    since the start (``resource.getrusage``)."""
    try:
        with open("/proc/self/status") as status:
            peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
        if reset:
            with open("/proc/self/clear_refs", "w") as clear:
                clear.write("5")
        return peak * 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure_fit_and_transform(estimator, X, transform_repeats=1):
    """Fit ``estimator`` on ``X`` then transform ``X``, in seconds (the
    transform's best of ``transform_repeats``) and the peak resident memory
    each adds in MiB (the transform's output array aside)."""
    base = peak_rss(reset=True)
    fit_seconds = timed(estimator.fit, X)[1]
    fit_peak = peak_rss(reset=True)
    before_transform = current_rss() or base
    codes, transform_seconds = timed(estimator.transform, X)
    transform_peak = peak_rss() - codes.nbytes
    for _ in range(transform_repeats - 1):
        transform_seconds = min(transform_seconds, timed(estimator.transform, X)[1])
    return {
        "fit_s": fit_seconds,
        "transform_s": transform_seconds,
        "fit_growth_mb": (fit_peak - base) / 2**20,
        "transform_growth_mb": max(0, transform_peak - before_transform) / 2**20,
    }
