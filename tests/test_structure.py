"""Structure learning: ``n_components="auto"`` chooses the hidden size from the data."""

import math
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from skl_sae import (
    SparseAutoencoderOutlierDetector,
    SparseAutoencoderTransformer,
    StackedSparseAutoencoderClassifier,
)
from skl_sae._codes import JumpReLU, TopK
from skl_sae._losses import AutoencoderLoss, LossTerms
from skl_sae._modules import SparseAutoencoder
from skl_sae._optimizers import Adam
from skl_sae._statistics import CodeStatistics, DeadLatents, binary_entropy
from skl_sae._structure import (
    CHECK_INTERVAL,
    StructureLearning,
    initial_components,
    resolve_max_components,
)
from skl_sae._training import History


@pytest.fixture(scope="module")
def digits():
    return load_digits().data[:600] / 16


# -- the information of a unit --------------------------------------------------


def test_binary_entropy_is_one_bit_for_a_fair_coin_and_zero_for_a_sure_one():
    p = torch.tensor([0.0, 0.5, 1.0, 0.11], dtype=torch.float64)
    expected = [0.0, 1.0, 0.0, -(0.11 * math.log2(0.11) + 0.89 * math.log2(0.89))]
    np.testing.assert_allclose(binary_entropy(p).numpy(), expected, atol=1e-12)


def test_information_of_deterministic_units_is_the_entropy_of_their_firing_rate():
    statistics = CodeStatistics(3, 4, "cpu", information=True)
    codes = torch.tensor([[0.0, 1.0, 2.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 3.0, 1.0]])
    statistics.add(TopK(2), codes, torch.zeros(4))
    # Never fires, always fires, fires on half the samples.
    np.testing.assert_allclose(statistics.information(), [0.0, 0.0, 1.0], atol=1e-12)


def test_information_of_sigmoid_units_discounts_the_uncertainty_of_each_firing():
    from skl_sae._codes import Activation

    statistics = CodeStatistics(2, 4, "cpu", information=True)
    # Unit 0 fires with probability 0.5 on every sample: no information.
    # Unit 1 is nearly 0 or 1: close to the one bit of a fair split.
    codes = torch.tensor([[0.5, 0.999], [0.5, 0.001], [0.5, 0.999], [0.5, 0.001]])
    statistics.add(Activation("sigmoid"), codes.double(), torch.zeros(4))
    information = statistics.information()
    assert information[0] == pytest.approx(0.0, abs=1e-12)
    assert 0.98 < information[1] < 1.0


