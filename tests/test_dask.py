"""Dask, stated as a specification: grid searches run on a cluster's worker processes
and score as they do on one machine, the fits there share the cores instead of
oversubscribing them, and ``dask_ml``'s ``Incremental`` streams a Dask array
through ``partial_fit`` block by block.

One local cluster of two single-threaded worker processes serves the module: each
task runs in another process than the test, as on a cluster of machines.
"""

import os

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skl_sae import SparseAutoencoderTransformer, StackedSparseAutoencoderClassifier
from skl_sae._runtime import torch_threads

# Starting the cluster's worker processes and loky's takes about 20 s, the module
# about 40 s: it runs with the slow tests (`python -m pytest -m slow`, as CI does).
pytestmark = pytest.mark.slow

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
Incremental = pytest.importorskip("dask_ml.wrappers").Incremental

#: The variables the nanny sets before it starts a worker (dask's
#: ``distributed.nanny.pre-spawn-environ``); values already in the environment win.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread each, started with dask's own thread
    settings whatever this process's environment says."""
    environ = dict(os.environ)
    for name in THREAD_VARIABLES:
        os.environ.pop(name, None)
    try:
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
    finally:
        # the nanny exports its pre-spawn variables into this process too
        os.environ.clear()
        os.environ.update(environ)
    with cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return X[:300], y[:300]


def transformer(**params):
    defaults = dict(n_components=8, max_iter=5, random_state=0)
    return SparseAutoencoderTransformer(**{**defaults, **params})


def classifier(**params):
    defaults = dict(hidden_layer_sizes=(16,), pretrain_max_iter=3, max_iter=5, random_state=0)
    return StackedSparseAutoencoderClassifier(**{**defaults, **params})


SEARCHES = {
    "transformer": (
        make_pipeline(transformer(), LogisticRegression(max_iter=200)),
        {"sparseautoencodertransformer__n_components": [8, 16]},
    ),
    "classifier": (classifier(), {"sparsity_weight": [0.5, 3.0]}),
}


def grid_search(name, backend, X, y):
    estimator, grid = SEARCHES[name]
    with joblib.parallel_backend(backend):
        return GridSearchCV(estimator, grid, cv=2, n_jobs=-1).fit(X, y)


# -- grid search across processes ------------------------------------------------


@pytest.mark.parametrize("name", SEARCHES)
def test_a_grid_search_on_a_dask_cluster_scores_as_with_loky(client, data, name):
    X, y = data
    with distributed.get_task_stream(client) as tasks:
        on_dask = grid_search(name, "dask", X, y)
    assert tasks.data, "the fits ran as tasks of the cluster"
    assert {task["worker"] for task in tasks.data} <= set(client.nthreads())
    on_loky = grid_search(name, "loky", X, y)
    assert on_dask.cv_results_["params"] == on_loky.cv_results_["params"]
    for split in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_allclose(
            on_dask.cv_results_[split], on_loky.cv_results_[split], rtol=1e-6
        )
    assert on_dask.best_params_ == on_loky.best_params_


def test_each_task_fits_with_one_torch_thread_so_the_workers_share_the_cores(client):
    """The nanny starts each worker with ``OMP_NUM_THREADS=MKL_NUM_THREADS=1``,
    so a fit on a worker runs torch on one thread, and the tasks the cluster
    runs at once (one per worker thread) use no more threads than the cores."""

    def threads_in_a_fit():
        with torch_threads():
            return torch.get_num_threads()

    with joblib.parallel_backend("dask"):
        per_task = joblib.Parallel(n_jobs=-1)(joblib.delayed(threads_in_a_fit)() for _ in range(4))
    assert per_task == [1, 1, 1, 1]
    tasks_at_once = sum(client.nthreads().values())
    assert max(per_task) * tasks_at_once <= os.cpu_count()


# -- streaming from a Dask array ---------------------------------------------------


