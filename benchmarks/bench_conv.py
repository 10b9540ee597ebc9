"""The convolutional autoencoder beside the dense one on MNIST.

In one process, on the first ``--n-train`` training images (pixels / 255),
scored on the 10,000 test images:

- features: ``ConvolutionalSparseAutoencoderTransformer`` and
  ``SparseAutoencoderTransformer(1024)``, each followed by
  ``LogisticRegression``: test accuracy, fit seconds of the autoencoder and
  of the whole pipeline;
- denoising: each autoencoder trained with ``corruption="gaussian"`` at
  ``corruption_level=--sigma`` (0.4) reconstructs test images with that
  noise added (clipped to [0, 1]); PSNR of the reconstructions against the
  clean images, and of the noisy inputs for reference.

The convolutional autoencoder runs at most ``--max-iter`` epochs (20), the
dense one ``--dense-max-iter`` (30, the README's reference row of 0.9829),
their other parameters at their defaults and ``random_state=0``; the tables
say how long each took. ``--device cuda`` runs both on a GPU where one is
available.

    python benchmarks/bench_conv.py [--data DIR] [--n-train 60000] [--max-iter 20]
                                    [--dense-max-iter 30] [--sigma 0.4] [--device cpu]
"""

import argparse
import time
import warnings

import numpy as np
import torch
from _common import load_mnist, print_table
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from skl_sae import ConvolutionalSparseAutoencoderTransformer, SparseAutoencoderTransformer


def psnr(images, clean):
    """Peak signal-to-noise ratio in dB of images in [0, 1]."""
    return 10 * np.log10(1.0 / np.mean((images - clean) ** 2))


def autoencoders(args, **params):
    common = dict(random_state=0, device=args.device, **params)
    return {
        "ConvolutionalSparseAutoencoderTransformer()": ConvolutionalSparseAutoencoderTransformer(
            image_shape=(28, 28), max_iter=args.max_iter, **common
        ),
        "SparseAutoencoderTransformer(1024)": SparseAutoencoderTransformer(
            1024, max_iter=args.dense_max_iter, **common
        ),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder of mnist_train.npz and mnist_test.npz")
    parser.add_argument("--n-train", type=int, default=60_000)
    parser.add_argument("--max-iter", type=int, default=20)
    parser.add_argument("--dense-max-iter", type=int, default=30)
    parser.add_argument("--sigma", type=float, default=0.4)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    X_train, y_train, X_test, y_test = load_mnist(args.data, n_train=args.n_train)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}")

    rows = []
    for name, autoencoder in autoencoders(args).items():
        start = time.perf_counter()
        codes = autoencoder.fit_transform(X_train)
        fit_seconds = time.perf_counter() - start
        classifier = LogisticRegression(max_iter=1000).fit(codes, y_train)
        accuracy = classifier.score(autoencoder.transform(X_test), y_test)
        total = time.perf_counter() - start
        rows.append(
            [name, codes.shape[1], autoencoder.n_iter_, f"{fit_seconds:.1f}", f"{total:.1f}"]
            + [f"{accuracy:.4f}"]
        )
        print(rows[-1], flush=True)
    print()
    print(f"MNIST features, {len(X_train)} training images, LogisticRegression on the codes:")
    print_table(
        ["autoencoder", "features", "epochs", "autoencoder fit s", "pipeline s", "test accuracy"],
        rows,
    )

    rng = np.random.default_rng(0)
    noisy_test = np.clip(X_test + args.sigma * rng.normal(size=X_test.shape), 0, 1)
    noisy_test = noisy_test.astype(X_test.dtype)
    rows = [["noisy inputs", "-", "-", f"{psnr(noisy_test, X_test):.2f}"]]
    models = autoencoders(args, corruption="gaussian", corruption_level=args.sigma)
    for name, autoencoder in models.items():
        start = time.perf_counter()
        autoencoder.fit(X_train)
        seconds = time.perf_counter() - start
        denoised = autoencoder.inverse_transform(autoencoder.transform(noisy_test))
        rows.append([name, autoencoder.n_iter_, f"{seconds:.1f}", f"{psnr(denoised, X_test):.2f}"])
        print(rows[-1], flush=True)
    print()
    print(f"Denoising, Gaussian noise of sigma {args.sigma} on the 10,000 test images:")
    print_table(["model", "epochs", "fit s", "PSNR dB"], rows)


if __name__ == "__main__":
    main()
