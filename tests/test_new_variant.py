"""A new sparsity variant is one code class and one row of the penalties table.

The toy variant below registers itself in those two places only, and both
estimators fit it, export and reload its thresholds, and validate its name.
"""

import pickle

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

from skl_sae import SparseAutoencoderTransformer, StackedSparseAutoencoderClassifier
from skl_sae._codes import CODES, SparseCode
from skl_sae._losses import SPARSITY_PENALTIES, l1_sparsity


class ShiftedReLU(SparseCode):
    """``relu(pre - shift)`` with one fixed shift per unit: exactly sparse codes."""

    def __init__(self, n_units, activation="relu", shift=1.0, dtype=None):
        super().__init__(activation)
        self.register_buffer("shift", torch.full((n_units,), float(shift), dtype=dtype))

    @classmethod
    def from_params(cls, activation, n_units, *, k=None, scale=1.0, dtype=None):
        return cls(n_units, activation, shift=scale, dtype=dtype)

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


def test_a_registered_variant_fits_through_the_transformer(digits, shifted_relu):
    X, _ = digits
    sae = SparseAutoencoderTransformer(
        16, sparsity="shifted", sparsity_weight=0.1, max_iter=5, random_state=0
    ).fit(X)
    assert shifted_relu, "the variant's penalty row was not used"
    codes = sae.transform(X)
    assert codes.min() == 0 and np.mean(codes == 0) > 0.05  # exactly sparse
    assert sae.activity_threshold_ == 0
    assert sae.output_activation_ == "identity"  # the family's linear dictionary
    np.testing.assert_allclose(np.linalg.norm(sae.components_, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(sae.thresholds_, sae.feature_variance_**0.5)
    restored = pickle.loads(pickle.dumps(sae))
    np.testing.assert_array_equal(restored.transform(X), codes)


def test_a_registered_variant_fits_through_the_classifier(digits, shifted_relu):
    X, y = digits
    clf = StackedSparseAutoencoderClassifier(
        (32,), sparsity="shifted", pretrain_max_iter=3, max_iter=10, random_state=0
    ).fit(X, y)
    assert clf.score(X, y) > 0.8
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


def test_an_unregistered_variant_is_rejected(digits):
    with pytest.raises(InvalidParameterError, match="sparsity"):
        SparseAutoencoderTransformer(sparsity="shifted").fit(digits[0])
