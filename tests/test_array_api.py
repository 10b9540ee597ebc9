"""Arrays of other libraries in and out (scikit-learn's Array API dispatch).

scikit-learn's own checks (``check_array_api_input`` and the mixed-namespace
ones, for torch on the CPU and array-api-strict) run in ``test_common.py``;
these state the rest: values, devices, what stays numpy, pickling, and that a
torch tensor's inference never goes through the host.
"""

import pickle

import numpy as np
import pytest
import sklearn
import torch

from skl_sae import (
    ConvolutionalSparseAutoencoderTransformer,
    SparseAutoencoderOutlierDetector,
    SparseAutoencoderTransformer,
    StackedSparseAutoencoderClassifier,
)

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture
def dispatch():
    with sklearn.config_context(array_api_dispatch=True):
        yield


@pytest.fixture
def rows(digits):
    return digits[0][:300], digits[1][:300]


def small(**params):
    return SparseAutoencoderTransformer(16, max_iter=5, random_state=0, **params)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_tensor_in_gives_a_tensor_out_of_its_dtype_with_numpys_values(rows, dispatch, dtype):
    X = rows[0]
    reference = small().fit(X.astype(np.float32 if dtype == torch.float32 else np.float64))
    X_t = torch.as_tensor(X, dtype=dtype)
    fitted = small().fit(X_t)
    codes = fitted.transform(X_t)
    assert isinstance(codes, torch.Tensor) and codes.dtype == dtype
    expected = reference.transform(X.astype(codes.numpy().dtype))
    with sklearn.config_context(array_api_dispatch=False):
        np.testing.assert_allclose(codes.numpy(), expected, rtol=1e-5, atol=1e-6)
    decoded = fitted.inverse_transform(codes)
    assert isinstance(decoded, torch.Tensor) and decoded.shape == X_t.shape
    scores = fitted.score_samples(X_t)
    assert isinstance(scores, torch.Tensor) and scores.shape == (len(X),)
    assert isinstance(fitted.score(X_t), float)


def test_fitted_arrays_live_in_the_inputs_namespace_and_pickle_as_numpy(rows, dispatch):
    fitted = small().fit(torch.as_tensor(rows[0]))
    for name in ("components_", "encoder_weights_", "encoder_bias_", "feature_density_"):
        assert isinstance(getattr(fitted, name), torch.Tensor), name
    loaded = pickle.loads(pickle.dumps(fitted))
    assert isinstance(loaded.components_, np.ndarray)
    np.testing.assert_array_equal(loaded.components_, fitted.components_.numpy())
    np.testing.assert_allclose(  # an unpickled model is a numpy one
        loaded.transform(rows[0]), fitted.transform(torch.as_tensor(rows[0])).numpy()
    )


def test_inputs_of_another_namespace_than_the_fits_are_refused(rows, dispatch):
    fitted = small().fit(torch.as_tensor(rows[0]))
    with pytest.raises(ValueError, match="same namespace"):
        fitted.transform(rows[0])
    numpy_fitted = small().fit(rows[0])
    with pytest.raises(ValueError, match=r"SparseAutoencoderTransformer\.transform\(\)"):
        numpy_fitted.transform(torch.as_tensor(rows[0]))


def test_a_tensor_is_checked_as_scikit_learn_checks_arrays(rows, dispatch):
    fitted = small().fit(torch.as_tensor(rows[0]))
    with pytest.raises(ValueError, match="X has 3 features, but .* expecting 64"):
        fitted.transform(torch.zeros(2, 3, dtype=torch.float64))
    bad = torch.as_tensor(rows[0][:5]).clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fitted.transform(bad)
    with pytest.raises(ValueError, match="2D"):
        fitted.transform(torch.as_tensor(rows[0][0]))


def test_a_tensors_inference_never_goes_through_numpy(rows, dispatch, monkeypatch):
    fitted = small().fit(torch.as_tensor(rows[0]))
    X_t = torch.as_tensor(rows[0])
    calls = []
    original = torch.Tensor.numpy

    def counted(self, *args, **kwargs):
        calls.append(self.shape)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "numpy", counted)
    codes = fitted.transform(X_t)
    fitted.inverse_transform(codes)
    fitted.score_samples(X_t)
    assert calls == []


def test_without_dispatch_a_cpu_tensor_is_read_as_numpy(rows):
    fitted = small().fit(torch.as_tensor(rows[0]))
    assert isinstance(fitted.components_, np.ndarray)
    codes = fitted.transform(torch.as_tensor(rows[0]))
    assert isinstance(codes, np.ndarray)
    np.testing.assert_array_equal(codes, fitted.transform(rows[0]))


