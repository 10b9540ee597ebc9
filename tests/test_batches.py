"""Batches for training and inference: arrays in memory, sparse matrices and
memory maps read block by block."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import skl_sae._batches
import skl_sae._data
from skl_sae._batches import (
    Batches,
    StreamedBatches,
    StreamedRows,
    apply_in_batches,
    inference_batch_rows,
    make_batches,
)
from skl_sae._data import (
    check_streamed,
    data_range,
    geometric_median,
    mean_feature_variance,
    read_rows,
)
from skl_sae._trainer import Schedule


@pytest.fixture
def memmap(tmp_path):
    """A memory map on disk of the given rows (read-only, as np.load gives)."""

    def make(array, mode="r"):
        path = tmp_path / f"rows-{array.dtype}-{array.shape[0]}.npy"
        np.save(path, array)
        return np.load(path, mmap_mode=mode)

    return make


# -- arrays in memory ----------------------------------------------------------


def test_batches_serve_every_row_once_per_epoch_in_the_generators_order():
    X = np.arange(20.0).reshape(10, 2)
    batches = Batches([X], batch_size=4, device="cpu")
    assert len(batches) == 3
    rows = torch.cat([b[0] for b in batches.epoch(torch.Generator().manual_seed(0))])
    order = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(rows, torch.from_numpy(X)[order])


def test_sparse_batches_are_sparse_csr_tensors_never_densified():
    X = sp.random(30, 6, density=0.2, format="csr", random_state=0)
    batches = Batches([X], batch_size=7, device="cpu")
    served = list(batches)
    assert max(b[0].shape[0] for b in served) == 7
    assert all(b[0].layout == torch.sparse_csr for b in served)
    rows = torch.cat([b[0].to_dense() for b in served])
    assert torch.equal(rows, torch.from_numpy(X.toarray()))


def test_dense_data_too_large_for_the_device_stays_on_the_host(monkeypatch):
    monkeypatch.setattr(skl_sae._batches, "fits_on_device", lambda nbytes, device: False)
    X = np.arange(20.0).reshape(10, 2)
    batches = Batches([X], batch_size=4, device="cpu")
    assert not batches.on_device
    rows = torch.cat([b[0] for b in batches.epoch(torch.Generator().manual_seed(0))])
    order = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(rows, torch.from_numpy(X)[order])


# -- inference -------------------------------------------------------------------


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inference_sees_one_batch_at_a_time_and_fills_one_array(monkeypatch, sparse, dtype):
    # 4 arrays of 3 float32 columns: 48 bytes a row; 200 bytes hold 4 rows.
    monkeypatch.setattr(skl_sae._batches, "INFERENCE_BYTES", 200)
    rng = np.random.default_rng(0)
    X = rng.random((10, 3)).astype(dtype)
    X = sp.csr_matrix(X) if sparse else X
    weight = torch.ones(2, 3, dtype=torch.float32)  # the model computes in float32
    seen = []

    def function(x):
        seen.append((x.shape[0], x.dtype))
        return x @ weight.T

    result = apply_in_batches(function, X, weight)
    assert seen == [(4, torch.float32), (4, torch.float32), (2, torch.float32)]
    assert result.dtype == dtype  # the input's dtype
    dense = X.toarray() if sparse else X
    np.testing.assert_allclose(result, dense @ np.ones((3, 2)), rtol=1e-6)


def test_inference_keeps_one_dimensional_results(monkeypatch):
    monkeypatch.setattr(skl_sae._batches, "INFERENCE_BYTES", 4 * 2 * 8 * 3)
    X = np.arange(14, dtype=np.float64).reshape(7, 2)
    like = torch.zeros(1, dtype=torch.float64)
    result = apply_in_batches(lambda x: x.sum(dim=1), X, like)
    np.testing.assert_array_equal(result, X.sum(axis=1))


@pytest.mark.parametrize(
    "X, dtype, message",
    [
        # the squares
        (np.full((3, 2), 1e200), torch.float64, "not finite.* beyond what float64 can compute"),
        # the result
        (
            np.full((3, 2), 1e20, dtype=np.float32),
            torch.float64,
            "not finite.* beyond what float32 can compute",
        ),
        # the rows, in the model
        (np.full((3, 2), 1e300), torch.float32, "beyond the range of float32.*compute_dtype"),
    ],
)
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # numpy's
def test_inference_results_that_overflow_raise_a_clear_error(X, dtype, message):
    like = torch.zeros(1, dtype=dtype)
    with pytest.raises(ValueError, match=message):
        apply_in_batches(lambda x: (x**2).sum(dim=1), X, like)


@pytest.mark.parametrize("width", [10, 784, 50_000, 1_000_000])
def test_inference_batches_are_sized_by_bytes_whatever_the_width(width):
    rows = inference_batch_rows(width, 8)
    assert rows >= 1
    assert rows * 4 * width * 8 <= max(skl_sae._batches.INFERENCE_BYTES, 4 * width * 8)


def test_a_model_wider_than_the_data_narrows_the_batches(monkeypatch):
    monkeypatch.setattr(skl_sae._batches, "INFERENCE_BYTES", 4 * 8 * 100 * 2)
    seen = []
    like = torch.zeros(1, dtype=torch.float64)
    apply_in_batches(lambda x: seen.append(x.shape[0]) or x, np.ones((5, 3)), like, width=100)
    assert seen == [2, 2, 1]


# -- memory maps -------------------------------------------------------------------


def test_rows_of_a_memory_map_are_converted_as_they_are_read(memmap):
    X = memmap(np.arange(60, dtype=np.uint8).reshape(20, 3))
    rows = read_rows(X, 5, 9, np.float32)
    assert type(rows) is np.ndarray and rows.dtype == np.float32
    np.testing.assert_array_equal(rows, np.arange(15, 27).reshape(4, 3))


def test_nan_in_a_memory_map_is_found_when_its_rows_are_read(memmap):
    X = np.ones((20, 3))
    X[13, 1] = np.nan
    X = memmap(X)
    read_rows(X, 0, 10, np.float64)  # clean rows pass
    with pytest.raises(ValueError, match="Input X contains NaN"):
        read_rows(X, 10, 20, np.float64)


def test_a_truncated_memory_map_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "rows.dat"
    X = np.memmap(path, dtype=np.float32, mode="w+", shape=(1000, 8))
    X.flush()
    check_streamed(X)
    with open(path, "r+b") as file:
        file.truncate(1000)
    with pytest.raises(ValueError, match="truncated"):
        check_streamed(X)


def test_statistics_of_a_memory_map_equal_those_of_its_array(memmap, monkeypatch):
    monkeypatch.setattr(skl_sae._data, "BLOCK_BYTES", 7 * 5 * 8)  # blocks of 7 rows
    rng = np.random.default_rng(0)
    array = (rng.random((50, 5)) * 255).astype(np.uint8)
    X = memmap(array)
    dense = array.astype(np.float64)
    assert mean_feature_variance(X) == pytest.approx(mean_feature_variance(dense), rel=1e-12)
    assert data_range(X) == data_range(dense)
    np.testing.assert_allclose(geometric_median(X), geometric_median(dense))


def test_streamed_epochs_serve_every_row_once_with_aligned_targets(memmap, monkeypatch):
    monkeypatch.setattr(skl_sae._batches, "BUFFER_BYTES", 4 * 16)  # blocks of 2 rows
    X = memmap(np.arange(46, dtype=np.float32).reshape(23, 2))
    y = np.arange(23)
    batches = make_batches([X, y], batch_size=4, device="cpu", dtype=np.float32)
    assert isinstance(batches, StreamedBatches) and len(batches) == 6
    for generator in (None, torch.Generator().manual_seed(0)):
        served = list(batches.epoch(generator))
        assert [b[0].shape[0] for b in served] == [4, 4, 4, 4, 4, 3]
        rows, targets = (torch.cat(parts) for parts in zip(*served, strict=True))
        assert torch.equal(rows[:, 0], 2 * targets.float())  # row i is (2i, 2i + 1)
        assert sorted(targets.tolist()) == list(range(23))
    assert targets.tolist() != list(range(23))  # the second epoch was shuffled


def test_a_held_out_split_of_a_memory_map_is_made_of_whole_chunks(memmap):
    X = memmap(np.zeros((1000, 2), dtype=np.float32))
    train, validation = StreamedRows([X]).split(0.1, np.random.RandomState(0))
    assert train.shape[0] + validation.shape[0] == 1000
    assert 90 <= validation.shape[0] <= 120
    covered = sorted(train.ranges + validation.ranges)
    assert covered[0][0] == 0 and covered[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in zip(covered, covered[1:], strict=False))


def test_reading_a_memory_map_holds_a_buffer_not_the_array(memmap, monkeypatch):
    monkeypatch.setattr(skl_sae._batches, "BUFFER_BYTES", 2**16)
    monkeypatch.setattr(skl_sae._data, "BLOCK_BYTES", 2**14)
    X = memmap((np.arange(20_000 * 50) % 251).astype(np.uint8).reshape(20_000, 50))
    float_bytes = X.size * 8  # 8 MB: what a float64 copy would take
    tracemalloc.start()
    try:
        mean_feature_variance(X)
        batches = make_batches([X], batch_size=256, device="cpu", dtype=np.float64)
        n_rows = sum(b[0].shape[0] for b in batches.epoch(torch.Generator().manual_seed(0)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n_rows == 20_000
    assert peak < float_bytes / 8


@pytest.mark.parametrize(
    ("shape", "dtype", "rows"),
    [
        ((1797, 64), np.float64, 200),  # scikit-learn's MLP's min(200, n_samples)
        ((150, 4), np.float64, 150),
        ((60_000, 784), np.float32, 200),
        ((20_000, 50_000), np.float64, 41),  # a dense batch of at most 16 MB
        ((20_000, 50_000), np.float32, 83),
    ],
)
def test_auto_batches_take_200_rows_and_at_most_16_mb(shape, dtype, rows):
    assert Schedule().batch_rows(shape, dtype) == rows
    lbfgs = Schedule(solver="lbfgs")  # its step sums all batches
    widest = 16 * 2**20 // (shape[1] * np.dtype(dtype).itemsize)
    assert lbfgs.batch_rows(shape, dtype) == min(shape[0], widest)


@pytest.mark.parametrize(
    ("n_rows", "rows"),
    [(150, 150), (1133, 1133), (5847, 2924), (20_000, 4000), (20_481, 3414)],
)
def test_auto_batches_of_sparse_rows_take_up_to_4096_rows_of_even_sizes(n_rows, rows):
    """What a step costs is mostly the model's, whatever its rows: sparse
    rows read through their non-zeros take all rows up to 4,096, else the
    fewest batches of at most 4,096, evened out (no small last batch)."""
    assert Schedule().batch_rows((n_rows, 50_000), np.float64, sparse=True) == rows


@pytest.mark.parametrize(
    ("shape", "dtype", "rows"),
    [
        ((1797, 64), np.float64, 200),  # never fewer than 200
        ((10_000, 784), np.float32, 200),  # 50 steps an epoch
        ((60_000, 784), np.float32, 1200),
        ((1_000_000, 784), np.float32, 4082),  # 4,096 at most, evened out
        ((100_000, 50_000), np.float32, 335),  # within 64 MB (evened out)
    ],
)
def test_auto_batches_on_a_gpu_fill_it_and_keep_50_steps_an_epoch(shape, dtype, rows):
    # (a device's type is all that the rule reads: no GPU needed)
    assert Schedule().batch_rows(shape, dtype, device=torch.device("cuda")) == rows
    on_cpu = min(200, shape[0], 16 * 2**20 // (shape[1] * np.dtype(dtype).itemsize))
    assert Schedule().batch_rows(shape, dtype, device="cpu") == on_cpu
    assert Schedule(batch_size=300).batch_rows(shape, dtype, device="cuda") == 300
