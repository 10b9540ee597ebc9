"""The training loop shared by every estimator, written once.

``fit_loop`` runs epochs of ``run_single_epoch``, which takes optimizer steps
with ``train_step``: one per minibatch, or one L-BFGS step on the full batch.
It keeps the loss curves, stops when the loss (or the validation loss) no
longer improves by ``tol``, and warns when ``max_iter`` epochs were not
enough. What varies around it (scikit-learn's callbacks, the decoder's unit
norm, statistics of the codes, :class:`StepSizeDecay`,
:class:`WeightAveraging`) plugs in as an
:class:`EpochHook`. It knows
nothing of autoencoders: the estimators hand it a module and a
``loss_fn(module, *batch) -> scalar``.
"""

import dataclasses
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from sklearn.exceptions import ConvergenceWarning

from ._optimizers import SGD, Adam
from ._warnings import user_stacklevel


class EpochHook:
    """What the loop calls around each epoch and each optimizer step.

    Subclasses override the methods they need; the others do nothing.
    """

    def on_epoch_begin(self, module):
        """An epoch of training ``module`` begins."""

    def before_step(self, module):
        """The gradients are computed and the optimizer is about to step
        (adjust the gradients here)."""

    def after_step(self, module):
        """The optimizer has stepped (project the parameters back onto a
        constraint here)."""

    def on_epoch_end(self, module, history):
        """An epoch ended and ``history`` records it; return True to stop."""
        return False

    def on_fit_end(self, module):
        """The last epoch ended (before early stopping restores the best
        epoch's weights)."""


def overrides(hook, name):
    """Whether ``hook`` overrides the :class:`EpochHook` method ``name``."""
    return getattr(type(hook), name) is not getattr(EpochHook, name)


@dataclass
class History:
    """What training records; carried over by ``warm_start``/``partial_fit``.

    ``initial_loss`` is where the latest call of :func:`fit_loop` started:
    the training loss of its first step, computed before that step updates
    anything (for L-BFGS, the first evaluation of its closure, on the full
    batch). Each call measures its own start, so that a ``warm_start`` fit
    or a ``partial_fit`` call is judged against the model it continued
    from, on its own data, not against the random initial weights.
    """

    #: :attr:`diverged` when the last epoch's loss ends this many times above
    #: ``initial_loss``. The losses are non-negative (scaled reconstruction
    #: error and penalties, or cross-entropy); an ordinary fit ends below
    #: where it started, and a divergence ends orders of magnitude above it
    #: (10**4 and more on the digits at ``learning_rate_init=1e6``). 10 rather
    #: than 2 leaves room for the noise of a single first batch, whose loss on
    #: a well-trained model (``warm_start``, ``partial_fit``) can be a few
    #: times below the mean of an epoch.
    divergence_factor: ClassVar[float] = 10.0

    loss_curve: list = field(default_factory=list)
    validation_loss_curve: list = field(default_factory=list)
    best_loss: float = math.inf
    no_improvement_count: int = 0
    n_iter: int = 0
    converged: bool = False
    initial_loss: float | None = None
    best_state: dict | None = None
    """The weights to restore at the end (early stopping): those of the
    epoch of lowest loss since the module last changed shape."""
    best_state_loss: float = math.inf
    """The monitored loss of :attr:`best_state`."""
    best_state_index: int | None = None
    """The epoch of the weights restored, as an index into the validation
    loss curve (None if none was)."""

    @property
    def diverged(self):
        """Whether the last epoch's loss is far above ``initial_loss``, or
        above 0.01 for a start below it: the noise of a model already fitted
        to a loss near 0 (a cross-entropy) is not a divergence."""
        if self.initial_loss is None or not self.loss_curve:
            return False
        return self.loss_curve[-1] > self.divergence_factor * max(self.initial_loss, 1e-2)

    def to_dict(self):
        """The record as plain values (no tensors), for pickling."""
        state = dataclasses.asdict(self)
        del state["best_state"]
        return state

    def update(self, loss, tol, module, keep_best=False):
        """Count epochs without an improvement of at least ``tol`` and, with
        ``keep_best``, keep the weights of the lowest ``loss`` since
        :attr:`best_state` was last dropped (a change of the module's shape
        drops it, whether or not patience starts again)."""
        if loss > self.best_loss - tol:
            self.no_improvement_count += 1
        else:
            self.no_improvement_count = 0
        self.best_loss = min(self.best_loss, loss)
        if keep_best and (self.best_state is None or loss < self.best_state_loss):
            self.best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            self.best_state_loss = loss
            self.best_state_index = len(self.validation_loss_curve) - 1


