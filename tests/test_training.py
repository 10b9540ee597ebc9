"""The shared training loop, on a toy regression so that it is seen alone."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from skl_sae import _training
from skl_sae._batches import Batches
from skl_sae._codes import TopK
from skl_sae._losses import AutoencoderLoss, LossTerms
from skl_sae._modules import SparseAutoencoder
from skl_sae._training import (
    EpochHook,
    History,
    StepSizeDecay,
    WeightAveraging,
    fit_loop,
    make_optimizer,
    train_step,
)


def _problem(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = X @ rng.normal(size=(5, 1)) + 0.01 * rng.normal(size=(n, 1))
    return X, y


def _mse(module, x, y):
    return (module(x) - y).pow(2).mean()


def _fit(max_iter=50, validation=None, solver="adam", **kwargs):
    torch.manual_seed(0)
    X, y = _problem()
    module = torch.nn.Linear(5, 1).double()
    optimizer = make_optimizer(solver, module.parameters(), 0.05)
    batches = Batches([X, y], batch_size=32, device="cpu")
    history = fit_loop(
        module,
        _mse,
        batches,
        optimizer,
        max_iter=max_iter,
        validation_batches=validation,
        generator=torch.Generator().manual_seed(0),
        **kwargs,
    )
    return module, history


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_the_loop_lowers_the_loss_with_every_solver(solver):
    _, history = _fit(max_iter=30, solver=solver, tol=0.0, check_convergence=False)
    assert history.loss_curve[-1] < 0.1 * history.loss_curve[0]
    assert history.n_iter == len(history.loss_curve) == 30


def test_the_loop_stops_after_n_iter_no_change_epochs_without_improvement():
    _, history = _fit(max_iter=1000, tol=10.0, n_iter_no_change=3)
    # the first epoch improves on infinity; the next four do not by tol
    assert history.n_iter == 5 and history.converged


def test_a_decaying_step_size_is_lowered_at_each_plateau_before_the_loop_stops(capsys):
    torch.manual_seed(0)
    X, y = _problem()
    module = torch.nn.Linear(5, 1).double()
    optimizer = make_optimizer("adam", module.parameters(), 0.05)
    decay = StepSizeDecay(optimizer, patience=1, times=2, verbose=True, name="Test: ")
    lowered = []

    class Record(EpochHook):
        def on_epoch_end(self, module, history):
            lowered.append(optimizer.lr)

    history = fit_loop(
        module,
        _mse,
        Batches([X, y], batch_size=32, device="cpu"),
        optimizer,
        max_iter=1000,
        tol=10.0,  # no epoch after the first improves enough
        n_iter_no_change=3,
        hooks=[decay, Record()],
    )
    # Epoch 1 improves on infinity; 2 and 3 do not (the patience of 1 is
    # exceeded: lowered, the count starts again); 4 and 5 (lowered again);
    # then 6 to 9, when the count exceeds n_iter_no_change at the last size.
    assert history.converged and history.n_iter == 9
    np.testing.assert_allclose(lowered, [0.05] * 2 + [0.005] * 2 + [0.0005] * 5)
    assert capsys.readouterr().out.count("Test: Step size lowered") == 2


def test_reaching_max_iter_warns():
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        _, history = _fit(max_iter=3, tol=0.0)
    assert not history.converged


def test_early_stopping_restores_the_best_validation_weights():
    X, y = _problem(seed=1)
    validation = Batches([X, y], batch_size=100, device="cpu")
    seen = []

    class Record(EpochHook):
        def on_epoch_end(self, module, history):
            seen.append(module.weight.detach().clone())

    module, history = _fit(max_iter=40, validation=validation, tol=0.0, hooks=[Record()])
    best = int(np.argmin(history.validation_loss_curve))
    assert torch.equal(module.weight, seen[best])
    assert history.best_loss == min(history.validation_loss_curve)


def test_early_stopping_monitors_the_validation_loss_fn_when_given():
    X, y = _problem(seed=1)
    validation = Batches([X, y], batch_size=100, device="cpu")

    def mean_absolute_error(module, x, y):
        return (module(x) - y).abs().mean()

    module, history = _fit(
        max_iter=5,
        validation=validation,
        validation_loss_fn=mean_absolute_error,
        check_convergence=False,
    )
    with torch.no_grad():
        expected = (module(torch.as_tensor(X)) - torch.as_tensor(y)).abs().mean().item()
    assert history.best_loss == pytest.approx(expected)
    assert history.validation_loss_curve != history.loss_curve


def test_epoch_hooks_are_called_around_every_epoch_and_step_and_can_stop_training():
    calls = []

    class StopAtFour(EpochHook):
        def on_epoch_begin(self, module):
            calls.append("begin")

        def before_step(self, module):
            assert all(p.grad is not None for p in module.parameters())
            calls.append("before")

        def after_step(self, module):
            calls.append("after")

        def on_epoch_end(self, module, history):
            calls.append(history.n_iter)
            return history.n_iter == 4

    _, history = _fit(max_iter=50, hooks=[StopAtFour()])
    assert history.n_iter == 4
    steps_per_epoch = 7  # 200 rows in batches of 32
    epoch = ["begin", *["before", "after"] * steps_per_epoch]
    assert calls == [*epoch, 1, *epoch, 2, *epoch, 3, *epoch, 4]


class _Snapshots(EpochHook):
    """The parameters at the end of every epoch."""

    def __init__(self):
        self.seen = []

    def on_epoch_end(self, module, history):
        self.seen.append([p.detach().clone() for p in module.parameters()])


def test_weight_averaging_ends_at_the_mean_of_the_epochs_after_start():
    snapshots = _Snapshots()
    module, history = _fit(
        max_iter=10, tol=0.0, check_convergence=False, hooks=[snapshots, WeightAveraging(4)]
    )
    _, plain = _fit(max_iter=10, tol=0.0, check_convergence=False)
    by_parameter = zip(*snapshots.seen, strict=True)
    for parameter, seen in zip(module.parameters(), by_parameter, strict=True):
        torch.testing.assert_close(parameter, torch.stack(seen[4:]).mean(dim=0))
        assert not torch.equal(parameter, seen[-1])
    assert history.loss_curve == plain.loss_curve  # the epochs train as without it


def test_weight_averaging_leaves_a_fit_that_stops_by_its_start_as_it_is():
    snapshots = _Snapshots()
    module, history = _fit(max_iter=50, hooks=[snapshots, WeightAveraging(50)])
    assert history.n_iter < 50
    for parameter, last in zip(module.parameters(), snapshots.seen[-1], strict=True):
        assert torch.equal(parameter, last)


@pytest.mark.parametrize("stopped_by", ["convergence", "a hook"])
def test_weight_averaging_ends_a_fit_stopped_early_at_the_mean_since_start(stopped_by):
    class StopAtSix(EpochHook):
        def on_epoch_end(self, module, history):
            return history.n_iter == 6

    snapshots = _Snapshots()
    hooks = [snapshots, WeightAveraging(2)]
    if stopped_by == "a hook":
        hooks.append(StopAtSix())
    module, history = _fit(max_iter=50, hooks=hooks)
    assert 3 < history.n_iter < 50 and history.converged == (stopped_by == "convergence")
    by_parameter = zip(*snapshots.seen, strict=True)
    for parameter, seen in zip(module.parameters(), by_parameter, strict=True):
        torch.testing.assert_close(parameter, torch.stack(seen[2:]).mean(dim=0))


def test_weight_averaging_starts_again_when_a_shape_changes_and_projects_the_mean():
    module = torch.nn.Module()
    module.weight = torch.nn.Parameter(torch.tensor([1.0]))

    class Halve(EpochHook):  # stands for a constraint that after_step restores
        def after_step(self, module):
            module.weight.data /= 2

    averaging = WeightAveraging(1, projections=[Halve()])
    for values in ([1.0], [2.0], [4.0], [5.0, 5.0], [7.0, 9.0]):  # the first is before start
        module.weight.data = torch.tensor(values)
        averaging.on_epoch_end(module, History())
    averaging.on_fit_end(module)
    assert module.weight.tolist() == [3.0, 3.5]  # the mean of the last two, halved


def test_lbfgs_takes_one_step_per_epoch_on_the_full_batch():
    steps = []

    class Count(EpochHook):
        def after_step(self, module):
            steps.append(1)

    _, history = _fit(max_iter=3, solver="lbfgs", hooks=[Count()], check_convergence=False)
    assert len(steps) == history.n_iter == 3


def test_history_pickles_as_plain_values():
    _, history = _fit(max_iter=2, check_convergence=False)
    state = history.to_dict()
    assert History(**state) == history
    assert all(v is None or isinstance(v, (list, float, int, bool)) for v in state.values())


def test_history_carries_over_between_calls():
    history = History()
    _fit(max_iter=3, history=history, check_convergence=False)
    _fit(max_iter=2, history=history, check_convergence=False)
    assert history.n_iter == 5 and len(history.loss_curve) == 5


def test_a_diverging_loss_raises():
    X, y = _problem()
    module = torch.nn.Linear(5, 1).double()
    optimizer = make_optimizer("sgd", module.parameters(), 1e6)
    with pytest.raises(ValueError, match="diverged"):
        fit_loop(
            module,
            _mse,
            Batches([X, y * 1e10], batch_size=8, device="cpu"),
            optimizer,
            max_iter=50,
        )


class _Recorder:
    """An optimizer that runs the closure and keeps the gradients."""

    def zero_grad(self, set_to_none=True):
        self.module.zero_grad(set_to_none=set_to_none)

    def step(self, closure):
        loss = closure()
        self.gradients = {name: p.grad.clone() for name, p in self.module.named_parameters()}
        return loss


@pytest.mark.parametrize("code", ["plain", "topk"])  # the fused gradient, and autograd's
def test_a_steps_gradient_is_the_whole_losss_weight_decay_included(code):
    generator = torch.Generator().manual_seed(0)
    kwargs = {"activation": "relu", "code": TopK(2)} if code == "topk" else {}
    module = SparseAutoencoder(6, 4, generator=generator, dtype=torch.float64, **kwargs)
    activation = module.encoder.code.activation
    loss_fn = AutoencoderLoss(0.3, LossTerms(activation=activation, alpha=0.2))
    batches = [(torch.rand(5, 6, generator=generator, dtype=torch.float64),)] * 2
    optimizer = _Recorder()
    optimizer.module = module
    value = train_step(module, loss_fn, batches, 10, optimizer)
    module.zero_grad()
    expected = loss_fn(module, batches[0][0])  # the decay's value, without its gradient
    decay = 0.1 * sum(w.pow(2).sum() for w in module.weights())
    (expected - decay.detach() + decay).backward()
    torch.testing.assert_close(value, expected.detach(), rtol=1e-12, atol=1e-14)
    for name, parameter in module.named_parameters():
        torch.testing.assert_close(optimizer.gradients[name], parameter.grad, msg=name)


def test_weights_that_overflow_after_the_last_loss_raise_as_a_loss_that_overflows():
    module = torch.nn.Linear(2, 2)
    _training._check_finite_weights(module)  # finite: nothing to say
    with torch.no_grad():
        module.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="Training diverged: the weights overflowed"):
        _training._check_finite_weights(module)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("sparsity", ["kl", "topk", "batchtopk"])
def test_an_epoch_on_a_gpu_waits_for_the_device_a_fixed_number_of_times(sparsity):
    # Counts, statistics and AuxK's dead units stay on the device during an
    # epoch: the number of synchronisations does not grow with its steps.
    import warnings

    from skl_sae import SparseAutoencoderTransformer

    rng = np.random.default_rng(0)

    def synchronisations(n_rows):
        X = rng.random((n_rows, 32), dtype=np.float32)
        sae = SparseAutoencoderTransformer(
            64, sparsity=sparsity, k=4, batch_size=50, max_iter=1, device="cuda", random_state=0
        )
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sae.fit(X)
        finally:
            torch.cuda.set_sync_debug_mode(0)
        return sum("synchroniz" in str(w.message) for w in caught)

    assert synchronisations(500) == synchronisations(1000)  # 10 steps, then 20
