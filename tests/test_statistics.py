"""The statistics of the codes over the last pass over the training data."""

import contextlib

import numpy as np
import pytest
import torch

from skl_sae._codes import Activation, TopK
from skl_sae._runtime import flush_denormals
from skl_sae._statistics import BOOLEAN_ROWS, CodeStatistics, count_above


def test_a_batch_after_a_complete_pass_starts_a_new_one():
    statistics = CodeStatistics(2, 2, "cpu")
    code = Activation("relu")
    statistics.add(code, torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([1.0, 3.0]))
    statistics.add(code, torch.tensor([[0.0, 1.0]]), torch.tensor([5.0]))
    np.testing.assert_allclose(statistics.feature_density(), [0.0, 1.0])
    assert statistics.mean_squared_error() == pytest.approx(5.0)


def test_rows_of_codes_are_counted_apart_from_samples():
    # A convolutional code: two rows of units per sample.
    statistics = CodeStatistics(1, 1, "cpu")
    statistics.add(TopK(1), torch.tensor([[1.0], [0.0]]), torch.tensor([2.0]))
    np.testing.assert_allclose(statistics.feature_density(), [0.5])
    assert statistics.mean_squared_error() == pytest.approx(2.0)


def test_reduced_sums_the_processes_counts_and_leaves_its_own():
    statistics = CodeStatistics(2, 2, "cpu", information=True)
    statistics.add(TopK(1), torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([1.0, 1.0]))

    def all_reduce(tensor):  # two processes that saw the same batch
        return tensor.mul_(2)

    reduced = statistics.reduced(all_reduce)
    assert reduced.mean_squared_error() == statistics.mean_squared_error() == pytest.approx(1.0)
    np.testing.assert_allclose(reduced.feature_density(), [0.5, 0.5])
    assert statistics._fired.tolist() == [1, 1]
    assert reduced._fired.tolist() == [2, 2]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
@pytest.mark.parametrize("threshold", [0.0, 0.5, -0.25, 1e-40, -(2.0**-103), -(2.0**-970)])
@pytest.mark.parametrize("rows", [1, 200, BOOLEAN_ROWS + 1])
def test_count_above_counts_exactly_what_the_comparison_finds(dtype, threshold, rows):
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(rows, 37, generator=generator).to(dtype).relu_()
    values[0, :3] = torch.tensor([threshold, torch.finfo(dtype).eps, 1.0], dtype=dtype)
    above = torch.nextafter(torch.tensor(threshold, dtype=dtype), torch.tensor(2.0, dtype=dtype))
    values[:, 5] = threshold  # equal is not above
    values[:, 6] = above  # the next number is (a subnormal above 0)
    values[1:, 7] = float("inf")
    values[:, 8] = -float("inf")
    expected = (values > threshold).sum(dim=0)
    assert torch.equal(count_above(values, threshold).to(torch.int64), expected)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("threshold", [0.0, 0.5, -(2.0**-103)])
def test_count_above_is_exact_with_denormals_flushed(dtype, threshold):
    generator = torch.Generator().manual_seed(1)
    values = torch.randn(200, 16, generator=generator).to(dtype)
    above = torch.nextafter(torch.tensor(threshold, dtype=dtype), torch.tensor(2.0, dtype=dtype))
    values[:, 3] = above  # (a subnormal above 0, which a flushing CPU reads as 0)
    with flush_denormals():
        expected = (values > threshold).sum(dim=0)
        counted = count_above(values, threshold).to(torch.int64)
    assert torch.equal(counted, expected)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("flushed", [False, True])
def test_counts_of_values_in_the_unit_interval_are_the_comparisons(dtype, flushed):
    generator = torch.Generator().manual_seed(2)
    values = torch.rand(200, 16, generator=generator, dtype=torch.float64).to(dtype)
    half, one = torch.tensor(0.5, dtype=dtype), torch.tensor(1.0, dtype=dtype)
    values[:, 3] = half  # equal is not above
    values[:, 4] = torch.nextafter(half, one)  # the next number is
    values[:, 5] = torch.nextafter(half, -one)  # the one before is not
    values[::2, 6] = torch.finfo(dtype).tiny / 4  # a subnormal
    values[:, 7], values[::3, 8] = 1.0, 0.0  # the bounds
    with flush_denormals() if flushed else contextlib.nullcontext():
        expected = (values > 0.5).sum(dim=0)
        counted = count_above(values, 0.5, bounds=(0, 1))
    assert torch.equal(counted.to(torch.int64), expected)
    values[7, 2] = float("nan")
    assert count_above(values, 0.5, bounds=(0, 1))[2] == 0


def test_a_column_holding_a_nan_counts_0():
    values = torch.rand(10, 3, dtype=torch.float64)
    values[4, 1] = float("nan")
    counts = count_above(values, 0.5)
    assert counts[1] == 0 and torch.equal(
        counts[[0, 2]], (values[:, [0, 2]] > 0.5).sum(dim=0).double()
    )
