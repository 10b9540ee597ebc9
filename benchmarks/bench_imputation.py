"""Imputation beside scikit-learn's imputers: MNIST images and tabular data.

All in one process, each imputer fitted on training rows that have the same
kind of missing values as the rows it then fills:

- MNIST (pixels / 255): fitted on ``--n-train`` training images (10,000,
  drawn at random), filling the first ``--n-test`` test images (2,000), with
  (a) half the pixels missing at random and (b) a random 12x12 block missing
  per image. RMSE on the missing pixels (pixel units), PSNR of the repaired
  images against the originals (all pixels), fit + transform seconds.
  ``IterativeImputer`` regresses each of the 784 pixels on the others, which
  is slow: it uses the 50 most correlated pixels (``n_nearest_features=50``),
  5 rounds and the first 2,000 of the training images, as its row says, in
  float64 (its BayesianRidge fails on float32 pixels with a 12x12 block
  missing); the others keep the float32 pixels.
  Skipped with a message when MNIST is not in ``--data`` (or
  ``$SKL_SAE_DATA``, or ``../shared/data``).
- Tables that ship with scikit-learn, 20% of the entries missing at random in
  training and test rows alike, over ``--seeds`` random splits (3/4 train):
  ``load_diabetes`` (R^2 of ``Ridge`` and of ``GradientBoostingRegressor``)
  and ``load_breast_cancer`` (accuracy of ``LogisticRegression`` on
  standardized features and of ``GradientBoostingClassifier``). RMSE on the
  missing entries in units of each column's standard deviation; each model
  trained on the imputed training rows and scored on the imputed test rows
  (the "complete data" row: no value missing).

Every imputer runs with its defaults (``random_state=0`` where it has one),
except ``IterativeImputer`` on images as said.

    python benchmarks/bench_imputation.py [--data DIR] [--n-train 10000] [--n-test 2000]
                                          [--seeds 5] [--skip-mnist]
"""

import argparse
import time
import warnings

import numpy as np
import torch
from _common import data_dir, load_mnist, print_table
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skl_sae import SparseAutoencoderImputer


def imputers(images):
    iterative = IterativeImputer(random_state=0)
    if images:
        iterative.set_params(n_nearest_features=50, max_iter=5)
    return {
        "SimpleImputer(strategy='mean')": SimpleImputer(strategy="mean"),
        "KNNImputer()": KNNImputer(),
        "IterativeImputer()"
        + (" (50 nearest features, 5 rounds, 2,000 images)" if images else ""): iterative,
        "SparseAutoencoderImputer()": SparseAutoencoderImputer(random_state=0),
    }


