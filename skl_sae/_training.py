"""The training loop shared by every estimator.

``fit_loop`` runs epochs of ``run_single_epoch`` (minibatch solvers) or of one
L-BFGS iteration over the full batch, keeps the loss curves, stops when the
loss (or the validation loss) no longer improves by ``tol``, and warns when
``max_iter`` epochs were not enough. It knows nothing of autoencoders: the
estimators hand it a module and a ``loss_fn(module, *batch) -> scalar``.
"""

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning


def to_tensor(array, device):
    """Rows of ``array`` (dense, or scipy sparse densified here) as a tensor
    on ``device``, in the array's dtype.

    Read-only input (e.g. joblib's memory maps) is shared on the CPU, not
    copied: tensors made from it are only ever read.
    """
    if sp.issparse(array):
        array = array.toarray()
    array = np.ascontiguousarray(array)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not writable.*", category=UserWarning)
        return torch.as_tensor(array).to(device, non_blocking=True)


class Batches:
    """Aligned arrays served as minibatches of tensors on ``device``.

    Dense arrays move to the device once; scipy sparse matrices stay where
    they are and are densified one batch at a time.

    Parameters
    ----------
    arrays : sequence of ndarray or sparse matrix
        Arrays with the same number of rows; each keeps its dtype.
    batch_size : int
        Rows per batch (the last batch may be smaller).
    device : torch.device
        Where the batches are served.
    """

    def __init__(self, arrays, *, batch_size, device):
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.n_samples = arrays[0].shape[0]
        self._arrays = [self._place(a) for a in arrays]

    def _place(self, array):
        if sp.issparse(array):
            return array.tocsr()
        return to_tensor(array, self.device)

    def _take(self, array, rows, index):
        if isinstance(array, torch.Tensor):
            return array[index]
        return to_tensor(array[rows], self.device)

    def __len__(self):
        return math.ceil(self.n_samples / self.batch_size)

    def __iter__(self):
        return self.iterate()

    def iterate(self, order=None):
        """Yield tuples of tensors, in ``order`` (a CPU permutation) if given.

        The permutation moves to the device once; sparse rows are picked with
        its CPU copy, so no index travels back from the device.
        """
        rows_order = None if order is None else order.numpy()
        device_order = None if order is None else order.to(self.device)
        for start in range(0, self.n_samples, self.batch_size):
            stop = min(start + self.batch_size, self.n_samples)
            if order is None:
                rows = index = slice(start, stop)
            else:
                rows, index = rows_order[start:stop], device_order[start:stop]
            yield tuple(self._take(a, rows, index) for a in self._arrays)


@dataclass
class History:
    """What training records; carried over by ``warm_start``/``partial_fit``."""

    loss_curve: list = field(default_factory=list)
    validation_loss_curve: list = field(default_factory=list)
    best_loss: float = math.inf
    no_improvement_count: int = 0
    n_iter: int = 0
    converged: bool = False
    best_state: dict | None = None

    def update(self, loss, tol, module, keep_best=False):
        """Count epochs without an improvement of at least ``tol``."""
        if loss > self.best_loss - tol:
            self.no_improvement_count += 1
        else:
            self.no_improvement_count = 0
        if loss < self.best_loss:
            self.best_loss = loss
            if keep_best:
                self.best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}


def make_optimizer(solver, parameters, learning_rate_init):
    """Build the torch optimizer named by ``solver``.

    ``"sgd"`` uses Nesterov momentum 0.9, as scikit-learn's MLP does;
    ``"lbfgs"`` takes one strong-Wolfe line-searched step per epoch.
    """
    parameters = list(parameters)
    if solver == "adam":
        return torch.optim.Adam(parameters, lr=learning_rate_init)
    if solver == "sgd":
        return torch.optim.SGD(parameters, lr=learning_rate_init, momentum=0.9, nesterov=True)
    if solver == "lbfgs":
        return torch.optim.LBFGS(
            parameters, lr=1.0, max_iter=1, history_size=20, line_search_fn="strong_wolfe"
        )
    raise ValueError(f"Unknown solver {solver!r}.")


def _check_finite(loss):
    if not math.isfinite(loss):
        raise ValueError(
            f"Training diverged: the loss became {loss}. Lower learning_rate_init "
            "or scale the input data."
        )


def _call(hook, module):
    if hook is not None:
        hook(module)


def run_single_epoch(
    module,
    loss_fn,
    batches,
    optimizer,
    *,
    shuffle=True,
    generator=None,
    before_step=None,
    after_step=None,
):
    """One pass over ``batches``; return the mean training loss.

    Minibatch solvers take one step per batch. L-BFGS takes one step on the
    full-batch loss: the size-weighted mean of the batch losses.
    ``before_step(module)`` runs between the backward pass and the step (to
    adjust gradients), ``after_step(module)`` after the step (to project the
    parameters back onto a constraint).
    """
    module.train()
    if isinstance(optimizer, torch.optim.LBFGS):

        def closure():
            optimizer.zero_grad(set_to_none=True)
            total = 0.0
            for batch in batches:
                loss = loss_fn(module, *batch) * (batch[0].shape[0] / batches.n_samples)
                loss.backward()
                total += loss.detach()
            _call(before_step, module)
            return total

        optimizer.step(closure)
        _call(after_step, module)
        return evaluate(module, loss_fn, batches)

    order = torch.randperm(batches.n_samples, generator=generator) if shuffle else None
    total = torch.zeros((), dtype=torch.float64, device=batches.device)
    for batch in batches.iterate(order):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(module, *batch)
        loss.backward()
        _call(before_step, module)
        optimizer.step()
        _call(after_step, module)
        total += loss.detach() * batch[0].shape[0]
    return total.item() / batches.n_samples


@torch.no_grad()
def evaluate(module, loss_fn, batches):
    """Size-weighted mean of ``loss_fn`` over ``batches``, without gradients."""
    module.eval()
    total = torch.zeros((), dtype=torch.float64, device=batches.device)
    for batch in batches:
        total += loss_fn(module, *batch) * batch[0].shape[0]
    return total.item() / batches.n_samples


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
    callbacks=(),
    check_convergence=True,
    name="",
    before_step=None,
    after_step=None,
    epoch_tasks=None,
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
    optimizer : torch.optim.Optimizer
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
    callbacks : sequence of callable
        Called as ``callback(module, history)`` after every epoch; a callback
        that returns True stops training.
    check_convergence : bool
        If False (``partial_fit``), neither stop early nor warn.
    name : str
        Prefix of the progress lines.
    before_step, after_step : callable, default=None
        ``hook(module)`` around every optimizer step; see
        :func:`run_single_epoch`.
    epoch_tasks : object, default=None
        Its ``begin()`` and ``end()`` run around every epoch (scikit-learn's
        callbacks); ``end()`` returning True stops training.

    Returns
    -------
    history : History
    """
    history = History() if history is None else history
    history.converged = False
    early_stopping = validation_batches is not None
    start = time.perf_counter()
    for _ in range(max_iter):
        if epoch_tasks is not None:
            epoch_tasks.begin()
        loss = run_single_epoch(
            module,
            loss_fn,
            batches,
            optimizer,
            shuffle=shuffle,
            generator=generator,
            before_step=before_step,
            after_step=after_step,
        )
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
        stop = any([bool(callback(module, history)) for callback in callbacks])
        if epoch_tasks is not None:
            stop = epoch_tasks.end() or stop
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
                stacklevel=2,
            )
    if early_stopping and history.best_state is not None:
        module.load_state_dict(history.best_state)
    return history
