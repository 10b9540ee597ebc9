"""
Anomaly detection with the outlier detector
===========================================

:class:`~skl_sae.SparseAutoencoderOutlierDetector` learns what the digit 8
looks like; asked about a mix of new eights and other digits, it ranks the
other digits as the outliers. Its score adds the reconstruction error and how
rare the sample's active units are on the training data.
"""

# %%
# Train on eights, score eights and other digits
# ----------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import RocCurveDisplay, roc_auc_score

from skl_sae import SparseAutoencoderOutlierDetector

X, y = load_digits(return_X_y=True)
X = X / 16
eights, others = X[y == 8], X[y != 8]
train, test = eights[:120], np.vstack([eights[120:], others])
is_inlier = np.arange(len(test)) < len(eights) - 120

detector = SparseAutoencoderOutlierDetector(max_iter=100, random_state=0).fit(train)
scores = detector.score_samples(test)
print(f"ROC AUC, eights against the other digits: {roc_auc_score(is_inlier, scores):.3f}")
print(f"share of other digits flagged as outliers: {np.mean(detector.predict(others) == -1):.2f}")

# %%
# ROC curve and the most anomalous test samples
# ---------------------------------------------
fig = plt.figure(figsize=(10, 4))
grid = fig.add_gridspec(2, 6)
RocCurveDisplay.from_predictions(is_inlier, scores, ax=fig.add_subplot(grid[:, :2]))
for i, index in enumerate(np.argsort(scores)[:8]):
    ax = fig.add_subplot(grid[i // 4, 2 + i % 4])
    ax.imshow(test[index].reshape(8, 8), cmap="gray")
    ax.set_title(f"score {scores[index]:.0f}", fontsize=8)
    ax.set_axis_off()
fig.suptitle("Lowest scores: the most anomalous test digits")
plt.show()
