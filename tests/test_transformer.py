"""SparseAutoencoderTransformer, stated as a specification."""

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skl_sae import SparseAutoencoderTransformer, _training
from skl_sae._data import geometric_median


def small(**params):
    """A fast transformer for digits; ``params`` override."""
    defaults = dict(n_components=32, max_iter=30, random_state=0)
    return SparseAutoencoderTransformer(**{**defaults, **params})


# -- learning -----------------------------------------------------------------


def test_training_lowers_the_loss(digits):
    X, _ = digits
    sae = small().fit(X)
    assert len(sae.loss_curve_) == sae.n_iter_ == 30
    assert sae.loss_curve_[-1] < 0.5 * sae.loss_curve_[0]


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_every_solver_reconstructs_better_than_the_mean(digits, solver):
    X, _ = digits
    step = {"sgd": {"learning_rate_init": 0.1}}.get(solver, {})  # adam: the default
    sae = small(solver=solver, max_iter=60, **step)
    sae.fit(X)
    error = np.mean((sae.inverse_transform(sae.transform(X)) - X) ** 2)
    assert error < 0.5 * X.var(axis=0).sum() / X.shape[1]
    assert np.isclose(-sae.score(X), error)


def test_kl_sparsity_drives_mean_activation_to_the_target(digits):
    X, _ = digits
    target = 0.1
    fast = dict(max_iter=150, learning_rate_init=1e-2)
    sparse = small(sparsity_target=target, sparsity_weight=10.0, **fast).fit(X)
    plain = small(sparsity=None, **fast).fit(X)
    mean_activation = sparse.transform(X).mean(axis=0)
    assert abs(mean_activation.mean() - target) < 0.02
    assert np.all(np.abs(mean_activation - target) < 0.1)
    assert plain.transform(X).mean() > 2 * target


def test_default_sparsity_pulls_mean_activations_towards_the_target(digits):
    X, _ = digits
    sparse = SparseAutoencoderTransformer(64, max_iter=100, random_state=0).fit(X)
    plain = SparseAutoencoderTransformer(64, sparsity=None, max_iter=100, random_state=0).fit(X)
    mean_sparse, mean_plain = sparse.transform(X).mean(), plain.transform(X).mean()
    assert mean_sparse < 2 * sparse.sparsity_target
    assert mean_plain > 3 * mean_sparse


def test_l1_sparsity_gives_more_zeros_than_no_sparsity(digits):
    X, _ = digits
    l1 = small(sparsity="l1", activation="relu", sparsity_weight=1.0).fit(X)
    plain = small(sparsity=None, activation="relu").fit(X)
    assert np.mean(l1.transform(X) < 1e-6) > np.mean(plain.transform(X) < 1e-6) + 0.2


def test_kl_sparsity_needs_sigmoid_units(digits):
    X, _ = digits
    with pytest.raises(ValueError, match=r"needs activation in \('sigmoid',\)"):
        small(sparsity="kl", activation="relu").fit(X)


def test_score_samples_ranks_corrupted_samples_below_clean_ones(digits):
    X, _ = digits
    sae = small(max_iter=60, learning_rate_init=1e-2).fit(X[:1000])
    clean = X[1000:1300]
    rng = np.random.default_rng(0)
    corrupted = np.clip(clean + rng.normal(scale=0.3, size=clean.shape), 0, 1)
    scores = sae.score_samples(np.vstack([clean, corrupted]))
    is_clean = np.r_[np.ones(len(clean)), np.zeros(len(corrupted))]
    assert roc_auc_score(is_clean, scores) > 0.95


def test_output_activation_auto_follows_the_range_of_the_data(digits):
    X, _ = digits
    assert small(max_iter=1).fit(X).output_activation_ == "sigmoid"
    standardized = StandardScaler().fit_transform(X)
    assert small(max_iter=1).fit(standardized).output_activation_ == "identity"
    forced = small(max_iter=1, output_activation="identity").fit(X)
    assert forced.output_activation_ == "identity"


def test_standardized_data_is_reconstructed_better_than_the_mean(digits):
    X = StandardScaler().fit_transform(digits[0])
    sae = small(max_iter=50).fit(X)
    error = np.mean((sae.inverse_transform(sae.transform(X)) - X) ** 2)
    assert error < 0.5 * np.mean(X.var(axis=0))


