"""MNIST: the sparse codes beside SAELens, the reference implementation.

The same architecture (``--components`` latents over the 784 pixels, ``k``
codes a sample where the code takes it) on the same data (the first
``--n-train`` MNIST training images, pixels / 255) for the same optimizer
steps, in one process, on one torch thread each:

- skl_sae: ``SparseAutoencoderTransformer(n, sparsity=..., k=k,
  random_state=0)``, every other parameter at its default; it stops when its
  loss stops improving, and the epochs it ran are the budget of both;
- SAELens: its training SAE of the same kind (``TopKTrainingSAE``,
  ``BatchTopKTrainingSAE``, ``JumpReLUTrainingSAE``,
  ``MatryoshkaBatchTopKTrainingSAE``) with its library defaults (Adam at its
  trainer's 3e-4, gradients clipped to 1, AuxK coefficient 1, dead window of
  1,000 steps, decoder rows of norm 0.1), trained by
  ``benchmarks/_saelens_reference.py``, which replays SAELens's trainer step
  for step on the rows of an array, for the same number of epochs in batches
  of the same size as skl_sae's.

JumpReLU is compared at equal L0: skl_sae with ``code_params={"target_l0":
k}`` and SAELens with its ``"quadratic"`` sparsity loss and ``target_l0=k``;
skl_sae's JumpReLU at its defaults (no target) is reported too. Matryoshka
uses the same nested widths for both (skl_sae's default prefixes, 1/4 and
1/2 of the units).

For each, on the 10,000 test images: the normalized MSE (squared error over
the squared distance to the training mean), the mean number of active codes
(L0), the fraction of latents that fire on no test image (dead), and the fit
seconds. For Matryoshka also each prefix alone (the codes beyond it set to 0)
beside a BatchTopK of that width trained alone with ``k`` equal to the
prefix's measured L0 (rounded, at least 1), and the whole dictionary beside a
BatchTopK of the full width at the same ``k``.

SAELens is never a dependency of skl_sae: it is installed in an environment
of its own, from ``benchmarks/requirements-reference.txt``::

    python3.11 -m venv ../bench_envs/saelens
    ../bench_envs/saelens/bin/pip install torch==2.13.0
    echo torch==2.13.0 > /tmp/torch.txt  # held while pip resolves SAELens
    ../bench_envs/saelens/bin/pip install -c /tmp/torch.txt \\
        -r benchmarks/requirements-reference.txt
    ../bench_envs/saelens/bin/pip install -e . --no-deps

and the benchmark runs with that environment's Python (``--no-reference``
runs skl_sae alone, with any Python)::

    ../bench_envs/saelens/bin/python benchmarks/bench_reference_saes.py \\
        [--data DIR] [--n-train 20000] [--components 1024] [--k 32] \\
        [--only topk batchtopk jumprelu matryoshka] [--no-reference]
"""

import argparse
import warnings

import numpy as np
from _common import load_mnist, print_table, timed
from sklearn.exceptions import ConvergenceWarning

from skl_sae import SparseAutoencoderTransformer
from skl_sae._codes import MatryoshkaBatchTopK

KINDS = ("topk", "batchtopk", "jumprelu", "matryoshka")


def test_metrics(encode, decode, X_train, X_test):
    """``(nmse, l0, dead)`` of a model's codes of the test images."""
    codes = encode(X_test)
    total = np.sum((X_test - X_train.mean(axis=0)) ** 2)
    nmse = float(np.sum((decode(codes) - X_test) ** 2) / total)
    active = codes > 0
    return nmse, float(active.sum(axis=1).mean()), float(np.mean(~active.any(axis=0)))


def prefix_nmse(encode, decode, X_train, X_test, width):
    """Normalized MSE of the test images from their codes' first ``width`` latents."""
    codes = encode(X_test)
    codes[:, width:] = 0
    total = np.sum((X_test - X_train.mean(axis=0)) ** 2)
    return float(np.sum((decode(codes) - X_test) ** 2) / total), float(
        (codes > 0).sum(axis=1).mean()
    )


