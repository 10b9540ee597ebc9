"""torch's run-time settings: the device, the threads, denormals."""

import builtins
import io
import os
import pickle
import warnings
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from joblib import Parallel, delayed
from sklearn.datasets import load_digits

import skl_sae._batches
import skl_sae._runtime
import skl_sae._training
from skl_sae import SparseAutoencoderTransformer, StackedSparseAutoencoderClassifier
from skl_sae._runtime import (
    call_settings,
    float32_matmul_precision,
    flush_denormals,
    resolve_device,
    torch_threads,
)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="not a device"):
        resolve_device("banana")
    with pytest.raises(ValueError, match="not supported"):
        resolve_device("meta")


def test_a_cuda_device_must_exist(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="1 CUDA device"):
        resolve_device("cuda:1")


def _threads_inside():
    with torch_threads():
        return torch.get_num_threads()


def test_torch_threads_run_one_thread_inside_and_restore_the_count_after(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        assert _threads_inside() == 1
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def test_omp_num_threads_asks_for_as_many_threads_as_scikit_learn_would_use(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    monkeypatch.setattr(skl_sae._runtime, "_openmp_effective_n_threads", lambda: 4)
    assert _threads_inside() == 4
    monkeypatch.setattr(skl_sae._runtime, "_openmp_effective_n_threads", lambda: 2)  # a quota
    assert _threads_inside() == 2


def _fake_load(monkeypatch, busy):
    """Make Linux's /proc/loadavg and ``os.getloadavg`` report ``busy`` CPUs
    kept busy by other processes (and this one's thread running)."""
    line = f"{busy}.00 {busy}.00 {busy}.00 {busy + 1}/300 4242\n"
    real_open = builtins.open

    def fake_open(file, *args, **kwargs):
        if str(file) == "/proc/loadavg":
            return io.StringIO(line)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "getloadavg", lambda: (float(busy),) * 3, raising=False)


#: Loads that would give a fit every thread count between all the cores and one,
#: had the count followed them.
LOADS = sorted({0, 1, (os.cpu_count() or 1) // 2, os.cpu_count() or 1})

#: Small fits, and the dtype they train in, whose models the thread count
#: changes in their last bits: the L-BFGS transformer's and the float32
#: classifier's between one and two threads, the Adam transformer's between
#: one and eight (torch 2.13 with MKL 2024.2).
FITS = {
    "transformer": (
        lambda: SparseAutoencoderTransformer(n_components=32, max_iter=3, random_state=0),
        np.float64,
    ),
    "transformer, lbfgs": (
        lambda: SparseAutoencoderTransformer(
            n_components=64, solver="lbfgs", max_iter=3, random_state=0
        ),
        np.float64,
    ),
    "classifier": (
        lambda: StackedSparseAutoencoderClassifier(
            hidden_layer_sizes=(32,), max_iter=3, pretrain_max_iter=2, random_state=0
        ),
        np.float32,
    ),
}


def _fitted_bits(name):
    """The pickled bytes of each fitted attribute of the fit ``FITS[name]``
    on the digits."""
    make, dtype = FITS[name]
    X, y = load_digits(return_X_y=True)
    estimator = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3 epochs do not converge
        estimator.fit((X / 16).astype(dtype), y)
    return {
        attribute: pickle.dumps(value)
        for attribute, value in vars(estimator).items()
        if attribute.endswith("_") and not attribute.startswith("_")
    }


@pytest.mark.parametrize("name", FITS)
def test_fitted_model_is_bit_for_bit_the_same_whatever_the_load(monkeypatch, name):
    models = []
    for busy in LOADS:
        _fake_load(monkeypatch, busy)
        models.append(_fitted_bits(name))
    for busy, model in zip(LOADS[1:], models[1:], strict=True):
        different = [attribute for attribute in model if model[attribute] != models[0][attribute]]
        assert not different, f"{busy} CPUs busy changed {different}"


def test_fitted_model_is_the_same_whatever_threads_torch_had_before():
    before = torch.get_num_threads()
    models = []
    try:
        for threads in sorted({1, 2, os.cpu_count() or 1}):
            torch.set_num_threads(threads)
            models.append(_fitted_bits("classifier"))
    finally:
        torch.set_num_threads(before)
    assert all(model == models[0] for model in models[1:])


def test_resolve_device_takes_a_torch_device():
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.slow  # (2 to 3 s)
def test_joblib_workers_share_the_cores_instead_of_oversubscribing():
    n_cores = os.cpu_count()
    inside = Parallel(n_jobs=2)(delayed(_threads_inside)() for _ in range(2))
    assert all(n <= max(1, n_cores // 2) for n in inside)


@pytest.mark.parametrize("before", [False, True])
def test_denormals_are_flushed_inside_and_the_mode_is_restored_after(before):
    if not torch.set_flush_denormal(before):  # a CPU without the mode
        pytest.skip("this CPU cannot flush denormals")
    tiny = torch.full((1,), 1e-39, dtype=torch.float32)  # a denormal float32
    try:
        with flush_denormals():
            assert (tiny * 1.0).item() == 0.0
        assert ((tiny * 1.0).item() == 0.0) is before
    finally:
        torch.set_flush_denormal(False)


def test_call_settings_set_threads_and_denormals(monkeypatch):
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with call_settings():
        assert torch.get_num_threads() == 1
        assert torch.full((1,), 1e-39, dtype=torch.float32).mul(1.0).item() == 0.0


def _matmul_state():
    """torch's float32 matmul settings: per backend where torch has them."""
    backends = skl_sae._runtime._matmul_backends()
    if backends is None:
        return torch.get_float32_matmul_precision()
    return tuple(backend.fp32_precision for backend in backends)


def _state_of(precision):
    with float32_matmul_precision(precision):
        return _matmul_state()


@pytest.mark.parametrize("precision", ["highest", "high", "medium"])
def test_the_matmul_precision_holds_inside_and_is_restored_after_even_an_error(precision):
    before = _matmul_state()
    with float32_matmul_precision(precision):
        inside = _matmul_state()
        if skl_sae._runtime._matmul_backends() is not None:
            assert inside == skl_sae._runtime.MATMUL_PRECISIONS[precision]
        else:
            assert inside == precision
    assert _matmul_state() == before
    with pytest.raises(KeyError), float32_matmul_precision(precision):
        raise KeyError
    assert _matmul_state() == before
    with float32_matmul_precision(None):  # None: as torch is set
        assert _matmul_state() == before


@pytest.mark.skipif(
    skl_sae._runtime._matmul_backends() is None, reason="torch without per-backend settings"
)
def test_torchs_per_backend_matmul_settings_are_put_back_as_they_were():
    cuda, onednn = skl_sae._runtime._matmul_backends()
    before = (cuda.fp32_precision, onednn.fp32_precision)
    try:
        cuda.fp32_precision, onednn.fp32_precision = "tf32", "none"  # as torch's docs advise
        with float32_matmul_precision("medium"):
            assert (cuda.fp32_precision, onednn.fp32_precision) == ("tf32", "bf16")
        assert (cuda.fp32_precision, onednn.fp32_precision) == ("tf32", "none")
    finally:
        cuda.fp32_precision, onednn.fp32_precision = before


@pytest.mark.parametrize("estimator", ["transformer", "classifier"])
def test_an_estimator_computes_at_its_matmul_precision_and_restores_torchs(monkeypatch, estimator):
    seen = []
    epoch = skl_sae._training.run_single_epoch

    def seeing(*args, **kwargs):
        seen.append(_matmul_state())
        return epoch(*args, **kwargs)

    settings = skl_sae._batches.call_settings

    @contextmanager
    def seeing_inference(matmul_precision=None):
        with settings(matmul_precision):
            seen.append(_matmul_state())
            yield

    monkeypatch.setattr(skl_sae._training, "run_single_epoch", seeing)
    monkeypatch.setattr(skl_sae._batches, "call_settings", seeing_inference)
    X, y = load_digits(return_X_y=True)
    X = (X[:300] / 16).astype(np.float32)
    y = y[:300]
    make = {
        "transformer": lambda **kw: SparseAutoencoderTransformer(32, max_iter=3, **kw),
        "classifier": lambda **kw: StackedSparseAutoencoderClassifier(
            (32,), pretrain_max_iter=2, max_iter=3, **kw
        ),
    }[estimator]
    before = _matmul_state()
    out = {}
    for precision in ("highest", "medium"):
        seen.clear()
        model = make(matmul_precision=precision, random_state=0).fit(X, y)
        assert seen and set(seen) == {_state_of(precision)}
        assert _matmul_state() == before
        seen.clear()
        out[precision] = (
            model.transform(X) if estimator == "transformer" else model.predict_proba(X)
        )
        assert seen and set(seen) == {_state_of(precision)}  # inference too
    assert _matmul_state() == before
    # float32 products to at least bfloat16's precision: models close, not equal in general
    np.testing.assert_allclose(out["medium"], out["highest"], atol=0.05)


def test_a_float64_network_computes_alike_at_every_matmul_precision():
    X = load_digits().data[:200] / 16
    models = [
        SparseAutoencoderTransformer(
            16, max_iter=3, matmul_precision=p, compute_dtype="float64", random_state=0
        ).fit(X)
        for p in ("highest", "medium")
    ]
    np.testing.assert_array_equal(models[0].components_, models[1].components_)
    np.testing.assert_array_equal(models[0].transform(X), models[1].transform(X))


def test_a_torch_without_per_backend_settings_is_set_and_restored_globally(monkeypatch):
    monkeypatch.setattr(skl_sae._runtime, "_matmul_backends", lambda: None)
    backends = [getattr(torch.backends, name).matmul for name in ("cuda", "mkldnn")]
    saved = [getattr(backend, "fp32_precision", None) for backend in backends]
    try:
        torch.set_float32_matmul_precision("high")
        with float32_matmul_precision("medium"):
            assert torch.get_float32_matmul_precision() == "medium"
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision("highest")
        for backend, value in zip(backends, saved, strict=True):
            if value is not None:
                backend.fp32_precision = value