def test_a_classifier_predicts_labels_in_the_inputs_namespace(rows, dispatch):
    X, y = rows
    classifier = StackedSparseAutoencoderClassifier(
        (16,), pretrain_max_iter=2, max_iter=5, random_state=0
    )
    fitted = classifier.fit(torch.as_tensor(X), torch.as_tensor(y))
    assert isinstance(fitted.classes_, torch.Tensor)
    labels = fitted.predict(torch.as_tensor(X))
    assert isinstance(labels, torch.Tensor) and labels.dtype == torch.int64
    proba = fitted.predict_proba(torch.as_tensor(X))
    assert isinstance(proba, torch.Tensor)
    np.testing.assert_array_equal(labels.numpy(), fitted.classes_.numpy()[proba.argmax(1)])
    # Labels no Array API library holds stay numpy.
    names = np.array(["even", "odd"])[y % 2]
    named = classifier.fit(torch.as_tensor(X), names)
    assert isinstance(named.predict(torch.as_tensor(X)), np.ndarray)
    assert isinstance(named.coefs_[0], torch.Tensor)  # lists of arrays move too


def test_a_detector_and_a_convolutional_code_take_tensors(rows, dispatch):
    X_t = torch.as_tensor(rows[0])
    detector = SparseAutoencoderOutlierDetector(8, max_iter=3, random_state=0).fit(X_t)
    labels = detector.predict(X_t)
    assert isinstance(labels, torch.Tensor) and set(labels.tolist()) <= {-1, 1}
    assert isinstance(pickle.loads(pickle.dumps(detector)).unit_rarity_, np.ndarray)
    conv = ConvolutionalSparseAutoencoderTransformer(filters=(4,), max_iter=2, random_state=0)
    codes = conv.fit(X_t).transform(X_t)
    assert isinstance(codes, torch.Tensor) and codes.shape[0] == len(X_t)


def test_a_failed_fit_on_tensors_leaves_the_fitted_arrays_as_they_were(rows, dispatch):
    fitted = small().fit(torch.as_tensor(rows[0]))
    components = fitted.components_
    with pytest.raises(ValueError):
        fitted.fit(torch.full((10, 64), float("nan"), dtype=torch.float64))
    assert fitted.components_ is components


@cuda
def test_a_cuda_tensor_comes_back_on_its_device_with_no_copy_to_the_host(rows, dispatch):
    X_t = torch.as_tensor(rows[0], device="cuda")
    fitted = small(device="cuda").fit(X_t)
    assert fitted.components_.device.type == "cuda"
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as profile:
        codes = fitted.transform(X_t)
        torch.cuda.synchronize()
    assert codes.device == X_t.device
    to_host = [e for e in profile.events() if "DtoH" in e.name]
    assert len(to_host) <= 2  # the input's and the result's finiteness: one flag each


@cuda
def test_the_model_runs_on_its_device_and_results_return_to_the_inputs(rows, dispatch):
    fitted = small(device="cpu").fit(torch.as_tensor(rows[0], device="cuda"))
    assert fitted.device_ == "cpu"
    codes = fitted.transform(torch.as_tensor(rows[0], device="cuda"))
    assert codes.device.type == "cuda"


@cuda
def test_without_dispatch_a_cuda_tensor_is_refused_as_numpy_refuses_it(rows):
    with pytest.raises(TypeError, match="cuda"):
        small().fit(torch.as_tensor(rows[0], device="cuda"))


def test_an_imputer_fills_a_tensor_in_its_namespace(rows, dispatch):
    from skl_sae import SparseAutoencoderImputer

    X = torch.as_tensor(rows[0]).clone()
    X[::3, 5] = float("nan")
    imputer = SparseAutoencoderImputer(n_components=8, max_iter=3, random_state=0).fit(X)
    assert isinstance(imputer.residual_std_, torch.Tensor)
    filled = imputer.transform(X)
    assert isinstance(filled, torch.Tensor) and not torch.isnan(filled).any()
    observed = ~torch.isnan(X)
    assert torch.equal(filled[observed], X[observed])
    loaded = pickle.loads(pickle.dumps(imputer))
    assert isinstance(loaded.residual_std_, np.ndarray)


def test_parameters_stay_as_given_and_an_unfitted_model_says_so(rows, dispatch):
    from sklearn.exceptions import NotFittedError

    X, y = torch.as_tensor(rows[0]), torch.as_tensor(rows[1])
    sizes = np.array([8])
    classifier = StackedSparseAutoencoderClassifier(sizes, pretrain_max_iter=1, max_iter=2)
    classifier.fit(X, y)
    assert classifier.hidden_layer_sizes is sizes  # a fit never changes a parameter
    with pytest.raises(NotFittedError):
        small().transform(X)
    stream = StackedSparseAutoencoderClassifier((8,), pretrain_max_iter=1, max_iter=2)
    stream.partial_fit(X[:100], y[:100], classes=torch.arange(10))  # every array as numpy
    assert isinstance(stream.classes_, torch.Tensor)
