"""What the displays share: the matplotlib check and image grids."""

import math

import numpy as np


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
    """``image_shape``, or the square that ``n_features`` pixels make."""
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"{n_features} features do not make a square image; pass image_shape."
            )
        image_shape = (side, side)
    image_shape = tuple(int(d) for d in image_shape)
    if math.prod(image_shape) != n_features:
        raise ValueError(f"image_shape={image_shape} does not hold {n_features} features.")
    return image_shape


def image_grid(plt, n_rows, n_cols, figure=None, tile_size=1.0):
    """A figure (``figure`` cleared, or a new one) with an ``n_rows`` x
    ``n_cols`` grid of axes without ticks; returns ``(figure, axes)``."""
    if figure is None:
        figure = plt.figure(figsize=(tile_size * n_cols, tile_size * n_rows))
    else:
        figure.clear()
    axes = np.asarray(figure.subplots(n_rows, n_cols, squeeze=False))
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    return figure, axes
