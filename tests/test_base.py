"""Device resolution and thread control shared by the estimators."""

import os

import pytest
import torch
from joblib import Parallel, delayed

from skl_sae._base import resolve_device, torch_threads


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


def test_torch_threads_restores_the_previous_setting():
    before = torch.get_num_threads()
    _threads_inside()
    assert torch.get_num_threads() == before


def test_joblib_workers_share_the_cores_instead_of_oversubscribing():
    n_cores = os.cpu_count()
    inside = Parallel(n_jobs=2)(delayed(_threads_inside)() for _ in range(2))
    assert all(n <= max(1, n_cores // 2) for n in inside)
