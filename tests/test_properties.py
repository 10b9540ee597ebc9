"""The contract of every public call on any input, as property-based tests.

For generated data (0 to 12 rows and 0 to 5 columns; float64, float32,
float16, integers, booleans, complex, objects holding numbers or strings;
NaN and infinities at random places; magnitudes from 1e-300 to 5e307; numpy
arrays, memory maps, lists, 1-D and 3-D arrays, scipy's CSR, CSC and COO
matrices and arrays, pandas frames of mixed columns) and generated
parameters, in and out of their constraints, each public estimator is
fitted and then called a few times (``fit``, ``partial_fit``, ``transform``,
``predict``, ...; the classifier's labels are generated too). Every call
either

- succeeds, with finite outputs of the documented shape and dtype (and,
  for a fit, finite fitted attributes), or
- raises a ValueError or TypeError (``NotFittedError`` before a fit) with a
  message, from a ``raise`` statement of skl_sae or scikit-learn, or from
  scikit-learn's input validation: the estimator's own checks, never an
  error of torch, numpy or pandas inside skl_sae. The traceback is read by
  the module of each frame, not by its file's path;

and a call that raises leaves the estimator exactly as it was: the same
attributes holding the same objects, the same arrays and the same outputs.

Each generated case is one estimator: its parameters, then one to five
calls. The seed is fixed (``derandomize=True``): every run generates the
same cases. Profiles (registered in ``tests/conftest.py``), timed on 2 cores:

- ``small``, the default run (``python -m pytest tests/test_properties.py``):
  100 cases per estimator, 500 in all, in about 13 s;
- ``ci``, the slow test (``python -m pytest -m slow tests/test_properties.py``):
  1,000 cases per estimator, 5,000 in all, in about 2 minutes.

``--hypothesis-show-statistics`` shows how often each call succeeded or raised.
"""

import linecache
import tempfile
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_array
from variants import sparsities

from skl_sae import (
    ConvolutionalSparseAutoencoderTransformer,
    SparseAutoencoderImputer,
    SparseAutoencoderOutlierDetector,
    SparseAutoencoderTransformer,
    StackedSparseAutoencoderClassifier,
)

# -- generated data ---------------------------------------------------------------

#: Half the generated inputs are clean: at least 2 rows and a column of
#: ordinary numbers, so that most fits succeed and the calls after them run.
#: The others may be anything.
CLEAN_DTYPES = ["float64", "float32", "float16", "int64", "uint8", "bool", "object"]
DTYPES = [*CLEAN_DTYPES, "int8", "complex128", "strings"]  # strings: objects, some of them str
#: Magnitudes up to the ends of float64 (and beyond those of float32 and float16).
MAGNITUDES = [1.0, 1e-300, 1e-30, 1e-5, 1e5, 1e18, 1e30, 1e40, 1e150, 1e300, 5e307]
SPECIALS = [np.nan, np.inf, -np.inf]
CLEAN_CONTAINERS = ["ndarray", "ndarray", "list", "memmap", "csr", "csc", "coo", "frame"]
CONTAINERS = [*CLEAN_CONTAINERS, "1d", "3d"]
SPARSE = ("csr", "csc", "coo")
#: Where the memory maps live (removed at exit).
MEMMAPS = tempfile.TemporaryDirectory(prefix="skl_sae_test_properties_")
CLEAN_COLUMNS = ["float64", "float32", "int64", "bool"]
FRAME_COLUMNS = [*CLEAN_COLUMNS, "Int64", "category", "strings"]


def _values(rng, n_rows, n_cols, dtype, magnitude, n_special, specials=SPECIALS):
    """A dense ndarray of ``dtype``: normal values times ``magnitude``, with
    ``n_special`` of ``specials`` at random places (in float dtypes)."""
    values = rng.normal(size=(n_rows, n_cols)) * magnitude
    if n_special and values.size:
        places = rng.integers(values.size, size=n_special)
        values.flat[places] = rng.choice(specials, size=n_special)
    if dtype in ("object", "strings"):
        values = values.astype(object)
        if dtype == "strings" and values.size:
            values.flat[rng.integers(values.size)] = "a"
        return values
    if np.dtype(dtype).kind in "iub":
        finite = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        if np.dtype(dtype).kind == "b":
            return finite > 0
        info = np.iinfo(dtype)
        return np.clip(finite, info.min, info.max).astype(dtype)
    with np.errstate(over="ignore"):  # beyond float32 and float16: infinite
        return values.astype(dtype)


