"""Training curves: loss per epoch, validation loss, pre-training per layer."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._base import require_matplotlib, unwrap_autoencoder


class LossCurveDisplay:
    """Loss per epoch of a fitted estimator's training stages.

    Parameters
    ----------
    curves : dict of str to sequence of float
        One curve per label, e.g. ``{"training loss": [...]}``.

    Attributes
    ----------
    figure_ : matplotlib Figure
    ax_ : matplotlib Axes
    lines_ : dict of str to matplotlib Line2D
        The line drawn for each curve.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skl_sae import SparseAutoencoderTransformer
    >>> from skl_sae.plot import LossCurveDisplay
    >>> X = load_digits().data / 16
    >>> sae = SparseAutoencoderTransformer(16, max_iter=5, random_state=0).fit(X)
    >>> sorted(LossCurveDisplay.from_estimator(sae).lines_)
    ['training loss']
    """

    def __init__(self, curves):
        self.curves = curves

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Show ``loss_curve_``, ``validation_loss_curve_`` (with early
        stopping) and, for the stacked classifier, each layer's
        ``pretrain_loss_curves_`` (an autoencoder's loss, on its own scale).

        Parameters
        ----------
        estimator : fitted skl_sae estimator
            For an outlier detector, its ``autoencoder_``'s curves.
        ax : matplotlib Axes, default=None
            Drawn into if given, else a new figure's axes.

        Returns
        -------
        display : LossCurveDisplay
        """
        require_matplotlib(f"{cls.__name__}.from_estimator")
        estimator = unwrap_autoencoder(estimator)
        check_is_fitted(estimator)
        curves = {}
        for depth, curve in enumerate(getattr(estimator, "pretrain_loss_curves_", []), start=1):
            curves[f"pre-training, layer {depth}"] = curve
        curves["training loss"] = estimator.loss_curve_
        if getattr(estimator, "validation_loss_curve_", None) is not None:
            curves["validation loss"] = estimator.validation_loss_curve_
        return cls(curves).plot(ax=ax)

    def plot(self, *, ax=None):
        """Draw one line per curve against its epochs (from 1).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Drawn into if given, else a new figure's axes.

        Returns
        -------
        display : LossCurveDisplay
            ``self``, with the drawn artists.
        """
        plt = require_matplotlib(f"{type(self).__name__}.plot")
        if ax is None:
            _, ax = plt.subplots()
        self.lines_ = {}
        for label, curve in self.curves.items():
            epochs = np.arange(1, len(curve) + 1)
            (self.lines_[label],) = ax.plot(epochs, curve, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self