def _mask(X, fraction, seed=0):
    return X * (np.random.default_rng(seed).random(X.shape) >= fraction)


@pytest.mark.slow
def test_denoising_reconstructs_clean_inputs_from_corrupted_ones(digits):
    X, _ = digits
    X_train, X_test = X[:1200], X[1200:]
    corrupted = _mask(X_test, 0.3)
    params = dict(n_components=64, max_iter=200)
    plain = small(**params).fit(X_train)
    denoising = small(corruption="mask", corruption_level=0.3, **params).fit(X_train)

    def error(sae):
        return np.mean((sae.inverse_transform(sae.transform(corrupted)) - X_test) ** 2)

    assert error(denoising) < 0.7 * error(plain)
    assert error(denoising) < np.mean((corrupted - X_test) ** 2)


def test_gaussian_corruption_trains_and_transform_stays_clean(digits):
    X, _ = digits
    sae = small(corruption="gaussian", corruption_level=0.2, max_iter=5).fit(X)
    np.testing.assert_array_equal(sae.transform(X), sae.transform(X))


def test_mask_corruption_must_leave_something(digits):
    with pytest.raises(ValueError, match="below 1"):
        small(corruption="mask", corruption_level=1.0).fit(digits[0])


def _jacobian_norm(sae, X):
    codes = sae.transform(X)
    return np.mean((codes * (1 - codes)) ** 2 @ (sae.encoder_weights_**2).sum(axis=1))


def test_contractive_penalty_lowers_the_encoder_jacobian_norm(digits):
    X, _ = digits
    plain = small(max_iter=40).fit(X)
    contractive = small(max_iter=40, contractive_weight=1.0).fit(X)
    assert _jacobian_norm(contractive, X) < 0.5 * _jacobian_norm(plain, X)


def test_tied_weights_decode_with_the_transposed_encoder(digits):
    X, _ = digits
    sae = small(tied_weights=True).fit(X)
    np.testing.assert_array_equal(sae.components_, sae.encoder_weights_)


def test_fitted_attributes_have_documented_shapes(digits):
    X, _ = digits
    sae = small(n_components=20).fit(X)
    assert sae.components_.shape == sae.encoder_weights_.shape == (20, 64)
    assert sae.encoder_bias_.shape == (20,)
    assert sae.decoder_bias_.shape == (64,)
    assert sae.n_features_in_ == 64
    assert sae.device_ == "cpu"
    assert sae.validation_scores_ is None and sae.best_validation_score_ is None
    assert sae.best_loss_ == min(sae.loss_curve_)
    assert isinstance(sae.components_, np.ndarray)


# -- stopping and continuing ------------------------------------------------


def test_early_stopping_stops_on_the_validation_loss(digits):
    X, _ = digits
    sae = small(early_stopping=True, max_iter=1000, tol=1e-3, n_iter_no_change=3).fit(X)
    assert sae.n_iter_ < 1000
    assert len(sae.validation_scores_) == len(sae.loss_curve_) == sae.n_iter_
    # as in MLPClassifier: best_loss_ is the training loss, the held-out rows score
    assert sae.best_loss_ == min(sae.loss_curve_)
    assert sae.best_validation_score_ == max(sae.validation_scores_)
    # the score is the share of the held-out variance explained, as the kept weights give
    assert 0 < sae.best_validation_score_ < 1


def test_convergence_warning_when_max_iter_is_reached(digits):
    X, _ = digits
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        small(max_iter=2).fit(X)


def test_warm_start_continues_from_the_fitted_weights(digits):
    X, _ = digits
    sae = small(max_iter=10, warm_start=True).fit(X)
    first_curve = list(sae.loss_curve_)
    sae.fit(X)
    assert sae.n_iter_ == 20
    assert sae.loss_curve_[:10] == first_curve
    # epoch 11 starts where epoch 10 ended, not from a new initialisation
    assert sae.loss_curve_[10] < 1.05 * first_curve[-1]
    cold = small(max_iter=10).fit(X)
    cold.fit(X)
    assert cold.n_iter_ == 10
    assert cold.loss_curve_[0] > 2 * cold.loss_curve_[-1]