def _frame(rng, values, names, kinds):
    """A pandas frame of columns of ``kinds`` (drawn at random), made from ``values``."""
    columns = {}
    for j, name in enumerate(names):
        kind = kinds[rng.integers(len(kinds))]
        column = np.asarray(pd.to_numeric(pd.Series(values[:, j]), errors="coerce"), float)
        if kind in ("float64", "float32"):
            column = pd.Series(column).astype(kind)
        elif kind == "int64":
            column = pd.Series(np.nan_to_num(column, posinf=0, neginf=0).astype(np.int64))
        elif kind == "bool":
            column = pd.Series(column > 0)
        elif kind == "Int64":
            column = pd.Series(
                [int(np.clip(v, -1e9, 1e9)) if np.isfinite(v) else pd.NA for v in column],
                dtype="Int64",
            )
        elif kind == "category":
            column = pd.Series(pd.Categorical(np.where(column > 0, "x", "y")))
        else:
            column = pd.Series(np.where(column > 0, "u", column).astype(object))
        columns[name] = column
    return pd.DataFrame(columns, index=range(values.shape[0]))


def _numbers(values):
    """``values`` with objects as float64 (strings as NaN): for memory maps
    and sparse matrices, which hold numbers only."""
    if values.dtype.kind != "O":
        return values
    numbers = pd.to_numeric(pd.Series(values.ravel()), errors="coerce").to_numpy()
    return numbers.astype(np.float64).reshape(values.shape)


