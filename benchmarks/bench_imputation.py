"""Imputation beside scikit-learn's imputers: MNIST images and the bundled tables.

All in one process; every imputer runs with its defaults (``random_state=0``
where it has one), except where its row says otherwise.

Images (MNIST, pixels / 255; skipped with a message when MNIST is not in
``--data``, ``$SKL_SAE_DATA`` or ``../shared/data``): each imputer is fitted
once on ``--n-train`` training images (10,000, drawn at random) with 20% of
their pixels missing at random, then fills the first ``--n-test`` test
images (2,000) damaged four ways: 20% and 50% of the pixels at random, a
12 x 12 block, and a rectangle of up to half the image (height 1 to 28,
width 1 to 392 // height, both uniform, placed uniformly). RMSE on the
missing pixels (pixel units), its ratio to the better of ``KNNImputer`` and
``IterativeImputer``, PSNR of the repaired images (all pixels), fit seconds.
``IterativeImputer`` regresses each pixel on its 50 most correlated pixels
(``n_nearest_features=50``), 5 rounds, fitted on the first 2,000 training
images in float64 (its BayesianRidge fails on float32 pixels), as its row
says. ``SparseAutoencoderImputer`` is told ``image_shape=(28, 28)``, and so
fills with its convolutional network (``network="auto"``); the row with
``network="dense"`` (also told the shape) shows what that network brings,
the row without the shape (a table's network, the deep one) what the shape brings.

The digits as 8 x 8 images (an image set on which nothing was chosen): each
imputer fitted on 1,300 of them missing 20% of their pixels at random, filling
the other 497 damaged three ways (20% of the pixels, a 4 x 4 block, a
rectangle of up to half the image, as above), three random splits.

Tables (``load_breast_cancer``, ``load_diabetes``, ``load_wine``,
``load_digits``), ``--seeds`` random splits (3/4 train), the training and
test rows damaged alike by each pattern of ``--patterns``: ``mcar20`` and
``mcar50`` (each entry missing with probability 0.2 or 0.5) and ``mar``
(missing at random given observed values: a third of the columns is always
observed, and each other entry of a row is missing with a probability that
grows with a random mix of that row's observed columns, sigmoid-shaped, 20%
overall). Each imputer is fitted on the damaged training rows and fills
them and the test rows. Reported, mean ± std over the splits:

- RMSE on the missing entries in units of each column's standard deviation
  (training rows), and on data min-max scaled to [0, 1] by the complete
  training rows (the unit of GAIN's table);
- a downstream score, the model trained on the imputed training rows and
  scored on the imputed test rows: accuracy of ``StandardScaler`` +
  ``LogisticRegression`` (classification tables), R^2 of ``Ridge``
  (diabetes); "complete data" is the model without missing values;
- fit + transform seconds.

``IterativeImputer`` runs with ``BayesianRidge`` (its default) and with
``ExtraTreesRegressor(n_estimators=10)`` (scikit-learn's stand-in for
MissForest, as in its gallery). Last, the multiple imputation of
``SparseAutoencoderImputer(sample_posterior=True)``: the fitted imputer
draws ``--draws`` fills of the test rows (``random_state`` 0, 1, ...), and
the table gives how often a 90% interval of the draws holds the true value
(the draws' 5%-95% range, and their mean ± 1.645 standard deviations),
beside ``IterativeImputer(sample_posterior=True)`` refitted for each draw.

    python benchmarks/bench_imputation.py [--data DIR] [--n-train 10000] [--n-test 2000]
        [--seeds 5] [--patterns mcar20,mcar50,mar] [--tables breast_cancer,diabetes,wine,digits]
        [--draws 20] [--skip-mnist] [--skip-digit-images] [--skip-tables] [--params JSON]

``--params`` sets parameters of every ``SparseAutoencoderImputer`` (for
experiments; the tables quoted in the docs use none).
"""

import argparse
import json
import time
import warnings

import numpy as np
import torch
from _common import data_dir, load_mnist, print_table
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skl_sae import SparseAutoencoderImputer

AUTOENCODER = "SparseAutoencoderImputer()"
PEERS = ("KNNImputer()", "IterativeImputer()")