def fit_and_fill(imputer, X_train, to_fill):
    """The filled arrays of ``to_fill`` and the seconds of fit + transforms."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imputer.fit(X_train)
        filled = [imputer.transform(X) for X in to_fill]
    return filled, time.perf_counter() - start


def block_mask(n_images, rng, size=12, side=28):
    mask = np.zeros((n_images, side, side), dtype=bool)
    for image, (row, column) in zip(
        mask, rng.integers(0, side - size + 1, (n_images, 2)), strict=True
    ):
        image[row : row + size, column : column + size] = True
    return mask.reshape(n_images, side * side)


def image_rows(data, n_train, n_test):
    X_train, _, X_test, _ = load_mnist(data)
    rng = np.random.default_rng(0)
    X_train, X_test = X_train[rng.permutation(len(X_train))[:n_train]], X_test[:n_test]
    cases = {
        "50% of pixels at random": (
            rng.random(X_train.shape) < 0.5,
            rng.random(X_test.shape) < 0.5,
        ),
        "a 12x12 block": (block_mask(len(X_train), rng), block_mask(len(X_test), rng)),
    }
    rows = []
    for case, (train_mask, test_mask) in cases.items():
        train, test = np.where(train_mask, np.nan, X_train), np.where(test_mask, np.nan, X_test)
        for name, imputer in imputers(images=True).items():
            fit_rows, to_fill = train, test
            if isinstance(imputer, IterativeImputer):  # (its BayesianRidge fails on float32)
                fit_rows, to_fill = train[:2000].astype(np.float64), test.astype(np.float64)
            (filled,), seconds = fit_and_fill(imputer, fit_rows, [to_fill])
            error = filled - X_test
            rmse = np.sqrt(np.mean(error[test_mask] ** 2))
            psnr = 10 * np.log10(1.0 / np.mean(error**2))
            rows.append([case, name, f"{rmse:.4f}", f"{psnr:.2f}", f"{seconds:.1f}"])
            print(f"  {rows[-1]}", flush=True)
    return rows


TABLES = {
    "diabetes": (
        load_diabetes,
        {
            "Ridge R^2": lambda: Ridge(),
            "GradientBoosting R^2": lambda: GradientBoostingRegressor(random_state=0),
        },
    ),
    "breast cancer": (
        load_breast_cancer,
        {
            "LogisticRegression accuracy": lambda: make_pipeline(
                StandardScaler(), LogisticRegression(max_iter=1000)
            ),
            "GradientBoosting accuracy": lambda: GradientBoostingClassifier(random_state=0),
        },
    ),
}


def table_rows(n_seeds):
    rows = []
    for data_name, (loader, models) in TABLES.items():
        X, y = loader(return_X_y=True)
        results = {}  # imputer -> lists of [rmse, *scores, seconds]
        for seed in range(n_seeds):
            stratify = y if data_name == "breast cancer" else None
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, random_state=seed, stratify=stratify
            )
            rng = np.random.default_rng(seed)
            train_mask, test_mask = rng.random(X_train.shape) < 0.2, rng.random(X_test.shape) < 0.2
            train = np.where(train_mask, np.nan, X_train)
            test = np.where(test_mask, np.nan, X_test)
            std = X_train.std(axis=0)
            complete = [np.nan] + [
                make().fit(X_train, y_train).score(X_test, y_test) for make in models.values()
            ]
            results.setdefault("complete data (nothing missing)", []).append(complete + [np.nan])
            for name, imputer in imputers(images=False).items():
                (train_filled, test_filled), seconds = fit_and_fill(imputer, train, [train, test])
                errors = np.concatenate(
                    [
                        ((train_filled - X_train) / std)[train_mask],
                        ((test_filled - X_test) / std)[test_mask],
                    ]
                )
                scores = [
                    make().fit(train_filled, y_train).score(test_filled, y_test)
                    for make in models.values()
                ]
                rmse = np.sqrt(np.mean(errors**2))
                results.setdefault(name, []).append([rmse, *scores, seconds])
        for name, values in results.items():
            mean, spread = np.mean(values, axis=0), np.std(values, axis=0)
            cells = [
                "-" if np.isnan(m) else f"{m:.3f} ± {s:.3f}"
                for m, s in zip(mean[:-1], spread[:-1], strict=True)
            ]
            seconds = "-" if np.isnan(mean[-1]) else f"{mean[-1]:.2f}"
            rows.append([data_name, name, *cells, seconds])
            print(f"  {rows[-1]}", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="folder with mnist_train.npz and mnist_test.npz")
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--n-test", type=int, default=2_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--skip-mnist", action="store_true")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")

    folder = data_dir(args.data)
    if args.skip_mnist:
        image_table = None
    elif not (folder / "mnist_train.npz").exists() or not (folder / "mnist_test.npz").exists():
        print(f"MNIST not found in {folder}: images skipped (pass --data DIR).\n")
        image_table = None
    else:
        image_table = image_rows(args.data, args.n_train, args.n_test)
    rows = table_rows(args.seeds)

    if image_table is not None:
        print(
            f"\nMNIST, fitted on {args.n_train:,} damaged training images, "
            f"{args.n_test:,} damaged test images filled:"
        )
        print_table(
            ["missing", "imputer", "RMSE, missing pixels", "PSNR (dB)", "fit + transform s"],
            image_table,
        )
    print(f"\nTables, 20% missing at random, mean ± std over {args.seeds} splits:")
    print_table(
        [
            "data",
            "imputer",
            "RMSE, missing entries (std units)",
            "first model's score",
            "second model's score",
            "fit + transform s",
        ],
        rows,
    )
    print(
        "\nModels: diabetes: Ridge R^2, GradientBoostingRegressor R^2; breast cancer: "
        "StandardScaler + LogisticRegression accuracy, GradientBoostingClassifier accuracy."
    )


if __name__ == "__main__":
    main()