def test_statistics_follow_a_change_of_units():
    statistics = CodeStatistics(3, 2, "cpu", information=True)
    statistics.add(TopK(3), torch.tensor([[1.0, 0.0, 2.0], [1.0, 0.0, 0.0]]), torch.zeros(2))
    statistics.select_units_(torch.tensor([2, 0]), 2)
    np.testing.assert_allclose(statistics.feature_density(), [0.5, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(statistics.information(), [1.0, 0.0, 0.0, 0.0], atol=1e-12)


# -- changing the number of units of a network ----------------------------------


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("code", [None, "jumprelu"])
def test_select_units_keeps_the_kept_units_and_adds_new_ones(tied, code):
    generator = torch.Generator().manual_seed(0)
    code_module = JumpReLU(6, threshold=0.3, dtype=torch.float64) if code else None
    module = SparseAutoencoder(
        5,
        6,
        activation="relu",
        tied_weights=tied,
        code=code_module,
        unit_norm_decoder=code is not None,
        generator=generator,
        dtype=torch.float64,
    )
    before = {id(p): (p.detach().clone(), dim) for p, dim in module.unit_parameters()}
    parameters = [p for p, _ in module.unit_parameters()]
    keep = torch.tensor([4, 1, 2])
    module.select_units_(keep, 5, generator)

    assert module.n_components == 8
    assert [p for p, _ in module.unit_parameters()] == parameters  # the same Parameters
    for parameter, dim in module.unit_parameters():
        old, _ = before[id(parameter)]
        assert parameter.shape[dim] == 8
        torch.testing.assert_close(parameter.narrow(dim, 0, 3), old.index_select(dim, keep))
    x = torch.rand(4, 5, dtype=torch.float64, generator=generator)
    assert module(x).codes.shape == (4, 8)
    if code:  # unit-norm atoms, the encoder their transpose, new thresholds as at the start
        atoms = module.decoder_weights[:, 3:]
        torch.testing.assert_close(atoms.norm(dim=0), torch.ones(5, dtype=torch.float64))
        torch.testing.assert_close(module.encoder.weight[3:], atoms.T)
        torch.testing.assert_close(
            module.encoder.code.threshold[3:], torch.full((5,), 0.3, dtype=torch.float64)
        )


def test_optimizer_state_and_dead_unit_counts_follow_the_units():
    generator = torch.Generator().manual_seed(0)
    module = SparseAutoencoder(4, 3, generator=generator, dtype=torch.float64)
    optimizer = Adam(module.parameters(), lr=1e-2)
    module(torch.rand(5, 4, dtype=torch.float64)).reconstruction.sum().backward()
    optimizer.step()
    position = [p is module.encoder.weight for p in optimizer.parameters].index(True)
    encoder_state = dict(optimizer.state[position])
    keep = torch.tensor([2, 0])
    for parameter, dim in module.unit_parameters():
        optimizer.select_units_(parameter, dim, keep, 1)
    module.select_units_(keep, 1, generator)
    state = optimizer.state[position]
    torch.testing.assert_close(state["exp_avg"][:2], encoder_state["exp_avg"][[2, 0]])
    assert not state["exp_avg"][2].any() and not state["exp_avg_sq"][2].any()
    module(torch.rand(5, 4, dtype=torch.float64)).reconstruction.sum().backward()
    optimizer.step()  # the resized state steps with the resized parameters

    dead = DeadLatents(3, 10, "cpu")
    dead.samples_since_fired = torch.tensor([5, 7, 9])
    dead.select_units_(keep, 2)
    assert dead.samples_since_fired.tolist() == [9, 5, 0, 0]


def test_an_encoder_stored_by_feature_and_its_adam_state_stay_so_through_a_resize():
    """(What a sparse fit's encoder is, see DenseLayer.store_by_feature_.)"""
    generator = torch.Generator().manual_seed(0)
    module = SparseAutoencoder(4, 3, generator=generator, dtype=torch.float64)
    module.encoder.store_by_feature_()
    optimizer = Adam(module.parameters(), lr=1e-2)
    module(torch.rand(5, 4, dtype=torch.float64)).reconstruction.sum().backward()
    optimizer.step()
    keep = torch.tensor([2, 0])
    module.select_units_(keep, 1, generator)  # the order of structure learning
    for parameter, dim in module.unit_parameters():
        optimizer.select_units_(parameter, dim, keep, 1)
    weight = module.encoder.weight
    assert weight.shape == (3, 4) and weight.mT.is_contiguous()
    position = [p is weight for p in optimizer.parameters].index(True)
    for name in ("exp_avg", "exp_avg_sq"):
        assert optimizer.state[position][name].stride() == weight.stride()


# -- the rule ---------------------------------------------------------------------


class _Epoch:
    """Statistics of an epoch as the rule reads them."""

    def __init__(self, information, unexplained):
        self._information, self._unexplained = np.asarray(information, float), unexplained
        self.selected = None

    def information(self):
        return self._information.copy()

    def mean_squared_error(self):
        return self._unexplained

    def select_units_(self, keep, n_new):
        self.selected = (keep.tolist(), n_new)


def _step(module, information, unexplained, state, *, epoch=CHECK_INTERVAL, max_components=64):
    """A structure step after an epoch, made at the start of the next one."""
    statistics = _Epoch(information, unexplained)
    hook = StructureLearning(
        statistics, 1.0, max_components, state, torch.Generator().manual_seed(0)
    )
    history = History(n_iter=epoch, best_loss=0.5, no_improvement_count=3, best_state={})
    hook.on_epoch_end(module, history)
    hook.on_epoch_begin(module)
    return statistics.selected, history


def _module(n_units):
    return SparseAutoencoder(3, n_units, generator=torch.Generator().manual_seed(0))


def test_the_first_structure_step_doubles_the_units_and_restarts_the_patience():
    module, state = _module(4), StructureLearning.new_state(64)
    selected, history = _step(module, [0.2, 0.3, 0.0, 0.4], 0.5, state)
    # While growing, no unit is pruned, not even an uninformative one.
    assert selected == ([0, 1, 2, 3], 4) and module.n_components == 8
    assert history.best_loss == math.inf and history.no_improvement_count == 0
    assert state["curve"] == [4] and state["growing"]


def test_structure_steps_come_every_few_epochs_and_wait_for_the_next_one():
    module, state = _module(4), StructureLearning.new_state(64)
    assert _step(module, [0.2] * 4, 0.5, state, epoch=CHECK_INTERVAL - 1)[0] is None
    hook = StructureLearning(_Epoch([0.2] * 4, 0.5), 1.0, 64, state, None)
    hook.on_epoch_end(module, History(n_iter=CHECK_INTERVAL))
    # Decided, not made: a fit that ends here leaves no untrained unit.
    assert module.n_components == 4 and state["pending"] == {"keep": [0, 1, 2, 3], "n_new": 4}
    hook.finish(module)
    assert module.n_components == 4
    hook.on_epoch_begin(module)  # training goes on (warm_start, partial_fit)
    assert module.n_components == 8 and state["pending"] is None


def test_growth_goes_on_while_it_pays_and_new_units_are_busy():
    module, state = _module(4), StructureLearning.new_state(64)
    _step(module, [0.2] * 4, 0.5, state)
    # Error down by more than a tenth, every new unit informative: double again.
    assert _step(module, [0.2] * 8, 0.4, state)[0] == (list(range(8)), 8)
    assert module.n_components == 16


def test_growth_ends_when_the_error_falls_by_less_than_a_tenth_and_pruning_follows():
    module, state = _module(4), StructureLearning.new_state(64)
    _step(module, [0.2] * 4, 0.5, state)
    information = [0.2] * 6 + [0.001, 0.0]
    selected, _ = _step(module, information, 0.46, state)
    # The units of the last growth get one more interval before any pruning.
    assert not state["growing"] and selected is None and module.n_components == 8
    selected, history = _step(module, information, 0.45, state)
    assert selected == (list(range(6)), 0) and module.n_components == 6
    # Pruning leaves patience as it was; the best weights had the old shape.
    assert history.no_improvement_count == 3 and history.best_state is None
    assert _step(module, [0.2] * 6, 0.44, state)[0] is None  # all informative: no change


def test_a_pruning_decided_after_the_last_epoch_is_made_at_the_end():
    module, state = _module(4), StructureLearning.new_state(64)
    state["growing"] = False
    hook = StructureLearning(_Epoch([0.2, 0.0, 0.2, 0.0], 0.5), 1.0, 64, state, None)
    hook.on_epoch_end(module, History(n_iter=CHECK_INTERVAL))
    hook.finish(module)
    assert module.n_components == 2 and state["pending"] is None


def test_growth_ends_when_fewer_than_half_the_new_units_are_informative():
    module, state = _module(4), StructureLearning.new_state(64)
    _step(module, [0.2] * 4, 0.5, state)
    assert _step(module, [0.2] * 5 + [0.0] * 3, 0.2, state)[0] is None
    assert not state["growing"]


def test_growth_stops_at_max_components_and_pruning_keeps_at_least_one_unit():
    module, state = _module(4), StructureLearning.new_state(64)
    _step(module, [0.2] * 4, 0.5, state, max_components=6)
    assert module.n_components == 6
    information = [0.0, 0.0, 0.003, 0.0, 0.0, 0.0]
    assert _step(module, information, 0.1, state, max_components=6)[0] is None
    selected, _ = _step(module, information, 0.1, state, max_components=6)
    assert not state["growing"] and selected == ([2], 0)


def test_the_initial_size_explains_most_of_the_variance_linearly():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 5)) @ rng.normal(size=(5, 40))  # rank 5
    assert initial_components(X, 100, rng) <= 5
    assert initial_components(X, 3, rng) == 3
    assert initial_components(np.ones((10, 4)), 100, rng) == 1  # no variance
    # Sparse rows give the same count through their Gram matrix, never densified.
    wide = sp.random(300, 20_000, density=0.001, random_state=0, format="csr")
    dense_count = initial_components(wide.toarray(), 1000, np.random.RandomState(1))
    assert initial_components(wide, 1000, np.random.RandomState(1)) == dense_count
    assert resolve_max_components(None, 64) == 256
    assert resolve_max_components(None, 784) == 3136
    assert resolve_max_components(None, 50_000) == 4096
    assert resolve_max_components(7, 784) == 7


