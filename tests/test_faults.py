"""What a fit leaves behind when it diverges, fails or is interrupted,
stated as a specification for the estimators."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skl_sae import (
    SparseAutoencoderImputer,
    SparseAutoencoderOutlierDetector,
    SparseAutoencoderTransformer,
    StackedSparseAutoencoderClassifier,
    _training,
)
from skl_sae._batches import Batches
from skl_sae._training import History, fit_loop, make_optimizer

# Each estimator, small enough to fit in a fraction of a second, and the
# method whose output a fitted one must keep.
ESTIMATORS = {
    "transformer": (
        lambda **p: SparseAutoencoderTransformer(8, max_iter=3, random_state=0, **p),
        "transform",
    ),
    "classifier": (
        lambda **p: StackedSparseAutoencoderClassifier(
            (8,), pretrain_max_iter=2, max_iter=3, random_state=0, **p
        ),
        "predict_proba",
    ),
    "auto": (  # structure learning: a structure step after epoch 5
        lambda **p: SparseAutoencoderTransformer("auto", max_iter=7, random_state=0, **p),
        "transform",
    ),
    "detector": (
        lambda **p: SparseAutoencoderOutlierDetector(8, max_iter=3, random_state=0, **p),
        "score_samples",
    ),
}
INCREMENTAL = ["transformer", "classifier", "auto"]  # the estimators with partial_fit


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return X[:300], y[:300]


def make(name, **params):
    return ESTIMATORS[name][0](**params)


def output(estimator, name, X):
    return getattr(estimator, ESTIMATORS[name][1])(X)


def fit(estimator, method, X, y):
    """``fit`` or ``partial_fit``, with the labels that the classifier's first
    ``partial_fit`` call needs."""
    if method == "partial_fit" and isinstance(estimator, StackedSparseAutoencoderClassifier):
        return estimator.partial_fit(X, y, classes=np.unique(y))
    return getattr(estimator, method)(X, y)


def diverged(record):
    """The divergence warnings among the ``record`` of ``catch_warnings``."""
    return [
        w
        for w in record
        if issubclass(w.category, RuntimeWarning) and "Training diverged" in str(w.message)
    ]


# -- divergence -----------------------------------------------------------------


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_an_ordinary_fit_does_not_warn_of_divergence(data, name, solver):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always", RuntimeWarning)
        make(name, solver=solver).fit(*data)
    assert not diverged(record)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_a_fit_that_diverges_to_finite_losses_warns(data, name):
    # Every sigmoid saturates: the loss stays finite, the codes are useless.
    # (The classifier warns for its pre-training stages.)
    estimator = make(name, learning_rate_init=1e6)
    with pytest.warns(RuntimeWarning, match="diverged") as record:
        estimator.fit(*data)
    advice = "Lower learning_rate_init or scale the input data."
    assert all(advice in str(warning.message) for warning in diverged(record))
    check_is_fitted(estimator)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")  # numpy's, on the way
def test_a_fit_whose_loss_overflows_raises(data):
    X, _ = data
    detector = SparseAutoencoderOutlierDetector(n_components=16, max_iter=2, random_state=0)
    with pytest.raises(ValueError, match="diverged.*Lower learning_rate_init"):
        detector.fit((X * 1e30).astype(np.float32))
    with pytest.raises(NotFittedError):
        check_is_fitted(detector)


def _mse(module, X, y):
    return torch.mean((module(X) - y) ** 2)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_each_call_records_the_loss_before_its_first_step(solver):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5))
    y = X @ np.arange(5.0)[:, None]
    module = torch.nn.Linear(5, 1).double()
    batches = Batches([X, y], batch_size=8, device="cpu")
    first = 64 if solver == "lbfgs" else 8  # L-BFGS steps on the full batch
    optimizer = make_optimizer(solver, module.parameters(), 1e-2)
    history = History()
    for _ in range(2):  # a first fit, then one that continues it
        with torch.no_grad():  # the first batch (not shuffled), before any step
            before = _mse(module, torch.as_tensor(X[:first]), torch.as_tensor(y[:first])).item()
        fit_loop(module, _mse, batches, optimizer, max_iter=3, shuffle=False, history=history)
        assert history.initial_loss == pytest.approx(before)
        assert History(**history.to_dict()) == history
    assert not history.diverged


# -- interruptions and failures ---------------------------------------------------


def _interrupted_after_one_epoch():
    """``run_single_epoch`` that trains one epoch (the weights move), then
    is interrupted as by Ctrl-C."""
    original = _training.run_single_epoch

    def run_single_epoch(*args, **kwargs):
        original(*args, **kwargs)
        raise KeyboardInterrupt

    return run_single_epoch


def _arrays(estimator):
    """Copies of the estimator's arrays, those in lists (``coefs_``) too."""
    arrays = {}
    for key, value in vars(estimator).items():
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(item, np.ndarray):
                arrays[key, i] = item.copy()
    return arrays


