"""Images: the learned filters, and inputs above their reconstructions."""

import math

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted

from ._base import (
    image_grid,
    image_shape_of,
    require_matplotlib,
    tiles_shape,
    unwrap_autoencoder,
)


class FiltersDisplay:
    """Learned filters shown as images: one tile per unit.

    Use :meth:`from_estimator` on a fitted
    :class:`~skl_sae.SparseAutoencoderTransformer` (its decoder dictionary
    ``components_`` or its encoder weights), on a
    :class:`~skl_sae.SparseAutoencoderOutlierDetector` (its autoencoder's) or
    on a :class:`~skl_sae.StackedSparseAutoencoderClassifier` (the first
    layer's weights).

    Parameters
    ----------
    filters : ndarray of shape (n_filters, n_features)
        One filter per row.
    image_shape : tuple of int, default=None
        Shape of one image, e.g. ``(28, 28)``; square if None.

    Attributes
    ----------
    figure_ : matplotlib Figure
    axes_ : ndarray of matplotlib Axes, shape (n_rows, n_cols)
        One axes per tile, in row-major order; unused ones are hidden.
    bounding_ax_ : matplotlib Axes or None
        The single Axes passed as ``ax``, whose place the tiles took (it is
        hidden); None otherwise.
    images_ : list of matplotlib AxesImage
        One image per filter, in order.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skl_sae import SparseAutoencoderTransformer
    >>> from skl_sae.plot import FiltersDisplay
    >>> X = load_digits().data / 16
    >>> sae = SparseAutoencoderTransformer(16, max_iter=5, random_state=0).fit(X)
    >>> display = FiltersDisplay.from_estimator(sae)
    >>> len(display.images_)
    16
    """

    def __init__(self, filters, *, image_shape=None):
        self.filters = filters
        self.image_shape = image_shape

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        weights="decoder",
        image_shape=None,
        max_filters=100,
        n_cols=None,
        cmap="gray",
        ax=None,
    ):
        """Show a fitted estimator's filters.

        Parameters
        ----------
        estimator : fitted skl_sae estimator
            A :class:`~skl_sae.SparseAutoencoderTransformer`, a
            :class:`~skl_sae.SparseAutoencoderOutlierDetector` (its
            ``autoencoder_`` is shown), a
            :class:`~skl_sae.StackedSparseAutoencoderClassifier` or a
            :class:`~skl_sae.ConvolutionalSparseAutoencoderTransformer`.
        weights : {"decoder", "encoder"}, default="decoder"
            The autoencoder's ``components_`` (what each unit adds to a
            reconstruction) or ``encoder_weights_`` (what each unit responds
            to); the classifier always shows its first layer's encoder, the
            convolutional autoencoder its first convolution's kernels
            (``kernels_``, averaged over colour channels).
        image_shape : tuple of int, default=None
            Shape of one image; square if None.
        max_filters : int, default=100
            Show the first ``max_filters`` units at most.
        n_cols : int, default=None
            Tiles per row; about a square grid if None.
        cmap : str, default="gray"
            Colour map.
        ax : matplotlib Axes or array-like of Axes, default=None
            Where to draw; see :meth:`plot`.

        Returns
        -------
        display : FiltersDisplay
        """
        require_matplotlib(f"{cls.__name__}.from_estimator")
        estimator = unwrap_autoencoder(estimator)
        check_is_fitted(estimator)
        if hasattr(estimator, "coefs_"):
            filters = estimator.coefs_[0].T
        elif hasattr(estimator, "kernels_"):  # a convolutional autoencoder's first layer
            kernels = estimator.kernels_.mean(axis=3)  # (channels averaged)
            filters, image_shape = kernels.reshape(len(kernels), -1), kernels.shape[1:]
        elif hasattr(estimator, "network_weights_"):
            network = estimator._architecture.get("network")
            raise ValueError(
                f"{type(estimator).__name__} with network={network!r} has no filters "
                "over the whole image to draw (its weights: network_weights_); fit it with "
                "network='dense' to draw them."
            )
        elif weights == "decoder":
            filters = estimator.components_
        elif weights == "encoder":
            filters = estimator.encoder_weights_
        else:
            raise ValueError(f"weights must be 'decoder' or 'encoder', got {weights!r}.")
        display = cls(filters[:max_filters], image_shape=image_shape)
        return display.plot(n_cols=n_cols, cmap=cmap, ax=ax)

    def plot(self, *, n_cols=None, cmap="gray", ax=None):
        """Draw the filters, each scaled to its own range.

        Parameters
        ----------
        n_cols : int, default=None
            Tiles per row; about a square grid if None. Ignored when ``ax``
            is an array of Axes, whose shape is the grid's.
        cmap : str, default="gray"
            Colour map.
        ax : matplotlib Axes or array-like of Axes, default=None
            None draws in a new figure. One Axes: the tiles take its place
            (it is hidden and kept as ``bounding_ax_``), which puts several
            displays side by side in one figure. An array of Axes: the tiles
            themselves, row-major, at least one per filter (a 1-D array is
            one row); the ones left over are hidden.

        Returns
        -------
        display : FiltersDisplay
            ``self``, with the drawn artists.
        """
        plt = require_matplotlib(f"{type(self).__name__}.plot")
        filters = check_array(self.filters, input_name="filters")
        shape = image_shape_of(filters.shape[1], self.image_shape)
        tiles = tiles_shape(ax)
        if tiles is not None:
            n_rows, n_cols = tiles
            if n_rows * n_cols < len(filters):
                raise ValueError(
                    f"ax holds {n_rows * n_cols} Axes for {len(filters)} filters; "
                    "pass one Axes per filter, or a single Axes to draw the grid in."
                )
        else:
            n_cols = n_cols or math.ceil(math.sqrt(len(filters)))
            n_rows = math.ceil(len(filters) / n_cols)
        self.figure_, self.axes_, self.bounding_ax_ = image_grid(plt, n_rows, n_cols, ax)
        self.images_ = [
            ax.imshow(f.reshape(shape), cmap=cmap, interpolation="nearest")
            for ax, f in zip(self.axes_.ravel(), filters, strict=False)
        ]
        for ax in self.axes_.ravel()[len(filters) :]:
            ax.set_visible(False)
        return self


