"""Our Adam and SGD take the steps of torch.optim's, and read their state."""

import copy

import pytest
import torch

from skl_sae._optimizers import SGD, Adam

TORCH = {
    Adam: lambda parameters, lr: torch.optim.Adam(parameters, lr=lr),
    SGD: lambda parameters, lr: torch.optim.SGD(parameters, lr=lr, momentum=0.9, nesterov=True),
}


def _parameters(dtype=torch.float64):
    generator = torch.Generator().manual_seed(0)
    shapes = [(5, 3), (5,), (3, 5)]
    return [
        torch.nn.Parameter(torch.randn(shape, generator=generator, dtype=dtype))
        for shape in shapes
    ]


def _loss(parameters, step):
    """A loss whose gradients change from step to step."""
    weight, bias, back = parameters
    x = torch.linspace(-1, 1, 15, dtype=weight.dtype).reshape(3, 5) * (step + 1)
    return ((torch.tanh(x.T @ weight.T + bias) @ back.T - x.T) ** 2).mean()


def _train(optimizer, parameters, steps, skip=None):
    for step in range(steps):
        optimizer.zero_grad(set_to_none=True)
        _loss(parameters, step).backward()
        if skip is not None and step % 2:
            parameters[skip].grad = None  # a parameter left out of some steps
        optimizer.step()


@pytest.mark.parametrize("cls", [Adam, SGD])
@pytest.mark.parametrize("skip", [None, 1])
def test_steps_equal_torch_optims(cls, skip):
    ours, theirs = _parameters(), _parameters()
    _train(cls(ours, lr=0.01), ours, 20, skip)
    _train(TORCH[cls](theirs, 0.01), theirs, 20, skip)
    for mine, reference in zip(ours, theirs, strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls", [Adam, SGD])
def test_a_weight_stored_transposed_takes_the_steps_of_a_row_major_one(cls):
    # (a DenseLayer stored by feature: its gradient comes in the same layout)
    rows, by_feature = _parameters(), _parameters()
    by_feature[0].data = by_feature[0].data.T.contiguous().T
    _train(cls(rows, lr=0.01), rows, 5)
    _train(cls(by_feature, lr=0.01), by_feature, 5)
    assert by_feature[0].mT.is_contiguous()
    for mine, reference in zip(by_feature, rows, strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls", [Adam, SGD])
def test_a_torch_optim_state_continues_here_and_back(cls):
    ours, theirs = _parameters(), _parameters()
    reference = TORCH[cls](theirs, 0.01)
    _train(reference, theirs, 5)
    with torch.no_grad():
        for mine, source in zip(ours, theirs, strict=True):
            mine.copy_(source)
    optimizer = cls(ours, lr=0.01)
    optimizer.load_state_dict(reference.state_dict())
    _train(optimizer, ours, 5)
    _train(reference, theirs, 5)
    for mine, source in zip(ours, theirs, strict=True):
        torch.testing.assert_close(mine, source, rtol=1e-12, atol=1e-14)
    # And torch continues from ours, step for step.
    continued = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    again = TORCH[cls](continued, 0.01)
    again.load_state_dict(copy.deepcopy(optimizer.state_dict()))  # as through a pickle
    _train(again, continued, 3)
    _train(optimizer, ours, 3)
    for theirs_now, mine in zip(continued, ours, strict=True):
        torch.testing.assert_close(theirs_now, mine, rtol=1e-12, atol=1e-14)


def test_the_state_dict_is_that_of_torch_adam():
    parameters = _parameters()
    optimizer = Adam(parameters, lr=0.01)
    _train(optimizer, parameters, 3)
    state = optimizer.state_dict()
    reference = torch.optim.Adam(_parameters(), lr=0.01)
    _train(reference, reference.param_groups[0]["params"], 3)
    expected = reference.state_dict()
    assert state["state"].keys() == expected["state"].keys()
    for index, entry in state["state"].items():
        assert entry.keys() == expected["state"][index].keys()
        assert float(entry["step"]) == 3.0
    assert state["param_groups"][0]["params"] == expected["param_groups"][0]["params"]


@pytest.mark.parametrize("cls", [Adam, SGD])
def test_a_state_of_other_parameters_is_refused(cls):
    parameters = _parameters()
    optimizer = cls(parameters, lr=0.01)
    _train(optimizer, parameters, 2)
    with pytest.raises(ValueError, match="parameters"):
        cls(parameters[:2], lr=0.01).load_state_dict(optimizer.state_dict())
    transposed = [
        torch.nn.Parameter(p.detach().mT.clone() if p.ndim == 2 else p) for p in parameters
    ]
    with pytest.raises(ValueError, match="shape"):
        cls(transposed, lr=0.01).load_state_dict(optimizer.state_dict())


def test_the_learning_rate_is_the_constructors():
    parameters = _parameters()
    optimizer = Adam(parameters, lr=0.01)
    _train(optimizer, parameters, 2)
    continued = Adam(parameters, lr=0.5)
    continued.load_state_dict(optimizer.state_dict())
    assert continued.lr == 0.5


def test_float32_parameters_keep_a_float32_state():
    parameters = _parameters(torch.float32)
    optimizer = Adam(parameters, lr=0.01)
    _train(optimizer, parameters, 2)
    assert all(s["exp_avg"].dtype == torch.float32 for s in optimizer.state)
    loaded = Adam(_parameters(torch.float32), lr=0.01)
    state = optimizer.state_dict()
    state["state"] = {
        i: {name: value.double() for name, value in entry.items()}
        for i, entry in state["state"].items()
    }
    loaded.load_state_dict(state)  # as from a float64 pickle: cast to the parameters
    assert all(s["exp_avg"].dtype == torch.float32 for s in loaded.state)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_cpu_state_moves_to_cuda_parameters():
    parameters = _parameters()
    optimizer = Adam(parameters, lr=0.01)
    _train(optimizer, parameters, 2)
    on_cuda = [torch.nn.Parameter(p.detach().cuda()) for p in parameters]
    moved = Adam(on_cuda, lr=0.01)
    moved.load_state_dict(optimizer.state_dict())
    _train(moved, on_cuda, 2)
    _train(optimizer, parameters, 2)
    for mine, reference in zip(on_cuda, parameters, strict=True):
        torch.testing.assert_close(mine.cpu(), reference, rtol=1e-10, atol=1e-12)


def test_parameters_that_start_together_count_their_steps_once_and_export_them_apart():
    parameters = _parameters()
    optimizer = Adam(parameters, lr=0.01)
    _train(optimizer, parameters, 3)
    steps = [entry["step"] for entry in optimizer.state]
    assert all(step is steps[0] for step in steps) and float(steps[0]) == 3
    exported = [entry["step"] for entry in optimizer.state_dict()["state"].values()]
    assert len({id(step) for step in exported}) == len(exported)  # torch.optim adds to each
    assert all(float(step) == 3 for step in exported)
    reloaded = Adam(parameters, lr=0.01)
    reloaded.load_state_dict(optimizer.state_dict())
    assert all(entry["step"] is reloaded.state[0]["step"] for entry in reloaded.state)
