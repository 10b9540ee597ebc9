"""Text classification through n learned features, beside scikit-learn's peers.

The corpus ships with this machine: the docstrings of NumPy, SciPy,
scikit-learn and the standard library installed here, as
``examples/plot_text_features.py`` collects them, labelled by the package
each comes from: 7,796 documents with NumPy 2.4, SciPy 1.17, scikit-learn
1.9 and Python 3.11, of which 18% numpy, 26% scipy, 17% sklearn and 40%
stdlib. Nothing is downloaded.

The pipeline is the one a new user writes, ``TfidfVectorizer(sublinear_tf=True,
min_df=2, max_features=20000, dtype=np.float32)``, then ``n`` features, then
``LogisticRegression(max_iter=1000)``, for each of, in one process:

- raw TF-IDF + LR (no features step);
- ``TruncatedSVD(n)`` + LR;
- ``NMF(n, max_iter=NMF_MAX_ITER)`` + LR (its default of 200 iterations
  capped, to keep the run short);
- ``LatentDirichletAllocation(n)`` + LR, on the term counts
  (``CountVectorizer(min_df=2, max_features=20000)``), as LDA wants;
- ``SparseAutoencoderTransformer(n)`` + LR, every parameter at its default.

Each takes ``random_state=0`` where it has one. The vectorizers are fitted on
the training documents of each split, once for all peers (what a Pipeline
would do for each); "fit s" is the features step's ``fit_transform`` on the
training rows, "LR s" the classifier's fit on its output. Over ``--splits``
stratified shuffle splits (a quarter held out): mean and standard deviation
of the test accuracy, of the fit seconds and of their ratio to
``TruncatedSVD(n)``'s on the same split, and on the held-out rows the
share of their variance that the features reconstruct,
``1 - ||X - X_hat||^2 / ||X - mean||^2`` (``X_hat = inverse_transform(
transform(X))``, ``mean`` the held-out rows' column means), for the peers
that reconstruct the TF-IDF (LDA models the counts and has no
``inverse_transform``); then the iterations (epochs) that each ran and the
warnings raised while fitting. The autoencoder runs torch on one thread (the
library's rule); scikit-learn's peers use the BLAS threads they find.

A second data set, on which no default was chosen: ``--corpus scipy``, SciPy's
docstrings labelled by their subpackage (those of 100 docstrings or more);
and ``--hashing``: ``HashingVectorizer(n_features=2**18)`` in place of the
TF-IDF (signed counts in rows of unit norm; NMF, which needs non-negative
data, is left out).

    python benchmarks/bench_text.py [--n-components 64,128] [--splits 3] [--max-docs N]
        [--corpus packages|scipy] [--hashing] [--peers TruncatedSVD,Autoencoder]

``--peers`` keeps the peers whose name contains one of its comma-separated words.
"""

import argparse
import warnings

import numpy as np
import torch
from _common import load_docstrings, print_table, timed
from sklearn.decomposition import NMF, LatentDirichletAllocation, TruncatedSVD
from sklearn.feature_extraction.text import (
    CountVectorizer,
    HashingVectorizer,
    TfidfVectorizer,
)
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedShuffleSplit, train_test_split

from skl_sae import SparseAutoencoderTransformer

NMF_MAX_ITER = 100
VECTORIZER = {"min_df": 2, "max_features": 20000}


def peers(n, hashing=False):
    """``{name: (features step, input)}``; input "tfidf" or "counts"."""
    nmf = {
        f"NMF({n}, max_iter={NMF_MAX_ITER}) + LR": (
            NMF(n, max_iter=NMF_MAX_ITER, random_state=0),
            "tfidf",
        ),
    }
    return {
        f"TruncatedSVD({n}) + LR": (TruncatedSVD(n, random_state=0), "tfidf"),
        **({} if hashing else nmf),
        f"LatentDirichletAllocation({n}) + LR, counts": (
            LatentDirichletAllocation(n, random_state=0),
            "counts",
        ),
        f"SparseAutoencoderTransformer({n}) + LR": (
            SparseAutoencoderTransformer(n, random_state=0),
            "tfidf",
        ),
    }


def vectorize(train_docs, test_docs, hashing=False):
    """``{"tfidf": (X_train, X_test), "counts": (C_train, C_test)}``, each
    vectorizer fitted on the training documents."""
    data = {}
    tfidf = TfidfVectorizer(sublinear_tf=True, dtype=np.float32, **VECTORIZER)
    if hashing:  # signed counts, rows of unit norm (its defaults)
        tfidf = HashingVectorizer(n_features=2**18, dtype=np.float32)
    for kind, vectorizer in {"tfidf": tfidf, "counts": CountVectorizer(**VECTORIZER)}.items():
        data[kind] = vectorizer.fit_transform(train_docs), vectorizer.transform(test_docs)
    return data


def held_out_r2(features, X, chunk=512):
    """``1 - ||X - X_hat||^2 / ||X - mean||^2`` of sparse ``X``, densified
    ``chunk`` rows at a time."""
    mean = np.asarray(X.mean(axis=0)).ravel()
    total = X.multiply(X).sum() - X.shape[0] * mean @ mean
    residual = 0.0
    for start in range(0, X.shape[0], chunk):
        rows = X[start : start + chunk]
        X_hat = features.inverse_transform(features.transform(rows))
        residual += np.sum((rows.toarray() - X_hat) ** 2, dtype=np.float64)
    return 1 - residual / total