@pytest.mark.parametrize("scale", [1e-300, 1e300])
@pytest.mark.parametrize("sparse", [False, True])
def test_the_initial_size_does_not_depend_on_the_scale_of_the_data(scale, sparse):
    # Squares of such data overflow (or underflow) float64.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 3)) @ rng.normal(size=(3, 8))  # rank 3
    expected = initial_components(X, 100, np.random.RandomState(1))
    X = sp.csr_matrix(X * scale) if sparse else X * scale
    assert initial_components(X, 100, np.random.RandomState(1)) == expected


def test_penalties_price_units_as_in_a_layer_of_penalty_units():
    module = _module(4)
    x = torch.rand(6, 3)
    plain = AutoencoderLoss(
        1.0, LossTerms(activation="sigmoid", sparsity="kl", sparsity_weight=3.0)
    )
    priced = AutoencoderLoss(
        1.0, LossTerms(activation="sigmoid", sparsity="kl", sparsity_weight=3.0), penalty_units=16
    )
    none = AutoencoderLoss(
        1.0, LossTerms(activation="sigmoid", sparsity="kl", sparsity_weight=0.0)
    )
    penalty = plain(module, x) - none(module, x)
    torch.testing.assert_close(priced(module, x) - none(module, x), penalty * 4 / 16)


