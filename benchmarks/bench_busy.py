"""Fits on a busy machine: does the time grow in proportion to the CPU left?

On the digits (pipeline ``MinMaxScaler`` + ``SparseAutoencoderTransformer()``
+ ``LogisticRegression``), timed on a quiet machine and again beside two
CPU-bound processes (started here): a ``GridSearchCV`` over two
``n_components`` with 3 folds, with ``n_jobs=2`` and ``n_jobs=None``, and one
default fit, with torch's threads chosen as ``fit`` chooses them (one) and,
for comparison, one thread per core (as ``OMP_NUM_THREADS`` set to the cores
asks, and as every fit ran before issue 15).

Then the cost of one thread on an idle machine: default fits on one thread
and on one per core, alternating, each kept only if no other process was
runnable before and after it (a shared machine is seldom quiet for a whole
grid search), until ``--quiet-runs`` of each are kept.

    python benchmarks/bench_busy.py [--quiet-runs 7]
"""

import argparse
import math
import os
import statistics
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


def others_running():
    """Threads of other processes running or runnable now: Linux's
    /proc/loadavg less this process's threads in state R."""
    time.sleep(0.05)  # torch's workers stop spinning
    with open("/proc/loadavg") as loadavg:
        running = int(loadavg.read().split()[3].split("/")[0])
    own = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/stat") as stat:
                own += stat.read().rsplit(")", 1)[1].split()[0] == "R"
        except OSError:  # the thread ended meanwhile
            continue
    return running - max(own, 1)


def quiet_singles(runs, max_tries=100):
    """Times of default fits on one thread and on one per core, alternating,
    kept where no other process ran before or after the fit."""
    kept = {False: [], True: []}
    for _ in range(max_tries):
        if min(len(times) for times in kept.values()) >= runs:
            break
        for every_core in kept:
            quiet = others_running() <= 0
            seconds = single(every_core)
            if quiet and others_running() <= 0:
                kept[every_core].append(seconds)
    return kept


def measure(name):
    return [name, search(2), search(None), single(), single(every_core=True)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quiet-runs", type=int, default=7)
    args = parser.parse_args(argv)
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
    kept = quiet_singles(args.quiet_runs)
    print(f"\nOne default fit with no other process running, {os.cpu_count()} cores:\n")
    print("| torch threads | quiet runs | min s | median s |")
    print("|---|---|---|---|")
    for every_core, times in kept.items():
        threads = f"{os.cpu_count()} (one per core)" if every_core else "1 (the rule)"
        low, mid = (min(times), statistics.median(times)) if times else (math.nan, math.nan)
        print(f"| {threads} | {len(times)} | {low:.2f} | {mid:.2f} |")


if __name__ == "__main__":
    main()
