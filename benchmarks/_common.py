"""Shared by the benchmarks: MNIST loading, a labelled text corpus, timing
and table printing."""

import ast
import itertools
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


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TEXT_PACKAGES = ("numpy", "scipy", "sklearn")


def _defines(node):
    """Whether a statement only imports or defines: a docstring, an import, a
    function, an upper-case constant."""
    constant = isinstance(node, ast.Assign) and all(
        isinstance(target, ast.Name) and target.id.isupper() for target in node.targets
    )
    docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    return constant or docstring or isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef)


def example_definitions(name):
    """The leading imports, constants and functions of the gallery script
    ``examples/<name>``, up to its first statement that runs something."""
    tree = ast.parse((EXAMPLES / name).read_text(), filename=name)
    kept = list(itertools.takewhile(_defines, tree.body))
    namespace = {"__name__": name.removesuffix(".py")}
    exec(compile(ast.Module(kept, type_ignores=[]), name, "exec"), namespace)
    return namespace


def load_docstrings(corpus="packages"):
    """The docstrings of NumPy, SciPy, scikit-learn and the standard library
    installed here, as ``docs, labels``: a list of strings and an array of
    the package each comes from ("numpy", "scipy", "sklearn" or "stdlib").

    ``corpus="scipy"``: SciPy's docstrings alone, labelled by the subpackage
    each comes from ("stats", "signal", ...; those of 100 docstrings or
    more), another task on other documents.

    The corpus of ``examples/plot_text_features.py``, collected by the
    example's own functions, so that the two cannot drift apart."""
    example = example_definitions("plot_text_features.py")
    if corpus == "scipy":
        names, docs = example["docstrings"](["scipy"])
        subpackages = np.array([name.split(".")[1] if "." in name else "" for name in names])
        values, counts = np.unique(subpackages, return_counts=True)
        kept = np.isin(subpackages, values[counts >= 100]) & (subpackages != "")
        return [doc for doc, keep in zip(docs, kept, strict=True) if keep], subpackages[kept]
    stdlib = sorted(name for name in sys.stdlib_module_names if example["is_public"](name))
    names, docs = example["docstrings"]([*TEXT_PACKAGES, *stdlib])
    packages = [name.split(".")[0] for name in names]
    labels = np.array([p if p in TEXT_PACKAGES else "stdlib" for p in packages])
    return docs, labels


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
    each adds in MiB over the memory in use when it starts (the transform's
    output array aside), and the fit's peak itself."""
    peak_rss(reset=True)  # (the peak of what came before, such as making X, set aside)
    base = current_rss() or peak_rss()
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
        "fit_peak_mb": fit_peak / 2**20,
        "transform_growth_mb": max(0, transform_peak - before_transform) / 2**20,
    }