# -- the estimators ---------------------------------------------------------------


@pytest.mark.parametrize("sparsity", ["kl", "l1", "topk", "batchtopk", "jumprelu", None])
def test_auto_chooses_a_size_that_every_fitted_attribute_follows(digits, sparsity):
    sae = SparseAutoencoderTransformer("auto", sparsity=sparsity, max_iter=30, random_state=0)
    codes = sae.fit_transform(digits)
    n = sae.n_components_
    assert 1 <= n <= 256 and n != initial_components(digits, 256, np.random.RandomState(0))
    assert codes.shape == (len(digits), n)
    assert sae.components_.shape == (n, 64) and sae.encoder_weights_.shape == (n, 64)
    assert sae.feature_density_.shape == (n,) and len(sae.get_feature_names_out()) == n
    assert len(sae.structure_curve_) == len(sae.loss_curve_) == sae.n_iter_
    # A pruning decided after the last epoch is made at the end of the fit.
    assert sae.structure_curve_[-1] >= n
    assert sae.inverse_transform(codes).shape == digits.shape
    if sparsity in ("kl", None):  # every unit stays informative: the layer grows
        assert n > sae.structure_curve_[0]


def test_auto_grows_no_further_than_max_components(digits):
    sae = SparseAutoencoderTransformer("auto", max_components=40, max_iter=30, random_state=0)
    sae.fit(digits)
    assert max(sae.structure_curve_) <= 40


def test_a_fixed_size_has_a_constant_structure_curve(digits):
    sae = SparseAutoencoderTransformer(16, max_iter=5, random_state=0).fit(digits)
    assert sae.n_components_ == 16 and sae.structure_curve_ == [16] * 5
    sae.set_params(warm_start=True, max_iter=3).fit(digits)
    assert sae.structure_curve_ == [16] * 8


def test_auto_is_reproducible(digits):
    # One thread, as fit takes by default, even where OMP_NUM_THREADS asks for more:
    # sums split over another count differ in the last digits (reproducibility.rst).
    with threadpool_limits(1, user_api="openmp"):
        fits = [
            SparseAutoencoderTransformer("auto", max_iter=20, random_state=3).fit(digits)
            for _ in range(2)
        ]
    assert fits[0].structure_curve_ == fits[1].structure_curve_
    np.testing.assert_array_equal(fits[0].transform(digits), fits[1].transform(digits))


def test_warm_start_and_partial_fit_continue_the_structure(digits):
    sae = SparseAutoencoderTransformer("auto", max_iter=7, random_state=0).fit(digits)
    assert sae.structure_curve_[-1] > sae.structure_curve_[0]
    first = list(sae.structure_curve_)
    sae.set_params(warm_start=True, max_iter=6).fit(digits)
    assert sae.structure_curve_[:7] == first and len(sae.structure_curve_) == 13
    assert sae.structure_curve_[-1] > first[-1]  # the growth went on at epoch 10

    streamed = SparseAutoencoderTransformer("auto", random_state=0)
    for _ in range(2 * CHECK_INTERVAL + 1):
        streamed.partial_fit(digits)
    assert len(set(streamed.structure_curve_)) == 3  # two structure steps
    restored = pickle.loads(pickle.dumps(streamed))
    np.testing.assert_array_equal(restored.transform(digits), streamed.transform(digits))
    for model in (streamed, restored):
        for _ in range(CHECK_INTERVAL - 1):
            model.partial_fit(digits)
    assert restored.structure_curve_ == streamed.structure_curve_
    np.testing.assert_allclose(restored.transform(digits), streamed.transform(digits))


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_auto_works_with_every_solver(digits, solver):
    sae = SparseAutoencoderTransformer("auto", solver=solver, max_iter=12, random_state=0)
    sae.fit(digits)
    assert sae.structure_curve_[-1] > sae.structure_curve_[0]
    assert np.isfinite(sae.loss_curve_).all()