@st.composite
def matrices(draw, n_cols=None, missing=False, sparse=True):
    """Inputs ``X``: clean ones, or of any kind, shape, dtype and magnitude.
    With ``missing``, clean inputs have NaN at random places; without
    ``sparse``, they are dense (both for the imputer)."""
    clean = draw(st.booleans())
    if clean:
        n_rows = draw(st.integers(2, 12))
        n_cols = draw(st.integers(1, 5)) if n_cols is None else n_cols
        dtype = draw(st.sampled_from(CLEAN_DTYPES))
        magnitude = 1.0
        n_special = draw(st.integers(0, 4)) if missing else 0
        containers = [kind for kind in CLEAN_CONTAINERS if sparse or kind not in SPARSE]
        container = draw(st.sampled_from(containers))
    else:
        n_rows = draw(st.integers(0, 12) | st.sampled_from([0, 1]))
        n_cols = draw(st.integers(0, 5) | st.sampled_from([0, 1])) if n_cols is None else n_cols
        dtype = draw(st.sampled_from(DTYPES))
        magnitude = draw(st.sampled_from(MAGNITUDES))
        n_special = draw(st.sampled_from([0, 1, 3]))
        container = draw(st.sampled_from(CONTAINERS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    specials = [np.nan] if clean else SPECIALS
    values = _values(rng, n_rows, n_cols, dtype, magnitude, n_special, specials)
    if container == "list":
        return values.tolist()
    if container == "memmap":
        path = Path(MEMMAPS.name) / f"{rng.integers(2**63)}.npy"
        np.save(path, _numbers(values))
        return np.load(path, mmap_mode="r")
    if container in SPARSE:
        values = _numbers(values)
        if values.dtype == np.float16:  # which scipy.sparse does not hold
            values = values.astype(np.float32)
        values = np.where(rng.random(values.shape) < 0.5, 0, values).astype(values.dtype)
        matrix = draw(st.booleans())  # scipy's sparse matrices, or its sparse arrays
        kinds = {
            "csr": sp.csr_matrix if matrix else sp.csr_array,
            "csc": sp.csc_matrix if matrix else sp.csc_array,
            "coo": sp.coo_matrix if matrix else sp.coo_array,
        }
        return kinds[container](values)
    if container == "frame":
        names = [[f"f{j}" for j in range(n_cols)], list(range(n_cols))]
        if not clean:
            names.append(["a", *range(1, n_cols)][:n_cols])  # mixed names: refused
        kinds = CLEAN_COLUMNS if clean else FRAME_COLUMNS
        return _frame(rng, values, draw(st.sampled_from(names)), kinds)
    if container == "1d":
        return values[:, 0] if n_cols else values.ravel()
    if container == "3d":
        return values[..., None]
    return values


@st.composite
def labels(draw, n_rows):
    """Labels ``y`` for the classifier: mostly clean ones (2 or 3 classes,
    each present if the rows allow), else invalid ones (continuous, NaN, the
    wrong length, two columns)."""
    clean = ["ints", "strings", "bools"]
    kind = draw(st.sampled_from(clean * 4 + ["floats", "nan", "short", "2d"]))
    n_classes = 2 if kind == "bools" else draw(st.integers(1 if kind not in clean else 2, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = rng.permutation(np.arange(n_rows) % n_classes)
    if kind == "strings":
        return np.array(["cat", "dog", "fish"])[y]
    if kind == "bools":
        return y > 0
    if kind == "floats":
        return rng.normal(size=n_rows)
    if kind == "nan":
        return np.where(np.arange(n_rows) == 0, np.nan, y)
    if kind == "short":
        return y[1:]
    if kind == "2d":
        return np.column_stack([y, y])
    return y


# -- generated parameters -----------------------------------------------------------

#: Values of each parameter (kept to tiny fits: a few units, at most 6 epochs),
#: within its constraints and out of them; a callable gives them when called.
COMMON_PARAMS = {
    "sparsity": (sparsities, ["l2"]),  # the registered ones, read as each case is drawn
    "code_params": ([None, {}], [{"no_such_hyperparameter": 1}, "k=2"]),
    "k": ([1, 2, 5], [0, 1.5]),
    "sparsity_target": ([0.05, 0.5, 1e-12], [0, 1]),
    "sparsity_weight": ([0, 3.0, 1e6], [-1]),
    "auxk_weight": ([0, 1 / 32], [-1]),
    "alpha": ([0, 1e-5, 1e3], [-1]),
    "contractive_weight": ([0, 0.1], [-1]),
    "activation": (["auto", "sigmoid", "relu"], ["tanh"]),
    "tied_weights": ([True, False], ["yes"]),
    "solver": (["adam", "sgd", "lbfgs"], ["newton"]),
    "batch_size": (["auto", 1, 2, 1000], [0]),
    "learning_rate_init": ([1e-2, 1e-6, 10.0, 1e6], [0, -1]),
    "max_iter": ([1, 2, 6], [0]),  # "auto" takes a structure step after epoch 5
    "tol": ([0, 1e-3], [-1]),
    "n_iter_no_change": ([1, 10], [0]),
    "early_stopping": ([True, False], []),
    "validation_fraction": ([0.1, 0.5, 0.99], [0, 1]),
    "shuffle": ([True, False], []),
    "random_state": ([0, 1, None], [-1]),
    "warm_start": ([True, False], []),
    "device": (["cpu", "auto", torch.device("cpu")], ["gpu", "cuda:7", 3]),
}
AUTOENCODER_PARAMS = {
    "n_components": ([1, 2, 3, "auto"], [0, 2.5, "two"]),
    "max_components": ([None, 1, 4], [0]),
    "corruption": ([None, "mask", "gaussian"], ["salt"]),
    "corruption_level": ([0, 0.1, 0.99, 5], [-0.1]),
    "output_activation": (["auto", "identity", "sigmoid"], ["relu"]),
}


def _without(params, *names):
    return {name: values for name, values in params.items() if name not in names}


@dataclass
class Spec:
    """How to make, fit and call one estimator, and what its calls return."""

    make: type
    base: dict
    params: dict
    fits: tuple
    calls: tuple
    reference: str
    """The call whose output a failed call must leave unchanged."""
    supervised: bool = False
    missing: bool = False
    """Whether clean data have missing entries (NaN)."""
    sparse: bool = True
    """Whether sparse matrices are among the clean data."""


SPECS = {
    "transformer": Spec(
        SparseAutoencoderTransformer,
        dict(n_components=3, max_iter=2, random_state=0),
        {**COMMON_PARAMS, **AUTOENCODER_PARAMS},
        fits=("fit", "partial_fit", "fit_transform"),
        calls=("transform", "inverse_transform", "score_samples", "score"),
        reference="transform",
    ),
    "classifier": Spec(
        StackedSparseAutoencoderClassifier,
        dict(hidden_layer_sizes=(3,), pretrain_max_iter=1, max_iter=2, random_state=0),
        {
            **COMMON_PARAMS,
            **_without(AUTOENCODER_PARAMS, "n_components", "output_activation"),
            "hidden_layer_sizes": (
                [(2,), (3, 2), 2, "auto", ("auto", 2)],
                [(), (0,), (2.5,), None, "two"],
            ),
            "pretrain_max_iter": ([0, 1, 6], [-1]),
            "fine_tune": ([True, False], []),
        },
        fits=("fit", "partial_fit"),
        calls=(
            "predict",
            "predict_proba",
            "predict_log_proba",
            "decision_function",
            "transform",
            "score",
        ),
        reference="predict_proba",
        supervised=True,
    ),
    "convolutional": Spec(
        ConvolutionalSparseAutoencoderTransformer,
        dict(filters=(2, 3), max_iter=2, random_state=0),
        {
            **_without(COMMON_PARAMS, "tied_weights", "contractive_weight"),
            **_without(AUTOENCODER_PARAMS, "n_components", "max_components"),
            "image_shape": ([None], [(2, 2), (1, 2, 2), (7, 7), (0, 3)]),
            "filters": ([(2,), (2, 3), [3]], [(), (0,), (2.5,), None]),
            "kernel_size": ([1, 3, 5], [0, 2]),
            "stride": ([1, 2, 3], [0]),
            "pooling": ([None, "mean", "max"], ["sum"]),
        },
        fits=("fit", "partial_fit", "fit_transform"),
        calls=("transform", "inverse_transform", "score_samples", "score"),
        reference="transform",
    ),
    "detector": Spec(
        SparseAutoencoderOutlierDetector,
        dict(n_components=3, max_iter=2, random_state=0),
        {
            **COMMON_PARAMS,
            **AUTOENCODER_PARAMS,
            "contamination": (["auto", 0.1, 0.5], [0, 0.6, "x"]),
            "code_weight": ([0, 1.0], [-1]),
        },
        fits=("fit", "fit_predict"),
        calls=("score_samples", "decision_function", "predict"),
        reference="score_samples",
    ),
    "imputer": Spec(
        SparseAutoencoderImputer,
        dict(n_components=3, max_iter=2, random_state=0),
        {
            **_without(COMMON_PARAMS, "warm_start"),
            "n_components": ([1, 3], [0, "auto"]),
            "solver": (["adam", "sgd"], ["lbfgs"]),
            "missing_values": ([np.nan, -1, 0], ["x", None]),
            "mask_fraction": ([0, 0.5, 0.99], [1]),
            "n_fill_iter": ([1, 2], [0]),
            "average": ([True, False], ["yes", 1]),
            # (the convolutional network needs an image_shape, which these tables lack)
            "network": (["auto", "dense"], ["convolutional", "cnn"]),
            "initial_strategy": (["mean", "median", "most_frequent", "constant"], ["max"]),
            "fill_value": ([None, 0, 1.5], ["a"]),
            "add_indicator": ([True, False], []),
            "keep_empty_features": ([True, False], []),
        },
        fits=("fit", "fit_transform"),
        calls=("transform",),
        reference="transform",
        missing=True,
        sparse=False,
    ),
}


@st.composite
def params(draw, spec, max_size=4):
    """A few of ``spec``'s parameters, each set to one of its values: half the
    time within its constraints, else perhaps out of them."""
    names = draw(st.lists(st.sampled_from(sorted(spec.params)), max_size=max_size, unique=True))
    clean = draw(st.booleans())
    drawn = {}
    for name in names:
        valid, invalid = spec.params[name]
        valid = list(valid() if callable(valid) else valid)
        drawn[name] = draw(st.sampled_from(valid if clean or not invalid else valid + invalid))
    return drawn


# -- the contract ---------------------------------------------------------------------

#: scikit-learn's input validation (arrays, labels, parameters), where numpy
#: and pandas fail to convert data (strings, complex numbers, ragged lists)
#: with their own messages, as for every scikit-learn estimator.
SKLEARN_VALIDATION = (
    "sklearn.utils.validation",
    "sklearn.utils._array_api",
    "sklearn.utils.multiclass",
    "sklearn.utils._param_validation",
)


@dataclass
class Frame:
    """One frame of a traceback: the module its code belongs to (its
    ``__name__``, whatever folder it was installed in) and its line."""

    module: str
    line: str

    @property
    def library(self):
        """Whether the frame is code of skl_sae or of scikit-learn."""
        return self.module.partition(".")[0] in ("skl_sae", "sklearn")


def frames(error):
    """The frames of ``error``'s traceback, outermost first."""
    return [
        Frame(
            frame.f_globals.get("__name__", ""),
            linecache.getline(frame.f_code.co_filename, line, frame.f_globals).strip(),
        )
        for frame, line in traceback.walk_tb(error.__traceback__)
    ]


def assert_own_error(error):
    """``error`` is what the estimator's own checks raise: a ValueError or
    TypeError with a message, from a ``raise`` statement of skl_sae or
    scikit-learn, or from scikit-learn's input validation; not an error of
    torch, numpy or pandas inside skl_sae.

    Judged as the user reads the traceback, by the module of each frame, not
    by its file: in a clone named ``skl_sae``, with its virtual environment
    inside it, the path of every file names skl_sae, pandas' included.
    """
    assert isinstance(error, ValueError | TypeError), f"not a ValueError or TypeError: {error!r}"
    assert str(error).strip(), f"{error!r} says nothing"
    stack = frames(error)
    ours = [frame for frame in stack if frame.library]
    assert ours, f"{error!r} was raised outside skl_sae and scikit-learn"
    origin = ours[-1]  # the innermost frame of skl_sae or scikit-learn
    where = f"{origin.module}: {origin.line}"
    raised_here = origin is stack[-1] and origin.line.startswith("raise")
    validation = origin.module in SKLEARN_VALIDATION
    assert raised_here or validation, f"{error!r} from {stack[-1].module}, at {where}"


def float_dtype(X):
    """The dtype the estimators compute ``X`` in: float32 stays, else float64."""
    array = check_array(
        X,
        accept_sparse=True,
        dtype=(np.float64, np.float32),
        ensure_all_finite=False,
        ensure_min_samples=0,
        ensure_min_features=0,
    )
    return array.dtype


def n_rows(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


def assert_finite(result, what):
    assert np.all(np.isfinite(result)), f"{what} is not finite: {result}"


def check_output(estimator, method, X, result):
    """What a call that succeeded returned: shape, dtype, finite values."""
    if method in ("fit", "partial_fit"):
        assert result is estimator
        return
    if method != "predict":  # labels are any type
        assert_finite(result, method)
    n = n_rows(X)
    if method == "score":
        assert np.ndim(result) == 0
        return
    if isinstance(estimator, SparseAutoencoderTransformer):
        width = estimator.n_features_in_ if method == "inverse_transform" else None
        codes = len(estimator.get_feature_names_out())  # (the convolutional: maps, or pooled)
        shape = {
            "fit_transform": (n, codes),
            "transform": (n, codes),
            "inverse_transform": (n, width),
            "score_samples": (n,),
        }[method]
        assert result.shape == shape
        assert result.dtype == float_dtype(X)
    elif isinstance(estimator, StackedSparseAutoencoderClassifier):
        n_classes = len(estimator.classes_)
        shape = {
            "predict": (n,),
            "predict_proba": (n, n_classes),
            "predict_log_proba": (n, n_classes),
            "decision_function": (n,) if n_classes == 2 else (n, n_classes),
            "transform": (n, estimator.hidden_layer_sizes_[-1]),
        }[method]
        assert result.shape == shape
        if method == "predict":
            assert np.isin(result, estimator.classes_).all()
        else:
            assert result.dtype == float_dtype(X)
        if method == "predict_proba":
            np.testing.assert_allclose(result.sum(axis=1), 1, rtol=1e-4)
    elif isinstance(estimator, SparseAutoencoderOutlierDetector):
        assert result.shape == (n,)
        if method in ("predict", "fit_predict"):
            assert np.isin(result, [-1, 1]).all()
        else:
            assert result.dtype.kind == "f"
    else:  # the imputer
        width = len(estimator.get_feature_names_out())
        assert result.shape == (n, width)
        assert result.dtype == float_dtype(X)


def check_fitted(estimator):
    """The fitted numbers and float arrays of ``estimator``, and of the
    skl_sae estimators it holds (the detector's autoencoder), are finite."""
    params = estimator.get_params(deep=False)
    for name, value in vars(estimator).items():
        if name in params:
            continue
        if isinstance(value, BaseEstimator) and type(value).__module__.startswith("skl_sae"):
            check_fitted(value)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, float) or isinstance(item, np.ndarray) and item.dtype.kind == "f":
                assert_finite(item, name)


def snapshot(estimator):
    """The estimator's attributes, copies of the arrays they hold, and the
    snapshots of the estimators they hold (the detector's autoencoder)."""
    return {
        name: (
            value,
            [np.copy(array) for array in _arrays(value)],
            snapshot(value) if isinstance(value, BaseEstimator) else None,
        )
        for name, value in vars(estimator).items()
    }


def _arrays(value):
    items = value if isinstance(value, list | tuple) else [value]
    return [item for item in items if isinstance(item, np.ndarray)]


def assert_unchanged(estimator, state):
    """``estimator`` holds the same objects and arrays as in ``state``."""
    now = vars(estimator)
    assert now.keys() == state.keys(), f"attributes changed: {now.keys() ^ state.keys()}"
    for name, (value, arrays, inner) in state.items():
        assert now[name] is value, f"{name} was replaced"
        for before, after in zip(arrays, _arrays(value), strict=True):
            if before.dtype == object:  # (NaN equals NaN here too)
                before, after = before.astype(str), after.astype(str)
            np.testing.assert_array_equal(after, before, err_msg=name)
        if inner is not None:
            assert_unchanged(value, inner)


def call(estimator, method, X, y, classes):
    if method == "partial_fit" and isinstance(estimator, StackedSparseAutoencoderClassifier):
        return estimator.partial_fit(X, y, classes=classes)
    if method in ("fit", "partial_fit", "fit_transform", "fit_predict", "score"):
        return getattr(estimator, method)(X, y)
    return getattr(estimator, method)(X)


def outcome(estimator, method, X):
    """What ``method`` gives on ``X``: its output, or its error."""
    try:
        return getattr(estimator, method)(X)
    except Exception as error:  # (a failed call may not change it)
        return repr(error)


def run_case(data, name):
    """One generated case: an estimator, its first fit, then up to four calls."""
    with warnings.catch_warnings():
        # Overflows on the way to a clear error; feature names seen in fit, absent now.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        _run_case(data, name)


def _run_case(data, name):
    spec = SPECS[name]
    estimator = spec.make(**{**spec.base, **data.draw(params(spec), label="params")})
    fitted = None  # the data of the last fit that succeeded
    for i in range(data.draw(st.integers(1, 5), label="calls")):
        methods = spec.fits * 3 + spec.calls if fitted is None else spec.fits + spec.calls * 2
        method = data.draw(st.sampled_from(methods), label=f"method {i}")
        if not hasattr(estimator, method):  # hidden where it does not apply (available_if)
            event(f"{method} hidden")
            continue
        if method in spec.fits and fitted is not None:
            estimator.set_params(**data.draw(params(spec, max_size=2), label=f"params {i}"))
        n_cols = None
        if fitted is not None and data.draw(st.integers(0, 4), label=f"other width {i}"):
            n_cols = estimator.n_features_in_
            if method == "inverse_transform":
                n_cols = len(estimator.get_feature_names_out())
        X = data.draw(matrices(n_cols, spec.missing, spec.sparse), label=f"X {i}")
        y = classes = None
        if spec.supervised:
            y = data.draw(labels(n_rows(X)), label=f"y {i}")
            classes = data.draw(
                st.sampled_from([None, "y", "y", "y", [0, 1]]), label=f"classes {i}"
            )
            if isinstance(classes, str):
                classes = np.unique(np.asarray(y).ravel()) if np.size(y) else None
        state = snapshot(estimator)
        before = None if fitted is None else outcome(estimator, spec.reference, fitted)
        try:
            result = call(estimator, method, X, y, classes)
        except Exception as error:
            event(f"{method} raised")
            assert_own_error(error)
            assert_unchanged(estimator, state)
            if fitted is None:
                assert vars(estimator) == estimator.get_params(deep=False)
                assert method in spec.fits or isinstance(error, NotFittedError)
            else:
                np.testing.assert_array_equal(outcome(estimator, spec.reference, fitted), before)
            continue
        event(f"{method} succeeded")
        check_output(estimator, method, X, result)
        assert fitted is not None or method in spec.fits, "called before fit"
        if method in spec.fits:  # a fitted estimator takes its training data
            check_fitted(estimator)
            check_output(estimator, spec.reference, X, getattr(estimator, spec.reference)(X))
            fitted = X


@pytest.mark.parametrize("name", SPECS)
@given(data=st.data())
def test_every_call_succeeds_or_raises_a_clear_error(data, name):
    run_case(data, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SPECS)
@settings(settings.get_profile("ci"))
@given(data=st.data())
def test_every_call_succeeds_or_raises_a_clear_error_at_length(data, name):
    run_case(data, name)
