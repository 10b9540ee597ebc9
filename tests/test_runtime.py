"""torch's run-time settings: the device, the threads, denormals."""

import os
import subprocess
import sys
import time

import pytest
import torch
from joblib import Parallel, delayed

import skl_sae._runtime
from skl_sae._runtime import (
    busy_cpus,
    cpu_settings,
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


def test_torch_threads_follow_scikit_learn_inside_and_are_restored_after(monkeypatch):
    monkeypatch.setattr(skl_sae._runtime, "_openmp_effective_n_threads", lambda: 1)
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        assert _threads_inside() == 1
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def test_torch_threads_leave_the_cpus_that_other_processes_keep_busy(monkeypatch):
    monkeypatch.setattr(skl_sae._runtime, "_openmp_effective_n_threads", lambda: 4)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(skl_sae._runtime, "busy_cpus", lambda: 0)
    assert _threads_inside() == 4
    monkeypatch.setattr(skl_sae._runtime, "busy_cpus", lambda: 3)
    assert _threads_inside() == 1
    monkeypatch.setattr(skl_sae._runtime, "busy_cpus", lambda: 9)
    assert _threads_inside() == 1  # never fewer than one


def test_a_process_pinned_to_some_cpus_counts_its_share_of_the_load(monkeypatch):
    monkeypatch.setattr(skl_sae._runtime, "_openmp_effective_n_threads", lambda: 4)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(skl_sae._runtime, "busy_cpus", lambda: 16)  # a quarter of the host busy
    assert _threads_inside() == 3


def test_busy_cpus_counts_a_cpu_bound_process():
    if not os.path.exists("/proc/loadavg"):
        pytest.skip("needs Linux's /proc/loadavg")
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        assert busy_cpus() >= 1
    finally:
        spinner.kill()
        spinner.wait()


def test_resolve_device_takes_a_torch_device():
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


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


def test_cpu_settings_set_threads_and_denormals(monkeypatch):
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals")
    monkeypatch.setattr(skl_sae._runtime, "_openmp_effective_n_threads", lambda: 1)
    with cpu_settings():
        assert torch.get_num_threads() == 1
        assert torch.full((1,), 1e-39, dtype=torch.float32).mul(1.0).item() == 0.0