def fit_and_fill(imputer, X_train, to_fill):
    """The filled arrays of ``to_fill`` and the seconds of fit + transforms."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imputer.fit(X_train)
        filled = [imputer.transform(X) for X in to_fill]
    return filled, time.perf_counter() - start


# -- images -------------------------------------------------------------------


def rectangles(n_images, rng, heights, widths, side=28):
    """Masks of one rectangle per image, of the given sizes, placed uniformly."""
    mask = np.zeros((n_images, side, side), dtype=bool)
    for image, height, width in zip(mask, heights, widths, strict=True):
        row, column = rng.integers(0, side - height + 1), rng.integers(0, side - width + 1)
        image[row : row + height, column : column + width] = True
    return mask.reshape(n_images, side * side)


def image_damage(n_images, rng, side=28):
    heights = rng.integers(1, side + 1, n_images)
    widths = np.array([rng.integers(1, min(side, side * side // 2 // h) + 1) for h in heights])
    return {
        "20% of pixels at random": rng.random((n_images, side * side)) < 0.2,
        "50% of pixels at random": rng.random((n_images, side * side)) < 0.5,
        "a 12x12 block": rectangles(n_images, rng, [12] * n_images, [12] * n_images),
        "a rectangle, up to half": rectangles(n_images, rng, heights, widths),
    }


def image_rows(data, n_train, n_test, params):
    X_train, _, X_test, _ = load_mnist(data)
    rng = np.random.default_rng(0)
    X_train, X_test = X_train[rng.permutation(len(X_train))[:n_train]], X_test[:n_test]
    train = np.where(rng.random(X_train.shape) < 0.2, np.nan, X_train)
    damage = image_damage(len(X_test), rng)
    imputers = {
        "KNNImputer()": (KNNImputer(), train),
        "IterativeImputer()": (
            IterativeImputer(n_nearest_features=50, max_iter=5, random_state=0),
            train[:2000].astype(np.float64),
        ),
        AUTOENCODER: (
            SparseAutoencoderImputer(image_shape=(28, 28), random_state=0, **params),
            train,
        ),
        'SparseAutoencoderImputer(), network="dense"': (
            SparseAutoencoderImputer(
                image_shape=(28, 28), random_state=0, **{"network": "dense", **params}
            ),
            train,
        ),
        "SparseAutoencoderImputer(), no image_shape": (
            SparseAutoencoderImputer(random_state=0, **params),
            train,
        ),
    }
    results = {}  # (case, imputer) -> (rmse, psnr), imputer -> seconds
    seconds = {}
    for name, (imputer, fit_rows) in imputers.items():
        tests = [np.where(mask, np.nan, X_test).astype(fit_rows.dtype) for mask in damage.values()]
        filled, seconds[name] = fit_and_fill(imputer, fit_rows, tests)
        for (case, mask), repaired in zip(damage.items(), filled, strict=True):
            error = repaired - X_test
            rmse = np.sqrt(np.mean(error[mask] ** 2))
            results[case, name] = rmse, 10 * np.log10(1.0 / np.mean(error**2))
        print(f"  {name}: {seconds[name]:.1f} s", flush=True)
    rows = []
    for case in damage:
        best_peer = min(results[case, peer][0] for peer in PEERS)
        for name in imputers:
            rmse, psnr = results[case, name]
            label = name + (" (50 nearest pixels, 5 rounds, 2,000 images)" * (name == PEERS[1]))
            rows.append(
                [case, label, f"{rmse:.4f}", f"{rmse / best_peer:.3f}", f"{psnr:.2f}"]
                + [f"{seconds[name]:.1f}"]
            )
    return rows


def digit_image_rows(n_splits, params):
    """The digits as 8 x 8 images (an image set on which nothing was chosen):
    fitted on 1,300 images missing 20% of their pixels at random, filling
    the other 497 damaged three ways; RMSE on the missing pixels (pixel
    units), mean over ``n_splits`` random splits, and fit seconds."""
    X = load_digits().data / 16.0
    imputers = {
        "KNNImputer()": lambda: KNNImputer(),
        "IterativeImputer()": lambda: IterativeImputer(random_state=0),
        AUTOENCODER: lambda: SparseAutoencoderImputer(
            image_shape=(8, 8), random_state=0, **params
        ),
        'SparseAutoencoderImputer(), network="dense"': lambda: SparseAutoencoderImputer(
            image_shape=(8, 8), random_state=0, **{"network": "dense", **params}
        ),
    }
    cases = ("20% of pixels at random", "a 4x4 block", "a rectangle, up to half")
    errors, seconds = {}, {}
    for split in range(n_splits):
        rng = np.random.default_rng(split)
        shuffled = X[rng.permutation(len(X))]
        train, test = shuffled[:1300], shuffled[1300:]
        train = np.where(rng.random(train.shape) < 0.2, np.nan, train)
        n = len(test)
        heights = rng.integers(1, 9, n)
        widths = np.array([rng.integers(1, min(8, 32 // h) + 1) for h in heights])
        masks = [
            rng.random(test.shape) < 0.2,
            rectangles(n, rng, [4] * n, [4] * n, side=8),
            rectangles(n, rng, heights, widths, side=8),
        ]
        for name, make in imputers.items():
            tests = [np.where(mask, np.nan, test) for mask in masks]
            filled, took = fit_and_fill(make(), train, tests)
            seconds.setdefault(name, []).append(took)
            for case, mask, repaired in zip(cases, masks, filled, strict=True):
                rmse = np.sqrt(np.mean((repaired - test)[mask] ** 2))
                errors.setdefault((case, name), []).append(rmse)
    return [
        [name]
        + [f"{np.mean(errors[case, name]):.4f}" for case in cases]
        + [f"{np.mean(seconds[name]):.1f}"]
        for name in imputers
    ]


# -- tables -------------------------------------------------------------------

TABLES = {
    "breast_cancer": (load_breast_cancer, "accuracy"),
    "diabetes": (load_diabetes, "R^2"),
    "wine": (load_wine, "accuracy"),
    "digits": (load_digits, "accuracy"),
}


def table_imputers(params):
    extra_trees = ExtraTreesRegressor(n_estimators=10, random_state=0)
    return {
        "SimpleImputer()": SimpleImputer(),
        "KNNImputer()": KNNImputer(),
        "IterativeImputer()": IterativeImputer(random_state=0),
        "IterativeImputer(ExtraTrees)": IterativeImputer(estimator=extra_trees, random_state=0),
        AUTOENCODER: SparseAutoencoderImputer(random_state=0, **params),
    }


def missing_mask(pattern, X, rng):
    """Where ``X`` misses values under ``pattern``; see the module docstring."""
    if pattern.startswith("mcar"):
        return rng.random(X.shape) < int(pattern[4:]) / 100
    if pattern != "mar":
        raise ValueError(f"Unknown pattern {pattern!r}.")
    n_columns = X.shape[1]
    varying = np.flatnonzero(X.std(axis=0) > 0)
    drivers = rng.choice(varying, max(1, len(varying) // 3), replace=False)
    standardized = (X[:, drivers] - X[:, drivers].mean(axis=0)) / X[:, drivers].std(axis=0)
    score = standardized @ rng.normal(size=len(drivers))
    score = 2 * (score - score.mean()) / score.std()
    target = 0.2 * n_columns / (n_columns - len(drivers))  # 20% of all entries
    low, high = -20.0, 20.0
    for _ in range(60):  # the shift that makes the mean probability the target
        shift = (low + high) / 2
        low, high = (
            (shift, high) if (1 / (1 + np.exp(-(score + shift)))).mean() < target else (low, shift)
        )
    probability = 1 / (1 + np.exp(-(score + shift)))
    mask = rng.random(X.shape) < probability[:, None]
    mask[:, drivers] = False
    return mask


def downstream_model(metric):
    if metric == "R^2":
        return Ridge()
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def table_rows(tables, patterns, n_seeds, params):
    rows = []
    for table in tables:
        loader, metric = TABLES[table]
        X, y = loader(return_X_y=True)
        for pattern in patterns:
            results = {}  # imputer -> lists of [rmse std, rmse [0, 1], score, seconds]
            for seed in range(n_seeds):
                stratify = None if metric == "R^2" else y
                X_train, X_test, y_train, y_test = train_test_split(
                    X, y, random_state=seed, stratify=stratify
                )
                rng = np.random.default_rng(seed)
                train_mask = missing_mask(pattern, X_train, rng)
                test_mask = missing_mask(pattern, X_test, rng)
                train = np.where(train_mask, np.nan, X_train)
                test = np.where(test_mask, np.nan, X_test)
                std = np.where(X_train.std(axis=0) > 0, X_train.std(axis=0), 1.0)
                span = X_train.max(axis=0) - X_train.min(axis=0)
                span = np.where(span > 0, span, 1.0)
                complete = downstream_model(metric).fit(X_train, y_train).score(X_test, y_test)
                results.setdefault("complete data", []).append([np.nan, np.nan, complete, np.nan])
                for name, imputer in table_imputers(params).items():
                    (train_filled, test_filled), seconds = fit_and_fill(
                        imputer, train, [train, test]
                    )
                    errors = [
                        np.concatenate(
                            [
                                ((train_filled - X_train) / unit)[train_mask],
                                ((test_filled - X_test) / unit)[test_mask],
                            ]
                        )
                        for unit in (std, span)
                    ]
                    model = downstream_model(metric).fit(train_filled, y_train)
                    score = model.score(test_filled, y_test)
                    results.setdefault(name, []).append(
                        [*(np.sqrt(np.mean(e**2)) for e in errors), score, seconds]
                    )
            for name, values in results.items():
                mean, spread = np.mean(values, axis=0), np.std(values, axis=0)
                cells = [
                    "-" if np.isnan(m) else f"{m:.3f} ± {s:.3f}"
                    for m, s in zip(mean[:-1], spread[:-1], strict=True)
                ]
                seconds = "-" if np.isnan(mean[-1]) else f"{mean[-1]:.2f}"
                rows.append([table, pattern, name, *cells, f"{metric}", seconds])
                print(f"  {rows[-1]}", flush=True)
    return rows


def _inside(low, high, X, mask):
    """The share of the entries of ``mask`` where ``X`` lies in ``[low, high]``."""
    return ((low <= X) & (X <= high))[mask].mean()


def coverage_rows(tables, n_seeds, n_draws, params):
    """How often the 5%-95% range of ``n_draws`` draws holds the true value."""
    rows = []
    for table in tables:
        X, _ = TABLES[table][0](return_X_y=True)
        covered = {
            (name, interval): []
            for name in ("autoencoder", "iterative")
            for interval in ("range", "normal")
        }
        for seed in range(n_seeds):
            X_train, X_test = train_test_split(X, random_state=seed)
            rng = np.random.default_rng(seed)
            train_mask = missing_mask("mcar20", X_train, rng)
            test_mask = missing_mask("mcar20", X_test, rng)
            train = np.where(train_mask, np.nan, X_train)
            test = np.where(test_mask, np.nan, X_test)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                imputer = SparseAutoencoderImputer(
                    sample_posterior=True, random_state=0, **params
                ).fit(train)
                draws = {
                    "autoencoder": [
                        imputer.set_params(random_state=r).transform(test) for r in range(n_draws)
                    ],
                    "iterative": [
                        IterativeImputer(sample_posterior=True, random_state=r)
                        .fit(train)
                        .transform(test)
                        for r in range(n_draws)
                    ],
                }
            for name, filled in draws.items():
                filled = np.stack(filled)
                low, high = np.quantile(filled, [0.05, 0.95], axis=0)
                covered[name, "range"].append(_inside(low, high, X_test, test_mask))
                center, spread = filled.mean(axis=0), 1.645 * filled.std(axis=0)
                covered[name, "normal"].append(
                    _inside(center - spread, center + spread, X_test, test_mask)
                )
        rows.append([table] + [f"{np.mean(c):.3f} ± {np.std(c):.3f}" for c in covered.values()])
        print(f"  {rows[-1]}", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="folder with mnist_train.npz and mnist_test.npz")
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--n-test", type=int, default=2_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--patterns", default="mcar20,mcar50,mar")
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--skip-tables", action="store_true")
    parser.add_argument("--skip-digit-images", action="store_true")
    parser.add_argument("--params", default="{}", help="JSON parameters of the autoencoder")
    args = parser.parse_args(argv)
    params = json.loads(args.params)
    tables = args.tables.split(",")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; params {params}\n")

    folder = data_dir(args.data)
    image_table = None
    if args.skip_mnist:
        pass
    elif not (folder / "mnist_train.npz").exists() or not (folder / "mnist_test.npz").exists():
        print(f"MNIST not found in {folder}: images skipped (pass --data DIR).\n")
    else:
        image_table = image_rows(args.data, args.n_train, args.n_test, params)
        print(
            f"\nMNIST, fitted on {args.n_train:,} training images missing 20% of their pixels "
            f"at random, filling {args.n_test:,} test images:"
        )
        print_table(
            ["test damage", "imputer", "RMSE", "/ best peer's", "PSNR (dB)", "fit + fill s"],
            image_table,
        )
    if not args.skip_digit_images:
        n_splits = 3
        print(
            f"\nThe digits as images, fitted on 1,300 missing 20% of their pixels at random, "
            f"filling the other 497, mean RMSE over {n_splits} splits:"
        )
        print_table(
            ["imputer", "20% of pixels", "a 4x4 block", "a rectangle, up to half", "fit + fill s"],
            digit_image_rows(n_splits, params),
        )
    if args.skip_tables:
        return
    rows = table_rows(tables, args.patterns.split(","), args.seeds, params)
    print(f"\nTables, mean ± std over {args.seeds} splits:")
    print_table(
        [
            "data",
            "missing",
            "imputer",
            "RMSE (std units)",
            "RMSE ([0, 1] units)",
            "downstream score",
            "metric",
            "fit + fill s",
        ],
        rows,
    )
    if args.draws > 0:
        rows = coverage_rows(tables, args.seeds, args.draws, params)
        print(
            f"\nCoverage of 90% intervals from {args.draws} draws, 20% missing at random, "
            f"mean ± std over {args.seeds} splits:"
        )
        print_table(
            [
                "data",
                "autoencoder, 5%-95% of draws",
                "autoencoder, mean ± 1.645 std",
                "IterativeImputer, 5%-95%",
                "IterativeImputer, mean ± 1.645 std",
            ],
            rows,
        )
        print(
            "\n(The 5%-95% range of 20 draws from a normal law holds about 81% of its "
            "mass on average: the 0.05 and 0.95 quantiles interpolate between the "
            "draws ranked 1-2 and 19-20 of 20.)"
        )


if __name__ == "__main__":
    main()
