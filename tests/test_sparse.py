"""Sparse rows are read through their non-zeros: the same losses, gradients,
codes and scores as their dense copy, without ever densifying them."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from gradients import loss_and_gradients

from skl_sae import SparseAutoencoderOutlierDetector, SparseAutoencoderTransformer, _sparse
from skl_sae._batches import to_tensor
from skl_sae._codes import code_class
from skl_sae._functional import squared_error
from skl_sae._losses import AutoencoderLoss, LossTerms, default_activation, penalty_of
from skl_sae._modules import SparseAutoencoder
from skl_sae._statistics import DeadLatents
from skl_sae._validation import SPARSITIES

N_FEATURES, N_UNITS = 40, 6


def _rows(n_rows=9, density=0.15, dtype=np.float64, seed=0, signed=True):
    """Sparse rows (signed, as hashed features are) and their dense copy."""
    X = sp.random(n_rows, N_FEATURES, density=density, format="csr", random_state=seed)
    X = X.astype(dtype)
    if signed:
        X.data = X.data - 0.5
    X.data[X.indptr[3] : X.indptr[4]] = 0  # a row with no non-zero
    X.eliminate_zeros()
    return to_tensor(X, "cpu"), torch.from_numpy(X.toarray())


def _module(sparsity, tied=False, output_activation="identity", dtype=torch.float64):
    activation = default_activation(sparsity)
    code = code_class(sparsity).from_params(activation, N_UNITS, k=2, scale=1.0, dtype=dtype)
    generator = torch.Generator().manual_seed(1)
    module = SparseAutoencoder(
        N_FEATURES,
        N_UNITS,
        activation=activation,
        output_activation=output_activation,
        tied_weights=tied,
        code=code,
        generator=generator,
        dtype=dtype,
    )
    with torch.no_grad():
        module.encoder.bias.uniform_(-0.2, 0.2, generator=generator)
        module.decoder_bias.uniform_(-0.1, 0.1, generator=generator)
    return module


def _loss(sparsity, module, **terms):
    penalty = penalty_of(sparsity)
    dead = None
    if code_class(sparsity).exactly_sparse:
        dead = DeadLatents(N_UNITS, dead_after=0, device="cpu")  # every unit dead: AuxK acts
    return AutoencoderLoss(
        0.37,
        LossTerms(
            activation=module.encoder.code.activation,
            sparsity=sparsity,
            sparsity_target=0.1,
            sparsity_weight=0.0 if penalty is None else 0.8,
            auxk_weight=0.5 if dead is not None else 0.0,
            **terms,
        ),
        dead_latents=dead,
    )


def test_the_error_from_the_non_zeros_is_the_dense_error():
    x, dense = _rows()
    module = _module(None)
    codes = module.encode(dense)[1].detach()
    expected = squared_error(module.decode(codes), dense)
    got = _sparse.linear_errors(x, codes, module.decoder_weight, module.decoder_bias)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)
    assert x[3].to_dense().count_nonzero() == 0  # (a row with no non-zero too)


@pytest.mark.parametrize("by_feature", [False, True])
@pytest.mark.parametrize("input_scale", [1.0, 0.3])
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("sparsity", [*SPARSITIES, None])
def test_sparse_rows_give_the_dense_loss_and_gradients(sparsity, tied, input_scale, by_feature):
    """Every sparsity, its penalty, AuxK's residual, weight decay, the
    contractive penalty (where it has a closed form), tied weights, a
    network on scaled inputs and an encoder stored by feature: float64 to
    rounding."""
    x, dense = _rows()
    module = _module(sparsity, tied=tied)
    module.input_scale = input_scale
    if by_feature:
        module.encoder.store_by_feature_()
    contractive = 0.3 if module.encoder.code.activation in ("sigmoid", "relu") else 0.0
    terms = dict(alpha=1e-2, contractive_weight=contractive)
    value, gradients = loss_and_gradients(module, _loss(sparsity, module, **terms), x)
    dense_value, dense_gradients = loss_and_gradients(
        module, _loss(sparsity, module, **terms), dense
    )
    torch.testing.assert_close(value, dense_value, rtol=1e-10, atol=1e-12)
    for name, gradient in dense_gradients.items():
        torch.testing.assert_close(gradients[name], gradient, rtol=1e-9, atol=1e-12, msg=name)


def test_an_encoder_fitted_on_sparse_rows_is_stored_by_feature_as_its_gradient():
    """So that neither the product nor its gradient is copied transposed."""
    x, _ = _rows()
    module = _module("topk")
    module.encoder.store_by_feature_()
    weight = module.encoder.weight
    assert weight.mT.is_contiguous()
    _loss("topk", module, alpha=1e-2)(module.train(), x).backward()
    assert weight.grad.stride() == weight.stride()
    X = sp.random(60, 40, density=0.1, format="csr", random_state=0)
    sae = SparseAutoencoderTransformer(4, max_iter=2, random_state=0).fit(X)
    assert sae._get_module().encoder.weight.mT.is_contiguous()


def test_a_sigmoid_output_takes_the_dense_batch():
    x, dense = _rows(signed=False)
    module = _module("kl", output_activation="sigmoid")
    assert not module.reads_nonzeros
    value, gradients = loss_and_gradients(module, _loss("kl", module), x)
    dense_value, dense_gradients = loss_and_gradients(module, _loss("kl", module), dense)
    torch.testing.assert_close(value, dense_value, rtol=1e-12, atol=1e-14)
    for name, gradient in dense_gradients.items():
        torch.testing.assert_close(gradients[name], gradient, msg=name)


def test_the_transpose_of_sparse_rows_by_either_sort():
    """``x^T @ y`` (the gradients' scatter of the non-zeros) multiplies a CSR
    transpose: scipy's counting sort on the CPU, a stable sort elsewhere; a
    tensor with other values at the same places reuses the structure."""
    x, dense = _rows()
    transposed = _sparse.transposed(x)
    assert transposed.layout == torch.sparse_csr
    assert torch.equal(transposed.to_dense(), dense.T)
    for left, right in zip(
        _sparse._scipy_transposition(x), _sparse._sorted_transposition(x), strict=True
    ):
        assert torch.equal(left, right)
    doubled = _sparse.with_values(x, 2 * x.values())
    assert doubled._transposition is x._transposition
    assert torch.equal(_sparse.transposed(doubled).to_dense(), 2 * dense.T)


def test_masking_noise_drops_non_zeros_only():
    x, _ = _rows(n_rows=200, density=0.5)
    generator = torch.Generator().manual_seed(0)
    noisy = _sparse.mask_values(x, 0.3, generator)
    kept = noisy.values() != 0
    assert torch.equal(noisy.col_indices(), x.col_indices())
    assert torch.equal(noisy.values()[kept], x.values()[kept])
    assert float((~kept).to(torch.float64).mean()) == pytest.approx(0.3, abs=0.03)


def test_float32_errors_keep_their_digits_at_a_realistic_fit():
    """Rows well reconstructed (the error a tenth of ``||x||^2``) lose
    few digits to the subtraction in float32; no error is negative. (The
    identity holds for any rows: these are stored sparse, though full.)"""
    generator = torch.Generator().manual_seed(0)
    atoms = torch.randn(N_FEATURES, N_UNITS, generator=generator, dtype=torch.float64)
    codes = torch.rand(300, N_UNITS, generator=generator, dtype=torch.float64)
    noise = torch.randn(300, N_FEATURES, generator=generator, dtype=torch.float64)
    dense = codes @ atoms.T + 0.5 * noise
    explained = 1 - squared_error(codes @ atoms.T, dense).sum() / dense.square().mean(1).sum()
    assert 0.8 < explained < 0.95
    x = to_tensor(sp.csr_matrix(dense.numpy().astype(np.float32)), "cpu")
    bias = torch.zeros(N_FEATURES, dtype=torch.float32)
    got = _sparse.linear_errors(x, codes.float(), atoms.float(), bias)
    expected = squared_error(codes @ atoms.T, dense)
    assert got.dtype == torch.float32 and bool((got >= 0).all())
    torch.testing.assert_close(got.double(), expected, rtol=1e-4, atol=1e-6)


WIDE = 20_000


@pytest.fixture
def never_densified(monkeypatch):
    """Fail any densification of sparse rows (of at least ``WIDE`` columns):
    scipy's and torch's."""

    def refuse(*args, **kwargs):
        raise AssertionError("a batch of sparse rows was densified")

    for kind in (sp.csr_matrix, sp.csr_array):
        toarray = kind.toarray
        monkeypatch.setattr(
            kind,
            "toarray",
            lambda self, *a, toarray=toarray, **k: (
                refuse() if self.shape[1] >= WIDE else toarray(self, *a, **k)
            ),
        )
    dense = _sparse.to_dense
    monkeypatch.setattr(
        _sparse, "to_dense", lambda x: refuse() if _sparse.is_sparse(x) else dense(x)
    )


@pytest.mark.parametrize("sparsity", ["l1", "topk", "jumprelu", "batchtopk"])
def test_wide_sparse_rows_are_never_densified(never_densified, sparsity):
    """Fit (with early stopping), transform, score and detect outliers on
    a matrix far wider than its non-zeros, identity output."""
    X = sp.random(300, 50_000, density=2e-4, format="csr", random_state=0, dtype=np.float32)
    sae = SparseAutoencoderTransformer(
        8,
        sparsity=sparsity,
        k=2,
        output_activation="identity",
        max_iter=3,
        early_stopping=True,
        random_state=0,
    ).fit(X)
    assert sae.transform(X).shape == (300, 8)
    assert sae.score_samples(X).dtype == np.float32
    sae.partial_fit(X[:100]).partial_fit(X[100:])
    assert sae.n_iter_ == 5
    detector = SparseAutoencoderOutlierDetector(
        8, sparsity=sparsity, k=2, output_activation="identity", max_iter=2, random_state=0
    )
    assert set(detector.fit_predict(X)) <= {-1, 1}


def test_a_learned_size_reads_the_non_zeros_too(never_densified):
    X = sp.random(400, WIDE, density=5e-4, format="csr", random_state=0, dtype=np.float32)
    sae = SparseAutoencoderTransformer("auto", max_iter=4, random_state=0).fit(X)
    assert sae.n_components_ == sae.transform(X).shape[1] >= 1
    assert sae._get_module().encoder.weight.mT.is_contiguous()  # stored by feature


def test_sparse_fits_do_not_depend_on_the_datas_scale(digits):
    """The network computes on ``X / input_scale_`` (the features' typical
    deviation): the same codes for X and 1000 X, atoms 1000 times longer.
    (From a random start: the singular directions of X and 1000 X agree to
    rounding, which four epochs of TopK amplify to 1e-5.)"""
    X, _ = digits
    params = dict(
        n_components=8, k=3, max_iter=4, init="random", compute_dtype="float64", random_state=0
    )
    sae = SparseAutoencoderTransformer(**params).fit(sp.csr_matrix(X))
    big = SparseAutoencoderTransformer(**params).fit(sp.csr_matrix(1000 * X))
    assert big.input_scale_ == pytest.approx(1000 * sae.input_scale_)
    np.testing.assert_allclose(big.transform(1000 * X), sae.transform(X), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(big.components_, 1000 * sae.components_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(big.score_samples(1000 * X), 1e6 * sae.score_samples(X), rtol=1e-6)
    np.testing.assert_allclose(
        sae.inverse_transform(sae.transform(sp.csr_matrix(X))),
        sae.inverse_transform(sae.transform(X)),
    )


def test_public_weights_are_those_of_the_unscaled_inputs(digits):
    """``encoder_weights_`` and ``components_`` act on X itself: the codes
    and the reconstruction follow from them without ``input_scale_`` (to
    float64's rounding in a float64 network)."""
    X, _ = digits
    sae = SparseAutoencoderTransformer(
        8, sparsity="l1", max_iter=3, compute_dtype="float64", random_state=0
    )
    sae.fit(sp.csr_matrix(X))
    assert sae.input_scale_ != 1.0
    codes = np.maximum(X @ sae.encoder_weights_.T + sae.encoder_bias_, 0)
    np.testing.assert_allclose(sae.transform(X), codes, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        sae.inverse_transform(codes), codes @ sae.components_ + sae.decoder_bias_, rtol=1e-6
    )


@pytest.mark.parametrize(
    ("output_activation", "rows"), [("identity", 2000), ("sigmoid", 83)], ids=["linear", "sigmoid"]
)
def test_auto_batches_of_sparse_rows_grow_only_where_the_loss_reads_the_non_zeros(
    monkeypatch, output_activation, rows
):
    """A linear decoder reads them (all 2,000 rows a batch, below 4,096); a
    sigmoid output densifies each batch, which then holds no more rows than
    16 MB of 50,000 float32 columns (the network's ``compute_dtype``)."""
    seen = []
    call = AutoencoderLoss.__call__
    monkeypatch.setattr(
        AutoencoderLoss,
        "__call__",
        lambda self, module, x, *a: seen.append(x.shape[0]) or call(self, module, x, *a),
    )
    rng = np.random.default_rng(0)
    places = (rng.integers(0, 2000, 10_000), rng.integers(0, 50_000, 10_000))
    X = sp.csr_matrix((rng.random(10_000), places), shape=(2000, 50_000))
    sae = SparseAutoencoderTransformer(
        4, sparsity="l1", output_activation=output_activation, max_iter=1, random_state=0
    )
    sae.fit(X)
    assert max(seen) == rows


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_sparse_rows_train_on_cuda_as_on_the_cpu(digits):
    """CSR batches copied to the GPU from pinned memory, read there through
    their non-zeros (cuSPARSE, embedding_bag): the CPU's fit (float64)."""
    X = sp.csr_matrix(digits[0])
    params = dict(n_components=8, k=3, max_iter=3, compute_dtype="float64", random_state=0)
    cpu = SparseAutoencoderTransformer(**params).fit(X)
    cuda = SparseAutoencoderTransformer(device="cuda", **params).fit(X)
    np.testing.assert_allclose(cuda.components_, cpu.components_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(cuda.transform(X), cpu.transform(X), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("corruption", ["mask", "gaussian"])
def test_denoising_takes_sparse_rows(digits, corruption):
    """Masking noise drops non-zeros; Gaussian noise, in the data's units,
    makes the batch dense: both train and reconstruct the clean rows."""
    X = sp.csr_matrix(digits[0])
    sae = SparseAutoencoderTransformer(
        16, k=4, corruption=corruption, corruption_level=0.1, max_iter=10, random_state=0
    ).fit(X)
    assert sae.explained_variance_ > 0.2
    assert np.isfinite(sae.score_samples(X)).all()
