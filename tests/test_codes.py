"""Plain activations and the sparse codes (TopK, BatchTopK, JumpReLU, winner-take-all)."""

import math

import pytest
import torch

from skl_sae._codes import (
    Activation,
    BatchTopK,
    JumpReLU,
    TopK,
    WinnerTakeAll,
    auxiliary_codes,
    code_class,
)
from skl_sae._statistics import DeadLatents


def test_topk_keeps_the_k_largest_of_each_row_through_the_activation():
    pre = torch.tensor([[0.5, -1.0, 2.0, 1.0], [3.0, 2.0, 1.0, 0.0]])
    codes, gates = TopK(2, "relu")(pre)
    assert gates is None
    assert torch.equal(codes, torch.tensor([[0.0, 0.0, 2.0, 1.0], [3.0, 2.0, 0.0, 0.0]]))
    assert torch.equal(TopK(10, "relu")(pre)[0], torch.relu(pre))  # k above the width


def test_batchtopk_keeps_k_per_row_on_average_in_training():
    torch.manual_seed(0)
    code = BatchTopK(3).train()
    pre = torch.randn(50, 20).abs() + 0.01
    codes, _ = code(pre)
    assert torch.count_nonzero(codes) == 3 * 50
    per_row = (codes > 0).sum(dim=1)
    assert per_row.min() < 3 < per_row.max()  # the batch, not each row, has k each


def test_batchtopk_learns_the_smallest_kept_code_as_its_inference_threshold():
    code = BatchTopK(1, momentum=0.5).train()
    assert math.isnan(code.threshold)
    code(torch.tensor([[4.0, 1.0], [3.0, 2.0]]))  # keeps 4 and 3
    assert code.threshold.item() == 3.0
    code(torch.tensor([[5.0, 0.5], [1.0, 0.0]]))  # keeps 5 and 1: average towards 1
    assert code.threshold.item() == 2.0
    code.eval()
    codes, _ = code(torch.tensor([[2.5, 1.5, 2.0]]))
    assert torch.equal(codes, torch.tensor([[2.5, 0.0, 0.0]]))


def test_batchtopk_threshold_is_zero_when_no_code_was_ever_positive():
    # Constant data, centred on its median: every pre-activation is 0.
    code = BatchTopK(2)
    code.calibrate_(torch.zeros(4, 3) for _ in range(2))
    assert code.threshold.item() == 0.0  # as inference reads it, not NaN
    codes, _ = code.eval()(torch.tensor([[0.5, 0.0, -1.0]]))
    assert torch.equal(codes, torch.tensor([[0.5, 0.0, 0.0]]))


def test_jumprelu_zeroes_codes_below_the_threshold_and_returns_its_gates():
    code = JumpReLU(3, threshold=1.0, bandwidth=0.5)
    pre = torch.tensor([[0.5, 1.5, -2.0]])
    codes, gates = code(pre)
    assert torch.equal(codes, torch.tensor([[0.0, 1.5, 0.0]]))
    assert torch.equal(gates, torch.tensor([[0.0, 1.0, 0.0]]))


def test_jumprelu_gates_pass_a_straight_through_gradient_near_the_threshold():
    code = JumpReLU(2, threshold=1.0, bandwidth=0.5, dtype=torch.float64)
    pre = torch.tensor([[0.9, 3.0], [1.2, 0.0]], dtype=torch.float64, requires_grad=True)
    _, gates = code(pre)
    gates.sum().backward()
    # Within bandwidth / 2 of the threshold: +1/bandwidth to the
    # pre-activation, -1/bandwidth to the threshold (times d threshold /
    # d log threshold = threshold = 1).
    assert torch.equal(pre.grad, torch.tensor([[2.0, 0.0], [2.0, 0.0]], dtype=torch.float64))
    assert torch.allclose(code.log_threshold.grad, torch.tensor([-4.0, 0.0], dtype=torch.float64))


def test_a_code_from_its_parameters_scales_jumprelu_to_the_pre_activations():
    code = code_class("jumprelu").from_params("relu", 4, scale=2.0)
    assert torch.allclose(code.threshold, torch.full((4,), 2.0))
    assert code.bandwidth == 1.0
    assert isinstance(code_class("kl").from_params("sigmoid", 4), Activation)
    assert code_class("topk").from_params("relu", 4, k=3).k == 3


def test_a_sigmoid_unit_fires_above_one_half_and_a_sparse_code_above_zero():
    codes = torch.tensor([[0.4, 0.6, 0.0]])
    assert Activation("sigmoid").firing(codes).tolist() == [[False, True, False]]
    assert Activation("relu").firing(codes).tolist() == [[True, True, False]]
    assert TopK(2, "sigmoid").firing(codes).tolist() == [[True, True, False]]


