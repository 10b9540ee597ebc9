"""Sparse autoencoders as scikit-learn estimators, with a PyTorch engine."""

from ._transformer import SparseAutoencoderTransformer

__version__ = "0.1.0"

__all__ = ["SparseAutoencoderTransformer", "__version__"]
