"""MNIST: the sparse codes (TopK, BatchTopK, JumpReLU) beside KL and L1.

Each autoencoder has 1024 latents and trains for the same number of epochs
on the 60k training images (pixels / 255), all other parameters at their
defaults, in one process. For each it reports, on the 10k test images, the
normalized MSE (squared error over squared distance to the training mean:
1 - explained variance) and the mean number of active codes; on the training
images, ``l0_`` and ``dead_latents_`` as fitted; and the test accuracy of
``Pipeline(SAE, LogisticRegression)``. KL counts a sigmoid unit as active
above 1/2; the L1 weights were chosen to give an L0 near TopK's.

    python benchmarks/bench_mnist_sparse_codes.py [--data DIR] [--n-train N] [--epochs E]
"""

import argparse
import warnings

import numpy as np
import torch
from _common import load_mnist, print_table, timed
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from skl_sae import SparseAutoencoderTransformer


def configurations(only=None):
    configs = {
        "topk k=16": dict(sparsity="topk", k=16),
        "topk k=32": dict(sparsity="topk", k=32),
        "topk k=64": dict(sparsity="topk", k=64),
        "batchtopk k=32": dict(sparsity="batchtopk", k=32),
        "jumprelu (default weight 3)": dict(sparsity="jumprelu"),
        "kl (default)": dict(sparsity="kl"),
        "l1 weight 10": dict(sparsity="l1", sparsity_weight=10.0),
        "l1 weight 3 (default)": dict(sparsity="l1"),
    }
    if only:
        configs = {name: c for name, c in configs.items() if any(o in name for o in only)}
    return configs


def test_metrics(sae, X_train, X_test):
    codes = sae.transform(X_test)
    reconstruction = sae.inverse_transform(codes)
    total = np.sum((X_test - X_train.mean(axis=0)) ** 2)
    nmse = float(np.sum((reconstruction - X_test) ** 2) / total)
    threshold = 0.5 if sae.sparsity == "kl" else 0.0
    return nmse, float(np.mean(np.sum(codes > threshold, axis=1)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="folder with mnist_train.npz and mnist_test.npz")
    parser.add_argument("--n-train", type=int, default=None, help="first N training images")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--components", type=int, default=1024)
    parser.add_argument("--only", nargs="*", help="run the configurations whose name has these")
    parser.add_argument("--no-lr", action="store_true", help="skip the logistic regression")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    X_train, y_train, X_test, y_test = load_mnist(args.data, args.n_train)
    print(
        f"MNIST: {len(X_train)} train / {len(X_test)} test; {args.components} latents, "
        f"{args.epochs} epochs; torch threads {torch.get_num_threads()}, device {args.device}\n"
    )
    rows = []
    for name, params in configurations(args.only).items():
        sae = SparseAutoencoderTransformer(
            args.components, max_iter=args.epochs, device=args.device, random_state=0, **params
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            _, seconds = timed(sae.fit, X_train)
            nmse, l0_test = test_metrics(sae, X_train, X_test)
            accuracy = "-"
            if not args.no_lr:
                # What Pipeline(sae, LR).fit would compute, without refitting
                # the (seeded, deterministic) autoencoder.
                classifier = LogisticRegression(max_iter=1000)
                classifier.fit(sae.transform(X_train), y_train)
                accuracy = f"{classifier.score(sae.transform(X_test), y_test):.4f}"
        row = [
            name,
            f"{nmse:.4f}",
            f"{l0_test:.1f}",
            f"{sae.l0_:.1f}",
            f"{sae.dead_latents_:.3f}",
            accuracy,
            f"{seconds:.0f}",
        ]
        rows.append(row)
        print("  " + " | ".join(row), flush=True)
    print()
    header = [
        "sparsity",
        "test NMSE",
        "test L0",
        "l0_ (train)",
        "dead_latents_",
        "SAE + LR accuracy",
        "SAE fit s",
    ]
    print_table(header, rows)


if __name__ == "__main__":
    main()