@pytest.mark.parametrize(
    "name, method",
    [(name, "fit") for name in ESTIMATORS] + [(name, "partial_fit") for name in INCREMENTAL],
)
def test_an_interrupted_first_fit_leaves_the_estimator_unfitted(data, monkeypatch, name, method):
    estimator = make(name)
    monkeypatch.setattr(_training, "run_single_epoch", _interrupted_after_one_epoch())
    with pytest.raises(KeyboardInterrupt):
        fit(estimator, method, *data)
    assert vars(estimator) == estimator.get_params(deep=False)
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)


@pytest.mark.parametrize(
    "name, method, warm_start",
    [(name, "fit", warm) for name in ESTIMATORS for warm in (False, True)]
    + [(name, "partial_fit", False) for name in INCREMENTAL],
)
def test_an_interrupted_refit_leaves_the_fitted_estimator_as_it_was(
    data, monkeypatch, name, method, warm_start
):
    X, y = data
    estimator = make(name).fit(X, y)
    before, state, arrays = output(estimator, name, X), dict(vars(estimator)), _arrays(estimator)
    estimator.set_params(warm_start=warm_start)
    state["warm_start"] = warm_start
    # A fresh fit may change everything, the number of features included.
    X_new = X if warm_start or method == "partial_fit" else X[:, :32]
    monkeypatch.setattr(_training, "run_single_epoch", _interrupted_after_one_epoch())
    with pytest.raises(KeyboardInterrupt):
        fit(estimator, method, X_new, y)
    monkeypatch.undo()

    assert vars(estimator).keys() == state.keys()
    assert all(vars(estimator)[key] is value for key, value in state.items())
    after = _arrays(estimator)
    assert after.keys() == arrays.keys()
    for key, array in arrays.items():
        np.testing.assert_array_equal(after[key], array, err_msg=str(key))
    np.testing.assert_array_equal(output(estimator, name, X), before)
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(output(restored, name, X), before)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_a_fitted_detector_stays_usable_after_a_failed_refit(data):
    X, _ = data
    detector = make("detector").fit(X)
    before, state = detector.score_samples(X), dict(vars(detector))
    with pytest.raises(ValueError, match="diverged"):
        detector.fit((X * 1e30).astype(np.float32))
    assert vars(detector).keys() == state.keys()
    assert all(vars(detector)[key] is value for key, value in state.items())
    np.testing.assert_array_equal(detector.score_samples(X), before)


def test_an_interrupted_imputer_fit_leaves_the_imputer_as_it_was(data, monkeypatch):
    X = data[0].copy()
    X[np.random.RandomState(0).rand(*X.shape) < 0.2] = np.nan
    imputer = SparseAutoencoderImputer(8, max_iter=3, random_state=0)
    monkeypatch.setattr(_training, "run_single_epoch", _interrupted_after_one_epoch())
    with pytest.raises(KeyboardInterrupt):
        imputer.fit(X)
    assert vars(imputer) == imputer.get_params(deep=False)
    monkeypatch.undo()

    imputer.fit(X)
    before, state = imputer.transform(X), dict(vars(imputer))
    monkeypatch.setattr(_training, "run_single_epoch", _interrupted_after_one_epoch())
    with pytest.raises(KeyboardInterrupt):
        imputer.fit(X[:, :32])
    monkeypatch.undo()
    assert all(vars(imputer)[key] is value for key, value in state.items())
    np.testing.assert_array_equal(imputer.transform(X), before)