class WeightAveraging(EpochHook):
    """Sets the parameters of ``module``, when training ends, to their mean
    over the ends of the epochs after the first ``start``: stochastic weight
    averaging (Izmailov et al., 2018), Polyak-Ruppert averaging taken once
    an epoch (scikit-learn's ``SGDClassifier(average=...)`` averages every
    step). The mean of the weights that a constant step size leaves
    scattered around a minimum lies closer to it than any one of them.

    Parameters only, not buffers. A parameter whose shape changes (units
    added or pruned) starts the mean again. ``projections`` are the hooks
    whose ``after_step`` keeps the parameters on a constraint (the unit-norm
    decoder of :class:`~._trainer.UnitNormDecoder`): the mean, which may
    leave it, is projected as a step would be. With fewer than ``start + 1``
    epochs, nothing changes.
    """

    def __init__(self, start, projections=()):
        self.start, self.projections = start, list(projections)
        self.epochs, self.count, self.mean = 0, 0, None

    @torch.no_grad()
    def on_epoch_end(self, module, history):
        self.epochs += 1
        if self.epochs <= self.start:
            return False
        parameters = [p.detach() for p in module.parameters()]
        shapes = [p.shape for p in parameters]
        if self.mean is None or shapes != [m.shape for m in self.mean]:
            self.mean, self.count = [p.clone() for p in parameters], 1
        else:  # the running mean: m += (p - m) / count
            self.count += 1
            torch._foreach_lerp_(self.mean, parameters, 1.0 / self.count)
        return False

    @torch.no_grad()
    def on_fit_end(self, module):
        if self.mean is None:
            return
        parameters = [p.detach() for p in module.parameters()]
        if [p.shape for p in parameters] == [m.shape for m in self.mean]:
            torch._foreach_copy_(parameters, self.mean)
            for hook in self.projections:
                hook.after_step(module)
        self.mean = None  # (its memory, the model's size, freed)


class StepSizeDecay(EpochHook):
    """Multiplies the step size of ``optimizer`` (Adam or SGD) by ``factor``
    each time the monitored loss has not improved for more than ``patience``
    epochs, at most ``times`` times, and starts the count of epochs without
    improvement again: scikit-learn's MLP's
    ``learning_rate="adaptive"`` (which divides by 5 where the loop would
    stop), or ``torch.optim.lr_scheduler.ReduceLROnPlateau``, with a
    patience shorter than the loop's, so that the loop stops at the last
    step size. Its caller sets the step size it starts from
    (:func:`~._trainer.train_run`: the estimator's, at every call)."""

    def __init__(self, optimizer, *, patience, factor=0.1, times=2, verbose=False, name=""):
        self.optimizer, self.patience, self.factor = optimizer, patience, factor
        self.left, self.verbose, self.name = times, verbose, name

    def on_epoch_end(self, module, history):
        if self.left > 0 and history.no_improvement_count > self.patience:
            self.optimizer.lr *= self.factor
            self.left -= 1
            history.no_improvement_count = 0
            if self.verbose:
                print(f"{self.name}Step size lowered to {self.optimizer.lr:.3g}.", flush=True)
        return False


def make_optimizer(solver, parameters, learning_rate_init):
    """Build the optimizer named by ``solver``.

    ``"adam"`` and ``"sgd"`` (Nesterov momentum 0.9, as scikit-learn's MLP)
    are those of :mod:`._optimizers`: the arithmetic of ``torch.optim``'s
    without its import of torch's compiler (1.4 s in each new process) and
    its per-step Python. ``"lbfgs"`` is ``torch.optim.LBFGS``, one
    strong-Wolfe line-searched step per epoch.
    """
    parameters = list(parameters)
    if solver == "adam":
        return Adam(parameters, lr=learning_rate_init)
    if solver == "sgd":
        return SGD(parameters, lr=learning_rate_init)
    if solver == "lbfgs":
        # It flattens each gradient with view(): weights stored by feature
        # (DenseLayer.store_by_feature_) go back to row-major first.
        for parameter in parameters:
            if not parameter.is_contiguous():
                parameter.data = parameter.data.contiguous()
        return torch.optim.LBFGS(
            parameters, lr=1.0, max_iter=1, history_size=20, line_search_fn="strong_wolfe"
        )
    raise ValueError(f"Unknown solver {solver!r}.")


