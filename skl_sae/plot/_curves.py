"""Training curves: one panel per quantity (a training objective, a
validation score), each with its own y axis."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._base import require_matplotlib, take_place_of, tiles_shape, unwrap_autoencoder

_AUTOENCODER_OBJECTIVE = "loss (unexplained variance + penalties)"
_SUPERVISED_OBJECTIVE = "loss (cross-entropy + weight decay)"


class LossCurveDisplay:
    """Training curves of a fitted estimator, one panel per quantity.

    Curves that measure different things never share a y axis: each panel
    holds one quantity, named by its title and its y label, against the
    epochs of one training stage. :meth:`from_estimator` makes these panels:

    - :class:`~skl_sae.SparseAutoencoderTransformer` (and the ``autoencoder_``
      of :class:`~skl_sae.SparseAutoencoderOutlierDetector`): ``"training
      objective"``, the loss minimised (``loss_curve_``: reconstruction
      error relative to the data's variance, plus the sparsity penalty and
      weight decay); with early stopping, ``"validation score"``
      (``validation_scores_``: the share of the held-out rows' variance
      explained, higher is better).
    - :class:`~skl_sae.StackedSparseAutoencoderClassifier`: ``"pre-training"``,
      one curve per autoencoder layer (``pretrain_loss_curves_``, each the
      objective above on its own layer's input); ``"softmax layer"``, the
      cross-entropy plus weight decay of the softmax layer trained on the
      frozen codes (``softmax_loss_curve_``, or ``loss_curve_`` with
      ``fine_tune=False``); ``"fine-tuning"``, that of the whole network
      (``loss_curve_``); with early stopping, ``"validation score"``
      (``validation_scores_``: the held-out accuracy). A stage
      that did not run has no panel.

    Parameters
    ----------
    panels : list of (str, str, dict of str to sequence of float)
        One ``(title, ylabel, curves)`` per panel, ``curves`` mapping a
        curve's label to its value at each epoch. Labels are unique across
        panels.

    Attributes
    ----------
    figure_ : matplotlib Figure
    axes_ : ndarray of matplotlib Axes, shape (n_panels,)
        One Axes per panel, in the order of ``panels``.
    ax_ : matplotlib Axes
        The first panel's Axes, ``axes_[0]``.
    bounding_ax_ : matplotlib Axes or None
        The single Axes passed as ``ax`` whose place several panels took (it
        is hidden); None otherwise.
    lines_ : dict of str to matplotlib Line2D
        The line drawn for each curve, by its label.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skl_sae import SparseAutoencoderTransformer
    >>> from skl_sae.plot import LossCurveDisplay
    >>> X = load_digits().data / 16
    >>> sae = SparseAutoencoderTransformer(
    ...     16, max_iter=5, early_stopping=True, random_state=0
    ... ).fit(X)
    >>> display = LossCurveDisplay.from_estimator(sae)
    >>> sorted(display.lines_)
    ['training objective', 'validation score']
    >>> [ax.get_ylabel() for ax in display.axes_]
    ['loss (unexplained variance + penalties)', 'explained variance (held out)']
    """

    def __init__(self, panels):
        self.panels = panels

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Show a fitted estimator's training curves, one panel per quantity.

        Parameters
        ----------
        estimator : fitted skl_sae estimator
            A :class:`~skl_sae.SparseAutoencoderTransformer`, a
            :class:`~skl_sae.StackedSparseAutoencoderClassifier`, or a
            :class:`~skl_sae.SparseAutoencoderOutlierDetector` (its
            ``autoencoder_``'s curves).
        ax : matplotlib Axes or array-like of Axes, default=None
            Where to draw; see :meth:`plot`.

        Returns
        -------
        display : LossCurveDisplay
        """
        require_matplotlib(f"{cls.__name__}.from_estimator")
        estimator = unwrap_autoencoder(estimator)
        check_is_fitted(estimator)
        if hasattr(estimator, "pretrain_loss_curves_"):
            panels = _classifier_panels(estimator)
        else:
            panels = [
                (
                    "training objective",
                    _AUTOENCODER_OBJECTIVE,
                    {"training objective": estimator.loss_curve_},
                )
            ]
            scores = getattr(estimator, "validation_scores_", None)
            if scores is not None:
                panels.append(
                    (
                        "validation score",
                        "explained variance (held out)",
                        {"validation score": scores},
                    )
                )
        return cls(panels).plot(ax=ax)

    def plot(self, *, ax=None):
        """Draw each panel's curves against their epochs (from 1).

        Parameters
        ----------
        ax : matplotlib Axes or array-like of Axes, default=None
            None draws the panels side by side in a new figure. One Axes:
            with one panel, it is drawn in that Axes; with several, they take
            its place side by side (it is hidden and kept as
            ``bounding_ax_``), which puts other displays in the same figure.
            A 1-D or 2-D array of Axes, read row-major: one per panel.

        Returns
        -------
        display : LossCurveDisplay
            ``self``, with the drawn artists.
        """
        plt = require_matplotlib(f"{type(self).__name__}.plot")
        from matplotlib.ticker import MaxNLocator

        panels = list(self.panels)
        if not panels:
            raise ValueError("panels is empty: there is no curve to draw.")
        labels = [label for _, _, curves in panels for label in curves]
        if len(set(labels)) != len(labels):
            raise ValueError(f"Curve labels must be unique across panels; got {labels}.")
        self.figure_, self.axes_, self.bounding_ax_ = _panel_axes(plt, len(panels), ax)
        self.ax_ = self.axes_[0]
        self.lines_ = {}
        for panel_ax, (title, ylabel, curves) in zip(self.axes_, panels, strict=True):
            for label, curve in curves.items():
                epochs = np.arange(1, len(curve) + 1)
                (self.lines_[label],) = panel_ax.plot(epochs, curve, label=label)
            panel_ax.set_title(title)
            panel_ax.set_xlabel("epoch")
            panel_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            panel_ax.set_ylabel(ylabel)
            if len(curves) > 1:  # one curve is named by the title
                panel_ax.legend()
        return self


def _classifier_panels(clf):
    """The stacked classifier's stages that ran, one panel each."""
    panels = []
    pretrain = {
        f"pre-training, layer {depth}": curve
        for depth, curve in enumerate(clf.pretrain_loss_curves_, start=1)
    }
    if pretrain:
        panels.append(("pre-training (autoencoders)", _AUTOENCODER_OBJECTIVE, pretrain))
    softmax = getattr(clf, "softmax_loss_curve_", [])
    if len(softmax):
        panels.append(("softmax layer", _SUPERVISED_OBJECTIVE, {"softmax layer": softmax}))
    stage = "fine-tuning" if getattr(clf, "fine_tune", True) else "softmax layer"
    panels.append((stage, _SUPERVISED_OBJECTIVE, {stage: clf.loss_curve_}))
    if getattr(clf, "validation_scores_", None) is not None:
        panels.append(
            (
                "validation score",
                "accuracy (held out)",
                {"validation score": clf.validation_scores_},
            )
        )
    return panels


def _panel_axes(plt, n_panels, ax):
    """A figure and ``n_panels`` Axes in a row, as :meth:`LossCurveDisplay.plot`
    reads ``ax``; returns ``(figure, axes, bounding_ax)``."""
    from matplotlib.axes import Axes
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    if ax is None:
        figure, axes = plt.subplots(
            1, n_panels, figsize=(4.2 * n_panels, 3.6), layout="constrained", squeeze=False
        )
        return figure, axes.ravel(), None
    if tiles_shape(ax) is None:  # one Axes
        if n_panels == 1:
            return ax.figure, np.array([ax], dtype=object), None
        # Room between panels for their y labels, unless constrained layout
        # makes it (where a fixed wspace would add to what it makes).
        constrained = isinstance(ax.figure.get_layout_engine(), ConstrainedLayoutEngine)
        panels = take_place_of(ax, 1, n_panels, wspace=None if constrained else 0.45)
        return ax.figure, panels.ravel(), ax
    axes = np.asarray(ax, dtype=object).ravel()
    if not all(isinstance(panel_ax, Axes) for panel_ax in axes):
        raise ValueError("ax must be one matplotlib Axes or an array of them.")
    if axes.size != n_panels:
        raise ValueError(
            f"ax holds {axes.size} Axes for {n_panels} panels; pass one Axes per "
            "panel, or a single Axes for the panels to take its place."
        )
    return axes[0].figure, axes, None