def fit_ours(X_train, n, **params):
    sae = SparseAutoencoderTransformer(n, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _, seconds = timed(sae.fit, X_train)
    return sae, seconds


def ours_codes(sae):
    return sae.transform, sae.inverse_transform


def row(library, name, metrics, seconds, epochs):
    nmse, l0, dead = metrics
    return [library, name, f"{nmse:.4f}", f"{l0:.1f}", f"{dead:.3f}", f"{seconds:.0f}", epochs]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="folder with mnist_train.npz and mnist_test.npz")
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--components", type=int, default=1024)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--only", nargs="*", choices=KINDS, default=list(KINDS))
    parser.add_argument("--no-reference", action="store_true", help="skl_sae alone")
    args = parser.parse_args(argv)
    X_train, _, X_test, _ = load_mnist(args.data, args.n_train)
    n, k = args.components, args.k
    reference = None
    if not args.no_reference:
        import _saelens_reference as reference

    print(f"MNIST: {len(X_train)} train / {len(X_test)} test images; {n} latents, k={k}\n")
    ours_params = {
        "topk": dict(sparsity="topk", k=k),
        "batchtopk": dict(sparsity="batchtopk", k=k),
        "jumprelu": dict(sparsity="jumprelu", code_params={"target_l0": k}),
        "matryoshka": dict(sparsity="matryoshka_batchtopk", k=k),
    }
    rows, matryoshka_rows = [], []
    for kind in args.only:
        sae, seconds = fit_ours(X_train, n, **ours_params[kind])
        metrics = test_metrics(*ours_codes(sae), X_train, X_test)
        name = f"{kind} target_l0={k}" if kind == "jumprelu" else f"{kind} k={k}"
        rows.append(row("skl_sae", name, metrics, seconds, sae.n_iter_))
        print("  " + " | ".join(map(str, rows[-1])), flush=True)
        if kind == "jumprelu":
            plain, plain_seconds = fit_ours(X_train, n, sparsity="jumprelu")
            plain_metrics = test_metrics(*ours_codes(plain), X_train, X_test)
            rows.append(
                row("skl_sae", "jumprelu (defaults)", plain_metrics, plain_seconds, plain.n_iter_)
            )
            print("  " + " | ".join(map(str, rows[-1])), flush=True)
        widths = []
        if kind == "matryoshka":
            prefixes = sae.code_params_["prefixes"]
            widths = MatryoshkaBatchTopK(k, prefixes=prefixes).widths(n) + [n]
        theirs = None
        if reference is not None:
            batch_rows = min(200, len(X_train))  # skl_sae's batch_size="auto" on dense rows
            options = {
                "topk": dict(k=k),
                "batchtopk": dict(k=k),
                "jumprelu": dict(
                    sae_options={"jumprelu_sparsity_loss_mode": "quadratic", "target_l0": k}
                ),
                "matryoshka": dict(k=k, matryoshka_widths=widths),
            }[kind]
            theirs = reference.train_saelens(
                X_train,
                sparsity=kind,
                n_latents=n,
                epochs=sae.n_iter_,
                batch_size=batch_rows,
                lr=reference.default_learning_rate(),
                **options,
            )
            metrics = test_metrics(theirs["encode"], theirs["decode"], X_train, X_test)
            rows.append(
                row(f"SAELens {theirs['version']}", name, metrics, theirs["seconds"], sae.n_iter_)
            )
            print("  " + " | ".join(map(str, rows[-1])), flush=True)
        for width in widths:
            nmse, l0 = prefix_nmse(*ours_codes(sae), X_train, X_test, width)
            prefix_k = max(1, round(l0)) if width < n else k
            alone, _ = fit_ours(X_train, width, sparsity="batchtopk", k=prefix_k)
            alone_nmse = test_metrics(*ours_codes(alone), X_train, X_test)[0]
            line = [
                width,
                f"{nmse:.4f}",
                f"{l0:.1f}",
                f"{alone_nmse:.4f} (k={prefix_k})",
                f"{nmse / alone_nmse - 1:+.1%}",
            ]
            if theirs is not None:
                their_nmse, their_l0 = prefix_nmse(
                    theirs["encode"], theirs["decode"], X_train, X_test, width
                )
                line += [f"{their_nmse:.4f}", f"{their_l0:.1f}"]
            matryoshka_rows.append(line)
            print("  prefix " + " | ".join(map(str, line)), flush=True)
    print()
    header = ["library", "sparsity", "test NMSE", "test L0", "dead (test)", "fit s", "epochs"]
    print_table(header, rows)
    if matryoshka_rows:
        print("\nMatryoshka prefixes, each alone (codes beyond it set to 0):\n")
        header = [
            "width",
            "skl_sae NMSE",
            "its L0",
            "BatchTopK of that width alone",
            "difference",
        ]
        if reference is not None:
            header += ["SAELens NMSE", "its L0"]
        print_table(header, matryoshka_rows)


if __name__ == "__main__":
    main()
