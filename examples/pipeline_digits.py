"""
Sparse autoencoder features in a scikit-learn pipeline
======================================================

A :class:`~skl_sae.SparseAutoencoderTransformer` in front of a logistic
regression on scikit-learn's digits, its size tuned by a grid search, saved and
loaded with joblib, and its reconstruction error used as an anomaly score.
"""

# %%
# Tune the number of hidden units inside a pipeline
# -------------------------------------------------
import io
import warnings

import joblib
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

from skl_sae import SparseAutoencoderTransformer

X, y = load_digits(return_X_y=True)
X = X / 16  # pixels in [0, 1]
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)

pipe = Pipeline(
    [
        ("sae", SparseAutoencoderTransformer(random_state=0)),
        ("clf", LogisticRegression(max_iter=1000)),
    ]
)
search = GridSearchCV(pipe, {"sae__n_components": [32, 128]}, cv=3)
with warnings.catch_warnings():
    # On 1,200 digits the loss still falls by more than ``tol`` per epoch after
    # the default 200 epochs (it settles after about 350); the codes are good
    # long before, so we do not wait.
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X_train, y_train)
print(f"best: {search.best_params_}, cross-validated accuracy {search.best_score_:.3f}")
print(f"test accuracy: {search.score(X_test, y_test):.3f}")

# %%
# Save and load the fitted pipeline
# ---------------------------------
buffer = io.BytesIO()
joblib.dump(search.best_estimator_, buffer)
buffer.seek(0)
loaded = joblib.load(buffer)
assert np.array_equal(loaded.predict(X_test), search.predict(X_test))

# %%
# Reconstruction error as an anomaly score
# ----------------------------------------
# ``score_samples`` is the negative reconstruction error: digits with a
# random tenth of their pixels flipped score lower than clean ones.
sae = search.best_estimator_.named_steps["sae"]
rng = np.random.default_rng(0)
corrupted = X_test.copy()
mask = rng.random(corrupted.shape) < 0.1
corrupted[mask] = 1 - corrupted[mask]
print(f"mean score, clean digits:     {sae.score(X_test):.4f}")
print(f"mean score, corrupted digits: {sae.score(corrupted):.4f}")
