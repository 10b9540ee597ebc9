"""The stacked classifier at its defaults beside MLPClassifier, over seeds and splits.

Issue 28's targets: ``StackedSparseAutoencoderClassifier((512, 512))`` with
every other parameter at its default on MNIST (60,000 training images,
pixels / 255, scored on the 10,000 test images; mean over seeds), and
``(256, 256)`` on the digits (pixels / 16, four stratified splits of 25%,
``train_test_split(..., random_state=split)``, each with every seed), beside
``MLPClassifier`` of the same hidden layers and of one layer of the first's
width, at their defaults. ``--ablation`` adds the stacked classifier's
fine-tuning as it was before the step-size decay and input dropout
(``learning_rate="constant", input_dropout=0``), and without adversarial
rows (``adversarial_eps=0``). ``--grid`` runs, on the digits instead, the
stacked classifier of several networks and codes at each
``adversarial_eps`` of ``--eps``: how its default was chosen.

The fits run ``--n-jobs`` at a time, each in its own process on one thread
(torch's default here; numpy's BLAS limited to one by ``OMP_NUM_THREADS``),
so that each fit's seconds are those of one core beside other fits.

    python benchmarks/bench_stacked_defaults.py [--dataset digits|mnist|both]
        [--seeds 0 1 2] [--n-jobs 2] [--ablation] [--data DIR]
    python benchmarks/bench_stacked_defaults.py --grid [--eps 0 0.25 0.5]
"""

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy's BLAS starts

import warnings

import numpy as np
from _common import load_mnist, print_table, timed
from joblib import Parallel, delayed
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from skl_sae import StackedSparseAutoencoderClassifier

#: Fine-tuning as it was before issue 28's step-size decay and input dropout.
BEFORE = {"learning_rate": "constant", "input_dropout": 0.0}

#: The networks and codes of ``--grid`` (on the digits).
GRID = [
    ((256, 256), {}),
    ((256, 128), {}),
    ((64,), {}),
    ((32, 16), {}),
    ((32, 16), {"sparsity": "topk", "k": 6}),
    ((32, 16), {"sparsity": "batchtopk", "k": 6}),
    ((32, 16), {"sparsity": "jumprelu", "k": 6}),
]


def methods(hidden, ablation):
    """``{name: estimator(seed)}``, every parameter but the seed at its default."""
    name = f"StackedSparseAutoencoderClassifier({hidden})"
    found = {name: lambda seed: StackedSparseAutoencoderClassifier(hidden, random_state=seed)}
    if ablation:
        found[f"{name}, learning_rate='constant', input_dropout=0"] = lambda seed: (
            StackedSparseAutoencoderClassifier(hidden, random_state=seed, **BEFORE)
        )
        found[f"{name}, adversarial_eps=0"] = lambda seed: StackedSparseAutoencoderClassifier(
            hidden, random_state=seed, adversarial_eps=0.0
        )
    for layers in dict.fromkeys([hidden, hidden[:1]]):
        found[f"MLPClassifier({layers})"] = lambda seed, layers=layers: MLPClassifier(
            layers, random_state=seed
        )
    return found


def fit_and_score(make, seed, data):
    X_train, X_test, y_train, y_test = data
    model = make(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _, seconds = timed(model.fit, X_train, y_train)
    return model.score(X_test, y_test), seconds, model.n_iter_


def grid_methods(eps_values):
    """``{name: estimator(seed)}``: each network and code of :data:`GRID` at
    each ``adversarial_eps``, every other parameter at its default."""
    found = {}
    for hidden, params in GRID:
        for eps in eps_values:
            shown = "".join(f", {key}={value!r}" for key, value in params.items())
            name = f"StackedSparseAutoencoderClassifier({hidden}{shown}, adversarial_eps={eps})"
            found[name] = lambda seed, hidden=hidden, params=params, eps=eps: (
                StackedSparseAutoencoderClassifier(
                    hidden, random_state=seed, adversarial_eps=eps, **params
                )
            )
    return found


def run(title, found, splits, seeds, n_jobs):
    """Fit every method of ``found`` on every split with every seed; print one table."""
    tasks = [
        (name, index, seed) for name in found for index in range(len(splits)) for seed in seeds
    ]
    results = Parallel(n_jobs=n_jobs)(
        delayed(fit_and_score)(found[name], seed, splits[index]) for name, index, seed in tasks
    )
    rows = []
    for name in found:
        mine = [result for task, result in zip(tasks, results, strict=True) if task[0] == name]
        accuracy = np.array([score for score, _, _ in mine]).reshape(len(splits), len(seeds))
        seconds = np.mean([fit_seconds for _, fit_seconds, _ in mine])
        epochs = np.mean([n_iter for _, _, n_iter in mine])
        spread = accuracy.mean(axis=1) if len(splits) > 1 else accuracy[0]
        rows.append(
            [
                name,
                f"{accuracy.mean():.4f} ± {spread.std():.4f}",
                " ".join(f"{value:.4f}" for value in spread),
                f"{seconds:.1f}",
                f"{epochs:.0f}",
            ]
        )
    print(title)
    per = "per split (mean of seeds)" if len(splits) > 1 else "per seed"
    print_table(["method", "test accuracy", per, "fit s", "epochs"], rows)
    print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=["digits", "mnist", "both"], default="both")
    parser.add_argument("--data", help="folder with mnist_train.npz and mnist_test.npz")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--grid", action="store_true")
    parser.add_argument("--eps", type=float, nargs="+", default=[0.0, 0.25, 0.5])
    args = parser.parse_args(argv)

    if args.dataset in ("digits", "both") or args.grid:
        X, y = load_digits(return_X_y=True)
        X = X / 16
        splits = [train_test_split(X, y, random_state=split, stratify=y) for split in range(4)]
        title = f"digits, 4 splits x seeds {args.seeds}, pixels / 16"
        if args.grid:
            run(title, grid_methods(args.eps), splits, args.seeds, args.n_jobs)
            return
        run(title, methods((256, 256), args.ablation), splits, args.seeds, args.n_jobs)
    if args.dataset in ("mnist", "both"):
        X_train, y_train, X_test, y_test = load_mnist(args.data)
        title = f"MNIST, {len(X_train)} train / {len(X_test)} test, seeds {args.seeds}"
        splits = [(X_train, X_test, y_train, y_test)]
        run(title, methods((512, 512), args.ablation), splits, args.seeds, args.n_jobs)


if __name__ == "__main__":
    main()
