"""
Tuning the code size and the sparsity with a grid search
========================================================

:class:`~sklearn.model_selection.GridSearchCV` tunes a
:class:`~skl_sae.SparseAutoencoderTransformer` like any other scikit-learn
estimator. Here it searches the number of hidden units (``n_components``) and
the weight of the sparsity penalty (``sparsity_weight``) of the autoencoder in
front of a logistic regression; the cross-validated accuracies are drawn as a
heatmap, and the best pipeline is saved with :mod:`joblib` and loaded back.
"""

# %%
# The search
# ----------
# Every parameter of the autoencoder is reachable through the pipeline as
# ``sae__<name>``. Each fit is short, 40 epochs on the 898 digits of a fold,
# so that the 27 fits of the search (9 candidates, 3 folds) and the final refit
# take about half a minute on two cores.
import warnings
from pathlib import Path
from tempfile import TemporaryDirectory

import joblib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

from skl_sae import SparseAutoencoderTransformer

X, y = load_digits(return_X_y=True)
X = X / 16
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0, stratify=y
)

pipe = Pipeline(
    [
        ("sae", SparseAutoencoderTransformer(max_iter=40, random_state=0)),
        ("clf", LogisticRegression(max_iter=2000)),
    ]
)
grid = {"sae__n_components": [16, 64, 256], "sae__sparsity_weight": [0.3, 3.0, 30.0]}
search = GridSearchCV(pipe, grid, cv=3)
with warnings.catch_warnings():
    # 40 epochs stop before the loss settles; the search compares the codes
    # at equal training time, which is what we want here.
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X_train, y_train)
print(f"best parameters: {search.best_params_}")
print(
    f"cross-validated accuracy {search.best_score_:.3f}, "
    f"test accuracy {search.score(X_test, y_test):.3f}"
)

# %%
# The scores as a heatmap
# -----------------------
# ``cv_results_`` lists the candidates in the order of the grid, the last
# parameter (here ``sparsity_weight``, in sorted name order) varying fastest.
sizes, weights = grid["sae__n_components"], grid["sae__sparsity_weight"]
results = search.cv_results_
scores = np.empty((len(sizes), len(weights)))
for params, score in zip(results["params"], results["mean_test_score"], strict=True):
    scores[
        sizes.index(params["sae__n_components"]), weights.index(params["sae__sparsity_weight"])
    ] = score

fig, ax = plt.subplots(figsize=(5, 4))
image = ax.imshow(scores, cmap="viridis", origin="lower")
ax.set_xticks(range(len(weights)), labels=[str(w) for w in weights])
ax.set_yticks(range(len(sizes)), labels=[str(n) for n in sizes])
ax.set_xlabel("sparsity_weight")
ax.set_ylabel("n_components")
for i in range(len(sizes)):
    for j in range(len(weights)):
        ax.text(
            j,
            i,
            f"{scores[i, j]:.3f}",
            ha="center",
            va="center",
            color="black" if scores[i, j] > scores.mean() else "white",
        )
fig.colorbar(image, ax=ax, label="mean cross-validated accuracy")
ax.set_title("GridSearchCV over the autoencoder")
fig.tight_layout()

# %%
# Save the best pipeline and load it back
# ---------------------------------------
# A fitted autoencoder pickles its weights as numpy arrays, so the file loads
# on any machine with skl_sae installed, a CPU-only one included, even when
# the model was trained on a GPU. The loaded pipeline predicts exactly what
# the original predicts.
with TemporaryDirectory() as directory:
    path = Path(directory) / "sae_pipeline.joblib"
    joblib.dump(search.best_estimator_, path)
    print(f"saved {path.name}: {path.stat().st_size / 1024:.0f} KiB")
    loaded = joblib.load(path)

same = np.array_equal(loaded.predict(X_test), search.predict(X_test))
print(f"loaded pipeline predicts the same labels: {same}")
codes = loaded.named_steps["sae"].transform(X_test)
print(f"same codes: {np.array_equal(codes, search.best_estimator_[0].transform(X_test))}")
plt.show()
