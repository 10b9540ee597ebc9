"""
A convolutional sparse autoencoder on the digits
================================================

:class:`~skl_sae.ConvolutionalSparseAutoencoderTransformer` takes the same
rows as every other estimator, each an image flattened row by row (here the
8 x 8 digits, whose shape it infers from the 64 features). Strided
convolutions encode each image into feature maps whose channels are the
code's units, transposed convolutions decode them. Here the codes of one
that can decode them (``pooling=None``) feed a logistic regression beside
the dense autoencoder's, and its first-layer kernels and reconstructions
are drawn. (Its defaults are for features, pooled and not decodable: see
the user guide's MNIST table.)
"""

# %%
# Codes for a classifier
# ----------------------
# Two stride-2 convolutions take the 8 x 8 images to 2 x 2 maps of 32
# channels: 128 features per image, which ``inverse_transform`` decodes.
import time
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from skl_sae import ConvolutionalSparseAutoencoderTransformer, SparseAutoencoderTransformer
from skl_sae.plot import FiltersDisplay, ReconstructionDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16, y, test_size=0.25, random_state=0, stratify=y
)

models = {
    "convolutional, filters=(16, 32)": ConvolutionalSparseAutoencoderTransformer(
        filters=(16, 32), kernel_size=5, pooling=None, sparsity=None, max_iter=60, random_state=0
    ),
    "dense, 256 units": SparseAutoencoderTransformer(random_state=0),
}
for name, autoencoder in models.items():
    pipe = Pipeline([("sae", autoencoder), ("clf", LogisticRegression(max_iter=2000))])
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X_train, y_train)
    print(
        f"{name}: {pipe[:-1].get_feature_names_out().size} features, "
        f"test accuracy {pipe.score(X_test, y_test):.3f}, {time.perf_counter() - start:.1f} s"
    )
conv = models["convolutional, filters=(16, 32)"]
print(f"image shape {conv.image_shape_}, feature maps {conv.map_shape_}")

# %%
# What it learned
# ---------------
# The first convolution's 16 kernels (5 x 5 each), and test digits above
# their reconstructions.
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
FiltersDisplay.from_estimator(conv, ax=left)
left.set_title("first-layer kernels")
ReconstructionDisplay.from_estimator(conv, X_test, n_samples=8, ax=right)
right.set_title("digits (top) and their reconstructions")
plt.show()
