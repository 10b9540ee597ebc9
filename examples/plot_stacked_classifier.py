"""
The stacked classifier: before and after fine-tuning
====================================================

:class:`~skl_sae.StackedSparseAutoencoderClassifier` pre-trains one sparse
autoencoder per hidden layer, trains a softmax layer on the top codes, then
fine-tunes the whole network. ``fine_tune=False`` stops before the last step;
with the same ``random_state`` both models share the same pre-trained layers,
so the difference in accuracy is what fine-tuning adds.
"""

# %%
# Frozen pre-trained features against fine-tuning
# -----------------------------------------------
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split

from skl_sae import StackedSparseAutoencoderClassifier
from skl_sae.plot import LossCurveDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16, y, random_state=0, stratify=y)

params = dict(hidden_layer_sizes=(64, 32), pretrain_max_iter=30, max_iter=60, random_state=0)
frozen = StackedSparseAutoencoderClassifier(fine_tune=False, **params).fit(X_train, y_train)
tuned = StackedSparseAutoencoderClassifier(**params).fit(X_train, y_train)
print(f"before fine-tuning: {frozen.score(X_test, y_test):.3f}")
print(f"after fine-tuning:  {tuned.score(X_test, y_test):.3f}")

# %%
# Training curves and the confusion matrix of the fine-tuned network
# -------------------------------------------------------------------
# One panel per stage, each with its own y axis: the autoencoders'
# objective while pre-training, then the cross-entropy of the softmax layer
# on the frozen codes and of the whole network while fine-tuning. Given one
# Axes, the panels take its place.
fig, (left, right) = plt.subplots(
    1, 2, figsize=(15, 4.5), width_ratios=[3, 1], layout="constrained"
)
curves = LossCurveDisplay.from_estimator(tuned, ax=left)
for ax in curves.axes_:
    ax.set_yscale("log")
ConfusionMatrixDisplay.from_estimator(tuned, X_test, y_test, ax=right, colorbar=False)
plt.show()
