"""
Repairing damaged digits: imputation by a sparse autoencoder
============================================================

Each test digit loses a random 4x4 block of its 8x8 pixels (a quarter of the
image). :class:`~skl_sae.SparseAutoencoderImputer` fills the block from what it
learned of the digits, :class:`~sklearn.impute.KNNImputer` from the five
training digits nearest on the pixels that are left. Both learn from training
digits that miss 20% of their pixels at random: neither ever sees a complete
digit, nor a missing block. Told the shape of the images (``image_shape``),
the autoencoder hides rectangles of them in training, to learn to fill holes,
and fills with a convolutional network whose code reads the whole image.

On these 1,347 small training digits it repairs the blocks about 3% better
than ``KNNImputer`` (an RMSE of 0.200 against 0.206) and scattered pixels 13%
better (0.139 against 0.160), in about a minute of fitting each. On MNIST,
fitted on 10,000 images, it fills holes 12% to 13% better than
``KNNImputer`` (see the user guide's page on imputation).
"""

# %%
# Damaged digits
# --------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.impute import KNNImputer, SimpleImputer
from sklearn.model_selection import train_test_split

from skl_sae import SparseAutoencoderImputer

X, _ = load_digits(return_X_y=True)
X = X / 16  # pixels in [0, 1]
X_train, X_test = train_test_split(X, random_state=0)
rng = np.random.default_rng(0)


def block_missing(n_images, size=4):
    """A random ``size`` x ``size`` block of each 8x8 image, as a mask."""
    mask = np.zeros((n_images, 8, 8), dtype=bool)
    for image, (row, column) in zip(
        mask, rng.integers(0, 8 - size + 1, (n_images, 2)), strict=True
    ):
        image[row : row + size, column : column + size] = True
    return mask.reshape(n_images, 64)


def damaged(images, mask):
    return np.where(mask, np.nan, images)


train_mask = rng.random(X_train.shape) < 0.2
test_mask = block_missing(len(X_test))


def rmse(imputed, clean, mask):
    """Root mean squared error on the missing pixels, in pixel units."""
    return np.sqrt(np.mean((imputed - clean)[mask] ** 2))


# %%
# Fill the blocks
# ---------------
# Each imputer is fitted on the damaged training digits and fills the damaged
# test digits; the pixels that were left are returned unchanged.
imputers = {
    "column mean": SimpleImputer(),
    "KNNImputer": KNNImputer(),
    "SparseAutoencoderImputer": SparseAutoencoderImputer(image_shape=(8, 8), random_state=0),
}
repaired = {}
for name, imputer in imputers.items():
    imputer.fit(damaged(X_train, train_mask))
    repaired[name] = imputer.transform(damaged(X_test, test_mask))
    print(f"{name:<25} RMSE on the missing pixels: {rmse(repaired[name], X_test, test_mask):.3f}")

# %%
# Originals, damaged digits and both repairs
# ------------------------------------------
# The missing block is drawn in red. Each row's title gives its RMSE over the
# missing pixels of all test digits.
n_images = 8
cmap = plt.get_cmap("gray_r").with_extremes(bad="tab:red")
rows = {
    "original": X_test,
    "damaged": damaged(X_test, test_mask),
    "KNNImputer": repaired["KNNImputer"],
    "SparseAutoencoderImputer": repaired["SparseAutoencoderImputer"],
}
fig = plt.figure(figsize=(n_images, 1.4 * len(rows)), layout="constrained")
for subfig, (name, images) in zip(fig.subfigures(len(rows), 1), rows.items(), strict=True):
    title = name
    if name in repaired:
        title += f" (RMSE {rmse(images, X_test, test_mask):.3f})"
    subfig.suptitle(title, fontsize=10)
    for ax, image in zip(subfig.subplots(1, n_images), images, strict=False):
        ax.imshow(image.reshape(8, 8), cmap=cmap, vmin=0, vmax=1)
        ax.set_axis_off()
plt.show()

# %%
# Pixels missing at random
# ------------------------
# The same comparison with 30% of the pixels missing at random, in training and
# test digits alike.
train_mask, test_mask = rng.random(X_train.shape) < 0.3, rng.random(X_test.shape) < 0.3
for name, imputer in imputers.items():
    imputer.fit(damaged(X_train, train_mask))
    imputed = imputer.transform(damaged(X_test, test_mask))
    print(f"{name:<25} RMSE on the missing pixels: {rmse(imputed, X_test, test_mask):.3f}")
