"""StackedSparseAutoencoderClassifier, stated as a specification."""

import pickle

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, train_test_split

from skl_sae import StackedSparseAutoencoderClassifier, _training


def small(**params):
    """A fast classifier for digits; ``params`` override."""
    defaults = dict(hidden_layer_sizes=(32, 16), pretrain_max_iter=10, max_iter=30, random_state=0)
    return StackedSparseAutoencoderClassifier(**{**defaults, **params})


@pytest.fixture(scope="module")
def split(digits):
    X, y = digits
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def fitted(split):
    X_train, _, y_train, _ = split
    return small().fit(X_train, y_train)


# -- what it learns -------------------------------------------------------------


@pytest.mark.slow
def test_digits_are_classified_accurately(split):
    X_train, X_test, y_train, y_test = split
    clf = StackedSparseAutoencoderClassifier(random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.95


def test_pretraining_lowers_each_layers_autoencoder_loss(fitted):
    assert len(fitted.pretrain_loss_curves_) == 2  # one per hidden layer
    for curve in fitted.pretrain_loss_curves_:
        assert len(curve) == 10
        assert curve[-1] < 0.5 * curve[0]


def test_fine_tuning_moves_the_encoders_and_frozen_features_stay_pretrained(split):
    X_train, X_test, y_train, y_test = split
    frozen = small(fine_tune=False).fit(X_train, y_train)
    tuned = small(fine_tune=True).fit(X_train, y_train)
    # one epoch of softmax training on top of the same pre-training: the
    # encoders of ``frozen`` did not move during its 30 epochs
    pretrained_only = small(fine_tune=False, max_iter=1).fit(X_train, y_train)
    for a, b in zip(frozen.coefs_[:-1], pretrained_only.coefs_[:-1], strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(frozen.intercepts_[:-1], pretrained_only.intercepts_[:-1], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(frozen.coefs_[-1], pretrained_only.coefs_[-1])
    assert not np.allclose(tuned.coefs_[0], frozen.coefs_[0])
    assert tuned.score(X_test, y_test) >= frozen.score(X_test, y_test)


def test_predict_proba_is_a_distribution_whose_argmax_is_predict(fitted, split):
    _, X_test, _, _ = split
    proba = fitted.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(fitted.classes_[proba.argmax(axis=1)], fitted.predict(X_test))
    np.testing.assert_allclose(fitted.predict_log_proba(X_test), np.log(proba), atol=1e-6)
    logits = fitted.decision_function(X_test)
    assert logits.shape == (len(X_test), 10)
    np.testing.assert_array_equal(logits.argmax(axis=1), proba.argmax(axis=1))


def test_log_probabilities_stay_finite_where_probabilities_round_to_zero(split):
    X_train, X_test, y_train, _ = split
    clf = small(sparsity="l1", activation="relu", max_iter=5).fit(X_train, y_train)
    far = X_test[:5] * 1e4  # relu codes: logits thousands apart
    assert np.any(clf.predict_proba(far) == 0)
    log_proba = clf.predict_log_proba(far)
    assert np.all(np.isfinite(log_proba))
    np.testing.assert_allclose(np.exp(log_proba), clf.predict_proba(far), atol=1e-12)


@pytest.mark.parametrize("labels", [["zero", "one", "two"], [-5, 7, 100]])
def test_any_labels_round_trip_through_predict(digits, labels):
    X, y = digits
    keep = y < 3
    named = np.asarray(labels, dtype=object if isinstance(labels[0], str) else None)[y[keep]]
    clf = small().fit(X[keep], named)
    assert list(clf.classes_) == sorted(labels)
    predicted = clf.predict(X[keep])
    assert set(predicted) <= set(labels)
    assert np.mean(predicted == named) > 0.9


def test_a_two_class_problem(digits):
    X, y = digits
    keep = (y == 3) | (y == 8)
    clf = small().fit(X[keep], y[keep] == 3)
    assert clf.classes_.tolist() == [False, True]
    scores, proba = clf.decision_function(X[keep]), clf.predict_proba(X[keep])
    assert scores.shape == (keep.sum(),) and proba.shape == (keep.sum(), 2)
    # a positive score means classes_[1]
    np.testing.assert_array_equal(clf.predict(X[keep]), clf.classes_[(scores > 0).astype(int)])
    np.testing.assert_array_equal(scores > 0, proba[:, 1] > 0.5)
    assert clf.score(X[keep], y[keep] == 3) > 0.9


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_transform_gives_the_top_hidden_codes(fitted, split):
    _, X_test, _, _ = split
    codes = fitted.transform(X_test)
    expected = X_test
    for coef, intercept in zip(fitted.coefs_[:-1], fitted.intercepts_[:-1], strict=True):
        expected = _sigmoid(expected @ coef + intercept)
    np.testing.assert_allclose(codes, expected, rtol=1e-6, atol=1e-9)
    logits = expected @ fitted.coefs_[-1] + fitted.intercepts_[-1]
    np.testing.assert_allclose(fitted.decision_function(X_test), logits, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("sparsity", ["topk", "batchtopk", "jumprelu"])
def test_sparse_codes_stay_in_the_stack_through_prediction(split, sparsity):
    X_train, X_test, y_train, y_test = split
    # In layers this small (32 and 16 units, k=6) JumpReLU needs a smaller
    # step than the default: at 1e-2, fine-tuning closes most of its units.
    slower = (
        {"learning_rate_init": 3e-3, "pretrain_max_iter": 20} if sparsity == "jumprelu" else {}
    )
    clf = small(sparsity=sparsity, k=6, **slower).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.85
    codes = clf.transform(X_test)
    if sparsity == "topk":
        assert np.all(np.count_nonzero(codes, axis=1) <= 6)
    else:
        assert np.mean(codes == 0) > 0.3
    # Inference of one row does not depend on the rest of the batch.
    one_by_one = np.vstack([clf.predict_proba(X_test[i : i + 1]) for i in range(10)])
    np.testing.assert_allclose(one_by_one, clf.predict_proba(X_test[:10]), rtol=1e-10)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X_test), clf.predict_proba(X_test))


def test_fitted_attributes_describe_the_network(fitted):
    assert fitted.n_layers_ == 4
    assert fitted.n_outputs_ == 10
    assert [c.shape for c in fitted.coefs_] == [(64, 32), (32, 16), (16, 10)]
    assert [b.shape for b in fitted.intercepts_] == [(32,), (16,), (10,)]
    assert len(fitted.loss_curve_) == fitted.n_iter_
    assert fitted.validation_scores_ is None and fitted.best_validation_score_ is None
    assert len(fitted.pretrain_loss_curves_) == 2
    assert len(fitted.softmax_loss_curve_) == fitted.pretrain_max_iter


def test_no_pretraining_keeps_the_random_initial_encoders(split):
    X_train, _, y_train, _ = split
    clf = small(pretrain_max_iter=0, fine_tune=False, max_iter=5).fit(X_train, y_train)
    assert clf.pretrain_loss_curves_ == []
    again = small(pretrain_max_iter=0, fine_tune=False, max_iter=1).fit(X_train, y_train)
    np.testing.assert_array_equal(clf.coefs_[0], again.coefs_[0])


# -- stopping and continuing ----------------------------------------------------


def test_early_stopping_monitors_validation_accuracy(split):
    X_train, _, y_train, _ = split
    clf = small(early_stopping=True, max_iter=500, n_iter_no_change=3).fit(X_train, y_train)
    assert clf.n_iter_ < 500
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_loss_ == min(clf.loss_curve_)
    # the score is the held-out accuracy, as MLPClassifier's, which early stopping maximises
    assert all(0 <= score <= 1 for score in clf.validation_scores_)
    assert clf.best_validation_score_ == max(clf.validation_scores_) > 0.8
    # training went on past the best epoch, whose weights fit_loop restores
    best = int(np.argmax(clf.validation_scores_))
    assert best < clf.n_iter_ - 1


def test_no_pretraining_holds_for_partial_fit_too(split):
    X_train, _, y_train, _ = split
    clf = small(pretrain_max_iter=0).partial_fit(X_train, y_train, classes=np.arange(10))
    assert clf.pretrain_loss_curves_ == []


def test_warm_start_continues_fine_tuning(split):
    X_train, _, y_train, _ = split
    clf = small(max_iter=5, warm_start=True).fit(X_train, y_train)
    first = list(clf.loss_curve_)
    curves = clf.pretrain_loss_curves_
    clf.fit(X_train, y_train)
    assert clf.n_iter_ == 10
    assert clf.loss_curve_[:5] == first
    assert clf.loss_curve_[5] < 1.05 * first[-1]
    assert clf.pretrain_loss_curves_ is curves  # no new pre-training


def test_partial_fit_needs_the_classes_first_and_continues(split):
    X_train, X_test, y_train, y_test = split
    clf = small()
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X_train, y_train)
    for epoch in range(1, 21):
        clf.partial_fit(X_train, y_train, classes=np.arange(10))
        assert clf.n_iter_ == epoch
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.score(X_test, y_test) > 0.8
    with pytest.raises(ValueError, match="labels not seen"):
        clf.partial_fit(X_train[:5], np.full(5, 11))


def test_partial_fit_checks_the_parameters_set_since_the_last_call(split):
    X_train, _, y_train, _ = split
    clf = small().partial_fit(X_train, y_train, classes=np.arange(10))
    clf.set_params(learning_rate_init=-1.0)  # trained silently before
    with pytest.raises(ValueError, match="'learning_rate_init' parameter"):
        clf.partial_fit(X_train, y_train)
    assert clf.n_iter_ == 1


# -- input, errors, determinism, pickling ----------------------------------------


def test_one_class_is_refused(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="2 classes"):
        small().fit(X[:20], np.zeros(20))


@pytest.mark.parametrize("sizes", [(), (0,), (10, -1)])
def test_bad_hidden_layer_sizes_raise(digits, sizes):
    X, y = digits
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        small(hidden_layer_sizes=sizes).fit(X[:50], y[:50])


def test_a_failed_fit_leaves_the_fitted_model_as_it_was(split, monkeypatch):
    X_train, X_test, y_train, _ = split
    clf = small(max_iter=3, warm_start=True).fit(X_train, y_train)
    before, state = clf.predict_proba(X_test), dict(vars(clf))

    def interrupted(*args, **kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(_training, "run_single_epoch", interrupted)
    with pytest.raises(RuntimeError, match="interrupted"):
        clf.fit(X_train, y_train)
    assert all(vars(clf)[key] is value for key, value in state.items())
    np.testing.assert_array_equal(clf.predict_proba(X_test), before)


def test_same_random_state_gives_identical_predictions(split):
    X_train, X_test, y_train, _ = split
    a = small(max_iter=5).fit(X_train, y_train).predict_proba(X_test)
    state = torch.random.get_rng_state()
    b = small(max_iter=5).fit(X_train, y_train).predict_proba(X_test)
    np.testing.assert_array_equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_float32_is_kept(split):
    X_train, X_test, y_train, _ = split
    clf = small(max_iter=5).fit(X_train.astype(np.float32), y_train)
    assert clf.coefs_[0].dtype == np.float32
    assert clf.predict_proba(X_test.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_pickle_round_trip_gives_identical_predictions(fitted, split, dump, tmp_path):
    _, X_test, _, _ = split
    if dump == "pickle":
        loaded = pickle.loads(pickle.dumps(fitted))
    else:
        joblib.dump(fitted, tmp_path / "clf.joblib")
        loaded = joblib.load(tmp_path / "clf.joblib")
    assert "_module" not in vars(loaded)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), fitted.predict_proba(X_test))


def test_a_model_fitted_on_cuda_loads_on_a_cpu_only_machine(fitted, split, monkeypatch):
    _, X_test, _, _ = split
    expected = fitted.predict(X_test)
    on_gpu = pickle.loads(pickle.dumps(fitted))
    on_gpu.device_ = "cuda:0"  # as if fitted on a GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = pickle.loads(pickle.dumps(on_gpu))
    with pytest.warns(UserWarning, match="runs on the CPU"):
        np.testing.assert_array_equal(loaded.predict(X_test), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fit_predicts_like_its_cpu_copy(split):
    X_train, X_test, y_train, _ = split
    clf = small(device="cuda").fit(X_train, y_train)
    loaded = pickle.loads(pickle.dumps(clf))
    loaded._module = loaded._module_from_weights()  # rebuilt on the CPU
    np.testing.assert_allclose(
        loaded.predict_proba(X_test), clf.predict_proba(X_test), rtol=1e-4, atol=1e-5
    )


def test_sparse_and_pandas_input(split):
    pd = pytest.importorskip("pandas")
    X_train, X_test, y_train, y_test = split
    dense = small(max_iter=3).fit(X_train, y_train)
    np.testing.assert_allclose(
        dense.predict_proba(sp.csr_matrix(X_test)), dense.predict_proba(X_test), atol=1e-12
    )
    # (Sparse rows pre-train the first layer otherwise: a linear decoder that
    # reads their non-zeros, in larger batches.)
    sparse = small(max_iter=10).fit(sp.csr_matrix(X_train), y_train)
    assert sparse.score(sp.csr_matrix(X_test), y_test) > 0.8
    columns = [f"pixel{i}" for i in range(X_train.shape[1])]
    named = small(max_iter=3).fit(pd.DataFrame(X_train, columns=columns), y_train)
    assert list(named.feature_names_in_) == columns
    codes = named.set_output(transform="pandas").transform(pd.DataFrame(X_test, columns=columns))
    assert list(codes.columns) == [f"stackedsparseautoencoderclassifier{i}" for i in range(16)]


@pytest.mark.parametrize(
    "X, message",
    [
        (np.array([[0.0, np.nan]]), "NaN"),
        (np.zeros((2, 5)), "5 features"),
    ],
)
def test_bad_input_at_predict_raises(fitted, X, message):
    for method in (fitted.predict, fitted.predict_proba, fitted.transform):
        with pytest.raises(ValueError, match=message):
            method(X)


# -- integration ------------------------------------------------------------------


def test_grid_search_over_layers_and_sparsity(split):
    X_train, _, y_train, _ = split
    search = GridSearchCV(
        small(max_iter=100),
        {"hidden_layer_sizes": [(16,), (32, 16)], "sparsity_weight": [0.3, 3.0]},
        cv=2,
    ).fit(X_train[:600], y_train[:600])
    assert search.best_score_ > 0.8
    assert not hasattr(clone(search.best_estimator_), "classes_")


# -- dropout ----------------------------------------------------------------------


def test_dropout_drops_hidden_codes_in_fine_tuning_and_keeps_their_mean():
    from skl_sae._layers import DenseLayer, StackedNetwork
    from skl_sae._losses import ClassifierLoss

    generator = torch.Generator().manual_seed(0)
    layers = [DenseLayer(4, 3000, activation="relu", generator=generator)]
    layers.append(DenseLayer(3000, 2, activation="identity", generator=generator))
    network = StackedNetwork(layers)
    loss = ClassifierLoss(dropout=0.25, generator=torch.Generator().manual_seed(1))
    codes = torch.rand(5, 3000) + 0.5
    kept, scale = loss.dropout_mask(codes)
    assert kept.shape == codes.shape and set(kept.unique().tolist()) == {0.0, 1.0}
    assert abs(kept.double().mean().item() - 0.75) < 0.02
    assert scale == pytest.approx(1 / 0.75, rel=1e-4)  # the mean of codes * kept * scale
    x, y = torch.rand(5, 4), torch.tensor([0, 1, 0, 1, 1])
    first, second = loss(network.train(), x, y), loss(network, x, y)
    assert first != second  # each training batch draws its own codes to drop
    inference = torch.nn.functional.cross_entropy(network.eval()(x), y)
    assert loss(network, x, y) == inference  # none dropped outside training


def test_input_dropout_drops_inputs_dense_or_sparse_and_keeps_their_mean():
    from skl_sae._losses import ClassifierLoss
    from skl_sae._sparse import csr_tensor

    loss = ClassifierLoss(input_dropout=0.25, generator=torch.Generator().manual_seed(1))
    x = torch.rand(50, 400, dtype=torch.float64) + 0.5
    dropped, scale = loss.dropped_inputs(x)
    kept = dropped != 0
    assert abs(kept.double().mean().item() - 0.75) < 0.02
    torch.testing.assert_close(dropped[kept], x[kept])  # the network multiplies by scale
    assert scale == pytest.approx(1 / 0.75, rel=1e-4)
    rows = csr_tensor(sp.csr_matrix(x.numpy()))  # lose non-zeros, keep their structure
    dropped, scale = loss.dropped_inputs(rows)
    assert scale == 1  # sparse rows come scaled
    assert dropped.layout == torch.sparse_csr
    torch.testing.assert_close(dropped.col_indices(), rows.col_indices())
    values, kept = dropped.values(), dropped.values() != 0
    assert abs(kept.double().mean().item() - 0.75) < 0.02
    torch.testing.assert_close(values[kept], rows.values()[kept] / 0.75)
    dropped, scale = ClassifierLoss().dropped_inputs(x)
    assert dropped is x and scale == 1


def test_input_dropout_is_reproducible_and_changes_the_fine_tuned_network(split):
    X_train, X_test, y_train, y_test = split
    plain = small(max_iter=5, dropout=0.0).fit(X_train, y_train)
    dropped = small(max_iter=5, dropout=0.0, input_dropout=0.3).fit(X_train, y_train)
    again = small(max_iter=5, dropout=0.0, input_dropout=0.3).fit(X_train, y_train)
    np.testing.assert_array_equal(dropped.predict_proba(X_test), again.predict_proba(X_test))
    assert not np.allclose(dropped.predict_proba(X_test), plain.predict_proba(X_test))
    rows = small(max_iter=5, input_dropout=0.3).fit(sp.csr_matrix(X_train), y_train)
    assert rows.score(sp.csr_matrix(X_test), y_test) > 0.8
    # The softmax layer alone trains on the inference codes: nothing dropped.
    frozen = small(max_iter=5, fine_tune=False).fit(X_train, y_train)
    also = small(max_iter=5, fine_tune=False, input_dropout=0.3).fit(X_train, y_train)
    np.testing.assert_array_equal(frozen.coefs_[-1], also.coefs_[-1])


# -- adversarial rows ----------------------------------------------------------------


def _moved(classifier, X, y, steps):
    """The rows ``X`` moved by ``steps`` (one per feature) along the sign of
    ``classifier``'s loss gradient: the attack that adversarial fine-tuning
    trains on."""
    network = classifier._get_module().eval()
    x = torch.as_tensor(X, dtype=torch.float32).requires_grad_()
    loss = torch.nn.functional.cross_entropy(network(x), torch.as_tensor(y))
    (gradient,) = torch.autograd.grad(loss, x)
    return X + steps * gradient.sign().numpy()


def test_the_adversarial_rows_move_each_feature_by_its_deviations_along_the_gradients_sign():
    from skl_sae._losses import ClassifierLoss

    deviations = torch.tensor([0.0, 1.0, 4.0], dtype=torch.float64)
    loss = ClassifierLoss(adversarial_eps=0.5, input_deviations=deviations)
    x = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    gradient = torch.tensor([[5.0, -1e-9, 0.0], [-2.0, 3.0, -7.0]], dtype=torch.float64)
    moved = loss.perturbed(x, gradient)
    expected = torch.tensor([[1.0, 1.5, 3.0], [0.0, 0.5, -2.0]], dtype=torch.float64)
    torch.testing.assert_close(moved, expected)  # the constant feature, a zero gradient stay
    assert loss.adversarial(x) and not loss.adversarial(x.to_sparse_csr())
    frozen = ClassifierLoss(adversarial_eps=0.5, input_deviations=deviations, frozen=True)
    assert not frozen.adversarial(x)
    assert not ClassifierLoss(input_deviations=deviations).adversarial(x)


def test_adversarial_fine_tuning_holds_up_against_the_moved_rows(split):
    X_train, X_test, y_train, y_test = split
    plain = small(adversarial_eps=0.0).fit(X_train, y_train)
    trained = small(adversarial_eps=0.25).fit(X_train, y_train)
    assert trained.score(X_test, y_test) > 0.9
    np.testing.assert_allclose(trained._feature_deviations, X_train.std(axis=0), rtol=1e-4)
    for eps in (0.25, 0.5):
        steps = eps * X_train.std(axis=0)
        attacked = [
            model.score(_moved(model, X_test, y_test, steps), y_test) for model in (plain, trained)
        ]
        assert attacked[1] > attacked[0] + 0.05, attacked


def test_sparse_rows_and_frozen_stacks_train_on_the_clean_rows(split):
    X_train, X_test, y_train, _ = split
    rows = sp.csr_matrix(X_train)
    default = small(max_iter=5).fit(rows, y_train)
    clean = small(max_iter=5, adversarial_eps=0.0).fit(rows, y_train)
    np.testing.assert_array_equal(default.predict_proba(X_test), clean.predict_proba(X_test))
    frozen = small(max_iter=5, fine_tune=False).fit(X_train, y_train)
    also = small(max_iter=5, fine_tune=False, adversarial_eps=0.0).fit(X_train, y_train)
    np.testing.assert_array_equal(frozen.coefs_[-1], also.coefs_[-1])


def test_continued_fits_keep_the_first_fits_deviations(split):
    X_train, _, y_train, _ = split
    classifier = small(max_iter=2).partial_fit(X_train[:300], y_train[:300], np.unique(y_train))
    first = classifier._feature_deviations.copy()
    classifier.partial_fit(X_train[300:] * 2, y_train[300:])
    np.testing.assert_array_equal(classifier._feature_deviations, first)
    classifier.fit(X_train * 2, y_train)  # a new fit, new deviations
    np.testing.assert_allclose(classifier._feature_deviations, 2 * X_train.std(axis=0), rtol=1e-4)


def test_a_new_fit_forgets_the_deviations_of_the_fit_before(split):
    X_train, _, y_train, _ = split
    classifier = small(max_iter=2).fit(X_train, y_train)
    narrow = X_train[:, 10:20] * 3
    classifier.set_params(adversarial_eps=0.0).fit(narrow, y_train)  # none needed
    classifier.set_params(adversarial_eps=0.25, warm_start=True).fit(narrow, y_train)
    np.testing.assert_allclose(classifier._feature_deviations, narrow.std(axis=0), rtol=1e-4)


def test_an_adaptive_step_size_is_lowered_where_fine_tuning_stalls(split):
    X_train, _, y_train, _ = split
    params = dict(max_iter=200, tol=1.0, n_iter_no_change=2)  # stalls from the 2nd epoch
    adaptive = small(**params).fit(X_train, y_train)
    # Lowered twice, after more than 2 // 2 epochs without improvement each,
    # then stopped after more than 2 at the last step size.
    assert adaptive.learning_rate == "adaptive" and adaptive.n_iter_ == 1 + 2 + 2 + 3
    assert adaptive._optimizer.lr == pytest.approx(adaptive.learning_rate_init / 100)
    constant = small(learning_rate="constant", **params).fit(X_train, y_train)
    assert constant.n_iter_ == 1 + 3
    assert constant._optimizer.lr == constant.learning_rate_init
    # partial_fit steps at the full step size; a warm-started fit starts from it.
    adaptive.partial_fit(X_train, y_train)
    assert adaptive._optimizer.lr == adaptive.fine_tune_learning_rate_
    adaptive.set_params(warm_start=True, max_iter=2).fit(X_train, y_train)
    assert adaptive._optimizer.lr == adaptive.fine_tune_learning_rate_


def test_dropout_is_reproducible_and_changes_the_fine_tuned_network(split):
    X_train, X_test, y_train, _ = split
    plain = small(max_iter=5).fit(X_train, y_train)
    dropped = small(max_iter=5, dropout=0.5).fit(X_train, y_train)
    again = small(max_iter=5, dropout=0.5).fit(X_train, y_train)
    np.testing.assert_array_equal(dropped.predict_proba(X_test), again.predict_proba(X_test))
    assert not np.allclose(dropped.predict_proba(X_test), plain.predict_proba(X_test))


def test_fine_tuning_takes_its_own_step_size(split):
    X_train, _, y_train, _ = split
    same = small(max_iter=3).fit(X_train, y_train)
    assert same.fine_tune_learning_rate_ == same.learning_rate_init
    slower = small(max_iter=3, fine_tune_learning_rate=1e-3).fit(X_train, y_train)
    assert slower.fine_tune_learning_rate_ == 1e-3
    assert slower._optimizer.lr == 1e-3  # fine-tuning's optimizer
    # Pre-training is the same for both: only the fine-tuned weights differ.
    assert not np.allclose(same.coefs_[0], slower.coefs_[0])
    frozen = small(max_iter=3, fine_tune=False, fine_tune_learning_rate=1e-3).fit(X_train, y_train)
    assert frozen.fine_tune_learning_rate_ is None
    assert frozen._optimizer.lr == frozen.learning_rate_init  # the softmax layer's
