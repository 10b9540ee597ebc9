"""What a pickled estimator holds: numpy arrays, plain values and public classes.

Loaders that check what they import (``skops.io``) then ask users to trust
only the estimators themselves.
"""

import pickle
import pickletools

import numpy as np
import pytest
from variants import instance_id, quick_instances, slow_instances, sparsities

from skl_sae import (
    ConvolutionalSparseAutoencoderTransformer,
    SparseAutoencoderImputer,
    SparseAutoencoderOutlierDetector,
    SparseAutoencoderTransformer,
    StackedSparseAutoencoderClassifier,
)

ESTIMATORS = (
    ConvolutionalSparseAutoencoderTransformer,
    SparseAutoencoderImputer,
    SparseAutoencoderOutlierDetector,
    SparseAutoencoderTransformer,
    StackedSparseAutoencoderClassifier,
)


def _imported_names(payload):
    """``module.name`` of every global that unpickling ``payload`` imports."""
    names, strings = set(), []
    for opcode, arg, _ in pickletools.genops(payload):
        if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif opcode.name == "STACK_GLOBAL":
            names.add(".".join(strings[-2:]))
        elif opcode.name == "GLOBAL":
            names.add(arg.replace(" ", "."))
    return names


def assert_pickles_through_public_classes(estimator, X, y):
    """Fit ``estimator``, pickle it: the pickle imports no torch and no
    private type of the package, and the unpickled model, rebuilt from its
    public weights, computes exactly what the fitted one does."""
    estimator.fit(X, y)
    payload = pickle.dumps(estimator)
    imported = _imported_names(payload)
    public = {f"{cls.__module__}.{cls.__name__}" for cls in ESTIMATORS}
    assert {name for name in imported if name.startswith("skl_sae")} <= public
    assert not {name for name in imported if name.startswith("torch")}
    restored = pickle.loads(payload)
    outputs = ["predict_proba"] if hasattr(estimator, "predict_proba") else []
    outputs += ["transform" if hasattr(estimator, "transform") else "score_samples"]
    for output in outputs:
        np.testing.assert_array_equal(
            getattr(restored, output)(X[:5]), getattr(estimator, output)(X[:5])
        )


@pytest.mark.parametrize(
    "estimator",
    [e for sparsity in sparsities() for e in quick_instances(sparsity) + slow_instances(sparsity)]
    + [SparseAutoencoderTransformer(8, early_stopping=True, max_iter=2)],
    ids=instance_id,
)
def test_a_pickle_imports_only_public_classes_of_the_package(digits, estimator):
    X, y = digits
    assert_pickles_through_public_classes(
        estimator.set_params(max_iter=2, random_state=0), X[:300], y[:300]
    )


@pytest.mark.parametrize(
    "estimator",
    [
        SparseAutoencoderTransformer(8, sparsity="topk", k=2, auxk_weight=0.1, random_state=0),
        SparseAutoencoderTransformer(8, solver="sgd", random_state=0),
        StackedSparseAutoencoderClassifier((8,), pretrain_max_iter=1, random_state=0),
    ],
    ids=["topk-auxk", "sgd", "classifier"],
)
def test_partial_fit_continues_through_a_pickle_as_in_memory(digits, estimator):
    """Adam's moments, SGD's momentum and the AuxK counts travel as arrays, so
    a stream can move between processes (Dask's Incremental on a cluster)."""
    X, y = digits
    kwargs = {"classes": np.unique(y)} if hasattr(estimator, "predict") else {}
    estimator.partial_fit(X[:900], y[:900], **kwargs)
    moved = pickle.loads(pickle.dumps(estimator))
    estimator.partial_fit(X[900:], y[900:])
    moved.partial_fit(X[900:], y[900:])
    output = "predict_proba" if hasattr(estimator, "predict") else "transform"
    np.testing.assert_allclose(getattr(moved, output)(X), getattr(estimator, output)(X))


@pytest.mark.parametrize(
    "make",
    [
        lambda: SparseAutoencoderTransformer(8, max_iter=2, random_state=0),
        lambda: StackedSparseAutoencoderClassifier((8,), pretrain_max_iter=1, max_iter=2),
        # (the imputer's tables were filled by the dense network before network existed)
        lambda: SparseAutoencoderImputer(
            n_components=8, network="dense", max_iter=2, random_state=0
        ),
        lambda: SparseAutoencoderImputer(
            n_components=8, image_shape=(8, 8), network="dense", max_iter=2, random_state=0
        ),
    ],
)
def test_a_model_pickled_before_a_parameter_existed_loads_with_its_default(digits, make):
    X, y = digits
    X = X[:100]
    if isinstance(make(), SparseAutoencoderImputer):
        X = np.where(np.random.default_rng(0).random(X.shape) < 0.2, np.nan, X)
    fitted = make().fit(X, y[:100])
    payload = pickle.loads(pickle.dumps(fitted)).__getstate__()
    del payload["matmul_precision"]  # (as pickled before issue 30 added it)
    del payload["compute_dtype"]  # (and before its eighth pass)
    payload.pop("average", None)  # (the imputer's, before issue 29's fourth pass)
    payload.pop("adversarial_eps", None)  # (the classifier's, before issue 28's fifth pass)
    if payload.pop("network", None) is not None:  # (the imputer's, before its fifth)
        payload["_architecture"] = dict(payload["_architecture"])
        del payload["_architecture"]["network"]
    if payload.pop("n_fill_masks", None) is not None:  # (and before its sixth)
        del payload["_fill_mask_seed"]
    old = type(fitted).__new__(type(fitted))
    old.__setstate__(payload)
    expected = fitted.get_params()
    if isinstance(fitted, SparseAutoencoderImputer):  # fitted, then, without averaging
        expected["average"], expected["network"] = False, "dense"
        expected["n_fill_masks"] = 1  # (filling from one reading)
        fitted.set_params(n_fill_masks=1)
    else:  # (the imputer already computed in float32; the others in the data's dtype)
        expected["compute_dtype"] = None
    if isinstance(fitted, StackedSparseAutoencoderClassifier):  # fine-tuned on clean rows
        expected["adversarial_eps"] = 0.0
    assert repr(old.get_params()) == repr(expected)  # (NaN != NaN)
    output = "predict_proba" if hasattr(fitted, "predict_proba") else "transform"
    np.testing.assert_array_equal(getattr(old, output)(X), getattr(fitted, output)(X))