#: What to do about a diverging fit, whether its loss overflows or not.
_DIVERGENCE_ADVICE = "Lower learning_rate_init or scale the input data."


def _check_finite(loss):
    if not math.isfinite(loss):
        raise ValueError(f"Training diverged: the loss became {loss}. {_DIVERGENCE_ADVICE}")


@torch.no_grad()
def _check_finite_weights(module):
    """Raise as for a loss that overflows if a weight did: a last step can
    take a weight to infinity (and a unit-norm projection to NaN) after the
    loss of its batch was computed."""
    if not all(bool(torch.isfinite(parameter).all()) for parameter in module.parameters()):
        raise ValueError(f"Training diverged: the weights overflowed. {_DIVERGENCE_ADVICE}")


def train_step(module, loss_fn, batches, n_samples, optimizer, hooks=()):
    """One optimizer step on the loss of ``batches``; return it (a tensor).

    ``batches`` is one minibatch in a tuple for the minibatch solvers, or
    every batch of the data for L-BFGS, whose closure sums the size-weighted
    batch losses (``n_samples`` rows in all) and may be called several times
    by its line search. A loss that offers
    ``accumulate_gradients(module, *batch, weight=...)`` (see
    :class:`~._losses.AutoencoderLoss`) adds its gradient itself where it
    can; otherwise autograd computes it. A loss that offers
    ``add_weight_decay_gradients_(module)`` adds weight decay's gradient
    after the backward passes, in place. The hooks' ``before_step`` runs
    between the backward pass and the step, ``after_step`` after it.
    """
    by_hand = getattr(loss_fn, "accumulate_gradients", None)

    def closure():
        optimizer.zero_grad(set_to_none=True)
        total = None
        for batch in batches:
            weight = batch[0].shape[0] / n_samples
            loss = None if by_hand is None else by_hand(module, *batch, weight=weight)
            if loss is None:
                loss = loss_fn(module, *batch)
                if weight != 1:
                    loss = loss * weight
                loss.backward()
            total = loss.detach() if total is None else total + loss.detach()
        add_weight_decay = getattr(loss_fn, "add_weight_decay_gradients_", None)
        if add_weight_decay is not None:  # once: the batches' weights sum to 1
            add_weight_decay(module)
        for hook in hooks:
            hook.before_step(module)
        return torch.zeros(()) if total is None else total  # (zeros: no batch here)

    loss = optimizer.step(closure)
    for hook in hooks:
        hook.after_step(module)
    return loss


def run_single_epoch(
    module, loss_fn, batches, optimizer, *, shuffle=True, generator=None, hooks=()
):
    """One pass over ``batches``; return the mean training loss and the
    loss of the first step, computed before that step.

    Minibatch solvers take one :func:`train_step` per batch (in a new random
    order if ``shuffle``). L-BFGS takes one on the full batch, and reports
    the loss after its step. The first step's loss is a tensor, so that
    reading it is left to the caller that needs it (it waits for the device).
    """
    step_hooks = [h for h in hooks if overrides(h, "before_step") or overrides(h, "after_step")]
    module.train()
    if isinstance(optimizer, torch.optim.LBFGS):
        first = train_step(module, loss_fn, batches, batches.n_samples, optimizer, step_hooks)
        return evaluate(module, loss_fn, batches), first
    total = torch.zeros((), dtype=torch.float64, device=batches.device)
    first = None
    for batch in batches.epoch(generator if shuffle else None):
        n_rows = batch[0].shape[0]
        loss = train_step(module, loss_fn, (batch,), n_rows, optimizer, step_hooks)
        first = loss if first is None else first
        total.add_(loss, alpha=n_rows)
    return batches.total(total).item() / batches.n_samples, first


@torch.no_grad()
def evaluate(module, loss_fn, batches):
    """Size-weighted mean of ``loss_fn`` over ``batches``, without gradients."""
    module.eval()
    total = torch.zeros((), dtype=torch.float64, device=batches.device)
    for batch in batches:
        total += loss_fn(module, *batch) * batch[0].shape[0]
    return batches.total(total).item() / batches.n_samples


