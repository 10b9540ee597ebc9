"""Wide sparse input (TF-IDF-like): time and memory of fit and transform.

Random CSR matrices of 50,000 columns at 0.1% density, positive values with
rows scaled to unit norm as ``TfidfVectorizer`` leaves them (float64):

- 20,000 rows, ``n_components=64, max_iter=2``;
- 100,000 rows in float32 (``TfidfVectorizer(dtype=np.float32)``: twice as
  fast), ``sparsity="topk", k=8, n_components=64, max_iter=1``.

Each case runs in a fresh process: fit seconds, transform seconds and the peak
resident memory it adds (``VmHWM``). Then the two ways a training
batch can meet the first layer, timed on one Adam step of 256 rows: the batch
densified (what ``fit`` does) and a ``torch.sparse`` COO product for the
encoder with a reconstruction error that never densifies the input.

    python benchmarks/bench_sparse.py [--cases 20000,100000]
"""

import argparse
import json
import subprocess
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from _common import measure_fit_and_transform, print_table

WIDTH, DENSITY = 50_000, 0.001
CASES = {
    20_000: {"n_components": 64, "max_iter": 2},
    100_000: {"n_components": 64, "sparsity": "topk", "k": 8, "max_iter": 1},
}


def tfidf_like(n_rows, seed=0):
    """Entries at random places (``scipy.sparse.random`` would draw them from
    a permutation of all ``n_rows * WIDTH`` places: gigabytes here)."""
    rng = np.random.default_rng(seed)
    nnz = int(n_rows * WIDTH * DENSITY)
    rows, cols = rng.integers(0, n_rows, nnz), rng.integers(0, WIDTH, nnz)
    X = sp.csr_matrix((rng.random(nnz), (rows, cols)), shape=(n_rows, WIDTH))
    X.sum_duplicates()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1))).ravel()
    return sp.diags(1 / np.maximum(norms, 1e-12)) @ X


def run_case(n_rows):
    from sklearn.exceptions import ConvergenceWarning

    from skl_sae import SparseAutoencoderTransformer

    warnings.simplefilter("ignore", ConvergenceWarning)
    X = tfidf_like(n_rows).astype(np.float64 if n_rows < 100_000 else np.float32)
    sae = SparseAutoencoderTransformer(random_state=0, **CASES[n_rows])
    measured = measure_fit_and_transform(sae, X)
    measured["data_mb"] = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20
    print(json.dumps(measured))


def step_times(batch=256, n_components=64, repeats=5):
    """Seconds of one Adam step: densified batch, sparse encoder product."""
    X = tfidf_like(batch, seed=1).tocoo()
    generator = torch.Generator().manual_seed(0)
    encoder = torch.randn(n_components, WIDTH, generator=generator, dtype=torch.float64) * 0.01
    decoder = torch.randn(WIDTH, n_components, generator=generator, dtype=torch.float64) * 0.01
    encoder.requires_grad_(), decoder.requires_grad_()
    optimizer = torch.optim.Adam([encoder, decoder])
    rows, cols = torch.from_numpy(X.row.astype(np.int64)), torch.from_numpy(X.col.astype(np.int64))
    values = torch.from_numpy(X.data)

    def densified():
        x = torch.from_numpy(X.toarray())
        reconstruction = torch.relu(x @ encoder.T) @ decoder.T
        return (reconstruction - x).pow(2).mean()

    def sparse_product():
        x = torch.sparse_coo_tensor(torch.stack([rows, cols]), values, (batch, WIDTH))
        reconstruction = torch.relu(torch.sparse.mm(x, encoder.T)) @ decoder.T
        # ||r - x||^2 = ||r||^2 - 2 <r, x> + ||x||^2, with <r, x> over x's entries only
        error = (
            reconstruction.pow(2).sum()
            - 2 * (reconstruction[rows, cols] * values).sum()
            + values.pow(2).sum()
        )
        return error / (batch * WIDTH)

    results = {}
    for name, loss in (("batch densified", densified), ("sparse encoder product", sparse_product)):
        seconds = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            optimizer.zero_grad()
            loss().backward()
            optimizer.step()
            seconds.append(time.perf_counter() - start)
        results[name] = min(seconds[1:])
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(map(str, CASES)))
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        run_case(args.case)
        return
    rows = []
    for n_rows in map(int, args.cases.split(",")):
        command = [sys.executable, __file__, "--case", str(n_rows)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        result = json.loads(output.strip().splitlines()[-1])
        params = ", ".join(f"{k}={v!r}" for k, v in CASES[n_rows].items())
        rows.append(
            [
                f"{n_rows:,} x {WIDTH:,}, {DENSITY:.1%} ({result['data_mb']:.0f} MB of CSR)",
                params,
                f"{result['fit_s']:.1f}",
                f"{result['fit_growth_mb']:.0f}",
                f"{result['transform_s']:.1f}",
                f"{result['transform_growth_mb']:.0f}",
            ]
        )
    print(f"torch threads {torch.get_num_threads()}")
    print_table(
        [
            "data",
            "parameters",
            "fit s",
            "fit peak RSS growth (MB)",
            "transform s",
            "transform peak RSS growth (MB, output aside)",
        ],
        rows,
    )
    steps = step_times()
    print()
    print_table(
        ["one Adam step, 256 rows x 50,000 -> 64, float64", "best of 5, ms"],
        [[name, f"{seconds * 1000:.0f}"] for name, seconds in steps.items()],
    )


if __name__ == "__main__":
    main()
