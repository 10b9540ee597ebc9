"""MNIST anomaly detection: train on one digit, find the other nine.

For each digit d, every detector is fitted on the training images of d
(pixels / 255) and scores the 10k test images; the ROC AUC measures how well
its scores rank the test images of d above all others. The table gives the
mean AUC over the ten tasks and the summed fit + scoring time, all in one
process.

    python benchmarks/bench_mnist_outliers.py [--data DIR] [--n-train N]
"""

import argparse
import warnings

import numpy as np
from _common import load_mnist, print_table, timed
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.svm import OneClassSVM

from skl_sae import SparseAutoencoderOutlierDetector


class PCAReconstruction:
    """Negative PCA reconstruction error as an inlier score."""

    def __init__(self, n_components):
        self.n_components = n_components

    def fit(self, X):
        self.pca_ = PCA(self.n_components, random_state=0).fit(X)
        return self

    def score_samples(self, X):
        reconstruction = self.pca_.inverse_transform(self.pca_.transform(X))
        return -np.mean((reconstruction - X) ** 2, axis=1)


def detectors():
    return {
        "SparseAutoencoderOutlierDetector()": SparseAutoencoderOutlierDetector(random_state=0),
        "SparseAutoencoderOutlierDetector(code_weight=0): reconstruction error alone": (
            SparseAutoencoderOutlierDetector(code_weight=0.0, random_state=0)
        ),
        "IsolationForest": IsolationForest(random_state=0),
        "PCA(32) reconstruction error": PCAReconstruction(32),
        "LocalOutlierFactor(novelty=True)": LocalOutlierFactor(novelty=True),
        "OneClassSVM()": OneClassSVM(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="folder with mnist_train.npz and mnist_test.npz")
    parser.add_argument("--n-train", type=int, default=None, help="first N training images")
    args = parser.parse_args(argv)
    X_train, y_train, X_test, y_test = load_mnist(args.data, args.n_train)
    aucs = {name: [] for name in detectors()}
    seconds = dict.fromkeys(aucs, 0.0)
    for digit in range(10):
        for name, detector in detectors().items():

            def run(detector=detector, X=X_train[y_train == digit]):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    detector.fit(X)
                return detector.score_samples(X_test)

            scores, elapsed = timed(run)
            aucs[name].append(roc_auc_score(y_test == digit, scores))
            seconds[name] += elapsed
        print(f"digit {digit}: " + ", ".join(f"{aucs[n][-1]:.3f}" for n in aucs), flush=True)
    print()
    rows = [
        [name, f"{np.mean(aucs[name]):.3f}", f"{min(aucs[name]):.3f}", f"{seconds[name]:.0f}"]
        for name in aucs
    ]
    print_table(["detector", "mean ROC AUC", "worst digit", "seconds (10 tasks)"], rows)


if __name__ == "__main__":
    main()