class ReconstructionDisplay:
    """Inputs above their reconstructions (and, for denoising, the clean
    images below).

    Parameters
    ----------
    inputs : ndarray of shape (n_samples, n_features)
        What the autoencoder was given (noisy inputs, for denoising).
    reconstructions : ndarray of shape (n_samples, n_features)
        What it made of them.
    clean : ndarray of shape (n_samples, n_features), default=None
        The clean images, shown in a third row if given.
    image_shape : tuple of int, default=None
        Shape of one image; square if None.

    Attributes
    ----------
    figure_ : matplotlib Figure
    axes_ : ndarray of matplotlib Axes, shape (n_rows, n_samples)
        Row 0 the inputs, row 1 the reconstructions, row 2 the clean images.
    bounding_ax_ : matplotlib Axes or None
        The single Axes passed as ``ax``, whose place the tiles took (it is
        hidden); None otherwise.
    images_ : ndarray of matplotlib AxesImage, shape (n_rows, n_samples)

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from skl_sae import SparseAutoencoderTransformer
    >>> from skl_sae.plot import ReconstructionDisplay
    >>> X = load_digits().data / 16
    >>> sae = SparseAutoencoderTransformer(16, max_iter=5, random_state=0).fit(X)
    >>> fig, (left, right) = plt.subplots(1, 2)
    >>> display = ReconstructionDisplay.from_estimator(sae, X, n_samples=4, ax=left)
    >>> display.axes_.shape, display.bounding_ax_ is left
    ((2, 4), True)
    """

    def __init__(self, inputs, reconstructions, *, clean=None, image_shape=None):
        self.inputs = inputs
        self.reconstructions = reconstructions
        self.clean = clean
        self.image_shape = image_shape

    @classmethod
    def from_estimator(
        cls, estimator, X, *, clean=None, image_shape=None, n_samples=10, cmap="gray", ax=None
    ):
        """Reconstruct the first ``n_samples`` rows of ``X`` and show them.

        Parameters
        ----------
        estimator : SparseAutoencoderTransformer, \
                ConvolutionalSparseAutoencoderTransformer or SparseAutoencoderOutlierDetector
            Fitted; a detector's ``autoencoder_`` reconstructs. A
            convolutional autoencoder's grey images are shown in its
            ``image_shape_``.
        X : array-like of shape (n_samples, n_features)
            Inputs (e.g. noisy images).
        clean : array-like of shape (n_samples, n_features), default=None
            The clean images behind ``X``, for denoising.
        image_shape : tuple of int, default=None
            Shape of one image; square if None.
        n_samples : int, default=10
            Number of columns.
        cmap : str, default="gray"
            Colour map.
        ax : matplotlib Axes or array-like of Axes, default=None
            Where to draw; see :meth:`plot`.

        Returns
        -------
        display : ReconstructionDisplay
        """
        require_matplotlib(f"{cls.__name__}.from_estimator")
        estimator = unwrap_autoencoder(estimator)
        check_is_fitted(estimator)
        X = check_array(X)[:n_samples]
        reconstructions = estimator.inverse_transform(estimator.transform(X))
        if clean is not None:
            clean = check_array(clean)[:n_samples]
        if image_shape is None and hasattr(estimator, "image_shape_"):  # convolutional
            height, width, channels = estimator.image_shape_
            image_shape = (height, width) if channels == 1 else None
        display = cls(X, reconstructions, clean=clean, image_shape=image_shape)
        return display.plot(cmap=cmap, ax=ax)

    def plot(self, *, cmap="gray", ax=None):
        """Draw the rows on one shared grey scale.

        Parameters
        ----------
        cmap : str, default="gray"
            Colour map.
        ax : matplotlib Axes or array-like of Axes, default=None
            None draws in a new figure. One Axes: the tiles take its place
            (it is hidden and kept as ``bounding_ax_``). An array of Axes of
            shape (n_rows, n_samples): the tiles themselves.

        Returns
        -------
        display : ReconstructionDisplay
            ``self``, with the drawn artists.
        """
        plt = require_matplotlib(f"{type(self).__name__}.plot")
        rows = [("input", self.inputs), ("reconstruction", self.reconstructions)]
        if self.clean is not None:
            rows.append(("clean", self.clean))
        rows = [(name, check_array(images, input_name=name)) for name, images in rows]
        shape = image_shape_of(rows[0][1].shape[1], self.image_shape)
        low = min(images.min() for _, images in rows)
        high = max(images.max() for _, images in rows)
        n_samples = rows[0][1].shape[0]
        tiles = tiles_shape(ax)
        if tiles is not None and tiles != (len(rows), n_samples):
            raise ValueError(
                f"ax has shape {tiles}; {len(rows)} rows of {n_samples} images need "
                f"({len(rows)}, {n_samples}), or pass a single Axes to draw the grid in."
            )
        self.figure_, self.axes_, self.bounding_ax_ = image_grid(plt, len(rows), n_samples, ax)
        self.images_ = np.empty((len(rows), n_samples), dtype=object)
        for i, (name, images) in enumerate(rows):
            self.axes_[i, 0].set_ylabel(name)
            for j, image in enumerate(images):
                self.images_[i, j] = self.axes_[i, j].imshow(
                    image.reshape(shape), cmap=cmap, vmin=low, vmax=high
                )
        return self
