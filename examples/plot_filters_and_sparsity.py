"""
Learned filters and mean activations: KL, L1 and TopK sparsity
==============================================================

The classic pictures of a sparse autoencoder: what each hidden unit draws on
the digits (its decoder filter), and how active the units are on average.
The KL penalty pulls every unit's mean activation towards
``sparsity_target``; L1 and TopK make codes exactly zero, TopK with exactly
``k`` active units per digit.
"""

# %%
# Three sparsities, the same budget
# ---------------------------------
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits

from skl_sae import SparseAutoencoderTransformer
from skl_sae.plot import ActivationHistogramDisplay, FiltersDisplay

X, _ = load_digits(return_X_y=True)
X = X / 16
models = {
    "KL, rho = 0.05": SparseAutoencoderTransformer(49, sparsity="kl"),
    "L1": SparseAutoencoderTransformer(49, sparsity="l1"),
    "TopK, k = 8": SparseAutoencoderTransformer(49, sparsity="topk", k=8),
}
for name, model in models.items():
    model.set_params(max_iter=60, random_state=0).fit(X)
    print(
        f"{name:<15} active units per digit: {model.l0_:5.1f}, "
        f"explained variance: {model.explained_variance_:.2f}, "
        f"dead units: {model.dead_latents_:.0%}"
    )

# %%
# The filters
# -----------
# One tile per unit: its decoder column, what it adds to a reconstruction.
# Given one Axes, a display draws its grid of tiles in that Axes' place, so
# the three models sit side by side in one figure.
fig, axes = plt.subplots(1, 3, figsize=(12, 4.4))
for ax, (name, model) in zip(axes, models.items(), strict=True):
    FiltersDisplay.from_estimator(model, image_shape=(8, 8), ax=ax)
    ax.set_title(name)

# %%
# Mean activation of each unit
# ----------------------------
fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
for ax, (name, model) in zip(axes, models.items(), strict=True):
    ActivationHistogramDisplay.from_estimator(model, X, ax=ax)
    ax.set_title(name)
fig.tight_layout()
plt.show()
