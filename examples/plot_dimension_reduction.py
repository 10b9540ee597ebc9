"""
Dimension reduction: sparse codes projected to 2-D
==================================================

The 64-pixel digits are encoded by a sparse autoencoder, and the codes are
projected to two dimensions with PCA, in one :class:`~sklearn.pipeline.Pipeline`.
By the silhouette score, the classes lie somewhat further apart than when
the raw pixels are projected the same way (0.14 against 0.11 here).
"""

# %%
# Raw pixels and sparse codes, each projected with PCA
# ----------------------------------------------------
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from sklearn.pipeline import make_pipeline

from skl_sae import SparseAutoencoderTransformer

X, y = load_digits(return_X_y=True)
X = X / 16
projections = {
    "PCA of the pixels": make_pipeline(PCA(2, random_state=0)),
    "PCA of the sparse codes": make_pipeline(
        SparseAutoencoderTransformer(128, sparsity="topk", k=8, max_iter=60, random_state=0),
        PCA(2, random_state=0),
    ),
}

# %%
# Coloured by class
# -----------------
# The silhouette score (higher: classes better apart) is computed in 2-D.
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
for ax, (name, pipeline) in zip(axes, projections.items(), strict=True):
    embedded = pipeline.fit_transform(X)
    silhouette = silhouette_score(embedded, y)
    print(f"{name:<24} silhouette in 2-D: {silhouette:.3f}")
    points = ax.scatter(*embedded.T, c=y, cmap="tab10", s=6)
    ax.set_title(f"{name} (silhouette {silhouette:.2f})")
fig.colorbar(points, ax=axes, label="digit")
plt.show()