def test_warm_start_refuses_to_change_the_shape_of_the_network(digits):
    X, _ = digits
    sae = small(max_iter=2, warm_start=True).fit(X)
    sae.set_params(n_components=16)
    with pytest.raises(ValueError, match="n_components"):
        sae.fit(X)
    assert sae.components_.shape == (32, 64)


def test_a_pickled_model_keeps_its_fitted_structure_after_set_params(digits):
    X, _ = digits
    sae = small(max_iter=2).fit(X)
    codes = sae.transform(X)
    sae.set_params(tied_weights=True, activation="relu")
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(sae)).transform(X), codes)


def test_partial_fit_runs_one_epoch_per_call_and_continues(digits):
    X, _ = digits
    sae = small()
    for epoch in range(1, 6):
        sae.partial_fit(X)
        assert sae.n_iter_ == epoch
    assert sae.loss_curve_[-1] < sae.loss_curve_[0]
    # after fit, partial_fit takes one more epoch from the fitted state
    fitted = small(max_iter=10).fit(X)
    last = fitted.loss_curve_[-1]
    fitted.partial_fit(X)
    assert fitted.n_iter_ == 11
    assert fitted.loss_curve_[-1] < 1.05 * last
    # a stream of chunks sees every chunk
    stream = small()
    for chunk in np.array_split(X, 4):
        stream.partial_fit(chunk)
    assert stream.n_iter_ == 4


@pytest.mark.parametrize(
    "params", [{"batch_size": 0}, {"learning_rate_init": -1.0}, {"solver": "newton"}]
)
def test_partial_fit_checks_the_parameters_set_since_the_last_call(digits, params):
    X, _ = digits
    sae = small().partial_fit(X[:100])
    codes = sae.transform(X[:5])
    sae.set_params(**params)
    with pytest.raises(ValueError, match=f"'{next(iter(params))}' parameter"):
        sae.partial_fit(X[:100])
    assert sae.n_iter_ == 1
    np.testing.assert_array_equal(sae.transform(X[:5]), codes)


def test_partial_fit_rejects_a_different_number_of_features(digits):
    X, _ = digits
    sae = small().partial_fit(X)
    with pytest.raises(ValueError, match="features"):
        sae.partial_fit(X[:, :10])


# -- input handling -----------------------------------------------------------


@pytest.mark.parametrize(
    "X, message",
    [
        (np.array([[0.0, np.nan], [1.0, 2.0]]), "NaN"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), "infinity"),
        (np.array([0.0, 1.0, 2.0]), "2D array"),
        (np.empty((0, 3)), "0 sample"),
        (np.array([[1 + 1j, 2.0], [0.0, 1.0]]), "[Cc]omplex"),
    ],
)
def test_bad_input_raises_a_clear_value_error(X, message):
    with pytest.raises(ValueError, match=message):
        small().fit(X)
    fitted = small(max_iter=1).fit(np.random.default_rng(0).random((20, X.shape[-1])))
    for method in (fitted.transform, fitted.score_samples, fitted.inverse_transform):
        with pytest.raises(ValueError, match=message):
            method(X)


@pytest.mark.parametrize(
    "params",
    [
        {"n_components": 0},
        {"sparsity_target": 1.5},
        {"sparsity": "l2"},
        {"learning_rate_init": -1.0},
        {"batch_size": 0},
        {"solver": "rmsprop"},
    ],
)
def test_parameters_out_of_range_raise(digits, params):
    X, _ = digits
    with pytest.raises(ValueError, match=next(iter(params))):
        small(**params).fit(X)


def test_transform_checks_the_number_of_features(digits):
    X, _ = digits
    sae = small(max_iter=2).fit(X)
    with pytest.raises(ValueError, match="64 features"):
        sae.transform(X[:, :10])
    with pytest.raises(ValueError, match="n_components=32"):
        sae.inverse_transform(np.zeros((3, 5)))
    with pytest.raises(NotFittedError):
        small().transform(X)


