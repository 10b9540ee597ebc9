"""Time to a result with every default, beside scikit-learn's peers.

All in one process, each estimator constructed with its defaults (and
``random_state=0``), as a new user would run it:

- digits (1,347 train / 450 test, the split of ``python -m skl_sae``),
  features scaled to [0, 1] in each pipeline: ``MLPClassifier((256,))`` (on
  the raw 0-16 pixels, where it is fastest, and scaled),
  ``LogisticRegression``, ``BernoulliRBM(256)`` + LR, ``SparseAutoencoderTransformer()``
  + LR and ``StackedSparseAutoencoderClassifier((256, 256))``;
- MNIST (pixels / 255): ``SparseAutoencoderTransformer(512)`` + LR on the
  first 20,000 training images, ``SparseAutoencoderTransformer(1024)`` + LR
  on all 60,000, scored on the 10,000 test images (``--skip-mnist`` leaves
  them out; they need ``../shared/data``, ``$SKL_SAE_DATA`` or ``--data``);
- one optimizer step at 200 rows of 64 features into 256 units: the fit time
  of 5 epochs (tol=0) over the number of steps, for the transformer and for
  ``MLPClassifier((256,))``, best of ``--repeats``, alternating;
- ``check_estimator`` of each estimator with its defaults.

Each row gives the fit time of the whole pipeline, the test accuracy, the
epochs run and the warnings raised during fit.

    python benchmarks/bench_defaults.py [--data DIR] [--skip-mnist] [--repeats 5]
"""

import argparse
import time
import warnings

import numpy as np
import torch
from _common import load_mnist, print_table
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import BernoulliRBM, MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import check_estimator

from skl_sae import (
    SparseAutoencoderOutlierDetector,
    SparseAutoencoderTransformer,
    StackedSparseAutoencoderClassifier,
)


def _lr():
    return LogisticRegression(max_iter=1000)


def _epochs(pipeline):
    """Epochs (or iterations) of the pipeline's trained step, '-' if none."""
    for _, step in getattr(pipeline, "steps", [(None, pipeline)]):
        if isinstance(step, SparseAutoencoderTransformer | MLPClassifier):
            return str(step.n_iter_)
        if isinstance(step, StackedSparseAutoencoderClassifier):
            return f"{step.n_iter_} (+ pre-training)"
    return "-"


def fit_and_score(pipeline, X_train, y_train, X_test, y_test):
    """``(seconds, accuracy, epochs, warnings)`` of one fit."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        pipeline.fit(X_train, y_train)
        seconds = time.perf_counter() - start
    names = sorted({type(w.message).__name__ for w in caught})
    accuracy = pipeline.score(X_test, y_test)
    return seconds, accuracy, _epochs(pipeline), ", ".join(names) or "none"


def digits_rows():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    models = {
        "MLPClassifier((256,)), raw pixels": MLPClassifier((256,), random_state=0),
        "MLPClassifier((256,)), scaled": make_pipeline(
            MinMaxScaler(), MLPClassifier((256,), random_state=0)
        ),
        "LogisticRegression": make_pipeline(MinMaxScaler(), _lr()),
        "BernoulliRBM(256) + LR": make_pipeline(
            MinMaxScaler(), BernoulliRBM(256, random_state=0), _lr()
        ),
        "SparseAutoencoderTransformer() + LR": make_pipeline(
            MinMaxScaler(), SparseAutoencoderTransformer(random_state=0), _lr()
        ),
        "StackedSparseAutoencoderClassifier((256, 256))": make_pipeline(
            MinMaxScaler(), StackedSparseAutoencoderClassifier((256, 256), random_state=0)
        ),
    }
    rows = []
    for name, model in models.items():
        seconds, accuracy, epochs, caught = fit_and_score(model, X_train, y_train, X_test, y_test)
        rows.append(["digits", name, f"{seconds:.2f}", f"{accuracy:.4f}", epochs, caught])
        print(f"  {rows[-1]}", flush=True)
    return rows


def mnist_rows(data):
    rows = []
    for n_train, n_components in [(20_000, 512), (60_000, 1024)]:
        X_train, y_train, X_test, y_test = load_mnist(data, n_train)
        model = make_pipeline(SparseAutoencoderTransformer(n_components, random_state=0), _lr())
        seconds, accuracy, epochs, caught = fit_and_score(model, X_train, y_train, X_test, y_test)
        name = f"SparseAutoencoderTransformer({n_components}) + LR"
        rows.append(
            [f"MNIST {n_train:,}", name, f"{seconds:.1f}", f"{accuracy:.4f}", epochs, caught]
        )
        print(f"  {rows[-1]}", flush=True)
    return rows


def step_costs(repeats):
    """ms per optimizer step of the transformer and of MLPClassifier, at
    200 rows x 64 features -> 256 units, and their ratio."""
    X, y = load_digits(return_X_y=True)
    X = np.tile(X / 16.0, (5, 1))[:7200]
    y = np.tile(y, 5)[:7200]
    epochs, steps = 5, 5 * (7200 // 200)
    fits = {
        "transformer": lambda: SparseAutoencoderTransformer(
            256, batch_size=200, max_iter=epochs, tol=0.0, random_state=0
        ).fit(X),
        "MLPClassifier": lambda: MLPClassifier(
            (256,), batch_size=200, max_iter=epochs, tol=0.0, random_state=0
        ).fit(X, y),
    }
    times = {name: [] for name in fits}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeats):
            for name, fit in fits.items():
                start = time.perf_counter()
                fit()
                times[name].append((time.perf_counter() - start) / steps * 1e3)
    best = {name: min(values) for name, values in times.items()}
    return best["transformer"], best["MLPClassifier"]


def check_times():
    rows = []
    for cls in (
        SparseAutoencoderTransformer,
        StackedSparseAutoencoderClassifier,
        SparseAutoencoderOutlierDetector,
    ):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = check_estimator(cls(), on_fail=None)
        failures = [r["check_name"] for r in results if r["status"] in ("failed", "xfail")]
        seconds = time.perf_counter() - start
        rows.append([cls.__name__, f"{seconds:.1f}", len(results), ", ".join(failures) or "none"])
        print(f"  {rows[-1]}", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="folder with mnist_train.npz and mnist_test.npz")
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--skip-checks", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")

    rows = digits_rows()
    if not args.skip_mnist:
        rows += mnist_rows(args.data)
    print()
    print_table(
        ["data", "estimator, all defaults", "fit s", "test accuracy", "epochs", "warnings"], rows
    )

    ours, mlp = step_costs(args.repeats)
    print(f"\nOne step, 200 x 64 -> 256 (best of {args.repeats}):")
    print_table(
        ["transformer ms", "MLPClassifier ms", "ratio"],
        [[f"{ours:.3f}", f"{mlp:.3f}", f"{ours / mlp:.2f}"]],
    )
    if not args.skip_checks:
        print("\ncheck_estimator, defaults:")
        print_table(["estimator", "seconds", "checks", "failed"], check_times())


if __name__ == "__main__":
    main()
