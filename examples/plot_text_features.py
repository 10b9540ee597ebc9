"""
Text features: a TopK autoencoder on TF-IDF
===========================================

A sparse autoencoder learns features of text as readily as of pixels. Here
the documents are the docstrings of the scientific Python stack installed
next to this package: those of the public modules, classes, functions and
methods of NumPy, SciPy, scikit-learn and the Python standard library, one
document per docstring. They are on every machine that runs this example,
so nothing is downloaded; how many there are depends on the installed
versions (about 7,800 with NumPy 2.4, SciPy 1.17, scikit-learn 1.9 and
Python 3.11).

A :class:`~sklearn.feature_extraction.text.TfidfVectorizer` turns them into
a sparse matrix, a TopK autoencoder (``sparsity="topk"``) encodes each
document with ``k`` active features out of ``n_components``, and each
feature reads as a topic through the terms its decoder atom adds.
"""

# %%
# The corpus: docstrings of NumPy, SciPy, scikit-learn and the standard library
# -----------------------------------------------------------------------------
# The modules are found with :mod:`pkgutil` and imported in a fixed order.
# Private modules, tests and the modules that open windows or a web browser
# on import are skipped, as are the modules that fail to import or to be
# read (those of other platforms, say). What the imports print or warn, and
# the deprecation warnings of reading some objects' docstrings, are silenced
# inside ``docstrings`` only. The f2py wrappers of Fortran code (BLAS,
# LAPACK, ...) are left out too: their docstrings are hundreds of
# near-identical call signatures. Duplicates and docstrings under 80
# characters are dropped.
import contextlib
import importlib
import inspect
import io
import pkgutil
import sys
import warnings
from collections import Counter
from time import perf_counter

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from skl_sae import SparseAutoencoderTransformer

SKIPPED = {
    # windows, turtles, browsers and easter eggs
    *{"antigravity", "idlelib", "tkinter", "turtle", "turtledemo", "this"},
    # terminal state, deprecated packages that write files or patch imports
    *{"readline", "rlcompleter", "lib2to3", "distutils"},
    # tests, vendored copies of other projects, ~100 generated codec modules
    *{"test", "tests", "testing", "conftest", "externals", "encodings"},
}


def is_public(module_name):
    parts = module_name.split(".")
    return not any(part.startswith("_") or part in SKIPPED for part in parts)


def public_modules(packages):
    """Names of the public modules of ``packages``, sorted; packages are imported."""
    names = []
    for package in packages:
        names.append(package)
        with contextlib.suppress(Exception):
            path = importlib.import_module(package).__path__
            walk = pkgutil.walk_packages(path, f"{package}.", onerror=lambda name: None)
            names += [info.name for info in walk]
    return sorted(filter(is_public, names))


def documented_objects(module):
    """The module, its public classes, functions and documented objects (e.g.
    ufuncs, ``scipy.stats.norm``) and their classes' methods, by name."""
    yield module.__name__, module
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or inspect.ismodule(obj) or type(obj).__name__ == "fortran":
            continue
        if inspect.isclass(obj) or inspect.isroutine(obj) or obj.__doc__ is not type(obj).__doc__:
            yield f"{module.__name__}.{name}", obj
        if inspect.isclass(obj):
            for method, function in sorted(vars(obj).items()):
                if not method.startswith("_") and inspect.isroutine(function):
                    yield f"{module.__name__}.{name}.{method}", function


def docstrings(packages, min_length=80):
    """``(names, docs)``: one distinct docstring per object, in a fixed order."""
    names, docs, seen = [], [], set()
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")  # deprecated modules warn on import or on access
        for module_name in public_modules(packages):
            try:
                module = importlib.import_module(module_name)
                found = [(name, obj.__doc__) for name, obj in documented_objects(module)]
            except Exception:  # e.g. the modules of other platforms
                continue
            for name, doc in found:
                doc = inspect.cleandoc(doc) if isinstance(doc, str) else ""
                if len(doc) >= min_length and doc not in seen:
                    seen.add(doc)
                    names.append(name)
                    docs.append(doc)
    return names, docs


