"""Displays of what a sparse autoencoder learned, in scikit-learn's style.

Each display is built with ``Display.from_estimator(...)`` (or from arrays
with its constructor and :meth:`plot`) and keeps what it drew as attributes
(``figure_``, ``ax_`` or ``axes_``, the artists). Needs matplotlib:
``pip install "skl_sae[plot]"``.
"""

from ._activations import ActivationHistogramDisplay
from ._curves import LossCurveDisplay
from ._images import FiltersDisplay, ReconstructionDisplay

__all__ = [
    "ActivationHistogramDisplay",
    "FiltersDisplay",
    "LossCurveDisplay",
    "ReconstructionDisplay",
]
