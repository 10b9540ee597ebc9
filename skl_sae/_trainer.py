"""Fitting one autoencoder layer, from settings that know nothing of scikit-learn.

An estimator translates its parameters once into a frozen
:class:`LayerSettings` (the code, the loss terms of :class:`~._losses.LossTerms`,
the solver and its schedule, the network to build, the device); :func:`new_layer` starts a layer
as its code family starts, :func:`fit_layer` trains it through the one loop
of :mod:`._training`, and :func:`train_run` runs that loop for any module and
loss (the stacked classifier's softmax and fine-tuning stages too). What
varies around the loop (the decoder's unit norm, structure learning,
callbacks, gradients averaged over processes) plugs in as epoch hooks.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch

from ._batches import StreamedRows, inference_batch_rows, make_batches
from ._codes import calibrate_codes_, code_class
from ._data import (
    compute_dtype,
    converted,
    geometric_median,
    in_unit_interval,
    is_streamed,
    leading_directions,
    mean_feature_variance,
    numpy_dtype,
    torch_dtype,
)
from ._distributed import (
    AveragedGradients,
    ShardedBatches,
    all_reduce_,
    check_same_data,
    local_rows,
    process_group,
)
from ._losses import AutoencoderLoss, LossTerms, reconstruction_objective
from ._statistics import CodeStatistics, DeadLatents
from ._structure import StructureLearning, initial_components, resolve_max_components
from ._training import (
    EpochHook,
    History,
    StepSizeDecay,
    WeightAveraging,
    fit_loop,
    make_optimizer,
    overrides,
)

#: The most memory that one dense training batch of ``batch_size="auto"`` may
#: take: rows of wide data are fewer (and one batch's activations, outputs and
#: gradients take about ten times this).
AUTO_BATCH_BYTES = 16 * 2**20

#: Rows of a sparse training batch of ``batch_size="auto"``. A batch of sparse
#: rows costs O(nnz k) per row and, for the decoder's Gram matrix and the
#: optimizer's dense update, O(d k^2) per step (:mod:`._sparse`): larger
#: batches spread that cost (20,000 rows of a 50,000-term float64 TF-IDF at 64
#: units: 4.2 s an epoch in batches of 1,024, 2.0 s in 8 batches of 2,500).
AUTO_SPARSE_BATCH_ROWS = 4096

#: The most rows of a dense training batch of ``batch_size="auto"`` on a
#: GPU, and the fewest steps an epoch that it keeps (see
#: :meth:`Schedule.batch_rows`).
AUTO_DEVICE_BATCH_ROWS = 4096
AUTO_DEVICE_STEPS = 50

#: The most memory that one dense training batch of ``batch_size="auto"``
#: may take on a GPU: a fixed amount rather than a share of the device's, so
#: that every process of a distributed fit, and every GPU, takes the same
#: batches. A dense layer's activations and gradients take about ten times
#: the batch for codes as wide as the input, more for wider codes and
#: convolutional maps (the default convolutional layer's, some 32 times):
#: give an integer ``batch_size`` where they do not fit.
AUTO_DEVICE_BATCH_BYTES = 64 * 2**20

#: The width up to which ``learning_rate_init="auto"`` is 1e-2 (MNIST's,
#: where that step size was chosen); see :func:`resolve_learning_rate`.
AUTO_LEARNING_RATE_WIDTH = 784


@dataclass(frozen=True)
class CodeSettings:
    """How a layer's pre-activations become codes: ``sparsity`` names the
    code class (:func:`~._codes.code_class`), ``activation`` is the resolved
    hidden activation and ``params`` the code's own hyperparameters."""

    sparsity: str | None = None
    activation: str = "sigmoid"
    params: dict = field(default_factory=dict)

    @property
    def family(self):
        """The code class."""
        return code_class(self.sparsity)

    @property
    def exactly_sparse(self):
        """Whether the codes are exactly 0 where a unit is off (TopK and kin)."""
        return self.family.exactly_sparse

    def build(self, n_units, scale=1.0, dtype=None):
        """The code module of a layer of ``n_units`` whose pre-activations
        are of typical size ``scale``."""
        return self.family.from_params(
            self.activation, n_units, scale=scale, dtype=dtype, **self.params
        )


