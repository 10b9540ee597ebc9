"""Data-parallel fits under torch.distributed, launched by torchrun as users
launch them: two CPU processes (gloo) fit what one process fits."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from sklearn.datasets import load_digits

SCRIPT = Path(__file__).parent / "distributed" / "fit_on_ranks.py"

# What the script fits, from the module beside it (by its path: ``distributed``
# is also Dask's package).
_spec = importlib.util.spec_from_file_location("estimators", SCRIPT.with_name("estimators.py"))
estimators = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(estimators)

# Two processes start torch and fit three estimators each: about a minute.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """What each of two torchrun processes fitted."""
    out = tmp_path_factory.mktemp("ranks")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node=2", str(SCRIPT), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return [dict(np.load(out / f"rank{rank}.npz")) for rank in range(2)]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16, y


def test_every_rank_ends_with_the_same_estimator(ranks):
    first, second = ranks
    for name in ("components", "sparse_components", "loss_curve", "l0", "proba", "early_curve"):
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


def test_two_ranks_fit_what_one_process_fits_on_the_global_batch(ranks, digits):
    X, y = digits
    transformer = estimators.transformer().fit(X)
    np.testing.assert_allclose(ranks[0]["components"], transformer.components_, atol=1e-8)
    np.testing.assert_allclose(ranks[0]["loss_curve"], transformer.loss_curve_, rtol=1e-8)
    assert float(ranks[0]["l0"]) == pytest.approx(transformer.l0_, rel=1e-8)
    classifier = estimators.classifier().fit(X, y)
    np.testing.assert_allclose(ranks[0]["proba"], classifier.predict_proba(X), atol=1e-8)
    sparse = estimators.sparse().fit(csr_matrix(X))
    np.testing.assert_allclose(ranks[0]["sparse_components"], sparse.components_, atol=1e-8)


def test_ranks_that_disagree_on_the_data_fail_together_with_a_message(ranks):
    for rank in ranks:
        message = str(rank["message"])
        assert "ranks passed X of different shapes" in message
        assert "(1797, 32) to (1797, 64)" in message
