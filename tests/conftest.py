import pytest
from sklearn.datasets import load_digits

# Scripts that the tests launch in other processes (torchrun), not test modules.
collect_ignore = ["distributed"]


@pytest.fixture(scope="session")
def digits():
    """sklearn's 8x8 digits scaled to [0, 1], as float64."""
    data = load_digits()
    return data.data / 16.0, data.target
