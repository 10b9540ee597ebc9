"""``python -m skl_sae``: sparse autoencoder features + logistic regression.

Fits ``Pipeline([("sae", SparseAutoencoderTransformer()), ("clf",
LogisticRegression())])`` on scikit-learn's bundled digits (or your own
``.npz``/``.csv`` data) and prints its test accuracy next to logistic
regression on the raw features and scikit-learn's ``MLPClassifier((256,))``,
with fit times.
"""

import argparse
import csv
import re
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from . import SparseAutoencoderTransformer


def _plain(text):
    """``text`` without its reStructuredText inline markup, for ``--help``: code in
    double backticks, references in single backticks and roles such as
    ``:class:`~x.Y``` keep only the text inside the backticks."""
    text = re.sub(r":[\w:-]+:`~?([^`]*)`", r"\1", text)
    return re.sub(r"``?([^`]*)``?", r"\1", text)


def _number(text):
    """``text`` as an int if it is one, else as a float (ValueError if neither)."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def _read_csv(path):
    """``(X, y)`` from a CSV with a header row: the feature columns as floats,
    the last column (the label) as numbers if all of them are, else as strings."""
    with open(path, newline="") as file:
        reader = csv.reader(file)
        # (line number in the file, stripped cells) of each row that is not blank
        rows = [
            (reader.line_num, [c.strip() for c in row]) for row in reader if "".join(row).strip()
        ]
    if len(rows) < 2:
        raise ValueError(f"{path}: expected a header row and at least one data row.")
    (_, header), rows = rows[0], rows[1:]
    if len(header) < 2:
        raise ValueError(f"{path}: expected at least one feature column and a label column.")
    X = np.empty((len(rows), len(header) - 1))
    labels = []
    for i, (line, row) in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(
                f"{path}, line {line}: {len(row)} values, but the header has {len(header)}."
            )
        for j, cell in enumerate(row[:-1]):
            try:
                X[i, j] = float(cell)
            except ValueError:
                raise ValueError(
                    f"{path}, line {line}, column {j + 1} ({header[j]!r}): feature values "
                    f"must be numbers, got {cell!r}; only the last column (the label) may "
                    "hold strings."
                ) from None
        labels.append(row[-1])
    try:
        y = np.asarray([_number(label) for label in labels])
    except ValueError:
        y = np.asarray(labels)
    return X, y


def load_data(path):
    """``(X, y)`` from digits (``path`` None), a ``.npz`` with keys X and y,
    or a ``.csv`` with a header row, numeric features and the label (numbers
    or strings) in the last column."""
    if path is None:
        return load_digits(return_X_y=True)
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as data:
            return data["X"], data["y"]
    if path.suffix == ".csv":
        return _read_csv(path)
    raise ValueError(f"{path}: expected a .npz (keys X, y) or a .csv file.")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m skl_sae",
        description=_plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data",
        help=".npz (keys X, y) or .csv (header row, numeric features, label last: "
        "numbers or strings); default: digits",
    )
    parser.add_argument("--n-components", type=int, default=256)
    parser.add_argument("--max-iter", type=int, default=200, help="epochs at most")
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
        "MLPClassifier((256,))": Pipeline(
            [scaler, ("clf", MLPClassifier((256,), random_state=args.random_state))]
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