def test_a_unit_is_dead_after_dead_after_samples_without_firing():
    tracker = DeadLatents(3, dead_after=4, device="cpu")
    tracker.update(torch.tensor([[True, False, False], [False, False, False]]))
    assert not tracker.mask().any()
    tracker.update(torch.tensor([[False, True, False], [False, False, False]]))
    assert tracker.mask().tolist() == [False, False, True]
    assert tracker.samples_since_fired.tolist() == [2, 0, 4]


def test_auxiliary_codes_are_the_largest_codes_of_dead_units_only():
    pre = torch.tensor([[5.0, 1.0, 2.0, 3.0], [5.0, -1.0, -2.0, 0.5]])
    dead = torch.tensor([False, True, True, True])
    codes = auxiliary_codes(pre, dead, k_aux=2)
    assert torch.equal(codes, torch.tensor([[0.0, 0.0, 2.0, 3.0], [0.0, 0.0, 0.0, 0.5]]))
    assert torch.count_nonzero(auxiliary_codes(pre, dead, k_aux=10)[0]) == 3


@pytest.mark.parametrize(
    "code", [TopK(2), BatchTopK(2), JumpReLU(4, threshold=0.1), WinnerTakeAll(4)]
)
def test_sparse_codes_keep_the_dtype_and_shape(code):
    pre = torch.randn(5, 4, dtype=torch.float64)
    codes, _ = code.to(torch.float64)(pre)
    assert codes.shape == pre.shape and codes.dtype == torch.float64


def test_batchtopk_calibrates_its_threshold_on_batches_with_fixed_weights():
    code = BatchTopK(1)
    batches = [torch.tensor([[4.0, 1.0], [3.0, 2.0]]), torch.tensor([[5.0, 0.5], [1.0, 0.0]])]
    # Midway between the smallest kept and the largest dropped: (3 + 2) / 2,
    # then (1 + 0.5) / 2.
    code.calibrate_(batches)
    assert code.threshold.item() == (2.5 + 0.75) / 2


def test_batchtopk_calibrated_on_the_rows_it_reads_keeps_the_same_codes_row_by_row():
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(3, 8, generator=generator, dtype=torch.float64)
    x = torch.randn(20, 3, generator=generator, dtype=torch.float64)
    code = BatchTopK(3).to(torch.float64)
    code.calibrate_([x @ weight])  # one batch: no kept code lies at the threshold
    code.eval()
    whole = code(x @ weight)[0]
    by_row = torch.cat([code(x[i : i + 1] @ weight)[0] for i in range(len(x))])
    torch.testing.assert_close(whole, by_row, rtol=1e-12, atol=1e-12)
    assert (whole > 0).sum() == 3 * len(x)  # as many codes as training keeps


def maps_as_rows(maps):
    """Feature maps (n_samples, positions, units) as a code sees them: rows of units."""
    return maps.flatten(0, 1)


def test_winner_take_all_keeps_each_maps_largest_code_on_its_lifetime_share_of_the_batch():
    code = WinnerTakeAll(2, lifetime=0.5).train()
    code.rows_per_sample = 3
    maps = torch.tensor(
        [  # 4 samples, 3 positions, 2 units
            [[1.0, 0.0], [4.0, 2.0], [2.0, 1.0]],  # winners 4 and 2
            [[3.0, 5.0], [0.0, 0.0], [1.0, 0.0]],  # winners 3 and 5
            [[0.5, 1.0], [0.0, 0.0], [0.0, 0.0]],  # winners 0.5 and 1
            [[0.0, 0.0], [0.0, 3.0], [6.0, 0.0]],  # winners 6 and 3
        ]
    )
    codes, gates = code(maps_as_rows(maps))
    assert gates is None
    expected = torch.zeros_like(maps)
    expected[0, 1, 0], expected[3, 2, 0] = 4.0, 6.0  # unit 0: the two largest winners of four
    expected[1, 0, 1], expected[3, 1, 1] = 5.0, 3.0  # unit 1
    assert torch.equal(codes, maps_as_rows(expected))
    assert torch.equal(code.threshold, torch.tensor([4.0, 3.0]))  # the smallest kept winners


def test_winner_take_all_on_a_dense_layer_is_lifetime_sparsity_alone():
    code = WinnerTakeAll(2, lifetime=0.5).train()
    codes, _ = code(torch.tensor([[1.0, -1.0], [3.0, 2.0], [2.0, 4.0], [0.0, 1.0]]))
    assert torch.equal(codes, torch.tensor([[0.0, 0.0], [3.0, 2.0], [2.0, 4.0], [0.0, 0.0]]))


