"""The cost of one optimizer step on a small table, beside scikit-learn's MLP.

On small tables a fit is many small steps, and what a step costs around its
arithmetic is what the user waits for. The digits (1,797 x 64, scaled to
[0, 1]) in batches of 200 rows through 256 hidden units, Adam, a fixed number
of epochs (no convergence check: ``tol=0`` and ``n_iter_no_change`` beyond
``max_iter``), in one process, alternating runs:

- ``SparseAutoencoderTransformer(256)``, every other parameter at its default
  (its network in float32, ``compute_dtype``), and with ``compute_dtype=None``
  (the network in the data's dtype, as scikit-learn's MLPs compute);
- ``MLPRegressor(hidden_layer_sizes=(256,)).fit(X, X)``: the same autoencoder
  in numpy (64 -> 256 -> 64), the fairest peer;
- ``MLPClassifier(hidden_layer_sizes=(256,)).fit(X, y)``: 64 -> 256 -> 10;
- ``StackedSparseAutoencoderClassifier((256,))``'s fine-tuning alone
  (``pretrain_max_iter=0``) against ``MLPClassifier``, also with
  ``compute_dtype=None``, and with ``adversarial_eps=0``: the default step
  takes two passes (the batch, then its adversarial rows), this one the one
  pass that the MLP's takes.

A step's cost is the fit's wall time over its steps (epochs times batches),
setup included for all; the median of ``--repeats`` runs. A ratio to an MLP
is the median over the repeats of the ratio within each repeat, whose fits
ran one after the other: the speed of a shared machine drifts between
repeats far more than between neighbouring fits.

``--dtype float32`` gives every fit the digits in float32 (scikit-learn's
MLPs then compute in float32 too, as every autoencoder row does): the step in
equal precision.

``--compile`` then times the transformer with its by-hand step
(``skl_sae._fused.loss_and_gradients``) wrapped in ``torch.compile``: the
first fit (which compiles) and the median of the later ones, beside
uncompiled fits, one after the other.

    python benchmarks/bench_small_step.py [--repeats 15] [--epochs 20] [--dtype float64]
        [--compile]
"""

import argparse
import math
import statistics
import warnings

import torch
from _common import print_table, timed
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

import skl_sae._fused as fused
from skl_sae import SparseAutoencoderTransformer, StackedSparseAutoencoderClassifier

BATCH, UNITS = 200, 256


def fits(epochs):
    """``{name: fit(X, y)}``, each running ``epochs`` epochs of Adam in
    batches of ``BATCH`` rows with no convergence check."""
    fixed = dict(max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1, random_state=0)
    mlp = dict(hidden_layer_sizes=(UNITS,), batch_size=BATCH, **fixed)
    return {
        "SparseAutoencoderTransformer(256)": lambda X, y: SparseAutoencoderTransformer(
            UNITS, **fixed
        ).fit(X),
        "SparseAutoencoderTransformer(256, compute_dtype=None)": lambda X, y: (
            SparseAutoencoderTransformer(UNITS, compute_dtype=None, **fixed).fit(X)
        ),
        "MLPRegressor((256,)).fit(X, X)": lambda X, y: MLPRegressor(**mlp).fit(X, X),
        "StackedSparseAutoencoderClassifier((256,)), fine-tuning": (
            lambda X, y: StackedSparseAutoencoderClassifier(
                (UNITS,), pretrain_max_iter=0, **fixed
            ).fit(X, y)
        ),
        "StackedSparseAutoencoderClassifier((256,), adversarial_eps=0), one pass": (
            lambda X, y: StackedSparseAutoencoderClassifier(
                (UNITS,), pretrain_max_iter=0, adversarial_eps=0.0, **fixed
            ).fit(X, y)
        ),
        "StackedSparseAutoencoderClassifier((256,), compute_dtype=None)": lambda X, y: (
            StackedSparseAutoencoderClassifier(
                (UNITS,), pretrain_max_iter=0, compute_dtype=None, **fixed
            ).fit(X, y)
        ),
        "MLPClassifier((256,))": lambda X, y: MLPClassifier(**mlp).fit(X, y),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(args.dtype)
    steps = args.epochs * math.ceil(len(X) / BATCH)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads available; digits "
        f"{X.shape[0]} x {X.shape[1]} {X.dtype}, batches of {BATCH}, {UNITS} units, {args.epochs} "
        f"epochs = {steps} steps\n"
    )
    runs = fits(args.epochs)
    seconds = {name: [] for name in runs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for fit in runs.values():  # a first run of each, not timed
            fit(X, y)
        for _ in range(args.repeats):
            for name, fit in runs.items():
                seconds[name].append(timed(fit, X, y)[1])
    per_step = {name: statistics.median(times) / steps * 1e3 for name, times in seconds.items()}
    peers = ("MLPRegressor((256,)).fit(X, X)", "MLPClassifier((256,))")
    rows = []
    for name, step_ms in per_step.items():
        spread = f"{min(seconds[name]) / steps * 1e3:.3f}-{max(seconds[name]) / steps * 1e3:.3f}"
        # Each ratio within one repeat, whose fits ran one after the other,
        # then their median: this shared machine's speed drifts by up to half
        # between repeats, far more than between neighbouring fits.
        ratios = [
            statistics.median(
                mine / theirs for mine, theirs in zip(seconds[name], seconds[peer], strict=True)
            )
            for peer in peers
        ]
        rows.append([name, f"{step_ms:.3f}", spread, *(f"{ratio:.2f}" for ratio in ratios)])
    print_table(
        [
            "fit",
            "ms a step (median)",
            "min-max",
            "/ MLPRegressor's (median of repeats)",
            "/ MLPClassifier's (median of repeats)",
        ],
        rows,
    )
    if args.compile:
        compiled(runs["SparseAutoencoderTransformer(256)"], X, args.repeats, steps)


def compiled(fit, X, repeats, steps):
    """Print the transformer's step uncompiled and with its by-hand step
    compiled by ``torch.compile`` (the first, compiling fit apart)."""
    eager = fused.loss_and_gradients
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = [timed(fit, X, None)[1] for _ in range(repeats)]
        fused.loss_and_gradients = torch.compile(eager)
        try:
            first = timed(fit, X, None)[1]
            later = [timed(fit, X, None)[1] for _ in range(repeats)]
        finally:
            fused.loss_and_gradients = eager
    print(
        f"\ntorch.compile: first fit {first:.1f} s; then "
        f"{statistics.median(later) / steps * 1e3:.3f} ms a step against "
        f"{statistics.median(plain) / steps * 1e3:.3f} uncompiled"
    )


if __name__ == "__main__":
    main()