@dataclass(frozen=True)
class Schedule:
    """The solver and how long and on what batches it runs."""

    solver: str = "adam"
    learning_rate_init: float = 1e-3
    batch_size: int | str = "auto"
    max_iter: int = 200
    tol: float = 1e-4
    n_iter_no_change: int = 10
    learning_rate: str = "constant"
    """``"adaptive"``: the minibatch solvers' step size is divided by 10 after
    more than ``n_iter_no_change // 2`` epochs without improvement, twice,
    before the loop stops after more than ``n_iter_no_change``
    (:class:`~._training.StepSizeDecay`); only where the loop checks
    convergence, and from ``learning_rate_init`` at every call."""
    average: bool = False
    """Whether the model ends at the mean of its weights over the second half
    of ``max_iter``'s epochs (those that run; :class:`~._training.WeightAveraging`),
    for the minibatch solvers; not with early stopping (which keeps the best
    epoch's weights) nor in ``partial_fit``."""
    shuffle: bool = True
    verbose: bool = False
    check_convergence: bool = True
    name: str = ""
    """Prefix of the progress lines and warnings."""

    def batch_rows(self, shape, dtype, sparse=False, device=None):
        """Rows per batch of data of ``shape`` computed in ``dtype`` on
        ``device`` (None: the CPU).

        ``"auto"``: ``min(200, n_samples)`` for the minibatch solvers (as
        scikit-learn's MLP), all rows for L-BFGS (whose step sums the loss of
        every batch), and in both cases no more rows than a dense batch of
        :data:`AUTO_BATCH_BYTES` holds, so that wide data train in bounded
        memory. ``sparse`` rows, never densified, take up to
        :data:`AUTO_SPARSE_BATCH_ROWS` for the minibatch solvers (all rows
        below), evened out over the epoch's batches: a last batch of a few
        rows takes a step as large as the others' on a far noisier gradient
        (scipy's 1,133 docstrings in batches of 283: a last batch of 1 row,
        and 0.18 of the held-out variance explained, against 0.29 in batches
        of 227). A step's cost is mostly the model's (the decoder's Gram
        matrix, Adam over ``n_features * n_components`` weights), hardly the
        rows': on the docstrings (5,847 x 15,177), a step of 650 rows took
        18 ms and one of 2,048 rows 29 ms, so that two steps an epoch of
        2,924 rows fitted in 2.9 s what nine of 650 did in 4.4 s, to the same
        explained variance.

        On a GPU, dense batches of the minibatch solvers are larger, so that
        the products rather than the launches of a step's kernels take its
        time: :data:`AUTO_DEVICE_BATCH_ROWS` rows, but no fewer than 200 and
        no more than leave :data:`AUTO_DEVICE_STEPS` steps an epoch, evened
        out, within :data:`AUTO_DEVICE_BATCH_BYTES`.
        A step's count matters more than its rows: on the CPU (where the
        arithmetic is the same), 256 units on 60,000 MNIST images in batches
        of 1,024 (59 steps an epoch) gave a logistic regression 0.9757 and
        0.9763 (with the step size times 2.26), against 0.9766 in batches
        of 200; on 10,000 images (10 steps an epoch), 0.9498 and 0.9526
        against 0.9628. A batch on the CPU costs in proportion to its rows,
        so that larger ones gain nothing there.
        """
        n_samples, width = shape[0], int(np.prod(shape[1:]))
        if self.batch_size != "auto":
            return min(self.batch_size, n_samples)
        if sparse and self.solver != "lbfgs":  # batches of even sizes
            rows = min(AUTO_SPARSE_BATCH_ROWS, n_samples)
            return _evened(n_samples, rows)
        row_bytes = width * np.dtype(dtype).itemsize
        widest = max(1, AUTO_BATCH_BYTES // row_bytes)
        if self.solver == "lbfgs":
            return min(n_samples, widest)
        if device is not None and torch.device(device).type == "cuda":
            widest = max(1, AUTO_DEVICE_BATCH_BYTES // row_bytes)
            rows = min(AUTO_DEVICE_BATCH_ROWS, max(200, n_samples // AUTO_DEVICE_STEPS))
            return _evened(n_samples, min(rows, widest))
        return min(200, n_samples, widest)

    def new_optimizer(self, parameters):
        """A new optimizer over ``parameters``."""
        return make_optimizer(self.solver, parameters, self.learning_rate_init)


def _evened(n_samples, rows):
    """Rows per batch, at most ``rows``, that split ``n_samples`` into
    batches of sizes as even as the fewest batches allow."""
    rows = min(rows, n_samples)
    return math.ceil(n_samples / math.ceil(n_samples / rows))


@dataclass(frozen=True)
class LayerSettings:
    """Everything that fitting one autoencoder layer takes from an estimator."""

    code: CodeSettings
    loss: LossTerms
    schedule: Schedule
    network: Callable
    """``network(n_features, n_units, *, output_activation, code, generator,
    dtype)`` builds the layer's module (e.g. :class:`~._modules.SparseAutoencoder`)."""
    device: torch.device = torch.device("cpu")
    max_components: int | None = None
    """The most units that ``n_components="auto"`` may learn (None: the default)."""
    statistics: bool = False
    """Record what the codes do during the last epoch (:attr:`LayerFit.statistics`)."""
    dtype: str | None = None
    """The dtype that the layer computes in (``compute_dtype``); None: the data's."""


@dataclass
class LayerFit:
    """One fitted autoencoder layer and what continuing its training needs."""

    module: torch.nn.Module
    scale: float
    """Mean feature variance of the first data it was fitted on: the loss scale."""
    optimizer: object | None = None
    history: History | None = None
    dead_latents: DeadLatents | None = None
    statistics: CodeStatistics | None = None
    """What the codes did in the last epoch (when asked for)."""
    structure: dict | None = None
    """Structure learning's state (:class:`~._structure.StructureLearning`);
    None for a layer of fixed size."""


@dataclass
class Run:
    """One run of the loop: a module, its loss and its data (lists of arrays
    whose first is ``X``), and what continues from an earlier run."""

    module: torch.nn.Module
    loss_fn: Callable
    train: list
    validation: list | None = None
    validation_loss_fn: Callable | None = None
    """Monitored on ``validation`` for early stopping (default: ``loss_fn``)."""
    parameters: list | None = None
    """What a new optimizer updates (default: all of ``module``'s)."""
    optimizer: object | None = None
    history: History | None = None
    reads_nonzeros: bool = False
    """Whether the loss reconstructs sparse rows from their non-zeros: it then
    pays O(d k^2) a step for the decoder's Gram matrix, which the larger
    sparse batches of ``batch_size="auto"`` spread (see
    :meth:`Schedule.batch_rows`); other losses densify each batch."""


class UnitNormDecoder(EpochHook):
    """Keeps the decoder columns of an autoencoder at unit norm: the part of
    the gradient along each column is removed before the step, and the
    columns are rescaled after it."""

    def before_step(self, module):
        module.remove_parallel_gradient_()

    def after_step(self, module):
        module.normalize_decoder_()


def resolve_output_activation(output_activation, X, exactly_sparse=False):
    """``"auto"`` becomes ``"sigmoid"`` for dense data in [0, 1], else ``"identity"``.

    Exactly sparse codes always get ``"identity"``: a linear decoder of
    unit-norm atoms, as they were designed for. Behind a sigmoid output AuxK
    cannot revive dead units, whose residuals the saturated outputs hide.
    So do sparse matrices, whose error a linear decoder computes from their
    non-zeros (:mod:`._sparse`; a sigmoid decodes every entry) and whose
    entries may be negative (hashed features).
    """
    if output_activation != "auto":
        return output_activation
    sigmoid = in_unit_interval(X) and not exactly_sparse and not sp.issparse(X)
    return "sigmoid" if sigmoid else "identity"


def resolve_sparsity(sparsity, X):
    """``"auto"`` becomes ``"topk"`` for a sparse matrix ``X`` and ``"kl"``
    otherwise.

    On wide sparse data (a TF-IDF) the KL penalty's sigmoid units learn
    next to nothing (a 15,177-term TF-IDF of docstrings: 0.06 of the
    variance explained, every unit below its firing threshold), while TopK
    codes learn as much as 64 singular directions hold.
    """
    if sparsity != "auto":
        return sparsity
    return "topk" if sp.issparse(X) else "kl"


def resolve_init(init, X):
    """``"auto"`` becomes ``"svd"`` for a sparse matrix ``X`` and
    ``"random"`` otherwise.

    On a TF-IDF the singular directions start the units where a linear
    classifier finds the labels: the docstrings' 64 TopK units scored 0.940
    (mean of 3 splits) from them, 0.923 from a random start, as
    ``TruncatedSVD(64)``.
    """
    if init != "auto":
        return init
    return "svd" if sp.issparse(X) else "random"


#: ``k`` of ``k="auto"`` for dense rows (and for a learned number of units).
AUTO_K = 32


def resolve_k(X, n_components):
    """``k="auto"``: half the units for a scipy sparse matrix ``X`` and a
    fixed number of units, else :data:`AUTO_K`.

    The singular-directions start (:func:`resolve_init`) gives each pair of
    opposite units one positive code a row: half the units keep them all.
    On the docstrings at 128 units, ``k=64`` scored 0.941 (mean of 3 splits)
    where ``k=32`` scored 0.934, as ``TruncatedSVD(128)``; at 64 units both
    are 32.
    """
    if sp.issparse(X) and not isinstance(n_components, str):
        return max(1, n_components // 2)
    return AUTO_K


def resolve_learning_rate(learning_rate_init, n_features, sparsity=None, *, sparse_input=False):
    """``"auto"`` becomes a base step size for up to
    :data:`AUTO_LEARNING_RATE_WIDTH` features and ``base * sqrt(784 /
    n_features)`` beyond.

    The base is 1e-2, except for the exactly sparse codes on dense rows
    (not ``sparse_input``, a scipy sparse matrix), which take their code's
    (:attr:`~._codes.Activation.learning_rate`,
    1e-3: at 1e-2 nine TopK units in ten die on MNIST, and a unit that
    AuxK revives at 3e-3 often fires on training samples alone). Adam moves
    each weight by about the step size, so a dictionary atom of ``d``
    coordinates by about ``lr * sqrt(d)``: the rule keeps that move at
    MNIST's, which wide data (a TF-IDF of 15,000 terms at 1e-2: 1.2, most
    TopK units dead) do not survive. A sparse matrix moves an atom only
    along the terms of a batch, and its TopK codes learn best at 1e-2's
    rule (a TF-IDF of docstrings at 64 units: 0.930 test accuracy, against
    0.914 at a tenth of the step).
    """
    if learning_rate_init != "auto":
        return learning_rate_init
    base = 1e-2 if sparse_input else code_class(sparsity).learning_rate
    return base * min(1.0, (AUTO_LEARNING_RATE_WIDTH / max(1, n_features)) ** 0.5)


def as_dtype(X, dtype):
    """``X`` in ``dtype``; a memory map stays as it is, converted batch by batch."""
    return X if is_streamed(X) or isinstance(X, StreamedRows) else converted(X, dtype)


def parameter_dtype(module):
    """The numpy dtype of ``module``'s parameters."""
    return numpy_dtype(next(module.parameters()).dtype)


def new_layer(
    settings,
    X,
    n_components,
    *,
    output_activation,
    rng,
    generator,
    observed=None,
    input_scale=1.0,
    init="random",
):
    """A new layer for data ``X`` (its first rows fix the loss scale), as its
    code family starts: the sparse codes with unit-norm decoder columns, the
    encoder as their transpose and the geometric median of ``X`` as centre.

    ``init="svd"`` starts the units in pairs of opposite atoms along the
    leading singular directions of ``X`` about its geometric median (the
    centre, whatever the code; :func:`~._data.leading_directions`,
    :meth:`~._modules.SparseAutoencoder.start_along_`), from ``rng``.

    ``observed``, a boolean mask of ``X``'s shape, restricts the loss scale
    to the observed entries. The network computes on ``X / input_scale``
    (see :class:`~._modules.SparseAutoencoder`; an identity output only).
    ``n_components="auto"`` starts structure learning from
    :func:`~._structure.initial_components` units; a fixed size is checked
    against the code's parameters (:meth:`~._codes.Activation.check_units`:
    fewer units than TopK's ``k`` keep every code, with a warning).
    """
    dtype = torch_dtype(compute_dtype(settings.dtype, X.dtype))
    X = as_dtype(X, numpy_dtype(dtype))
    scale = mean_feature_variance(X, observed)
    structure = None
    if n_components == "auto":
        max_components = resolve_max_components(settings.max_components, X.shape[1])
        structure = StructureLearning.new_state(max_components)
        n_components = initial_components(X, max_components, rng)
    else:
        settings.code.family.check_units(n_components, **settings.code.params)
    if input_scale != 1.0 and output_activation != "identity":
        raise ValueError(f"input_scale={input_scale} needs an identity output.")
    module = settings.network(
        X.shape[1],
        n_components,
        output_activation=output_activation,
        code=settings.code.build(n_components, scale**0.5 / input_scale, dtype),
        generator=generator,
        dtype=dtype,
    )
    if input_scale != 1.0:
        module.input_scale = float(input_scale)
    if init == "svd" or settings.code.exactly_sparse:
        center = geometric_median(X)
        n_directions = min(n_components // 2, X.shape[0] - 1, X.shape[1])
        if init == "svd" and n_directions > 0:
            directions = leading_directions(X, center, n_directions, rng, scale=input_scale)
            if directions is not None:
                module.start_along_(directions)
        module.center_(torch.as_tensor(center, dtype=dtype))
    if sp.issparse(X) and hasattr(module.encoder, "store_by_feature_"):
        module.encoder.store_by_feature_()
    return LayerFit(module.to(settings.device), scale, structure=structure)


def fit_layer(
    settings, layer, train, validation=None, *, bounds, generator, incremental=False, hooks=()
):
    """Train ``layer`` (a :class:`LayerFit`, updated in place and returned)
    on the ``train`` arrays (``X``, then optionally the boolean mask of its
    observed entries, which the loss and the statistics count alone).

    ``bounds`` is the data's ``(min, max)`` (:func:`~._data.data_range`), to
    which Gaussian noise is clipped. Early stopping monitors the
    reconstruction objective on ``validation`` if given; ``incremental``
    runs one epoch (see :func:`train_run`). Codes that need it are
    calibrated after training.
    """
    device, X = settings.device, train[0]
    if layer.dead_latents is not None:  # counts survive partial_fit calls
        layer.dead_latents.to_(device)
    elif settings.code.exactly_sparse and settings.loss.auxk_weight > 0:
        rows = X.shape[0] * layer.module.rows_per_sample  # rows of codes an epoch
        layer.dead_latents = DeadLatents(layer.module.n_components, rows, device)
    if settings.statistics or layer.structure is not None:
        layer.statistics = _new_statistics(settings, layer, X)
    loss_fn = _layer_loss(settings, layer, bounds, generator)
    own_hooks = [UnitNormDecoder()] if settings.code.exactly_sparse else []
    structure = None
    if layer.structure is not None:
        structure = _structure_learning(settings, layer, loss_fn, generator)
        own_hooks.append(structure)
    run = Run(
        layer.module,
        loss_fn,
        train,
        validation,
        validation_loss_fn=reconstruction_objective(layer.scale),
        optimizer=layer.optimizer,
        history=layer.history,
        reads_nonzeros=_reads_nonzeros(settings, layer),
    )
    layer.optimizer, layer.history = train_run(
        settings.schedule,
        run,
        device=device,
        generator=generator,
        incremental=incremental,
        hooks=[*own_hooks, *hooks],
    )
    if structure is not None:
        structure.finish(layer.module)
    if layer.statistics is not None and process_group() is not None:
        layer.statistics.reduce_(all_reduce_)
    calibrate_module_code(settings.schedule, layer.module, train, generator)
    return layer


def _reads_nonzeros(settings, layer):
    """Whether ``layer``'s loss reads sparse rows through their non-zeros
    (Gaussian noise makes them dense)."""
    return layer.module.reads_nonzeros and not settings.loss.noisy_inputs


def _new_statistics(settings, layer, X):
    """Statistics of the codes over an epoch of this process's rows of ``X``."""
    n_rows, group = X.shape[0], process_group()
    if group is not None:  # this rank's share of each epoch
        batch_size = settings.schedule.batch_rows(
            X.shape,
            parameter_dtype(layer.module),
            sparse=_reads_nonzeros(settings, layer) and sp.issparse(X),
            device=settings.device,
        )
        n_rows = local_rows(n_rows, batch_size, *group)
    return CodeStatistics(
        layer.module.n_components,
        n_rows,
        settings.device,
        information=layer.structure is not None,
    )


def device_generator(generator, device):
    """A generator on ``device`` (for noise drawn where the data are),
    seeded from the CPU ``generator`` of the fit."""
    seed = int(torch.randint(2**62, (1,), generator=generator))
    return torch.Generator(device=device).manual_seed(seed)


def mask_generator(generator, device):
    """What dropout masks are drawn from (see :func:`~._functional.keep_mask`),
    seeded from the CPU ``generator`` of the fit: on the CPU a numpy PCG64,
    whose draws cost a third of torch's there; elsewhere a generator on
    ``device``."""
    if torch.device(device).type != "cpu":
        return device_generator(generator, device)
    return np.random.PCG64(int(torch.randint(2**62, (1,), generator=generator)))


def _layer_loss(settings, layer, bounds, generator):
    """The :class:`~._losses.AutoencoderLoss` of ``layer``."""
    loss = settings.loss
    noise = None
    if loss.corruption is not None:
        noise = device_generator(generator, settings.device)
    return AutoencoderLoss(
        layer.scale,
        settings.loss,
        generator=noise,
        bounds=bounds,
        dead_latents=layer.dead_latents,
        statistics=layer.statistics,
        penalty_units=None if layer.structure is None else layer.structure["penalty_units"],
        report_auxiliary=settings.schedule.solver == "lbfgs",
    )


def _structure_learning(settings, layer, loss_fn, generator):
    """The epoch hook that learns ``layer``'s number of units. Its optimizer
    is built here, so that the hook can resize its state."""
    if layer.optimizer is None:
        layer.optimizer = settings.schedule.new_optimizer(layer.module.parameters())
    return StructureLearning(
        layer.statistics,
        layer.scale,
        resolve_max_components(settings.max_components, layer.module.n_features),
        layer.structure,
        generator,
        optimizer=layer.optimizer,
        dead_latents=layer.dead_latents,
        loss=loss_fn,
        reduce=all_reduce_ if process_group() is not None else None,
    )


def _calibration_batches(schedule, arrays, parameter, generator):
    """The shuffled training batches of ``arrays`` (``X``, then optionally the
    mask of its observed entries) that codes are calibrated on, as in
    training, on ``parameter``'s device and in its dtype: a function that
    yields one epoch of them at each call."""
    dtype = numpy_dtype(parameter.dtype)
    X = arrays[0]
    batches = make_batches(
        arrays,
        batch_size=schedule.batch_rows(
            X.shape, dtype, sparse=sp.issparse(X), device=parameter.device
        ),
        device=parameter.device,
        dtype=dtype,
    )
    return lambda: (
        [batch[0].to(parameter.dtype), *batch[1:]] for batch in batches.epoch(generator)
    )


def calibrate_codes(schedule, layers, X, generator):
    """Calibrate the codes of ``layers`` (applied in turn to ``X``) that need
    it, on shuffled batches as in training (BatchTopK's threshold: also when
    untrained, so that none is NaN)."""
    if not any(layer.code.needs_calibration for layer in layers):
        return
    batches = _calibration_batches(schedule, [X], layers[0].weight, generator)
    calibrate_codes_(layers, lambda: (x for (x,) in batches()))


def calibrate_module_code(schedule, module, train, generator):
    """Calibrate the code of the autoencoder ``module``, if it needs it, on
    shuffled batches of the ``train`` arrays (``X``, then optionally the mask
    of its observed entries) as the network reads them: divided by its input
    scale, unknown entries as unknown (:meth:`~._modules.Autoencoder.known_inputs`)."""
    code = module.encoder.code
    if not code.needs_calibration:
        return
    module.eval()
    batches = _calibration_batches(schedule, train, next(module.parameters()), generator)
    code.calibrate_(
        module.pre_activations(module.known_inputs(x, observed[0] if observed else None))
        for x, *observed in batches()
    )


def train_run(schedule, run, *, device, generator, incremental=False, hooks=()):
    """Train ``run.module`` through :func:`~._training.fit_loop`.

    ``incremental`` runs one epoch without convergence checks
    (``partial_fit``). A continued history keeps its curves but starts a new
    search for the best epoch. ``hooks`` are the loop's epoch hooks, in
    order. Returns ``(optimizer, history)``.
    """
    dtype = parameter_dtype(run.module)
    batches = make_batches(
        run.train,
        batch_size=schedule.batch_rows(
            run.train[0].shape,
            dtype,
            sparse=run.reads_nonzeros and sp.issparse(run.train[0]),
            device=device,
        ),
        device=device,
        dtype=dtype,
    )
    validation = None
    if run.validation is not None:
        width = max(run.validation[0].shape[1], getattr(run.module, "inference_width", 0))
        n_rows = inference_batch_rows(width, dtype.itemsize)
        validation = make_batches(run.validation, batch_size=n_rows, device=device, dtype=dtype)
    group = process_group()
    if group is not None:
        if schedule.solver == "lbfgs":
            raise ValueError(
                "solver='lbfgs' takes full-batch steps that torch.distributed does not "
                "share here; use solver='adam' or 'sgd' in a process group."
            )
        check_same_data(run.train[0].shape)
        batches = ShardedBatches(batches, *group)
        hooks = [AveragedGradients(batches), *hooks]
        if validation is not None:
            validation = ShardedBatches(validation, *group)
    optimizer = run.optimizer
    if optimizer is None:
        parameters = run.module.parameters() if run.parameters is None else run.parameters
        optimizer = schedule.new_optimizer(parameters)
    history = run.history
    if history is not None and not incremental:
        history.best_loss, history.no_improvement_count = np.inf, 0
    check_convergence = schedule.check_convergence and not incremental
    if schedule.learning_rate == "adaptive" and check_convergence and schedule.solver != "lbfgs":
        optimizer.lr = schedule.learning_rate_init  # each call starts from it
        decay = StepSizeDecay(
            optimizer,
            patience=schedule.n_iter_no_change // 2,
            verbose=schedule.verbose,
            name=schedule.name,
        )
        hooks = [*hooks, decay]
    if schedule.average and not incremental and validation is None and schedule.solver != "lbfgs":
        projections = [hook for hook in hooks if overrides(hook, "after_step")]
        hooks = [*hooks, WeightAveraging(schedule.max_iter // 2, projections)]
    history = fit_loop(
        run.module,
        run.loss_fn,
        batches,
        optimizer,
        max_iter=1 if incremental else schedule.max_iter,
        tol=schedule.tol,
        n_iter_no_change=schedule.n_iter_no_change,
        validation_batches=validation,
        validation_loss_fn=run.validation_loss_fn,
        shuffle=schedule.shuffle,
        generator=generator,
        history=history,
        verbose=schedule.verbose,
        hooks=hooks,
        check_convergence=check_convergence,
        name=schedule.name,
    )
    # The last step's gradients are not part of a fitted model: freed before
    # the estimator copies out its weights (the model's size again).
    optimizer.zero_grad(set_to_none=True)
    return optimizer, history
