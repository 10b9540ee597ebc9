"""``python -m skl_sae``: sparse autoencoder features + logistic regression.

Fits ``Pipeline([("sae", SparseAutoencoderTransformer()), ("clf",
LogisticRegression())])`` on scikit-learn's bundled digits (or your own
``.npz``/``.csv`` data) and prints its test accuracy next to logistic
regression on the raw features, with fit times.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from . import SparseAutoencoderTransformer


def load_data(path):
    """``(X, y)`` from digits (``path`` None), a ``.npz`` with keys X and y,
    or a ``.csv`` with a header row and the label in the last column."""
    if path is None:
        return load_digits(return_X_y=True)
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as data:
            return data["X"], data["y"]
    if path.suffix == ".csv":
        data = np.loadtxt(path, delimiter=",", skiprows=1)
        return data[:, :-1], data[:, -1]
    raise ValueError(f"{path}: expected a .npz (keys X, y) or a .csv file.")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m skl_sae", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data", help=".npz (keys X, y) or .csv (header row, label last); default: digits"
    )
    parser.add_argument("--n-components", type=int, default=256)
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--test-size", type=float, default=0.25)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)

    X, y = load_data(args.data)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=args.test_size, random_state=args.random_state, stratify=y
    )
    scaler = ("scale", MinMaxScaler())
    models = {
        "raw features + LR": Pipeline([scaler, ("clf", LogisticRegression(max_iter=1000))]),
        "sparse autoencoder + LR": Pipeline(
            [
                scaler,
                (
                    "sae",
                    SparseAutoencoderTransformer(
                        args.n_components,
                        max_iter=args.max_iter,
                        device=args.device,
                        random_state=args.random_state,
                    ),
                ),
                ("clf", LogisticRegression(max_iter=1000)),
            ]
        ),
    }
    print(
        f"data: {args.data or 'digits'}, {len(X_train)} train / {len(X_test)} test, "
        f"{X.shape[1]} features"
    )
    print(f"{'model':<26}{'accuracy':>10}{'fit (s)':>10}")
    for name, model in models.items():
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        print(f"{name:<26}{model.score(X_test, y_test):>10.4f}{seconds:>10.1f}")
        for warning in caught:
            print(f"  note: {warning.message}")


if __name__ == "__main__":
    main()
