"""SparseAutoencoderOutlierDetector, stated as a specification."""

import pickle

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from skl_sae import SparseAutoencoderOutlierDetector


def small(**params):
    defaults = dict(n_components=16, max_iter=60, random_state=0)
    return SparseAutoencoderOutlierDetector(**{**defaults, **params})


@pytest.fixture(scope="module")
def zeros_and_others(digits):
    """Train on the digit 0; test on held-out zeros (inliers) and other digits."""
    X, y = digits
    zeros, others = X[y == 0], X[y != 0]
    return zeros[:120], np.vstack([zeros[120:], others[:300]]), len(zeros) - 120


def test_other_digits_score_below_the_digit_it_was_trained_on(zeros_and_others):
    train, test, n_inliers = zeros_and_others
    detector = small().fit(train)
    is_inlier = np.arange(len(test)) < n_inliers
    assert roc_auc_score(is_inlier, detector.score_samples(test)) > 0.95
    assert np.mean(detector.predict(test[n_inliers:]) == -1) > 0.8


def test_scikit_learn_outlier_conventions(zeros_and_others):
    train, test, _ = zeros_and_others
    detector = small().fit(train)
    scores = detector.score_samples(test)
    np.testing.assert_allclose(detector.decision_function(test), scores - detector.offset_)
    np.testing.assert_array_equal(
        detector.predict(test), np.where(scores >= detector.offset_, 1, -1)
    )
    assert set(np.unique(detector.fit_predict(train))) <= {-1, 1}


@pytest.mark.parametrize("contamination", [0.05, 0.2])
def test_contamination_sets_the_share_of_training_outliers(digits, contamination):
    X, _ = digits
    detector = small(contamination=contamination, max_iter=10).fit(X)
    assert np.mean(detector.predict(X) == -1) == pytest.approx(contamination, abs=0.01)


def _standardised(values, train_values):
    q1, median, q3 = np.percentile(train_values, [25, 50, 75])
    return (values - median) / (q3 - q1)


@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_the_score_adds_the_standardised_error_and_code_rarity(zeros_and_others, scale):
    train, test, _ = zeros_and_others
    train, test = scale * train, scale * test
    detector = small(max_iter=5).fit(train)
    sae = detector.autoencoder_

    def error_and_rarity(X):
        error = np.mean((sae.inverse_transform(sae.transform(X)) - X) ** 2, axis=1)
        active = sae.transform(X) > 0
        unit_rarity = -np.log(np.clip(active_in_training.mean(axis=0), 1 / len(train), 1))
        rarity = (active * unit_rarity).sum(axis=1) / np.maximum(active.sum(axis=1), 1)
        return error / train.var(axis=0).mean(), rarity

    active_in_training = sae.transform(train) > 0
    (train_error, train_rarity), (error, rarity) = error_and_rarity(train), error_and_rarity(test)
    expected = -(_standardised(error, train_error) + _standardised(rarity, train_rarity))
    np.testing.assert_allclose(detector.score_samples(test), expected, rtol=1e-6, atol=1e-9)
    only_error = detector.set_params(code_weight=0.0).score_samples(test)
    np.testing.assert_allclose(only_error, -_standardised(error, train_error), rtol=1e-6)


def test_pickle_round_trip(zeros_and_others):
    train, test, _ = zeros_and_others
    detector = small(max_iter=5).fit(train)
    loaded = pickle.loads(pickle.dumps(detector))
    np.testing.assert_array_equal(loaded.score_samples(test), detector.score_samples(test))


def test_scores_that_would_overflow_raise_a_clear_error():
    # float32 samples far beyond the training data: their reconstruction
    # errors overflow float32, and their scores would be -inf.
    X = np.random.default_rng(0).normal(size=(50, 3))
    detector = small(n_components=3, max_iter=2).fit(X)
    far = (X * 1e30).astype(np.float32)
    for method in (detector.score_samples, detector.decision_function, detector.predict):
        with pytest.raises(ValueError, match="not finite.*float32.*Scale X"):
            method(far)
