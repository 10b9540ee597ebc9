"""The hand-written loss and gradient of the stacked classifier equal autograd's."""

import pytest
import torch
from gradients import loss_and_gradients

from skl_sae._codes import TopK
from skl_sae._fused_classifier import supports
from skl_sae._layers import DenseLayer, StackedNetwork
from skl_sae._losses import ClassifierLoss


def _network(activations, code=None, dtype=torch.float64):
    generator = torch.Generator().manual_seed(0)
    sizes = [6, 9, 7][: len(activations) + 1]
    layers = [
        DenseLayer(n_in, n_out, activation=activation, generator=generator, dtype=dtype)
        for n_in, n_out, activation in zip(sizes, sizes[1:], activations, strict=False)
    ]
    if code is not None:
        layers[0] = DenseLayer(
            6, 9, activation="relu", code=code, generator=generator, dtype=dtype
        )
    layers.append(DenseLayer(sizes[len(layers)], 4, activation="identity", generator=generator))
    network = StackedNetwork(layers).to(dtype)
    with torch.no_grad():
        for layer in network.layers:
            layer.bias.uniform_(-1, 1, generator=generator)
    x = torch.rand(13, 6, generator=generator, dtype=dtype)
    y = torch.randint(0, 4, (13,), generator=generator)
    return network, x, y


def _both(network, x, y, **loss_params):
    """(value, gradients) by hand and by autograd, each from a dropout
    generator seeded alike."""
    results = []
    for by_hand in (True, False):
        generator = torch.Generator().manual_seed(3)
        loss = ClassifierLoss(generator=generator, **loss_params)
        results.append(loss_and_gradients(network, loss, x, y, by_hand=by_hand, weight=0.7))
    return results


@pytest.mark.parametrize("activations", [["sigmoid"], ["relu", "tanh"], ["identity", "sigmoid"]])
@pytest.mark.parametrize(
    "dropout, input_dropout", [(0.0, 0.0), (0.3, 0.0), (0.0, 0.25), (0.3, 0.25)]
)
def test_the_fine_tuning_loss_by_hand_equals_autograds(activations, dropout, input_dropout):
    network, x, y = _network(activations)
    assert supports(network)
    (value, grads), (expected_value, expected_grads) = _both(
        network, x, y, alpha=1e-2, dropout=dropout, input_dropout=input_dropout
    )
    torch.testing.assert_close(value, expected_value, rtol=1e-12, atol=1e-12)
    if dropout or input_dropout:  # the masks were drawn and applied
        undropped = _both(network, x, y, alpha=1e-2)[0][0]
        assert not torch.isclose(value, undropped)
    assert grads.keys() == expected_grads.keys() and len(grads) == 2 * len(network.layers)
    for name in grads:
        torch.testing.assert_close(grads[name], expected_grads[name], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("activations", [["sigmoid"], ["relu", "tanh"]])
@pytest.mark.parametrize("dropout, input_dropout", [(0.0, 0.0), (0.3, 0.25)])
def test_the_adversarial_fine_tuning_loss_by_hand_equals_autograds(
    activations, dropout, input_dropout
):
    network, x, y = _network(activations)
    deviations = torch.linspace(0.0, 0.5, x.shape[1], dtype=x.dtype)  # one constant feature
    params = dict(alpha=1e-2, dropout=dropout, input_dropout=input_dropout)
    (value, grads), (expected_value, expected_grads) = _both(
        network, x, y, adversarial_eps=0.3, input_deviations=deviations, **params
    )
    torch.testing.assert_close(value, expected_value, rtol=1e-12, atol=1e-12)
    clean = _both(network, x, y, **params)[0]
    if not (dropout or input_dropout):  # (else each pass drops its own codes)
        assert value > clean[0]  # the moved rows cost more than the clean ones
    assert grads.keys() == expected_grads.keys()
    for name in grads:
        torch.testing.assert_close(grads[name], expected_grads[name], rtol=1e-10, atol=1e-12)
        assert not torch.allclose(grads[name], clean[1][name])


def test_a_frozen_stack_trains_its_output_layer_alone_as_autograd_does():
    network, x, y = _network(["sigmoid", "relu"])
    deviations = torch.ones(x.shape[1], dtype=x.dtype)  # no adversarial rows when frozen
    (value, grads), (expected_value, expected_grads) = _both(
        network, x, y, alpha=1e-2, frozen=True, adversarial_eps=0.3, input_deviations=deviations
    )
    torch.testing.assert_close(value, expected_value, rtol=1e-12, atol=1e-12)
    assert grads.keys() == expected_grads.keys() == {"layers.2.weight", "layers.2.bias"}
    for name in grads:
        torch.testing.assert_close(grads[name], expected_grads[name], rtol=1e-10, atol=1e-12)


def test_sparse_codes_and_evaluation_are_left_to_autograd():
    network, x, y = _network(["sigmoid"], code=TopK(3))
    assert not supports(network)
    assert ClassifierLoss().accumulate_gradients(network.train(), x, y) is None
    plain, x, y = _network(["sigmoid"])
    assert ClassifierLoss().accumulate_gradients(plain.eval(), x, y) is None
    rows = x.to_sparse_csr()  # read through its non-zeros, by autograd
    assert ClassifierLoss().accumulate_gradients(plain.train(), rows, y) is None


def test_a_fine_tuned_classifier_steps_as_through_autograd(digits, monkeypatch):
    from skl_sae import StackedSparseAutoencoderClassifier, _fused_classifier

    X, y = digits[0][:400], digits[1][:400]
    params = dict(hidden_layer_sizes=(32,), pretrain_max_iter=2, max_iter=4, random_state=0)
    by_hand = StackedSparseAutoencoderClassifier(**params).fit(X, y)
    monkeypatch.setattr(_fused_classifier, "supports", lambda module: False)
    through_autograd = StackedSparseAutoencoderClassifier(**params).fit(X, y)
    for ours, theirs in zip(by_hand.coefs_, through_autograd.coefs_, strict=True):
        torch.testing.assert_close(torch.as_tensor(ours), torch.as_tensor(theirs))
