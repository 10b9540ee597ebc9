"""Sparse autoencoders as scikit-learn estimators, with a PyTorch engine."""

from ._classifier import StackedSparseAutoencoderClassifier
from ._conv import ConvolutionalSparseAutoencoderTransformer
from ._imputer import SparseAutoencoderImputer
from ._outlier import SparseAutoencoderOutlierDetector
from ._transformer import SparseAutoencoderTransformer

__version__ = "0.1.0"

__all__ = [
    "ConvolutionalSparseAutoencoderTransformer",
    "SparseAutoencoderImputer",
    "SparseAutoencoderOutlierDetector",
    "SparseAutoencoderTransformer",
    "StackedSparseAutoencoderClassifier",
    "__version__",
]