def test_a_failed_fit_leaves_the_fitted_model_as_it_was(digits, monkeypatch):
    pd = pytest.importorskip("pandas")
    X, _ = digits
    sae = small(max_iter=5).fit(X)
    before = sae.transform(X)
    state = dict(vars(sae))
    # a refit that fails validation after the feature names were read
    bad = pd.DataFrame(np.full((10, 3), np.nan), columns=["a", "b", "c"])
    with pytest.raises(ValueError, match="NaN"):
        sae.fit(bad)

    # a failure in the middle of training, after the weights have moved
    sae.set_params(warm_start=True)
    state["warm_start"] = True
    for method in (sae.fit, sae.partial_fit):
        monkeypatch.setattr(_training, "run_single_epoch", _fails_after_one_epoch())
        with pytest.raises(RuntimeError, match="interrupted"):
            method(X)
    assert vars(sae).keys() == state.keys()
    assert all(vars(sae)[key] is value for key, value in state.items())
    assert not hasattr(sae, "feature_names_in_")
    np.testing.assert_array_equal(sae.transform(X), before)


def _fails_after_one_epoch():
    """``run_single_epoch`` that trains one epoch, then raises: the failure
    comes after the weights have moved."""
    original = _training.run_single_epoch

    def run_single_epoch(*args, **kwargs):
        original(*args, **kwargs)
        raise RuntimeError("interrupted")

    return run_single_epoch


def test_float32_in_float32_out_and_float64_in_float64_out(digits):
    X, _ = digits
    X32 = X.astype(np.float32)
    sae32 = small(max_iter=5).fit(X32)
    assert sae32.transform(X32).dtype == np.float32
    assert sae32.components_.dtype == np.float32
    codes32 = sae32.transform(X32)
    assert sae32.inverse_transform(codes32).dtype == np.float32
    assert sae32.score_samples(X32).dtype == np.float32
    sae64 = small(max_iter=5).fit(X)
    assert sae64.transform(X).dtype == np.float64
    assert sae64.inverse_transform(sae64.transform(X)).dtype == np.float64
    assert sae64.transform(X32).dtype == np.float32
    np.testing.assert_allclose(sae32.transform(X32), sae64.transform(X), atol=1e-3)


def test_sparse_input_gives_the_codes_of_dense_input(digits):
    """With the same parameters (a sigmoid output takes the dense batch; the
    same start, which ``init="auto"`` chooses by the input)."""
    X, _ = digits
    X_sparse = sp.csr_matrix(X)
    params = dict(
        sparsity="kl",
        output_activation="sigmoid",
        init="random",
        batch_size=200,
        max_iter=5,
        compute_dtype="float64",  # the two paths agree to its rounding
    )
    dense = small(**params).fit(X)
    sparse = small(**params).fit(X_sparse)
    np.testing.assert_allclose(sparse.transform(X_sparse), dense.transform(X), atol=1e-10)
    np.testing.assert_allclose(dense.score_samples(X_sparse), dense.score_samples(X))


