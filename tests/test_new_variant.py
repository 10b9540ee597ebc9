"""A new sparsity variant is one code class (and one row of the penalties table).

The toy variant below registers itself in those two places only, with a
hyperparameter of its own; every estimator then fits it, takes its
hyperparameter as a parameter like any other, and the common tests (the
estimator checks, pickling and the property suite) run on it with no edit of
theirs: they build their instances from the registry (``tests/variants.py``).
"""

import dataclasses
from numbers import Real

import numpy as np
import pytest
import test_properties
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import Interval, InvalidParameterError
from sklearn.utils.estimator_checks import check_estimator
from test_pickling import assert_pickles_through_public_classes
from variants import quick_instances, slow_instances

from skl_sae import SparseAutoencoderTransformer, StackedSparseAutoencoderClassifier
from skl_sae._codes import CODES, SparseCode
from skl_sae._functional import l1_sparsity
from skl_sae._losses import SPARSITY_PENALTIES


class ShiftedReLU(SparseCode):
    """``relu(pre - shift)`` with one fixed shift per unit: exactly sparse codes.

    Its own hyperparameter ``shift_scale`` sets the shift in units of the
    pre-activations' typical size.
    """

    hyperparameters = {"shift_scale": (0.5, [Interval(Real, 0, None, closed="neither")])}

    def __init__(self, n_units, activation="relu", shift=1.0, dtype=None):
        super().__init__(activation)
        self.register_buffer("shift", torch.full((n_units,), float(shift), dtype=dtype))

    @classmethod
    def from_params(cls, activation, n_units, *, shift_scale, scale=1.0, dtype=None):
        return cls(n_units, activation, shift=shift_scale * scale, dtype=dtype)

    def forward(self, pre):
        return self._f(pre - self.shift), None

    def export_thresholds(self, n_units):
        return self.shift.cpu().numpy().copy()

    @torch.no_grad()
    def load_thresholds_(self, thresholds):
        self.shift.copy_(torch.from_numpy(thresholds))


@pytest.fixture
def shifted_relu(monkeypatch):
    """Register the toy variant as ``sparsity="shifted"`` for one test."""
    penalty_calls = []

    def penalty(output, target):
        penalty_calls.append(1)
        return l1_sparsity(output.codes)

    monkeypatch.setitem(CODES, "shifted", ShiftedReLU)
    monkeypatch.setitem(SPARSITY_PENALTIES, "shifted", penalty)
    return penalty_calls


def test_a_registered_variant_fits_with_its_own_hyperparameter(digits, shifted_relu):
    X, _ = digits
    sae = SparseAutoencoderTransformer(
        16,
        sparsity="shifted",
        code_params={"shift_scale": 0.25},
        sparsity_weight=0.1,
        max_iter=5,
        random_state=0,
    ).fit(X)
    assert shifted_relu, "the variant's penalty row was not used"
    codes = sae.transform(X)
    assert codes.min() == 0 and np.mean(codes == 0) > 0.05  # exactly sparse
    assert sae.output_activation_ == "identity"  # the family's linear dictionary
    np.testing.assert_allclose(np.linalg.norm(sae.components_, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(sae.thresholds_, 0.25 * sae.feature_variance_**0.5)
    assert sae.code_params_ == {"shift_scale": 0.25}
    default = SparseAutoencoderTransformer(16, sparsity="shifted", max_iter=1).fit(X)
    assert default.code_params_ == {"shift_scale": 0.5}  # the class's default


def test_its_hyperparameter_is_a_parameter_like_any_other(digits, shifted_relu):
    X, _ = digits
    sae = SparseAutoencoderTransformer(8, sparsity="shifted", max_iter=2, random_state=0)
    assert sae.set_params(code_params={"shift_scale": 2.0}).get_params()["code_params"] == {
        "shift_scale": 2.0
    }
    assert clone(sae).code_params == {"shift_scale": 2.0}
    grid = [{"shift_scale": 0.5}, {"shift_scale": 2.0}]
    search = GridSearchCV(sae, {"code_params": grid}, cv=2).fit(X[:200])
    assert search.best_params_["code_params"] in grid
    with pytest.raises(InvalidParameterError, match="shift_scale"):
        sae.set_params(code_params={"shift_scale": -1.0}).fit(X)
    with pytest.raises(ValueError, match="not hyperparameters"):
        sae.set_params(code_params={"width": 3}).fit(X)


def test_warm_start_cannot_change_the_codes_hyperparameter(digits, shifted_relu):
    X, _ = digits
    sae = SparseAutoencoderTransformer(
        8, sparsity="shifted", warm_start=True, max_iter=1, random_state=0
    ).fit(X)
    with pytest.raises(ValueError, match="code_params"):
        sae.set_params(code_params={"shift_scale": 3.0}).fit(X)


def test_a_registered_variant_fits_through_the_classifier(digits, shifted_relu):
    X, y = digits
    clf = StackedSparseAutoencoderClassifier(
        (32,), sparsity="shifted", pretrain_max_iter=3, max_iter=10, random_state=0
    ).fit(X, y)
    assert clf.score(X, y) > 0.8


def test_the_estimator_checks_run_on_a_registered_variant(shifted_relu):
    for estimator in quick_instances("shifted"):
        check_estimator(estimator)


@pytest.mark.slow
def test_the_estimator_checks_run_on_a_registered_variant_in_every_estimator(shifted_relu):
    for estimator in slow_instances("shifted"):
        check_estimator(estimator)


def test_a_registered_variant_pickles_through_public_classes(digits, shifted_relu):
    X, y = digits
    for estimator in quick_instances("shifted") + slow_instances("shifted"):
        assert_pickles_through_public_classes(
            estimator.set_params(max_iter=2, random_state=0), X[:300], y[:300]
        )


def test_the_property_suite_runs_on_a_registered_variant(monkeypatch, shifted_relu):
    spec = test_properties.SPECS["transformer"]
    toy = dataclasses.replace(spec, base={**spec.base, "sparsity": "shifted"})
    monkeypatch.setitem(test_properties.SPECS, "shifted", toy)
    given(data=st.data())(lambda data: test_properties.run_case(data, "shifted"))()


def test_an_unregistered_variant_is_rejected(digits):
    with pytest.raises(InvalidParameterError, match="sparsity"):
        SparseAutoencoderTransformer(sparsity="shifted").fit(digits[0])
