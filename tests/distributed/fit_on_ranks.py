"""Run by tests/test_distributed.py under torchrun: each rank fits the same
estimators on the same data and saves what it fitted to OUT/rank<r>.npz."""

import sys

import estimators  # (beside this script)
import numpy as np
import torch.distributed as dist
from scipy.sparse import csr_matrix
from sklearn.datasets import load_digits

from skl_sae import SparseAutoencoderTransformer

dist.init_process_group("gloo")
rank = dist.get_rank()
X, y = load_digits(return_X_y=True)
X = X / 16
transformer = estimators.transformer().fit(X)
classifier = estimators.classifier().fit(X, y)
sparse = estimators.sparse().fit(csr_matrix(X))
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