@pytest.mark.parametrize("to_matrix", [np.asarray, sp.csr_matrix], ids=["dense", "sparse"])
def test_the_svd_start_reconstructs_what_its_directions_hold(digits, to_matrix):
    """``init="svd"``: pairs of opposite atoms along the leading singular
    directions about the geometric median, so that TopK with k = one unit a
    pair keeps each row's coordinates along them and decodes their
    projection; an odd last unit starts at random. (Trained with a step so
    small that the model stays at its start.)"""
    X, _ = digits
    params = dict(sparsity="topk", k=8, init="svd", learning_rate_init=1e-12, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sae = small(n_components=16, **params).fit(to_matrix(X))
        odd = small(n_components=17, **params).fit(to_matrix(X))
    center = geometric_median(X)
    _, _, directions = np.linalg.svd(X - center, full_matrices=False)
    projection = center + (X - center) @ directions[:8].T @ directions[:8]
    codes = sae.transform(X)
    assert sae.init_ == "svd"
    assert np.all(np.count_nonzero(codes.reshape(-1, 8, 2), axis=2) <= 1)
    np.testing.assert_allclose(sae.inverse_transform(codes), projection, atol=1e-3 * X.max())
    np.testing.assert_allclose(odd.components_[:16], sae.components_, atol=1e-9)
    assert np.all(np.abs(directions[:8] @ odd.components_[16]) < 0.9)


def test_k_auto_keeps_half_the_units_of_a_sparse_matrix(digits):
    """The singular-directions start gives each pair of units one positive
    code a row: half the units keep them all. Dense rows keep 32."""
    X, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = small(n_components=64, sparsity="topk", max_iter=1).fit(X)
        sparse = small(n_components=40, max_iter=1).fit(sp.csr_matrix(X))
        explicit = small(n_components=40, k=5, max_iter=1).fit(sp.csr_matrix(X))
    assert dense.k == sparse.k == "auto"
    assert dense.code_params_["k"] == 32
    assert sparse.code_params_["k"] == 20
    assert sparse.l0_ == pytest.approx(20, abs=0.5)
    assert explicit.code_params_["k"] == 5


def test_auto_chooses_for_sparse_input_what_learns_there(digits):
    """TopK codes, a linear decoder, a step size for the width and a start
    along the singular directions: recorded."""
    X, _ = digits
    dense = small(max_iter=2).fit(X)
    assert (dense.sparsity_, dense.output_activation_, dense.init_) == ("kl", "sigmoid", "random")
    wide = sp.random(60, 3136, density=0.01, format="csr", random_state=0)
    sparse = small(max_iter=2, k=4).fit(wide)
    assert (sparse.sparsity_, sparse.output_activation_, sparse.init_) == (
        "topk",
        "identity",
        "svd",
    )
    assert sparse.learning_rate_init_ == pytest.approx(5e-3)  # 1e-2 * sqrt(784 / 3136)
    assert dense.learning_rate_init_ == 1e-2
    explicit = small(max_iter=2, sparsity="l1", learning_rate_init=3e-2).fit(wide)
    assert (explicit.sparsity_, explicit.learning_rate_init_) == ("l1", 3e-2)


@pytest.mark.parametrize("sparsity", ["topk", "l1"])
def test_inverse_transform_decodes_sparse_codes(digits, sparsity):
    X, _ = digits
    sae = small(sparsity=sparsity, k=4, max_iter=3).fit(X)
    codes = sae.transform(X)
    decoded = sae.inverse_transform(sp.csr_matrix(codes))
    np.testing.assert_allclose(decoded, sae.inverse_transform(codes), atol=1e-12)


def test_pandas_input_and_output_carry_feature_names(digits):
    pd = pytest.importorskip("pandas")
    X, _ = digits
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(64)])
    sae = small(n_components=4, max_iter=2).set_output(transform="pandas").fit(frame)
    codes = sae.transform(frame)
    assert list(codes.columns) == [f"sparseautoencodertransformer{i}" for i in range(4)]
    assert list(sae.feature_names_in_) == list(frame.columns)


# -- reproducibility and persistence ------------------------------------------


def test_same_random_state_gives_identical_codes_and_keeps_torch_seed(digits):
    X, _ = digits
    torch_state = torch.random.get_rng_state()
    codes = [small(max_iter=5, random_state=42).fit_transform(X) for _ in range(2)]
    np.testing.assert_array_equal(codes[0], codes[1])
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    other = small(max_iter=5, random_state=43).fit_transform(X)
    assert not np.allclose(codes[0], other)


def _walk(obj):
    yield obj
    if isinstance(obj, dict):
        for value in obj.values():
            yield from _walk(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _walk(value)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        yield from _walk(vars(obj))


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_pickle_round_trip_gives_identical_codes(digits, dump):
    X, _ = digits
    sae = small(max_iter=5).fit(X)
    if dump == "pickle":
        loaded = pickle.loads(pickle.dumps(sae))
    else:
        buffer = io.BytesIO()
        joblib.dump(sae, buffer)
        buffer.seek(0)
        loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.transform(X), sae.transform(X))
    np.testing.assert_array_equal(loaded.score_samples(X), sae.score_samples(X))
    loaded.partial_fit(X)  # and it can go on training
    assert loaded.n_iter_ == 6


def test_pickled_state_holds_no_torch_objects(digits):
    X, _ = digits
    sae = small(max_iter=5).fit(X)
    torch_types = (torch.Tensor, torch.nn.Module, torch.optim.Optimizer, torch.device)
    assert not any(isinstance(o, torch_types) for o in _walk(sae.__getstate__()))


