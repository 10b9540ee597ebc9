"""The TopK autoencoder's loss on sparse rows, by hand, against autograd's."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from gradients import loss_and_gradients

from skl_sae import SparseAutoencoderTransformer
from skl_sae import _fused_sparse as fused_sparse
from skl_sae._batches import to_tensor
from skl_sae._codes import TopK
from skl_sae._losses import AutoencoderLoss, LossTerms
from skl_sae._modules import SparseAutoencoder
from skl_sae._statistics import DeadLatents

N_FEATURES, N_UNITS = 40, 6


def _rows(seed=0):
    """Signed sparse rows (as hashed features), one of them empty."""
    X = sp.random(9, N_FEATURES, density=0.15, format="csr", random_state=seed)
    X.data -= 0.5
    X.data[X.indptr[3] : X.indptr[4]] = 0
    X.eliminate_zeros()
    return to_tensor(X, "cpu")


def _module(input_scale=1.0):
    generator = torch.Generator().manual_seed(1)
    module = SparseAutoencoder(
        N_FEATURES,
        N_UNITS,
        activation="relu",
        code=TopK(2),
        unit_norm_decoder=True,
        generator=generator,
        dtype=torch.float64,
    )
    with torch.no_grad():
        module.encoder.bias.uniform_(-0.2, 0.2, generator=generator)
        module.decoder_bias.uniform_(-0.1, 0.1, generator=generator)
    module.encoder.store_by_feature_()
    module.input_scale = input_scale
    return module.train()


def _loss(auxk=False, corruption=None, report_auxiliary=False):
    """A new loss (each path gets its own: AuxK's counts and the noise's
    generator start alike)."""
    return AutoencoderLoss(
        0.37,
        LossTerms(
            activation="relu",
            sparsity="topk",
            alpha=1e-2,
            auxk_weight=0.5 if auxk else 0.0,
            corruption=corruption,
            corruption_level=0.3 if corruption else 0.0,
        ),
        generator=torch.Generator().manual_seed(0),
        dead_latents=DeadLatents(N_UNITS, dead_after=0, device="cpu") if auxk else None,
        report_auxiliary=report_auxiliary,
    )


@pytest.mark.parametrize("input_scale", [1.0, 0.3])
@pytest.mark.parametrize(
    ("auxk", "corruption", "report_auxiliary"),
    [(False, None, False), (True, None, False), (True, None, True), (False, "mask", False)],
)
def test_the_loss_and_gradients_by_hand_are_autograds(
    input_scale, auxk, corruption, report_auxiliary
):
    """AuxK on every unit (all dead), masking noise, scaled inputs, weight
    decay's value (its gradient is the step's), a batch weight: float64 to
    rounding."""
    x, module = _rows(), _module(input_scale)
    by_hand = _loss(auxk, corruption, report_auxiliary)
    assert fused_sparse.supports(module, by_hand)
    value, gradients = loss_and_gradients(module, by_hand, x, by_hand=True, weight=0.7)
    expected_value, expected = loss_and_gradients(
        module, _loss(auxk, corruption, report_auxiliary), x, weight=0.7
    )
    torch.testing.assert_close(value, expected_value, rtol=1e-12, atol=1e-14)
    assert gradients.keys() == expected.keys()
    for name in gradients:
        torch.testing.assert_close(gradients[name], expected[name], rtol=1e-10, atol=1e-13)
    assert module.encoder.weight.grad.stride() == module.encoder.weight.stride()


def test_steps_reuse_the_gradients_memory_and_batches_add_up():
    x, other, module = _rows(0), _rows(1), _module()
    loss_fn = _loss()
    loss_and_gradients(module, loss_fn, x, by_hand=True, weight=0.7)
    kept = {name: p.grad.data_ptr() for name, p in module.named_parameters() if p.dim() == 2}
    _, second = loss_and_gradients(module, loss_fn, other, by_hand=True, weight=0.7)
    parameters = dict(module.named_parameters())
    for name, pointer in kept.items():  # the weights' gradients, written in place
        assert parameters[name].grad.data_ptr() == pointer
    _, first = loss_and_gradients(module, loss_fn, x, by_hand=True, weight=0.7)
    loss_fn.accumulate_gradients(module, other, weight=0.7)  # L-BFGS's second batch
    for name, parameter in module.named_parameters():
        torch.testing.assert_close(parameter.grad, first[name] + second[name], msg=name)


def test_the_default_fit_of_sparse_rows_takes_the_gradients_by_hand(monkeypatch):
    calls = []
    original = fused_sparse.loss_and_gradients
    monkeypatch.setattr(
        fused_sparse,
        "loss_and_gradients",
        lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs),
    )
    X = sp.random(60, 50, density=0.1, format="csr", random_state=0, dtype=np.float32)
    SparseAutoencoderTransformer(8, max_iter=2, random_state=0).fit(X)
    assert len(calls) == 2  # one batch an epoch