start = perf_counter()
stdlib = sorted(name for name in sys.stdlib_module_names if is_public(name))
names, docs = docstrings(["numpy", "scipy", "sklearn", *stdlib])
print(f"{len(docs)} docstrings in {perf_counter() - start:.1f} s")
by_package = Counter(name.split(".")[0] for name in names)
for package in ["numpy", "scipy", "sklearn"]:
    version = importlib.import_module(package).__version__
    print(f"{package} {version}: {by_package[package]} docstrings")
stdlib_count = sum(count for package, count in by_package.items() if package in stdlib)
print(f"Python {sys.version.split()[0]} standard library: {stdlib_count} docstrings")

# %%
# TF-IDF
# ------
# Words of three letters or more, without English stop words, in at least 5
# docstrings and at most 10% of them (words such as "array", "default" or
# "returns" are in almost every docstring and tell topics apart poorly), the
# 3,000 most frequent of them; ``sublinear_tf`` damps the words that a long
# docstring repeats. float32 halves the memory of every batch.
vectorizer = TfidfVectorizer(
    token_pattern=r"(?u)\b[a-zA-Z]{3,}\b",
    stop_words="english",
    min_df=5,
    max_df=0.1,
    max_features=3000,
    sublinear_tf=True,
    dtype=np.float32,
)
X = vectorizer.fit_transform(docs)
terms = vectorizer.get_feature_names_out()
density = X.nnz / (X.shape[0] * X.shape[1])
print(f"TF-IDF matrix: {X.shape[0]} documents x {X.shape[1]} terms, {density:.2%} non-zero")

# %%
# A TopK autoencoder on the sparse matrix
# ---------------------------------------
# Each docstring is encoded by its ``k = 8`` strongest features out of 96.
# The sparse matrix goes to ``fit`` as it is: batches of its rows are read
# through their non-zeros, never densified. On a sparse matrix ``"auto"``
# takes TopK codes and a linear decoder, and a step size for the width
# (``sparsity_``, ``output_activation_`` and ``learning_rate_init_`` say
# what it chose).
sae = SparseAutoencoderTransformer(96, k=8, random_state=0)
start = perf_counter()
sae.fit(X)
print(f"fit in {perf_counter() - start:.1f} s: {sae.n_iter_} epochs")
print(
    f"sparsity_={sae.sparsity_!r}, output_activation_={sae.output_activation_!r}, "
    f"learning_rate_init_={sae.learning_rate_init_:.1e}"
)
print(
    f"explained variance {sae.explained_variance_:.2f}, "
    f"active features per document {sae.l0_:.0f}, dead features {sae.dead_latents_:.0%}"
)

# %%
# What each feature adds: its decoded one-hot code
# ------------------------------------------------
# ``inverse_transform`` of a one-hot code decodes one feature alone, with the
# decoder bias, the decoded zero code, added as to every code. Subtracting
# the decoded zero code leaves what the feature adds, its atom: with the
# linear decoder of the sparse codes, exactly its row of ``components_``.
# The decoded one-hot codes themselves would rank nearly the same terms
# first on this corpus, where the bias is small; but a code of 1 is several
# times a typical active code, and at a code's usual size the bias, the same
# generic words for every feature, would weigh more. The difference does
# not depend on the size chosen. The largest entries of an atom are the
# feature's top terms.
n_components = sae.components_.shape[0]
zero = sae.inverse_transform(np.zeros((1, n_components), dtype=np.float32))[0]
atoms = sae.inverse_transform(np.eye(n_components, dtype=np.float32)) - zero
top_terms = np.argsort(-atoms, axis=1)[:, :10]
codes = sae.transform(X)
print(f"median active code: {np.median(codes[codes > 0]):.2f}")
print(f"decoder bias, largest entries: {' '.join(terms[np.argsort(-zero)[:6]])}")


def describe(feature, n_terms=6):
    return " ".join(terms[top_terms[feature, :n_terms]])


