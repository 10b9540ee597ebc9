"""``matmul_precision``: fit time and accuracy against float32 products.

Each estimator fits float32 data at every ``matmul_precision`` in one
process, one after the other, every other parameter at its default:

- ``SparseAutoencoderTransformer(--units)``, scored by a
  ``LogisticRegression`` on its codes (test accuracy) and by the test
  images' reconstruction error;
- ``StackedSparseAutoencoderClassifier(--hidden)``, by its test accuracy.

On MNIST (the first ``--n-train`` training images, pixels / 255, scored on
the 10,000 test images) and on the digits (pixels / 16, a stratified 25%
test split), the data set on which nothing was chosen. ``"medium"`` runs
the products in bfloat16 on a CPU with bfloat16 units (Intel AMX), ``"high"``
in TF32 on a CUDA GPU; elsewhere they are float32 and the rows differ only
by noise. The table gives each fit's seconds, its seconds per epoch and
their ratio to ``"highest"``'s.

    python benchmarks/bench_precision.py [--device cpu] [--n-train 20000]
        [--units 1024] [--hidden 512 512] [--skip-mnist] [--data DIR]
"""

import argparse
import warnings

import numpy as np
import torch
from _common import load_mnist, print_table, timed
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skl_sae import SparseAutoencoderTransformer, StackedSparseAutoencoderClassifier

PRECISIONS = ("highest", "high", "medium")


def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


def mnist(path, n_train):
    X_train, y_train, X_test, y_test = load_mnist(path, n_train)
    return X_train, X_test, y_train, y_test


def transformer_row(units, data, device, precision):
    X_train, X_test, y_train, y_test = data
    model = SparseAutoencoderTransformer(
        units, matmul_precision=precision, device=device, random_state=0
    )
    _, seconds = timed(model.fit, X_train)
    codes_train, codes_test = model.transform(X_train), model.transform(X_test)
    probe = LogisticRegression(max_iter=500).fit(codes_train, y_train)
    error = float(np.mean((model.inverse_transform(codes_test) - X_test) ** 2))
    return seconds, model.n_iter_, f"LR {probe.score(codes_test, y_test):.4f}, MSE {error:.5f}"


def classifier_row(hidden, data, device, precision):
    X_train, X_test, y_train, y_test = data
    model = StackedSparseAutoencoderClassifier(
        hidden, matmul_precision=precision, device=device, random_state=0
    )
    _, seconds = timed(model.fit, X_train, y_train)
    curves = [*model.pretrain_loss_curves_, model.softmax_loss_curve_]
    epochs = model.n_iter_ + sum(len(curve) for curve in curves)  # (of all stages)
    return seconds, epochs, f"accuracy {model.score(X_test, y_test):.4f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--units", type=int, default=1024)
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 512])
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--data", default=None)
    args = parser.parse_args(argv)
    sets = {"the digits": digits()}
    if not args.skip_mnist:
        sets = {f"MNIST ({args.n_train:,} images)": mnist(args.data, args.n_train), **sets}
    hidden = tuple(args.hidden)
    print(f"torch {torch.__version__}, device {args.device}\n")
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for set_name, data in sets.items():
            units = args.units if set_name.startswith("MNIST") else 256
            layers = hidden if set_name.startswith("MNIST") else (256, 256)
            cases = {
                f"SparseAutoencoderTransformer({units})": lambda p, u=units, d=data: (
                    transformer_row(u, d, args.device, p)
                ),
                f"StackedSparseAutoencoderClassifier({layers})": lambda p, h=layers, d=data: (
                    classifier_row(h, d, args.device, p)
                ),
            }
            for name, run in cases.items():
                base = None
                for precision in PRECISIONS:
                    seconds, epochs, score = run(precision)
                    per_epoch = seconds / epochs
                    base = per_epoch if base is None else base
                    rows.append(
                        [
                            set_name,
                            name,
                            precision,
                            score,
                            f"{seconds:.1f}",
                            epochs,
                            f"{per_epoch:.3f}",
                            f"{per_epoch / base:.2f}",
                        ]
                    )
                    print(" | ".join(str(cell) for cell in rows[-1]), flush=True)
    print()
    header = ["data", "estimator", "matmul_precision", "score", "fit s", "epochs"]
    print_table(header + ["s / epoch", "/ highest's"], rows)


if __name__ == "__main__":
    main()
