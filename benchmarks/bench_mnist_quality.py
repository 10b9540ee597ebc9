"""MNIST test accuracy of sparse autoencoder features against their peers.

Each method is a scikit-learn pipeline ending in the same
``LogisticRegression``, fitted on the 60k training images (pixels / 255) and
scored on the 10k test images, in one process:

- raw pixels + LR
- PCA(50) + LR
- BernoulliRBM(256, 10 epochs) + LR
- SparseAutoencoderTransformer(1024, max_iter=30) + LR: the README's
  settings, every other parameter at its default

    python benchmarks/bench_mnist_quality.py [--data DIR] [--n-train N] [--skip-rbm]
"""

import argparse
import warnings

import torch
from _common import load_mnist, print_table, timed
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import BernoulliRBM
from sklearn.pipeline import make_pipeline

from skl_sae import SparseAutoencoderTransformer


def classifier():
    return LogisticRegression(max_iter=1000)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="folder with mnist_train.npz and mnist_test.npz")
    parser.add_argument("--n-train", type=int, default=None, help="first N training images")
    parser.add_argument("--skip-rbm", action="store_true", help="leave out the slow RBM")
    parser.add_argument("--sae-components", type=int, default=1024)
    parser.add_argument("--sae-epochs", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    X_train, y_train, X_test, y_test = load_mnist(args.data, args.n_train)
    sae = SparseAutoencoderTransformer(
        args.sae_components,
        max_iter=args.sae_epochs,
        device=args.device,
        random_state=0,
    )
    methods = {
        "raw pixels + LR": make_pipeline(classifier()),
        "PCA(50) + LR": make_pipeline(PCA(50, random_state=0), classifier()),
        "BernoulliRBM(256, 10 epochs) + LR": make_pipeline(
            BernoulliRBM(256, n_iter=10, random_state=0), classifier()
        ),
        f"SparseAutoencoderTransformer({args.sae_components}, max_iter={args.sae_epochs}) + LR": (
            make_pipeline(sae, classifier())
        ),
    }
    if args.skip_rbm:
        methods = {name: m for name, m in methods.items() if "RBM" not in name}

    print(
        f"MNIST: {len(X_train)} train / {len(X_test)} test, pixels / 255 (float32); "
        f"torch threads {torch.get_num_threads()}, device {args.device}\n"
    )
    rows = []
    for name, pipeline in methods.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            _, seconds = timed(pipeline.fit, X_train, y_train)
        accuracy = pipeline.score(X_test, y_test)
        rows.append([name, f"{accuracy:.4f}", f"{seconds:.0f}"])
        print(f"  {name}: {accuracy:.4f} ({seconds:.0f} s)", flush=True)
    print()
    print_table(["method", "test accuracy", "fit seconds (whole pipeline)"], rows)


if __name__ == "__main__":
    main()
