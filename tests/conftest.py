import os

# scikit-learn's Array API checks (check_array_api_input, in test_common.py and
# test_array_api.py) need SciPy's Array API support, which SciPy reads once, when it is
# first imported: before anything here imports it.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import pytest
import torch
from hypothesis import HealthCheck, settings
from sklearn.datasets import load_digits

# Scripts that the tests launch in other processes (torchrun), not test modules.
collect_ignore = ["distributed"]

# Hypothesis (tests/test_properties.py): a fixed seed, so that every run generates the same
# cases, and no example database. "small" is the default run's (100 cases per estimator,
# about 13 s on 2 cores); the slow test runs "ci" (1,000 per estimator, about 2 minutes).
# Each case fits tiny models.
_COMMON = dict(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("small", max_examples=100, **_COMMON)
settings.register_profile("ci", max_examples=1000, **_COMMON)
settings.load_profile("small")


def pytest_configure(config):
    """pytest-xdist runs the tests in one process per core (``-n auto`` in
    ``addopts``): each process takes its share of the cores for torch's
    threads, so that together they do not oversubscribe the machine."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers is not None:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(workers)))


@pytest.fixture(scope="session")
def digits():
    """sklearn's 8x8 digits scaled to [0, 1], as float64."""
    data = load_digits()
    return data.data / 16.0, data.target


def pytest_collection_modifyitems(config, items):
    """scikit-learn's Array API checks (``check_array_api_*`` in
    ``test_common.py``) run in the default run for the first configuration of
    each estimator class, and for every configuration with the slow tests:
    the conversions they check are the same for all of a class's configurations."""
    first = {}
    for item in items:
        if item.path.name != "test_common.py" or "check_array_api" not in item.name:
            continue
        instance = item.name.split("[", 1)[1].split("-check_array_api", 1)[0]
        estimator_class = instance.split("(", 1)[0]
        if first.setdefault(estimator_class, instance) != instance:
            item.add_marker(pytest.mark.slow)
