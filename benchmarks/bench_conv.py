"""The convolutional autoencoder beside the dense one, on MNIST and the digits.

In one process:

- features, MNIST (the first ``--n-train`` training images, pixels / 255,
  scored on the 10,000 test images): ``ConvolutionalSparseAutoencoderTransformer``
  at its defaults (128 maps, winner-take-all codes, max-pooled over a 5 x 5
  grid) and ``SparseAutoencoderTransformer(1024, max_iter=30)`` (the README's
  dense row), each followed by ``LogisticRegression(max_iter=1000)``, over
  ``--seeds`` seeds (``random_state`` 0, 1, ...): test accuracy (mean and
  standard deviation), fit seconds of the autoencoder and of the pipeline,
  epochs;
- features, the digits (an image set kept apart from MNIST when the defaults
  were chosen; 8 x 8 pixels / 16, four stratified splits of 25%): the
  convolutional transformer at its defaults and the dense one at its
  defaults, each with ``LogisticRegression(max_iter=2000)``;
- denoising, MNIST: each autoencoder trained with ``corruption="gaussian"``
  at ``corruption_level=--sigma`` (0.4) reconstructs test images with that
  noise added (clipped to [0, 1]); PSNR of the reconstructions against the
  clean images, and of the noisy inputs for reference. The convolutional
  denoiser decodes its codes: ``filters=(16, 32), kernel_size=5,
  pooling=None, tol=1e-3`` (with which ``sparsity="auto"`` is the KL
  penalty: the settings of the denoiser before the defaults changed), at most
  ``--denoiser-max-iter`` epochs (20); the dense one at most 30.

``--device cuda`` runs the autoencoders on a GPU where one is available.

    python benchmarks/bench_conv.py [--data DIR] [--n-train 60000] [--seeds 3]
                                    [--sigma 0.4] [--device cpu] [--skip-denoising]
"""

import argparse
import time
import warnings

import numpy as np
import torch
from _common import load_mnist, print_table
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skl_sae import ConvolutionalSparseAutoencoderTransformer, SparseAutoencoderTransformer

CONV = "ConvolutionalSparseAutoencoderTransformer()"
DENSE = "SparseAutoencoderTransformer(1024, max_iter=30)"


def psnr(images, clean):
    """Peak signal-to-noise ratio in dB of images in [0, 1]."""
    return 10 * np.log10(1.0 / np.mean((images - clean) ** 2))


def feature_row(name, runs):
    """A table row from ``(accuracy, fit_s, pipeline_s, epochs, n_features)`` per seed."""
    accuracy, fit, pipeline, epochs, n_features = (
        np.array(column) for column in zip(*runs, strict=True)
    )
    return [
        name,
        int(n_features[0]),
        f"{epochs.mean():.0f}",
        f"{fit.mean():.1f}",
        f"{pipeline.mean():.1f}",
        f"{accuracy.mean():.4f} ± {accuracy.std():.4f}",
        " ".join(f"{value:.4f}" for value in accuracy),
    ]


def score_features(autoencoder, X_train, y_train, X_test, y_test, max_iter):
    """``(accuracy, fit_s, pipeline_s, epochs, n_features)`` of ``autoencoder``
    followed by ``LogisticRegression(max_iter=max_iter)``."""
    start = time.perf_counter()
    codes = autoencoder.fit_transform(X_train)
    fit_seconds = time.perf_counter() - start
    classifier = LogisticRegression(max_iter=max_iter).fit(codes, y_train)
    accuracy = classifier.score(autoencoder.transform(X_test), y_test)
    total = time.perf_counter() - start
    return accuracy, fit_seconds, total, autoencoder.n_iter_, codes.shape[1]


def mnist_features(args, X_train, y_train, X_test, y_test):
    runs = {CONV: [], DENSE: []}
    for seed in range(args.seeds):
        models = {
            CONV: ConvolutionalSparseAutoencoderTransformer(
                image_shape=(28, 28), random_state=seed, device=args.device
            ),
            DENSE: SparseAutoencoderTransformer(
                1024, max_iter=30, random_state=seed, device=args.device
            ),
        }
        for name, autoencoder in models.items():
            runs[name].append(score_features(autoencoder, X_train, y_train, X_test, y_test, 1000))
            accuracy, fit_seconds = runs[name][-1][:2]
            print(f"  seed {seed} {name}: {accuracy:.4f}, fit {fit_seconds:.1f} s", flush=True)
    print(f"\nMNIST features, {len(X_train)} training images, LogisticRegression on the codes:\n")
    header = ["autoencoder", "features", "epochs", "fit s", "pipeline s", "test accuracy"]
    print_table([*header, "per seed"], [feature_row(name, run) for name, run in runs.items()])
    ratio = np.mean([run[1] for run in runs[CONV]]) / np.mean([run[1] for run in runs[DENSE]])
    print(f"\nconvolutional fit time / dense fit time: {ratio:.2f}")


def digits_features(args):
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    runs = {CONV: [], "SparseAutoencoderTransformer()": []}
    for split in range(4):
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=split, stratify=y
        )
        models = {
            CONV: ConvolutionalSparseAutoencoderTransformer(random_state=0, device=args.device),
            "SparseAutoencoderTransformer()": SparseAutoencoderTransformer(
                random_state=0, device=args.device
            ),
        }
        for name, autoencoder in models.items():
            runs[name].append(score_features(autoencoder, X_train, y_train, X_test, y_test, 2000))
    print("\nThe digits (8 x 8), four splits, LogisticRegression on the codes:\n")
    header = ["autoencoder", "features", "epochs", "fit s", "pipeline s", "test accuracy"]
    print_table([*header, "per split"], [feature_row(name, run) for name, run in runs.items()])


def denoising(args, X_train, X_test):
    rng = np.random.default_rng(0)
    noisy_test = np.clip(X_test + args.sigma * rng.normal(size=X_test.shape), 0, 1)
    noisy_test = noisy_test.astype(X_test.dtype)
    rows = [["noisy inputs", "-", "-", f"{psnr(noisy_test, X_test):.2f}"]]
    common = dict(
        corruption="gaussian", corruption_level=args.sigma, random_state=0, device=args.device
    )
    models = {
        "ConvolutionalSparseAutoencoderTransformer(filters=(16, 32), kernel_size=5, "
        "pooling=None, tol=1e-3)": ConvolutionalSparseAutoencoderTransformer(
            image_shape=(28, 28),
            filters=(16, 32),
            kernel_size=5,
            pooling=None,
            tol=1e-3,
            max_iter=args.denoiser_max_iter,
            **common,
        ),
        "SparseAutoencoderTransformer(1024)": SparseAutoencoderTransformer(
            1024, max_iter=30, **common
        ),
    }
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder of mnist_train.npz and mnist_test.npz")
    parser.add_argument("--n-train", type=int, default=60_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--denoiser-max-iter", type=int, default=20)
    parser.add_argument("--sigma", type=float, default=0.4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-mnist-features", action="store_true")
    parser.add_argument("--skip-digits", action="store_true")
    parser.add_argument("--skip-denoising", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}")
    if not args.skip_digits:
        digits_features(args)
    if args.skip_mnist_features and args.skip_denoising:
        return
    X_train, y_train, X_test, y_test = load_mnist(args.data, n_train=args.n_train)
    if not args.skip_mnist_features:
        mnist_features(args, X_train, y_train, X_test, y_test)
    if not args.skip_denoising:
        denoising(args, X_train, X_test)


if __name__ == "__main__":
    main()
