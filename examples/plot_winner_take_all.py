"""
Winner-take-all convolutional features beside the dense code
============================================================

:class:`~skl_sae.ConvolutionalSparseAutoencoderTransformer` at its defaults
learns image features for a classifier: one layer of 128 convolutional maps
trained with winner-take-all codes (in each image, every map keeps only its
largest activation, and only on the fifth of a batch where that activation
is largest), then, after training, each whole map's maximum over a 5 x 5 grid
of regions. Here, on the 8 x 8 digits, its features feed a logistic
regression beside those of the dense
:class:`~skl_sae.SparseAutoencoderTransformer`: the learned kernels, and the
confusion matrix of each pipeline on held-out digits.
"""

# %%
# Two pipelines
# -------------
import time

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from skl_sae import ConvolutionalSparseAutoencoderTransformer, SparseAutoencoderTransformer
from skl_sae.plot import FiltersDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16, y, test_size=0.25, random_state=0, stratify=y
)
pipelines = {
    "winner-take-all convolutional": ConvolutionalSparseAutoencoderTransformer(random_state=0),
    "dense": SparseAutoencoderTransformer(random_state=0),
}
for name, autoencoder in pipelines.items():
    pipe = Pipeline([("sae", autoencoder), ("clf", LogisticRegression(max_iter=2000))])
    start = time.perf_counter()
    pipelines[name] = pipe.fit(X_train, y_train)
    print(
        f"{name}: {pipe[:-1].get_feature_names_out().size} features, "
        f"test accuracy {pipe.score(X_test, y_test):.3f}, {time.perf_counter() - start:.1f} s"
    )

# %%
# The kernels
# -----------
# The first 64 of the 128 maps' encoder kernels (7 x 7), what each map
# responds to: trained so that a map's one winner in an image reconstructs a
# part of it on its own.
conv = pipelines["winner-take-all convolutional"]["sae"]
FiltersDisplay.from_estimator(conv, max_filters=64)
plt.title("winner-take-all kernels")

# %%
# Where each pipeline errs
# ------------------------
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
for ax, (name, pipe) in zip(axes, pipelines.items(), strict=True):
    ConfusionMatrixDisplay.from_estimator(pipe, X_test, y_test, ax=ax, colorbar=False)
    ax.set_title(name)
plt.tight_layout()
plt.show()
