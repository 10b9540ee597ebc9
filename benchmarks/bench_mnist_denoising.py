"""MNIST image denoising: PSNR of reconstructions of noisy test digits.

Gaussian noise of standard deviation ``--sigma`` (0.4 on the 0-1 pixel
scale) is added to the 10k test images and clipped to [0, 1]. Two
autoencoders trained on the clean 60k training images reconstruct them: the
plain one and the denoising one (``corruption="gaussian"``,
``corruption_level=sigma``), all other parameters equal and at their
defaults. PSNR = 10 log10(1 / MSE) against the clean images (higher is
better), next to the PSNR of the noisy input itself, in one process.

    python benchmarks/bench_mnist_denoising.py [--data DIR] [--n-train N] [--epochs E]
"""

import argparse
import warnings

import numpy as np
import torch
from _common import load_mnist, print_table, timed
from sklearn.exceptions import ConvergenceWarning

from skl_sae import SparseAutoencoderTransformer


def psnr(images, clean):
    """Peak signal-to-noise ratio in dB for pixels in [0, 1], over all images."""
    return float(10 * np.log10(1.0 / np.mean((images - clean) ** 2)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="folder with mnist_train.npz and mnist_test.npz")
    parser.add_argument("--n-train", type=int, default=None, help="first N training images")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--components", type=int, default=256)
    parser.add_argument("--sigma", type=float, default=0.4)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    X_train, _, X_test, _ = load_mnist(args.data, args.n_train)
    rng = np.random.default_rng(0)
    noise = rng.normal(scale=args.sigma, size=X_test.shape).astype(X_test.dtype)
    noisy = np.clip(X_test + noise, 0.0, 1.0)
    print(
        f"MNIST: {len(X_train)} train / {len(X_test)} test, noise sigma {args.sigma} clipped; "
        f"{args.components} units, {args.epochs} epochs; torch threads "
        f"{torch.get_num_threads()}, device {args.device}\n"
    )
    common = dict(max_iter=args.epochs, device=args.device, random_state=0)
    models = {
        "plain autoencoder": SparseAutoencoderTransformer(args.components, **common),
        f"denoising autoencoder (gaussian, {args.sigma})": SparseAutoencoderTransformer(
            args.components, corruption="gaussian", corruption_level=args.sigma, **common
        ),
    }
    rows = [["noisy input itself", f"{psnr(noisy, X_test):.2f}", "-", "-"]]
    for name, sae in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            _, seconds = timed(sae.fit, X_train)
        denoised = sae.inverse_transform(sae.transform(noisy))
        clean_psnr = psnr(sae.inverse_transform(sae.transform(X_test)), X_test)
        rows.append([name, f"{psnr(denoised, X_test):.2f}", f"{clean_psnr:.2f}", f"{seconds:.0f}"])
        print("  " + " | ".join(rows[-1]), flush=True)
    print()
    header = ["input", "PSNR of noisy -> clean (dB)", "PSNR on clean input (dB)", "fit s"]
    print_table(header, rows)


if __name__ == "__main__":
    main()
