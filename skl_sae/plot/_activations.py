"""Code statistics: how active each unit is, against the sparsity target."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._losses import penalty_of
from ._base import require_matplotlib, unwrap_autoencoder


class ActivationHistogramDisplay:
    """Histogram of the units' mean activations on some data.

    With ``sparsity="kl"`` the target mean activation ``sparsity_target``
    is drawn as a vertical line: a well-trained sparse autoencoder's units
    gather around it.

    Parameters
    ----------
    mean_activations : ndarray of shape (n_components,)
        Each unit's mean code over the data.
    target : float, default=None
        Target mean activation, drawn as a vertical line if given.

    Attributes
    ----------
    figure_ : matplotlib Figure
    ax_ : matplotlib Axes
    bars_ : matplotlib BarContainer
        The histogram's bars.
    counts_ : ndarray
        Units per bin.
    target_line_ : matplotlib Line2D or None
        The target, if drawn.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skl_sae import SparseAutoencoderTransformer
    >>> from skl_sae.plot import ActivationHistogramDisplay
    >>> X = load_digits().data / 16
    >>> sae = SparseAutoencoderTransformer(16, max_iter=5, random_state=0).fit(X)
    >>> display = ActivationHistogramDisplay.from_estimator(sae, X)
    >>> int(display.counts_.sum())
    16
    """

    def __init__(self, mean_activations, *, target=None):
        self.mean_activations = mean_activations
        self.target = target

    @classmethod
    def from_estimator(cls, estimator, X, *, bins=30, ax=None):
        """Mean of ``estimator.transform(X)`` per unit, as a histogram.

        Parameters
        ----------
        estimator : fitted skl_sae estimator
            Its ``transform`` gives the codes: a transformer's, a detector's
            ``autoencoder_``'s, or the stacked classifier's top layer.
        X : array-like of shape (n_samples, n_features)
            Data to encode.
        bins : int, default=30
            Number of bins.
        ax : matplotlib Axes, default=None
            Drawn into if given, else a new figure's axes.

        Returns
        -------
        display : ActivationHistogramDisplay
        """
        require_matplotlib(f"{cls.__name__}.from_estimator")
        estimator = unwrap_autoencoder(estimator)
        check_is_fitted(estimator)
        mean_activations = np.asarray(estimator.transform(X)).mean(axis=0)
        penalty = penalty_of(getattr(estimator, "sparsity_", estimator.sparsity))
        uses_target = penalty is not None and penalty.uses_target
        target = estimator.sparsity_target if uses_target else None
        return cls(mean_activations, target=target).plot(bins=bins, ax=ax)

    def plot(self, *, bins=30, ax=None):
        """Draw the histogram and the target.

        Parameters
        ----------
        bins : int, default=30
            Number of bins.
        ax : matplotlib Axes, default=None
            Drawn into if given, else a new figure's axes.

        Returns
        -------
        display : ActivationHistogramDisplay
            ``self``, with the drawn artists.
        """
        plt = require_matplotlib(f"{type(self).__name__}.plot")
        if ax is None:
            _, ax = plt.subplots()
        self.counts_, _, self.bars_ = ax.hist(self.mean_activations, bins=bins)
        self.target_line_ = None
        if self.target is not None:
            self.target_line_ = ax.axvline(
                self.target, color="black", linestyle="--", label="sparsity_target"
            )
            ax.legend()
        ax.set_xlabel("mean activation of a unit")
        ax.set_ylabel("units")
        self.ax_, self.figure_ = ax, ax.figure
        return self