def _final_structure(curve):
    """The epochs (counted from 1) of the last run of equal sizes in ``curve``."""
    first = len(curve)
    while first > 1 and curve[first - 2] == curve[-1]:
        first -= 1
    return np.arange(first, len(curve) + 1)


@pytest.mark.parametrize(
    "sparsity, learning_rate_init, random_state, max_iter",
    [
        # 46 units pruned to 9 after epoch 15; the best epoch is the 17th, of 19.
        ("l1", 0.1, 0, 19),
        # 92 units grown to 184 after epoch 15; the 184 score best at epoch 17, of
        # 18, below the 92 at epoch 15.
        (None, 0.1, 1, 18),
        # 46 units pruned to 4 after epoch 15; the 4 score best at epoch 17, of 18,
        # below the 46 at epoch 14.
        ("l1", 0.2, 0, 18),  # a pruning, after which no epoch beats the old best
    ],
)
def test_early_stopping_keeps_the_best_weights_of_the_final_structure(
    digits, sparsity, learning_rate_init, random_state, max_iter
):
    # 60 training rows and a high learning rate: the validation score falls and
    # rises again, and the best epoch of the final structure is not the last.
    params = dict(
        sparsity=sparsity,
        early_stopping=True,
        validation_fraction=0.5,
        n_iter_no_change=50,
        learning_rate_init=learning_rate_init,
        random_state=random_state,
    )
    X = digits[:120]
    with threadpool_limits(1, user_api="openmp"):  # one thread, whatever OMP_NUM_THREADS says
        sae = SparseAutoencoderTransformer("auto", max_iter=max_iter, **params).fit(X)
        epochs = _final_structure(sae.structure_curve_)
        scores = np.asarray(sae.validation_scores_)
        best = int(epochs[np.argmax(scores[epochs - 1])])
        if epochs[0] == 1 or best == max_iter or sae.n_components_ != sae.structure_curve_[-1]:
            pytest.fail("no new structure trained, or its best epoch is its last")
        stopped = SparseAutoencoderTransformer("auto", max_iter=best, **params).fit(X)
    # The weights kept are those of that epoch, as a fit stopped after it has them.
    np.testing.assert_array_equal(sae.components_, stopped.components_)
    np.testing.assert_array_equal(sae.encoder_weights_, stopped.encoder_weights_)
    assert sae.best_validation_score_ == scores[best - 1]  # the score of the weights kept


def test_max_components_below_one_is_refused(digits):
    with pytest.raises(InvalidParameterError, match="max_components"):
        SparseAutoencoderTransformer("auto", max_components=0).fit(digits)
    with pytest.raises(InvalidParameterError, match="n_components"):
        SparseAutoencoderTransformer("many").fit(digits)


def test_classifier_layers_may_learn_their_size(digits):
    y = load_digits().target[:600]
    clf = StackedSparseAutoencoderClassifier(
        ("auto", 16), pretrain_max_iter=12, max_iter=5, random_state=0
    ).fit(digits, y)
    first = clf.hidden_layer_sizes_[0]
    assert clf.hidden_layer_sizes_[1] == 16 and first == clf.structure_curves_[0][-1]
    assert clf.structure_curves_[1] == [16] * 12
    assert len(set(clf.structure_curves_[0])) > 1
    assert [coef.shape for coef in clf.coefs_] == [(64, first), (first, 16), (16, 10)]
    assert clf.predict_proba(digits).shape == (600, 10)
    one = StackedSparseAutoencoderClassifier("auto", pretrain_max_iter=2, max_iter=2)
    assert one.fit(digits, y).transform(digits).shape[1] == one.hidden_layer_sizes_[0]


@pytest.mark.parametrize("sizes", [("auto", "wide"), (16, 2.5), ((8, 8),), ()])
def test_classifier_refuses_sizes_that_are_neither_positive_ints_nor_auto(digits, sizes):
    y = load_digits().target[:600]
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        StackedSparseAutoencoderClassifier(sizes, max_iter=1).fit(digits, y)


def test_outlier_detector_may_learn_its_size(digits):
    detector = SparseAutoencoderOutlierDetector("auto", max_iter=7, random_state=0).fit(digits)
    assert detector.n_components_ == detector.autoencoder_.n_components_
    assert detector.n_components_ == len(detector.unit_rarity_)
    assert detector.structure_curve_ == detector.autoencoder_.structure_curve_
    assert len(set(detector.structure_curve_)) > 1
