"""The estimators that ``fit_on_ranks.py`` fits on every rank and
``tests/test_distributed.py`` fits in one process, to compare the two. Their
networks compute in float64: the all-reduced sums of two ranks then agree
with one process's sums over the global batch to float64's rounding."""

from skl_sae import SparseAutoencoderTransformer, StackedSparseAutoencoderClassifier

SHARED = dict(batch_size=64, compute_dtype="float64", random_state=0)


def transformer():
    return SparseAutoencoderTransformer(
        32, sparsity="topk", k=8, auxk_weight=0, max_iter=4, **SHARED
    )


def classifier():
    # Without dropout: each rank draws the masks of its own rows, a different
    # stream of random numbers from one process's over the global batch.
    return StackedSparseAutoencoderClassifier(
        (32,), sparsity="l1", dropout=0, pretrain_max_iter=2, max_iter=3, **SHARED
    )


def sparse():
    """Fitted on CSR rows, read through their non-zeros on each rank."""
    return SparseAutoencoderTransformer(32, k=8, auxk_weight=0, max_iter=3, **SHARED)
