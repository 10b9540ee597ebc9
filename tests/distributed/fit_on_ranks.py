"""Run by tests/test_distributed.py under torchrun: each rank fits the same
estimators on the same data and saves what it fitted to OUT/rank<r>.npz."""

import sys

import numpy as np
import torch.distributed as dist
from scipy.sparse import csr_matrix
from sklearn.datasets import load_digits

from skl_sae import SparseAutoencoderTransformer, StackedSparseAutoencoderClassifier

dist.init_process_group("gloo")
rank = dist.get_rank()
X, y = load_digits(return_X_y=True)
X = X / 16
transformer = SparseAutoencoderTransformer(
    32,
    sparsity="topk",
    k=8,
    auxk_weight=0,
    batch_size=64,
    max_iter=4,
    compute_dtype="float64",
    random_state=0,
).fit(X)
classifier = StackedSparseAutoencoderClassifier(  # (no dropout: see test_distributed)
    (32,),
    sparsity="l1",
    dropout=0,
    batch_size=64,
    pretrain_max_iter=2,
    max_iter=3,
    compute_dtype="float64",
    random_state=0,
).fit(X, y)
sparse = SparseAutoencoderTransformer(
    32, k=8, auxk_weight=0, batch_size=64, max_iter=3, compute_dtype="float64", random_state=0
).fit(csr_matrix(X))
early = SparseAutoencoderTransformer(
    16, early_stopping=True, batch_size=64, max_iter=3, random_state=0
).fit(X)
try:  # the ranks disagree on the data's width
    SparseAutoencoderTransformer(8, max_iter=1).fit(X[:, : 32 + 32 * rank])
    message = ""
except ValueError as error:
    message = str(error)
np.savez(
    f"{sys.argv[1]}/rank{rank}.npz",
    components=transformer.components_,
    sparse_components=sparse.components_,
    loss_curve=transformer.loss_curve_,
    l0=transformer.l0_,
    proba=classifier.predict_proba(X),
    early_curve=early.validation_scores_,
    message=message,
)
dist.destroy_process_group()
