"""scikit-learn's callbacks (``sklearn.callback``, 1.9+) adapted to stages and epochs.

A fit is one task; each training stage (the classifier's pre-training layers,
its softmax layer, fine-tuning; the detector's autoencoder) is a sub-task;
every epoch is a sub-task of its stage, through :class:`EpochTasks`, an epoch
hook of the training loop. Without ``sklearn.callback`` every function here
does nothing.
"""

from contextlib import contextmanager, nullcontext

from ._training import EpochHook

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9 has no callbacks

    class CallbackSupportMixin:
        """Stands in for ``sklearn.callback.CallbackSupportMixin`` before 1.9."""


def begin_fit_task(estimator, max_subtasks, X, y=None):
    """The root task of ``estimator``'s fit, begun; None where scikit-learn
    has no callbacks.

    Within a ``Pipeline`` or a search, the root joins the enclosing
    estimator's task tree, so a ``ProgressBar`` set there shows it.
    """
    init = getattr(estimator, "_init_callback_context", None)
    if init is None:
        return None
    task = init(max_subtasks=max_subtasks)
    return task.call_on_fit_task_begin(estimator=estimator, X=X, y=y)


def end_task(task, estimator, X, y=None):
    """End ``task`` (if any); True if a callback asks to stop."""
    if task is None:
        return False
    return bool(task.call_on_fit_task_end(estimator=estimator, X=X, y=y))


@contextmanager
def stage_task(parent, name, n_epochs, estimator, X, y=None, *, propagate_to=None):
    """A sub-task ``name`` of ``parent`` for one training stage of at most
    ``n_epochs`` epochs (None without callbacks).

    ``propagate_to``, an estimator fitted inside the stage, receives the
    callbacks, so that its own tasks nest under this one.
    """
    if parent is None:
        yield None
        return
    task = parent.subcontext(task_name=name, max_subtasks=n_epochs)
    propagating = (
        nullcontext() if propagate_to is None else task.propagate_callback_context(propagate_to)
    )
    with propagating:
        task.call_on_fit_task_begin(estimator=estimator, X=X, y=y)
        yield task
        task.call_on_fit_task_end(estimator=estimator, X=X, y=y)


@contextmanager
def stage_hooks(parent, name, n_epochs, estimator, X, y=None):
    """:func:`stage_task` as the epoch hooks of the stage: one callback task
    per epoch (:class:`EpochTasks`), or none without callbacks."""
    with stage_task(parent, name, n_epochs, estimator, X, y) as task:
        yield [] if task is None else [EpochTasks(task, estimator, X, y)]


class EpochTasks(EpochHook):
    """One callback task per epoch under ``parent``; a callback that asks to
    stop ends training after the epoch."""

    def __init__(self, parent, estimator, X, y=None):
        self.parent, self.estimator, self.X, self.y = parent, estimator, X, y
        self._task = None

    def on_epoch_begin(self, module):
        self._task = self.parent.subcontext(task_name="epoch")
        self._task.call_on_fit_task_begin(estimator=self.estimator, X=self.X, y=self.y)

    def on_epoch_end(self, module, history):
        return end_task(self._task, self.estimator, self.X, self.y)
