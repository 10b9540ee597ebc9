"""Fits on a busy machine: does the time grow in proportion to the CPU left?

On the digits (pipeline ``MinMaxScaler`` + ``SparseAutoencoderTransformer()``
+ ``LogisticRegression``), timed on a quiet machine and again beside two
CPU-bound processes (started here): a ``GridSearchCV`` over two
``n_components`` with 3 folds, with ``n_jobs=2`` and ``n_jobs=None``, and one
default fit, with torch's threads chosen as ``fit`` chooses them (one) and,
for comparison, one thread per core (as ``OMP_NUM_THREADS`` set to the cores
asks, and as every fit ran before issue 15).

    python benchmarks/bench_busy.py
"""

import os
import subprocess
import sys
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

import skl_sae._runtime
from skl_sae import SparseAutoencoderTransformer

X, y = load_digits(return_X_y=True)


def search(n_jobs):
    pipe = make_pipeline(
        MinMaxScaler(),
        SparseAutoencoderTransformer(random_state=0),
        LogisticRegression(max_iter=1000),
    )
    grid = GridSearchCV(
        pipe, {"sparseautoencodertransformer__n_components": [64, 128]}, cv=3, n_jobs=n_jobs
    )
    start = time.perf_counter()
    grid.fit(X, y)
    return time.perf_counter() - start


def single(every_core=False):
    """One default fit; ``every_core``: on one torch thread per core."""
    call_threads = skl_sae._runtime.call_threads
    if every_core:
        skl_sae._runtime.call_threads = os.cpu_count
    try:
        start = time.perf_counter()
        SparseAutoencoderTransformer(random_state=0).fit(MinMaxScaler().fit_transform(X))
        return time.perf_counter() - start
    finally:
        skl_sae._runtime.call_threads = call_threads


def measure(name):
    return [name, search(2), search(None), single(), single(every_core=True)]


def main():
    warnings.simplefilter("ignore")
    search(2)  # start the workers once
    rows = [measure("quiet")]
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    time.sleep(1)
    try:
        rows.append(measure("two CPU-bound processes beside"))
    finally:
        for burner in burners:
            burner.kill()
    print(
        "| machine | GridSearchCV(n_jobs=2) s | GridSearchCV(n_jobs=None) s "
        "| one default fit s | one fit on a thread per core s |"
    )
    print("|---|---|---|---|---|")
    for name, *seconds in rows:
        print(f"| {name} | " + " | ".join(f"{s:.2f}" for s in seconds) + " |")


if __name__ == "__main__":
    main()
