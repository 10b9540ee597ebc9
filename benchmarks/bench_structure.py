"""Structure learning against a grid search over the hidden size.

In one process, for each data set: ``Pipeline(SparseAutoencoderTransformer(
n_components="auto"), LogisticRegression)`` fitted once, beside
``GridSearchCV`` of the same pipeline over ``n_components`` in
{64, 128, 256, 512, 1024} (``--cv`` folds, then the refit of the best), all
other parameters at their defaults and ``random_state=0``. Each row gives
the size chosen, the test accuracy of the fitted pipeline and the total
fit time (the grid's: all its fits and the refit). The grid's rows also
give each size's cross-validated accuracy and mean fit time, and the last
row the cross-validated accuracy of ``"auto"`` on the grid's folds against
the best size's (of all, and of those up to 512).

- digits: the split of ``python -m skl_sae`` (1,347 train / 450 test), pixels / 16;
- MNIST: the first ``--mnist-train`` training images (default 10,000),
  pixels / 255, scored on the 10,000 test images (``--skip-mnist`` leaves it
  out; it needs ``../shared/data``, ``$SKL_SAE_DATA`` or ``--data``).

The target of issue 16: ``"auto"`` within 0.3 points of the grid's test
accuracy at less than half its total fit time; of issue 27: within 0.5 point
of the best size's cross-validated accuracy (sizes up to 512), for kl, topk
and batchtopk.

``--sparsity`` sets the autoencoder's sparsity (its default otherwise) for
both.

    python benchmarks/bench_structure.py [--data DIR] [--skip-mnist] [--cv 3]
        [--sparsity NAME]
"""

import argparse
import time
import warnings

from _common import load_mnist, print_table
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline

from skl_sae import SparseAutoencoderTransformer

SIZES = [64, 128, 256, 512, 1024]


def pipeline(n_components, **params):
    return Pipeline(
        [
            ("sae", SparseAutoencoderTransformer(n_components, random_state=0, **params)),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    )


def compare(name, X_train, y_train, X_test, y_test, cv, **params):
    """Rows of the table for one data set, and the structure curve;
    ``params`` go to the autoencoder (e.g. ``sparsity``)."""
    start = time.perf_counter()
    auto = pipeline("auto", **params).fit(X_train, y_train)
    auto_seconds = time.perf_counter() - start
    auto_accuracy = auto.score(X_test, y_test)
    sae = auto.named_steps["sae"]

    grid = GridSearchCV(pipeline(256, **params), {"sae__n_components": SIZES}, cv=cv)
    start = time.perf_counter()
    grid.fit(X_train, y_train)
    grid_seconds = time.perf_counter() - start
    grid_accuracy = grid.score(X_test, y_test)
    # "auto" on the grid's folds (a classifier's: the same StratifiedKFold).
    auto_cv = cross_val_score(pipeline("auto", **params), X_train, y_train, cv=cv).mean()

    results = grid.cv_results_
    best_cv = max(results["mean_test_score"])
    best_cv_to_512 = max(
        score for size, score in zip(SIZES, results["mean_test_score"], strict=True) if size <= 512
    )
    sizes = ", ".join(
        f"{size}: {score:.4f} ({seconds:.1f} s)"
        for size, score, seconds in zip(
            SIZES, results["mean_test_score"], results["mean_fit_time"], strict=True
        )
    )
    rows = [
        [
            name,
            'n_components="auto"',
            sae.n_components_,
            f"{auto_accuracy:.4f}",
            f"{auto_seconds:.1f}",
            sae.n_iter_,
            "",
        ],
        [
            name,
            f"GridSearchCV(cv={cv}) over {SIZES}",
            grid.best_params_["sae__n_components"],
            f"{grid_accuracy:.4f}",
            f"{grid_seconds:.1f}",
            grid.best_estimator_.named_steps["sae"].n_iter_,
            sizes,
        ],
        [
            name,
            '"auto" minus grid; time ratio',
            "",
            f"{100 * (auto_accuracy - grid_accuracy):+.2f} points",
            f"{auto_seconds / grid_seconds:.2f}",
            "",
            f'cv accuracy of "auto": {auto_cv:.4f}, minus the best size\'s '
            f"{100 * (auto_cv - best_cv):+.2f} points "
            f"(of the sizes up to 512: {100 * (auto_cv - best_cv_to_512):+.2f})",
        ],
    ]
    return rows, sae.structure_curve_


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder of mnist_train.npz and mnist_test.npz")
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--mnist-train", type=int, default=10_000)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--sparsity", help="the autoencoder's sparsity (default: its default)")
    args = parser.parse_args()
    params = {} if args.sparsity is None else {"sparsity": args.sparsity}
    warnings.simplefilter("ignore", ConvergenceWarning)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16, y, test_size=0.25, random_state=0, stratify=y
    )
    rows, curves = [], {}
    part, curves["digits"] = compare("digits", X_train, y_train, X_test, y_test, args.cv, **params)
    rows += part
    if not args.skip_mnist:
        X_train, y_train, X_test, y_test = load_mnist(args.data, n_train=args.mnist_train)
        name = f"MNIST {len(X_train) // 1000}k"
        part, curves[name] = compare(name, X_train, y_train, X_test, y_test, args.cv, **params)
        rows += part
    header = [
        "data",
        "model",
        "units",
        "test accuracy",
        "fit s",
        "epochs",
        "grid: cv accuracy (fit s)",
    ]
    print_table(header, rows)
    print()
    for name, curve in curves.items():
        changes = [
            (epoch, size)
            for epoch, size in enumerate(curve, 1)
            if epoch == 1 or size != curve[epoch - 2]
        ]
        print(f"{name} structure curve (epoch, units): {changes}, {len(curve)} epochs")


if __name__ == "__main__":
    main()
