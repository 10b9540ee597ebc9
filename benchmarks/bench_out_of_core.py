"""Data larger than memory: fit and transform streamed from a memory map.

Two files, made once from MNIST's training images (tiled, each copy shifted by
a random pixel offset so that no two rows are equal):

- 2,000,000 x 784 uint8 (1.5 GB on disk), fitted by a float32 network
  (``compute_dtype``'s default) and transformed in float64 (as ``check_array``
  would convert the integers);
- 1,000,000 x 784 float32 (3 GB on disk), computed in float32.

For each, one epoch of ``SparseAutoencoderTransformer(n_components=64)`` and
``transform`` (the best of three), each in a fresh process: the peak resident memory it adds
(``VmHWM``, reset between the two; the transform's output array aside) and rows per
second. The same fit and transform on the first ``--ram-rows`` rows, streamed
and in memory (converted as ``check_array`` converts them), compare the two
on the same rows.

    python benchmarks/bench_out_of_core.py [--data DIR] [--dir /tmp/skl_sae_bench]
        [--ram-rows 250000] [--device cpu]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from _common import load_mnist, measure_fit_and_transform, print_table

FILES = {"uint8": (2_000_000, np.uint8), "float32": (1_000_000, np.float32)}


def make_file(path, n_rows, dtype, data):
    """Write ``n_rows`` shifted MNIST images to ``path`` in chunks."""
    images = load_mnist(data)[0].reshape(-1, 28, 28)
    rng = np.random.default_rng(0)
    rows = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n_rows, 784))
    for start in range(0, n_rows, len(images)):
        stop = min(start + len(images), n_rows)
        shifted = np.roll(images, rng.integers(-2, 3, size=2), axis=(1, 2))[: stop - start]
        chunk = shifted.reshape(-1, 784)
        rows[start:stop] = (chunk * 255).round() if dtype == np.uint8 else chunk
    rows.flush()
    del rows


def run_case(path, mode, ram_rows, device):
    """One fit (one epoch) and one transform; print a JSON line of measures."""
    from sklearn.exceptions import ConvergenceWarning

    from skl_sae import SparseAutoencoderTransformer

    warnings.simplefilter("ignore", ConvergenceWarning)
    X = np.load(path, mmap_mode="r")
    if mode == "prefix":
        X = X[:ram_rows]
    if mode == "memory":
        X = np.array(X[:ram_rows], dtype=np.float32 if X.dtype == np.float32 else np.float64)
    sae = SparseAutoencoderTransformer(64, max_iter=1, random_state=0, device=device)
    measured = measure_fit_and_transform(sae, X, transform_repeats=3)
    rows = X.shape[0]
    print(
        json.dumps(
            {
                "fit_rows_per_s": rows / measured["fit_s"],
                "transform_rows_per_s": rows / measured["transform_s"],
                "fit_growth_mb": measured["fit_growth_mb"],
                "transform_growth_mb": measured["transform_growth_mb"],
            }
        )
    )


def measure(path, mode, ram_rows, device):
    command = [sys.executable, __file__, "--case", str(path), mode, str(ram_rows), device]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="folder of mnist_train.npz")
    parser.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "skl_sae_bench"))
    parser.add_argument("--ram-rows", type=int, default=250_000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--case", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        path, mode, ram_rows, device = args.case
        run_case(path, mode, int(ram_rows), device)
        return
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    table = []
    for name, (n_rows, dtype) in FILES.items():
        path = folder / f"mnist_{name}_{n_rows}.npy"
        if not path.exists():
            make_file(path, n_rows, dtype, args.data)
        size_gb = path.stat().st_size / 1e9
        streamed = measure(path, "memmap", args.ram_rows, args.device)
        prefix = measure(path, "prefix", args.ram_rows, args.device)
        in_memory = measure(path, "memory", args.ram_rows, args.device)
        for stage in ("fit", "transform"):
            rate = streamed[f"{stage}_rows_per_s"]
            prefix_rate = prefix[f"{stage}_rows_per_s"]
            ram_rate = in_memory[f"{stage}_rows_per_s"]
            table.append(
                [
                    f"{n_rows:,} x 784 {name} ({size_gb:.1f} GB)",
                    stage,
                    f"{streamed[f'{stage}_growth_mb']:.0f}",
                    f"{rate:,.0f}",
                    f"{prefix_rate:,.0f}",
                    f"{ram_rate:,.0f}",
                    f"{ram_rate / prefix_rate:.2f}",
                ]
            )
    print(f"device: {args.device}; first rows: the first {args.ram_rows:,}")
    print_table(
        [
            "memory map",
            "one pass of",
            "peak RSS growth (MB)",
            "rows/s, whole file streamed",
            "rows/s, first rows streamed",
            "rows/s, first rows in memory",
            "in memory / streamed (first rows)",
        ],
        table,
    )


if __name__ == "__main__":
    main()
