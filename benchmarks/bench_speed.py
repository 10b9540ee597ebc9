"""Fit speed of SparseAutoencoderTransformer against a plain PyTorch loop.

Same model (784 -> n_components sigmoid -> 784 sigmoid), same loss (scaled
MSE + KL sparsity + weight decay), same data, batch size, epochs, optimizer
and thread count, in one process, alternating runs; the hand-written loop is
timed alone and followed by the diagnostics pass that skl_sae's fit ends with. Also reports GFLOP/s
against the machine's measured float32 matmul rate, and transform
throughput with peak memory.

    python benchmarks/bench_speed.py [--data DIR] [--n-train 60000] [--epochs 2]
"""

import argparse
import statistics
import time
import warnings

import torch
from _common import load_mnist, print_table, timed
from sklearn.exceptions import ConvergenceWarning

from skl_sae import SparseAutoencoderTransformer


def plain_torch_fit(X, n_components, epochs, batch_size, lr, beta, rho, alpha, seed):
    """The loop a PyTorch user would write by hand for the same model."""
    g = torch.Generator().manual_seed(seed)
    x_all = torch.from_numpy(X)
    n, d = x_all.shape
    enc = torch.nn.Linear(d, n_components)
    dec = torch.nn.Linear(n_components, d)
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    scale = float(X.var(axis=0).mean())
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        for start in range(0, n, batch_size):
            x = x_all[order[start : start + batch_size]]
            h = torch.sigmoid(enc(x))
            x_hat = torch.sigmoid(dec(h))
            rho_hat = h.mean(0).clamp(1e-6, 1 - 1e-6)
            kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
            loss = (
                (x_hat - x).pow(2).mean() / scale
                + beta * kl.mean()
                + alpha * 0.5 * (enc.weight.pow(2).sum() + dec.weight.pow(2).sum())
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return enc, dec


@torch.no_grad()
def plain_torch_diagnostics(enc, dec, X, batch_size=8192):
    """The pass over the training data that ``fit`` ends with: how often each
    unit fires (h > 1/2) and the fraction of variance explained."""
    x_all = torch.from_numpy(X)
    fired = torch.zeros(enc.out_features, dtype=torch.float64)
    squared_error = 0.0
    for start in range(0, x_all.shape[0], batch_size):
        x = x_all[start : start + batch_size]
        h = torch.sigmoid(enc(x))
        fired += (h > 0.5).sum(0)
        squared_error += float((torch.sigmoid(dec(h)) - x).pow(2).sum())
    return fired / x_all.shape[0], 1 - squared_error / float(X.var(axis=0).sum() * X.shape[0])


def matmul_gflops(m, k, n, repeats=20):
    """Measured float32 matmul rate for an (m, k) @ (k, n) product."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * m * k * n * repeats / (time.perf_counter() - start) / 1e9


def peak_rss_during(function):
    """``(result, peak RSS increase in MiB)`` where Linux lets us reset the peak."""

    def status(key):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(key))

    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return function(), float("nan")
    before = status("VmRSS:")
    result = function()
    return result, (status("VmHWM:") - before) / 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data")
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--n-components", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)
    X, _, _, _ = load_mnist(args.data, args.n_train)
    n, d = X.shape
    k = args.n_components
    common = dict(lr=1e-3, beta=3.0, rho=0.05, alpha=1e-5)
    threads = torch.get_num_threads()

    def ours():
        sae = SparseAutoencoderTransformer(
            k,
            max_iter=args.epochs,
            batch_size=args.batch_size,
            learning_rate_init=common["lr"],
            sparsity_weight=common["beta"],
            sparsity_target=common["rho"],
            alpha=common["alpha"],
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return sae.fit(X)

    def plain():
        return plain_torch_fit(X, k, args.epochs, args.batch_size, seed=0, **common)

    def plain_and_diagnostics():
        enc, dec = plain()
        return plain_torch_diagnostics(enc, dec, X)

    # skl_sae's fit ends with one inference pass over the training data for
    # l0_, feature_density_, dead_latents_ and explained_variance_; the third
    # row adds the same pass to the hand-written loop.
    runs = {
        "skl_sae": ours,
        "plain torch": plain,
        "plain torch + the same diagnostics pass": plain_and_diagnostics,
    }
    times = {name: [] for name in runs}
    for _ in range(args.repeats):  # alternate so drift in machine load hits all
        for name, run in runs.items():
            times[name].append(timed(run)[1])
    # Five (n, d, k) matmuls per epoch: encoder and decoder forward, the
    # decoder's two gradients and the encoder's weight gradient.
    flops = 10 * n * d * k * args.epochs
    peak_big = matmul_gflops(2048, 2048, 2048)
    peak_same = matmul_gflops(args.batch_size, d, k)
    print(
        f"MNIST {n} x {d} -> {k}, {args.epochs} epochs, batch {args.batch_size}, "
        f"Adam, torch threads {threads}; float32 matmul: {peak_big:.1f} GFLOP/s (2048^3), "
        f"{peak_same:.1f} GFLOP/s ({args.batch_size}x{d}x{k})\n"
    )
    base = statistics.median(times["plain torch"])
    rows = []
    for name, runs in times.items():
        t = statistics.median(runs)
        gflops = flops / t / 1e9
        rows.append(
            [
                name,
                f"{t:.2f}",
                f"{t / base:.3f}",
                f"{gflops:.1f}",
                f"{gflops / peak_big:.0%}",
                ", ".join(f"{r:.2f}" for r in runs),
            ]
        )
    print_table(
        ["fit", "median s", "ratio to plain", "GFLOP/s", "of matmul peak", "runs (s)"], rows
    )

    sae = SparseAutoencoderTransformer(256, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sae.fit(X)
    sae.transform(X[:1000])  # warm up
    seconds = statistics.median(timed(sae.transform, X)[1] for _ in range(args.repeats))
    codes, peak = peak_rss_during(lambda: sae.transform(X))
    print()
    print_table(
        ["transform", "median s", "rows/s", "peak extra memory (MiB)", "output (MiB)"],
        [
            [
                f"{n} x {d} -> 256 ({X.dtype})",
                f"{seconds:.3f}",
                f"{n / seconds:,.0f}",
                f"{peak:.0f}",
                f"{codes.nbytes / 2**20:.0f}",
            ]
        ],
    )


if __name__ == "__main__":
    main()
