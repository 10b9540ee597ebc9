"""What the displays share: the matplotlib check and image grids."""

import numpy as np

from .._data import resolve_image_shape


def require_matplotlib(caller):
    """Import ``matplotlib.pyplot``, or fail naming the extra that installs it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs matplotlib, which skl_sae's plotting extra installs: "
            'pip install "skl_sae[plot]"'
        ) from exc
    return plt


def image_shape_of(n_features, image_shape):
    """The shape to draw rows of ``n_features`` as images: ``image_shape``,
    or the square they make (:func:`~skl_sae._data.resolve_image_shape`),
    without a single channel's axis."""
    shape = resolve_image_shape(image_shape, n_features, rows=False)
    return shape[:2] if shape[2] == 1 else shape


def unwrap_autoencoder(estimator):
    """The autoencoder behind ``estimator``: an outlier detector's
    ``autoencoder_``, else ``estimator`` itself."""
    return getattr(estimator, "autoencoder_", estimator)


def tiles_shape(ax):
    """(n_rows, n_cols) of an array of Axes (a 1-D array is one row); None for
    ``ax=None`` or a single Axes, where the display chooses its grid."""
    from matplotlib.axes import Axes

    if ax is None or isinstance(ax, Axes):
        return None
    axes = np.asarray(ax, dtype=object)
    if axes.ndim > 2:
        raise ValueError(f"ax must be one Axes or a 1-D or 2-D array of them; got {axes.ndim}-D.")
    return (1, axes.size) if axes.ndim <= 1 else axes.shape


def take_place_of(ax, n_rows, n_cols, wspace=None):
    """An ``n_rows`` x ``n_cols`` grid of new Axes where ``ax`` was; ``ax`` is
    hidden, as scikit-learn's ``PartialDependenceDisplay`` does."""
    from matplotlib.gridspec import GridSpec

    ax.set_axis_off()
    spec = ax.get_subplotspec()
    if spec is not None:
        grid = spec.subgridspec(n_rows, n_cols, wspace=wspace)
    else:  # an Axes placed by hand (figure.add_axes): use its box
        box = ax.get_position()
        grid = GridSpec(
            n_rows,
            n_cols,
            ax.figure,
            left=box.x0,
            right=box.x1,
            bottom=box.y0,
            top=box.y1,
            wspace=wspace,
        )
    return np.asarray(grid.subplots(squeeze=False))


def image_grid(plt, n_rows, n_cols, ax=None, tile_size=1.0):
    """An ``n_rows`` x ``n_cols`` grid of axes without ticks.

    Parameters
    ----------
    plt : module
        ``matplotlib.pyplot``.
    n_rows, n_cols : int
        Shape of the grid.
    ax : matplotlib Axes or array-like of Axes, default=None
        None: a new figure holds the grid. One Axes: the grid takes its place
        (the Axes is hidden, as scikit-learn's ``PartialDependenceDisplay``
        does), which puts several grids in one figure. Several Axes: they are
        the tiles, of the shape :func:`tiles_shape` gives.
    tile_size : float, default=1.0
        Inches per tile of a new figure.

    Returns
    -------
    figure : matplotlib Figure
    axes : ndarray of matplotlib Axes, shape (n_rows, n_cols)
    bounding_ax : matplotlib Axes or None
        The single Axes given, which the grid replaced.
    """
    from matplotlib.axes import Axes

    bounding_ax = None
    if ax is None:
        figure = plt.figure(figsize=(tile_size * n_cols, tile_size * n_rows))
        axes = np.asarray(figure.subplots(n_rows, n_cols, squeeze=False))
    elif isinstance(ax, Axes):
        bounding_ax, figure = ax, ax.figure
        axes = take_place_of(ax, n_rows, n_cols)
    else:
        axes = np.asarray(ax, dtype=object).reshape(n_rows, n_cols)
        if not all(isinstance(tile, Axes) for tile in axes.flat):
            raise ValueError("ax must be one matplotlib Axes or an array of them.")
        figure = axes[0, 0].figure
    for tile in axes.ravel():
        tile.set_xticks([])
        tile.set_yticks([])
    return figure, axes, bounding_ax