# %%
# The features that fire most
# ---------------------------
# ``feature_density_`` is the share of the documents each feature encoded
# during the last epoch. The twelve most frequent, with their top terms:
by_density = np.argsort(-sae.feature_density_)
fig, axes = plt.subplots(3, 4, figsize=(12, 8.5))
for ax, feature in zip(axes.flat, by_density[:12], strict=True):
    ax.barh(terms[top_terms[feature]][::-1], atoms[feature, top_terms[feature]][::-1])
    ax.set_title(f"feature {feature} ({sae.feature_density_[feature]:.0%} of docs)", fontsize=9)
    ax.tick_params(labelsize=8)
fig.suptitle("Top terms of the most frequent features")
fig.supxlabel("weight of the term in the feature's atom")
fig.tight_layout()

# %%
# More features, as text: the next ones by frequency.
for feature in by_density[12:40]:
    print(f"{feature:3d} {sae.feature_density_[feature]:5.1%}  {describe(feature)}")

# %%
# The features of a few docstrings
# --------------------------------
# ``transform`` gave each document its ``k`` active features; here the four
# strongest of some well-known names.
for name in [
    "numpy.fft.fft",
    "scipy.stats.norm",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "json.dumps",
]:
    if name in names:
        code = codes[names.index(name)]
        active = np.argsort(-code)[: sae.k]
        print(f"{name}:")
        for feature in active[code[active] > 0][:4]:
            print(f"    {feature:3d} {describe(feature, 5)}")

# %%
# Compared with TruncatedSVD
# --------------------------
# Latent semantic analysis, :class:`~sklearn.decomposition.TruncatedSVD` on
# the same matrix, gives each document 96 dense coordinates on orthogonal
# components ordered by variance. After the first, the components mix
# positive and negative terms of unrelated topics, and their weight spreads
# over many terms: the ten top terms hold a smaller share of an SVD
# component's squared norm than of a TopK atom's.
svd = TruncatedSVD(96, random_state=0).fit(X)
for component in range(1, 6):
    order = np.argsort(svd.components_[component])
    print(f"component {component}:  + {' '.join(terms[order[:-6:-1]])}")
    print(f"{'':14}- {' '.join(terms[order[:5]])}")


def top_share(rows, n_terms=10):
    """Mean share of each row's squared norm in its ``n_terms`` largest entries."""
    squares = rows**2 / np.sum(rows**2, axis=1, keepdims=True)
    return np.mean(np.sort(squares, axis=1)[:, -n_terms:].sum(axis=1))


print(f"ten top terms' share: TopK atoms {top_share(atoms):.0%}, ", end="")
print(f"SVD components {top_share(svd.components_):.0%}")

# %%
# Classifying docstrings through a Pipeline
# -----------------------------------------
# Which package does a docstring come from? A
# :class:`~sklearn.pipeline.Pipeline` learns the TF-IDF, 64 features and a
# logistic regression on three quarters of the documents and is scored on
# the rest, beside the same pipeline with 64 SVD components. Both feature
# steps keep their defaults; ``benchmarks/bench_text.py`` runs this
# comparison over three splits, with NMF and LDA too.
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

packages = np.array([n.split(".")[0] if n.split(".")[0] in by_package else "" for n in names])
labels = np.where(np.isin(packages, ["numpy", "scipy", "sklearn"]), packages, "stdlib")
docs_train, docs_test, y_train, y_test = train_test_split(
    np.array(docs, dtype=object), labels, test_size=0.25, stratify=labels, random_state=0
)
for features in [
    SparseAutoencoderTransformer(64, random_state=0),
    TruncatedSVD(64, random_state=0),
]:
    pipe = make_pipeline(
        TfidfVectorizer(sublinear_tf=True, min_df=2, max_features=20000, dtype=np.float32),
        features,
        LogisticRegression(max_iter=1000),
    )
    start = perf_counter()
    pipe.fit(docs_train, y_train)
    seconds = perf_counter() - start
    print(f"{type(features).__name__}(64): accuracy {pipe.score(docs_test, y_test):.3f}, ", end="")
    print(f"fitted in {seconds:.1f} s")
plt.show()