def test_a_model_fitted_on_cuda_loads_on_a_cpu_only_machine(digits, monkeypatch):
    X, _ = digits
    sae = small(max_iter=5).fit(X)
    expected = sae.transform(X)
    state = sae.__getstate__()
    state["device_"] = "cuda:0"  # what a GPU fit leaves, arrays being numpy
    payload = pickle.dumps(state)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = SparseAutoencoderTransformer.__new__(SparseAutoencoderTransformer)
    loaded.__setstate__(pickle.loads(payload))
    with pytest.warns(UserWarning, match="runs on the CPU"):
        codes = loaded.transform(X)
    np.testing.assert_array_equal(codes, expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fit_pickles_to_cpu_with_the_same_codes(digits, monkeypatch):
    X, _ = digits
    sae = small(max_iter=5, device="cuda").fit(X)
    assert sae.device_.startswith("cuda")
    expected = sae.transform(X)
    payload = pickle.dumps(sae)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="runs on the CPU"):
        codes = pickle.loads(payload).transform(X)
    np.testing.assert_allclose(codes, expected, atol=1e-6)


def test_device_is_resolved_at_fit(digits):
    X, _ = digits
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert small(max_iter=1, device="auto").fit(X).device_.split(":")[0] == expected
    assert small(max_iter=1, device=torch.device("cpu")).fit(X).device_ == "cpu"
    with pytest.raises(ValueError, match="not a device"):
        small(max_iter=1, device="gpu").fit(X)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            small(max_iter=1, device="cuda").fit(X)


def test_verbose_prints_one_line_per_epoch(digits, capsys):
    X, _ = digits
    small(max_iter=3, verbose=True, early_stopping=True).fit(X)
    lines = [line for line in capsys.readouterr().out.splitlines() if "Epoch" in line]
    assert len(lines) == 3
    assert "loss" in lines[0] and "validation loss" in lines[0] and lines[0].endswith("s")


# -- in scikit-learn's machinery ----------------------------------------------


@pytest.mark.parametrize(
    "n_jobs",
    [1, pytest.param(2, marks=pytest.mark.slow)],  # (2: starting workers, some 10 s)
)
def test_pipeline_and_grid_search(digits, n_jobs):
    X, y = digits
    pipe = Pipeline([("sae", small(max_iter=50)), ("clf", LogisticRegression(max_iter=500))])
    search = GridSearchCV(pipe, {"sae__n_components": [32, 128]}, cv=2, n_jobs=n_jobs)
    search.fit(X[:600], y[:600])
    assert search.best_score_ > 0.8
    assert search.score(X[600:], y[600:]) > 0.8


def test_grid_search_tunes_the_transformer_without_labels(digits):
    X, _ = digits
    search = GridSearchCV(small(max_iter=20), {"n_components": [2, 32]}, cv=2).fit(X)
    assert search.best_params_ == {"n_components": 32}


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(digits):
    X, _ = digits
    sae = small(max_iter=2).fit(X)
    copy = clone(sae)
    assert copy.get_params() == sae.get_params()
    assert not hasattr(copy, "components_")


def test_warnings_point_at_the_users_line(digits):
    X, _ = digits
    with pytest.warns(ConvergenceWarning) as record:
        SparseAutoencoderTransformer(8, max_iter=1, random_state=0).fit(X)
    assert {warning.filename for warning in record} == {__file__}
    pipe = make_pipeline(SparseAutoencoderTransformer(8, max_iter=1, random_state=0))
    with pytest.warns(ConvergenceWarning) as record:
        pipe.fit(X)  # through scikit-learn's Pipeline too
    assert {warning.filename for warning in record} == {__file__}


def test_k_above_the_number_of_units_keeps_every_code_with_a_warning(digits):
    X, _ = digits
    with pytest.warns(UserWarning, match="k=12 is more codes per sample than") as record:
        sae = SparseAutoencoderTransformer(8, sparsity="topk", k=12, max_iter=2).fit(X)
    assert record[0].filename == __file__
    assert (sae.transform(X) > 0).sum(axis=1).max() <= 8
