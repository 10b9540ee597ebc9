"""
Learning the number of hidden units from the data
=================================================

With ``n_components="auto"``, a :class:`~skl_sae.SparseAutoencoderTransformer`
chooses its hidden size while it trains (structure learning). It starts from
as many units as principal components explain 95% of the data's variance
and, every 5 epochs, looks at what each unit did during the last epoch:

- while the layer grows, it doubles its units as long as the last doubling
  lowered the reconstruction error by a tenth and at least half of the units
  it added carry information about the samples;
- from the step after growth ended, units whose firing carries less than
  0.01 bits about the samples (dead units, units that always fire) are
  pruned.

Here the size it chooses on the digits is compared with fixed sizes in front
of the same logistic regression, and its structure curve is drawn next to
its loss curve.
"""

# %%
# One fit with ``n_components="auto"``
# ------------------------------------
import time

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from skl_sae import SparseAutoencoderTransformer

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16, y, test_size=0.25, random_state=0, stratify=y
)


def pipeline(n_components):
    return Pipeline(
        [
            ("sae", SparseAutoencoderTransformer(n_components, random_state=0)),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    )


start = time.perf_counter()
auto = pipeline("auto").fit(X_train, y_train)
sae = auto.named_steps["sae"]
print(
    f'"auto" chose {sae.n_components_} units in {sae.n_iter_} epochs '
    f"({time.perf_counter() - start:.1f} s): test accuracy {auto.score(X_test, y_test):.3f}"
)

# %%
# Fixed sizes, for comparison
# ---------------------------
# Each of these is a full fit; a grid search would fit each of them once per
# fold, then refit the best.
for n_components in (32, 128, 512):
    start = time.perf_counter()
    fixed = pipeline(n_components).fit(X_train, y_train)
    print(
        f"{n_components:4d} units ({time.perf_counter() - start:.1f} s): "
        f"test accuracy {fixed.score(X_test, y_test):.3f}"
    )

# %%
# The structure curve
# -------------------
# ``structure_curve_`` holds the units of each epoch, next to
# ``loss_curve_``. Each growth raises the loss for an epoch or two while the
# new units find their roles; the pruning at the end removes the units that
# found none.
fig, ax = plt.subplots(figsize=(7, 3.5))
epochs = range(1, sae.n_iter_ + 1)
ax.step(epochs, sae.structure_curve_, where="post", color="tab:blue")
ax.set_xlabel("epoch")
ax.set_ylabel("hidden units", color="tab:blue")
loss_axis = ax.twinx()
loss_axis.plot(epochs, sae.loss_curve_, color="tab:orange")
loss_axis.set_ylabel("training loss", color="tab:orange")
loss_axis.set_yscale("log")
ax.set_title(f'n_components="auto" on the digits: {sae.n_components_} units')
fig.tight_layout()
plt.show()
