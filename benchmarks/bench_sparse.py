"""Wide sparse input (TF-IDF-like and hashed): time and memory of fit and transform.

Random CSR matrices, each case in a fresh process:

- 20,000 rows x 50,000 columns at 0.1%, positive values with rows scaled to
  unit norm as ``TfidfVectorizer`` leaves them (float64), ``n_components=64,
  max_iter=2``;
- 100,000 rows of the same in float32 (``TfidfVectorizer(dtype=np.float32)``),
  ``sparsity="topk", k=8, n_components=64, max_iter=1``;
- ``--cases 1000000``: 1,000,000 rows x 2**18 columns with about 100 signed
  non-zeros a row, as ``HashingVectorizer`` gives them (float32),
  ``n_components=64, max_iter=1``: memory should stay bounded by the CSR,
  the model with its optimizer state, and a few batches.

Every other parameter is the default: sparse rows are read through their
non-zeros (``sparsity="auto"`` takes TopK, the output is linear). Reported:
fit seconds and seconds an epoch, transform seconds and the peak resident
memory each adds (``VmHWM``), with the model's parameters and Adam's state
(three times the parameters) for scale. Then one epoch of 20,000 rows side by
side in one process: the defaults, and ``output_activation="sigmoid"`` (whose
loss densifies every batch, as every sparse fit did before the error was read
from the non-zeros).

    python benchmarks/bench_sparse.py [--cases 20000,100000,1000000]
"""

import argparse
import json
import subprocess
import sys
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from _common import measure_fit_and_transform, print_table, timed

WIDTH, DENSITY = 50_000, 0.001
HASHED_WIDTH, HASHED_PER_ROW = 2**18, 100
CASES = {
    20_000: {"n_components": 64, "max_iter": 2},
    100_000: {"n_components": 64, "sparsity": "topk", "k": 8, "max_iter": 1},
    1_000_000: {"n_components": 64, "max_iter": 1},
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


def hashed_like(n_rows, seed=0):
    """About ``HASHED_PER_ROW`` signed entries a row in ``HASHED_WIDTH``
    columns, rows of unit norm (float32), built row block by row block."""
    rng = np.random.default_rng(seed)
    blocks = []
    for start in range(0, n_rows, 100_000):
        n = min(100_000, n_rows - start)
        nnz = n * HASHED_PER_ROW
        rows = np.repeat(np.arange(n, dtype=np.int32), HASHED_PER_ROW)
        cols = rng.integers(0, HASHED_WIDTH, nnz, dtype=np.int32)
        values = rng.choice(np.float32([-1, 1]), nnz) * rng.random(nnz, dtype=np.float32)
        block = sp.csr_matrix((values, (rows, cols)), shape=(n, HASHED_WIDTH))
        block.sum_duplicates()
        norms = np.sqrt(np.asarray(block.multiply(block).sum(axis=1))).ravel()
        blocks.append((sp.diags(1 / np.maximum(norms, 1e-12)) @ block).astype(np.float32))
    return sp.vstack(blocks, format="csr")


def case_data(n_rows):
    if n_rows >= 1_000_000:
        return hashed_like(n_rows)
    return tfidf_like(n_rows).astype(np.float64 if n_rows < 100_000 else np.float32)


def run_case(n_rows):
    from sklearn.exceptions import ConvergenceWarning

    from skl_sae import SparseAutoencoderTransformer

    warnings.simplefilter("ignore", ConvergenceWarning)
    X = case_data(n_rows)
    sae = SparseAutoencoderTransformer(random_state=0, **CASES[n_rows])
    measured = measure_fit_and_transform(sae, X)
    measured["data_mb"] = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20
    measured["model_mb"] = (sae.encoder_weights_.nbytes + sae.components_.nbytes) / 2**20
    measured["epoch_s"] = measured["fit_s"] / sae.n_iter_
    measured["shape"] = X.shape
    measured["nnz_per_row"] = X.nnz / X.shape[0]
    measured["resolved"] = f"sparsity_={sae.sparsity_!r}, lr {sae.learning_rate_init_:.2g}"
    print(json.dumps(measured))


def epoch_times(n_rows=20_000):
    """Seconds of one epoch of ``n_rows`` TF-IDF-like rows (float64, 64
    units): the defaults, and a sigmoid output, whose loss densifies each batch."""
    from sklearn.exceptions import ConvergenceWarning

    from skl_sae import SparseAutoencoderTransformer

    warnings.simplefilter("ignore", ConvergenceWarning)
    X = tfidf_like(n_rows)
    results = {}
    for name, params in (
        ("defaults: the non-zeros, TopK, linear decoder", {}),
        (
            'output_activation="sigmoid", sparsity="kl": dense batches',
            {"output_activation": "sigmoid", "sparsity": "kl"},
        ),
    ):
        sae = SparseAutoencoderTransformer(64, max_iter=1, random_state=0, **params)
        results[name] = timed(sae.fit, X)[1]
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="20000,100000")
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
        n, width = result["shape"]
        rows.append(
            [
                f"{n:,} x {width:,}, {result['nnz_per_row']:.0f} non-zeros a row "
                f"({result['data_mb']:.0f} MB of CSR)",
                f"{params} ({result['resolved']})",
                f"{result['fit_s']:.1f}",
                f"{result['epoch_s']:.1f}",
                f"{result['fit_growth_mb']:.0f} ({result['fit_peak_mb']:.0f})",
                f"{result['model_mb']:.0f}",
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
            "s an epoch",
            "fit peak RSS growth (MB; peak)",
            "model (MB; Adam's state 3x)",
            "transform s",
            "transform peak RSS growth (MB, output aside)",
        ],
        rows,
    )
    print()
    print_table(
        ["one epoch, 20,000 x 50,000, 0.1%, float64, 64 units", "s"],
        [[name, f"{seconds:.1f}"] for name, seconds in epoch_times().items()],
    )


if __name__ == "__main__":
    main()