def test_winner_take_all_features_are_the_whole_maps_and_the_decoder_reads_their_winners():
    code = WinnerTakeAll(2)
    code.rows_per_sample = 2
    code.threshold.copy_(torch.tensor([1.0, 3.0]))
    rows = torch.tensor([[0.5, 2.0], [1.5, -1.0], [-1.0, 4.0], [0.2, 3.5]])  # 2 samples
    code.eval()
    codes, _ = code(rows)
    assert torch.equal(codes, torch.relu(rows))  # the features: every position
    decoded = code.decoded(codes)  # each map's winner, if at its unit's threshold
    assert torch.equal(decoded, torch.tensor([[0.0, 0.0], [1.5, 0.0], [0.0, 4.0], [0.0, 0.0]]))
    assert code.train().decoded(codes) is codes  # training codes are winners already


def test_winner_take_all_calibrates_each_units_threshold_with_fixed_weights():
    code = WinnerTakeAll(2, lifetime=0.5)
    batches = [torch.tensor([[4.0, 1.0], [3.0, 2.0]]), torch.tensor([[5.0, 0.5], [1.0, 0.0]])]
    code.calibrate_(batches)  # smallest kept (one sample in two): (4, 2), then (5, 0.5)
    assert torch.equal(code.threshold, torch.tensor([4.5, 1.25]))


def test_winner_take_all_keeps_its_thresholds_through_a_change_of_units():
    code = WinnerTakeAll(3)
    code.threshold.copy_(torch.tensor([1.0, 2.0, 3.0]))
    code.select_units_(torch.tensor([2, 0]), n_new=1)
    assert torch.equal(code.threshold[:2], torch.tensor([3.0, 1.0]))
    assert math.isnan(code.threshold[2])  # a new unit learns its own


def test_winner_take_all_counts_firing_on_the_winners_as_on_every_position():
    torch.manual_seed(0)
    code = WinnerTakeAll(5, lifetime=0.3).train()
    code.rows_per_sample = 4
    codes, _ = code(torch.randn(40, 5))  # 10 samples
    assert torch.equal(code.firing_counts(codes), (codes > 0).sum(dim=0).float())
    assert torch.equal(code.firing_counts(codes), torch.full((5,), 3.0))  # 30% of 10 samples


def test_winner_take_all_has_no_auxiliary_loss_since_no_unit_dies():
    assert WinnerTakeAll(3).auxiliary_loss(None, None, None, None) is None


@pytest.mark.parametrize(
    ("sparse_rows", "activation"), [(False, "relu"), (True, "relu"), (False, "sigmoid")]
)
@pytest.mark.parametrize("n_dead", [0, 3, 9])
def test_auxk_without_a_wait_for_the_device_gives_the_same_loss(
    monkeypatch, sparse_rows, activation, n_dead
):
    # On a GPU, AuxK never reads the number of dead units on the host: it
    # computes on every unit's column. Both ways give the same loss and gradients.
    import skl_sae._codes as codes_module
    from skl_sae._modules import SparseAutoencoder

    generator = torch.Generator().manual_seed(0)
    code = TopK(2, activation=activation)
    module = SparseAutoencoder(
        12, 10, activation=activation, code=code, unit_norm_decoder=True, generator=generator
    ).double()
    x = torch.rand(16, 12, generator=generator, dtype=torch.float64)
    x[x < 0.5] = 0
    if sparse_rows:  # read through their non-zeros (a linear decoder)
        x = x.to_sparse_csr()
    results = []
    for on_host in (True, False):
        monkeypatch.setattr(
            codes_module, "counts_on_host", lambda device, on_host=on_host: on_host
        )
        tracker = DeadLatents(10, dead_after=1, device="cpu")
        tracker.samples_since_fired[n_dead:] = -1000  # the others fired lately
        module.zero_grad(set_to_none=True)
        output = module.train()(x)
        loss = module.encoder.code.auxiliary_loss(module, output, x, tracker)
        if loss.requires_grad:
            loss.backward()
        gradients = [p.grad.clone() if p.grad is not None else None for p in module.parameters()]
        results.append((loss.detach(), gradients))
    (value, grads), (expected, expected_grads) = results[1], results[0]
    torch.testing.assert_close(value, expected.to(value.dtype), rtol=1e-12, atol=1e-12)
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        if expected_grad is None:
            assert grad is None or not grad.any()
        else:
            torch.testing.assert_close(grad, expected_grad, rtol=1e-10, atol=1e-12)