def fit_peer(features, X_train, y_train, X_test, y_test):
    """One peer on one split: accuracy, seconds, iterations, warnings, R2."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if features is None:
            Z_train, Z_test, fit_s = X_train, X_test, 0.0
        else:
            Z_train, fit_s = timed(features.fit_transform, X_train)
            Z_test = features.transform(X_test)
        classifier = LogisticRegression(max_iter=1000)
        lr_s = timed(classifier.fit, Z_train, y_train)[1]
    run = {
        "accuracy": classifier.score(Z_test, y_test),
        "fit_s": fit_s,
        "lr_s": lr_s,
        "n_iter": getattr(features, "n_iter_", None),
        "warnings": sorted({type(w.message).__name__ for w in caught}),
        "r2": held_out_r2(features, X_test) if hasattr(features, "inverse_transform") else None,
    }
    if isinstance(features, SparseAutoencoderTransformer):
        run["notes"] = autoencoder_notes(features)
    return run


def report(name, run):
    r2 = "" if run["r2"] is None else f", held-out R2 {run['r2']:.3f}"
    print(
        f"  {name}: accuracy {run['accuracy']:.3f}, fit {run['fit_s']:.1f} s, "
        f"LR {run['lr_s']:.1f} s{r2}",
        flush=True,
    )
    if "notes" in run:
        print(f"    {run['notes']}", flush=True)


def autoencoder_notes(sae):
    """What the autoencoder's defaults did on this data, in one line."""
    curve = sae.loss_curve_
    return (
        f"explained_variance_ {sae.explained_variance_:.3f}, {sae.n_iter_} epochs, "
        f"loss {curve[0]:.4f} -> {curve[-1]:.4f}, feature_variance_ "
        f"{sae.feature_variance_:.1e}, output_activation_ {sae.output_activation_}, "
        f"l0_ {sae.l0_:.1f}, dead_latents_ {sae.dead_latents_:.0%}"
    )


def spread(values, digits):
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def table_rows(results):
    """One row per peer from ``{name: [result of each split]}``, with its fit
    time over ``TruncatedSVD``'s on the same split."""
    rows = []
    svd = next((runs for name, runs in results.items() if name.startswith("TruncatedSVD")), None)
    for name, runs in results.items():
        ratios = "-"
        if svd is not None and name != "raw TF-IDF + LR":
            pairs = zip(runs, svd, strict=True)
            ratios = spread([run["fit_s"] / ref["fit_s"] for run, ref in pairs], 1)
        r2 = [run["r2"] for run in runs]
        n_iter = sorted({run["n_iter"] for run in runs if run["n_iter"] is not None})
        caught = sorted({warning for run in runs for warning in run["warnings"]})
        rows.append(
            [
                name,
                spread([run["accuracy"] for run in runs], 4),
                spread([run["fit_s"] for run in runs], 2),
                ratios,
                spread([run["lr_s"] for run in runs], 1),
                "-" if r2[0] is None else spread(r2, 3),
                ", ".join(map(str, n_iter)) or "-",
                ", ".join(caught) or "none",
            ]
        )
    return rows


def load_corpus(max_docs, corpus="packages"):
    (docs, labels), seconds = timed(load_docstrings, corpus)
    if max_docs is not None and max_docs < len(docs):
        docs, _, labels, _ = train_test_split(
            docs, labels, train_size=max_docs, stratify=labels, random_state=0
        )
    names, counts = np.unique(labels, return_counts=True)
    balance = ", ".join(
        f"{name} {count} ({count / len(labels):.1%})"
        for name, count in zip(names, counts, strict=True)
    )
    print(f"{len(docs)} docstrings ({seconds:.1f} s to collect): {balance}")
    return np.array(docs, dtype=object), labels


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-components", default="64,128", help="comma-separated")
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--max-docs", type=int, help="a stratified subsample of the corpus")
    parser.add_argument("--corpus", choices=["packages", "scipy"], default="packages")
    parser.add_argument("--hashing", action="store_true", help="hashed, signed features")
    parser.add_argument("--peers", help="comma-separated parts of the peers' names to run")
    args = parser.parse_args(argv)
    wanted = None if args.peers is None else args.peers.split(",")
    sizes = [int(n) for n in args.n_components.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    docs, labels = load_corpus(args.max_docs, args.corpus)

    results = {n: {} for n in sizes}
    splitter = StratifiedShuffleSplit(args.splits, test_size=0.25, random_state=0)
    for split, (train, test) in enumerate(splitter.split(docs, labels)):
        data, seconds = timed(vectorize, docs[train], docs[test], args.hashing)
        X_train, X_test = data["tfidf"]
        print(
            f"\nsplit {split}: {X_train.shape[0]} training rows x {X_train.shape[1]} terms, "
            f"{X_train.nnz / X_train.shape[0]:.0f} non-zeros a row, "
            f"{len(test)} held out ({seconds:.1f} s to vectorize)",
            flush=True,
        )
        y_train, y_test = labels[train], labels[test]
        raw = fit_peer(None, X_train, y_train, X_test, y_test)
        report("raw TF-IDF + LR", raw)
        for n in sizes:
            results[n].setdefault("raw TF-IDF + LR", []).append(raw)
            for name, (features, kind) in peers(n, args.hashing).items():
                if wanted is not None and not any(word in name for word in wanted):
                    continue
                X_train, X_test = data[kind]
                run = fit_peer(features, X_train, y_train, X_test, y_test)
                results[n].setdefault(name, []).append(run)
                report(name, run)

    header = [
        "features",
        "test accuracy",
        "fit s",
        "fit / SVD's",
        "LR s",
        "held-out R2",
        "iterations",
        "warnings",
    ]
    for n in sizes:
        print(f"\nn = {n}, mean ± sd over {args.splits} splits:\n")
        print_table(header, table_rows(results[n]))
        for name, runs in results[n].items():
            for split, run in enumerate(runs):
                if "notes" in run:
                    print(f"\n{name}, split {split}: {run['notes']}", end="")
        print()


if __name__ == "__main__":
    main()