def fit_loop(
    module,
    loss_fn,
    batches,
    optimizer,
    *,
    max_iter,
    tol=1e-4,
    n_iter_no_change=10,
    validation_batches=None,
    validation_loss_fn=None,
    shuffle=True,
    generator=None,
    history=None,
    verbose=False,
    hooks=(),
    check_convergence=True,
    name="",
):
    """Train ``module`` for at most ``max_iter`` epochs.

    Parameters
    ----------
    module : torch.nn.Module
        Trained in place.
    loss_fn : callable
        ``loss_fn(module, *batch)`` returns the scalar loss of a batch.
    batches : Batches
        The training data.
    optimizer : Adam, SGD or torch.optim.LBFGS
        From :func:`make_optimizer`, over ``module``'s parameters.
    max_iter : int
        Number of epochs at most.
    tol : float
        Minimal improvement of the loss (the validation loss when
        ``validation_batches`` is given) that resets the patience counter.
    n_iter_no_change : int
        Stop after this many epochs in a row without such an improvement.
    validation_batches : Batches, default=None
        Held-out data for early stopping; the best weights on it are restored
        at the end.
    validation_loss_fn : callable, default=None
        ``validation_loss_fn(module, *batch)`` monitored on
        ``validation_batches``, e.g. the reconstruction error alone;
        ``loss_fn`` if None.
    shuffle : bool
        Reshuffle the training rows at every epoch.
    generator : torch.Generator, default=None
        Source of the shuffling.
    history : History, default=None
        Continue from this record (``warm_start``, ``partial_fit``).
    verbose : bool
        Print one line per epoch: loss, validation loss, seconds.
    hooks : sequence of EpochHook
        Called around every epoch and optimizer step, in order; training
        stops after an epoch whose ``on_epoch_end`` returns True for any.
    check_convergence : bool
        If False (``partial_fit``, fixed budgets), neither stop early nor warn.
    name : str
        Prefix of the progress lines.

    Returns
    -------
    history : History

    Warns
    -----
    RuntimeWarning
        If training diverged without overflowing: the last epoch's loss ended
        :attr:`History.divergence_factor` times above the loss of this call's
        first step (:attr:`History.initial_loss`), or than 0.01. A loss that overflows
        (NaN or infinite) raises a ValueError instead.
    """
    history = History() if history is None else history
    history.converged, history.best_state_index = False, None
    early_stopping = validation_batches is not None
    start = time.perf_counter()
    for epoch in range(max_iter):
        for hook in hooks:
            hook.on_epoch_begin(module)
        loss, first_loss = run_single_epoch(
            module, loss_fn, batches, optimizer, shuffle=shuffle, generator=generator, hooks=hooks
        )
        if epoch == 0 and first_loss is not None:  # (None: this rank had no batch)
            history.initial_loss = float(first_loss)
        _check_finite(loss)
        history.loss_curve.append(loss)
        history.n_iter += 1
        monitored = loss
        if early_stopping:
            monitored = evaluate(module, validation_loss_fn or loss_fn, validation_batches)
            history.validation_loss_curve.append(monitored)
        history.update(monitored, tol, module, keep_best=early_stopping)
        if verbose:
            line = f"{name}Epoch {history.n_iter}, loss = {loss:.6f}"
            if early_stopping:
                line += f", validation loss = {monitored:.6f}"
            print(f"{line}, {time.perf_counter() - start:.2f}s", flush=True)
        # (Hooks may start the count without improvement again: StepSizeDecay.)
        stop = any([bool(hook.on_epoch_end(module, history)) for hook in hooks])
        if check_convergence and history.no_improvement_count > n_iter_no_change:
            history.converged = True
            if verbose:
                print(
                    f"{name}Loss did not improve more than tol={tol} for "
                    f"{n_iter_no_change} consecutive epochs. Stopping.",
                    flush=True,
                )
            break
        if stop:
            break
    else:
        if check_convergence:
            warnings.warn(
                f"{name}Stopped after max_iter={max_iter} epochs without converging "
                f"(tol={tol}); increase max_iter.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
    for hook in hooks:
        hook.on_fit_end(module)
    _check_finite_weights(module)
    if history.diverged:
        # A RuntimeWarning, as numpy's for overflows, not a ConvergenceWarning:
        # those are routinely silenced for fits stopped at max_iter, and this
        # model is not merely unfinished but broken.
        warnings.warn(
            f"{name}Training diverged: the loss rose from {history.initial_loss:.4g} to "
            f"{history.loss_curve[-1]:.4g}. {_DIVERGENCE_ADVICE}",
            RuntimeWarning,
            stacklevel=user_stacklevel(),
        )
    if early_stopping and history.best_state is not None:
        module.load_state_dict(history.best_state)
    history.best_state = None
    return history