def test_incremental_streams_the_blocks_through_partial_fit_in_order(client, data):
    """Between two blocks the estimator may move to another worker, pickled
    with its optimizer's state: the stream is that of one process."""
    X, _ = data
    blocks = da.from_array(X, chunks=(100, -1))
    streamed = Incremental(transformer(), shuffle_blocks=False).fit(blocks)
    by_hand = transformer()
    for start in range(0, len(X), 100):
        by_hand.partial_fit(X[start : start + 100])
    assert streamed.estimator_.n_iter_ == by_hand.n_iter_ == 3  # one epoch per block
    np.testing.assert_allclose(  # (to float32's rounding, in a worker's threads)
        streamed.estimator_.components_, by_hand.components_, rtol=1e-5, atol=1e-8
    )
    codes = streamed.transform(blocks)  # lazily, block by block
    np.testing.assert_allclose(codes.compute(), by_hand.transform(X), rtol=1e-6)


def test_incremental_streams_sparse_blocks_through_their_non_zeros(client, data):
    """Blocks of CSR rows (a Dask array of scipy matrices, as a vectorizer's
    map_blocks gives them) train as the same partial_fit calls by hand."""
    X = sp.csr_matrix(data[0])
    blocks = da.from_array(data[0], chunks=(100, -1)).map_blocks(sp.csr_matrix, dtype=X.dtype)
    streamed = Incremental(transformer(k=4), shuffle_blocks=False).fit(blocks)
    by_hand = transformer(k=4)
    for start in range(0, X.shape[0], 100):
        by_hand.partial_fit(X[start : start + 100])
    assert streamed.estimator_.sparsity_ == by_hand.sparsity_ == "topk"
    np.testing.assert_allclose(  # (to float32's rounding, in a worker's threads)
        streamed.estimator_.components_, by_hand.components_, rtol=1e-5, atol=1e-8
    )


def test_incremental_streams_labelled_blocks_to_the_classifier(client, data):
    X, y = data
    classes = np.unique(y)
    streamed = Incremental(classifier(), shuffle_blocks=False).fit(
        da.from_array(X, chunks=(100, -1)), da.from_array(y, chunks=100), classes=classes
    )
    by_hand = classifier()
    for start in range(0, len(X), 100):
        by_hand.partial_fit(X[start : start + 100], y[start : start + 100], classes=classes)
    for streamed_coef, coef in zip(streamed.estimator_.coefs_, by_hand.coefs_, strict=True):
        np.testing.assert_allclose(streamed_coef, coef, rtol=1e-6)


# -- Dask arrays whose chunk sizes are unknown -------------------------------------


def unknown_chunks(X, y):
    """``X`` and ``y`` filtered by a mask: the rows per block are unknown until computed."""
    keep = da.from_array(X[:, 10] >= 0, chunks=100)  # every row, but Dask cannot know
    X_unknown = da.from_array(X, chunks=(100, -1))[keep]
    y_unknown = da.from_array(y, chunks=100)[keep]
    assert np.isnan(X_unknown.shape[0])
    return X_unknown, y_unknown


def test_streaming_needs_no_chunk_sizes(client, data):
    """Each block is computed before ``partial_fit`` sees it, so its size is known then."""
    X, y = data
    X_unknown, _ = unknown_chunks(X, y)
    streamed = Incremental(transformer(), shuffle_blocks=False).fit(X_unknown)
    known = Incremental(transformer(), shuffle_blocks=False).fit(
        da.from_array(X, chunks=(100, -1))
    )
    np.testing.assert_array_equal(streamed.estimator_.components_, known.estimator_.components_)


def test_a_grid_search_on_unknown_chunk_sizes_says_so_and_how_to_fix_it(data):
    """Splitting into folds needs the number of rows: Dask raises before any fit."""
    X, y = data
    X_unknown, y_unknown = unknown_chunks(X, y)
    estimator, grid = SEARCHES["transformer"]
    with pytest.raises(ValueError, match=r"unknown chunk size(.|\n)*compute_chunk_sizes"):
        GridSearchCV(estimator, grid, cv=2).fit(X_unknown, y_unknown)
    assert X_unknown.compute_chunk_sizes().shape == X.shape
