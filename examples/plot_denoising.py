"""
Image denoising with a denoising autoencoder
============================================

A sparse autoencoder trained to reconstruct clean digits from noisy ones
(``corruption="gaussian"``) removes noise it has never seen from new digits;
the same autoencoder trained on clean inputs only copies the noise through.
"""

# %%
# Noisy test digits
# -----------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skl_sae import SparseAutoencoderTransformer
from skl_sae.plot import ReconstructionDisplay

X, _ = load_digits(return_X_y=True)
X = X / 16  # pixels in [0, 1]
X_train, X_test = train_test_split(X, random_state=0)
sigma = 0.3
rng = np.random.default_rng(0)
noisy = np.clip(X_test + rng.normal(scale=sigma, size=X_test.shape), 0, 1)


def psnr(images, clean):
    """Peak signal-to-noise ratio in dB, for pixels in [0, 1]."""
    return 10 * np.log10(1 / np.mean((images - clean) ** 2))


# %%
# Plain and denoising autoencoders, otherwise identical
# ------------------------------------------------------
params = dict(n_components=128, max_iter=100, random_state=0)
plain = SparseAutoencoderTransformer(**params).fit(X_train)
denoising = SparseAutoencoderTransformer(
    corruption="gaussian", corruption_level=sigma, **params
).fit(X_train)

print(f"{'noisy input:':<23} {psnr(noisy, X_test):.1f} dB")
for name, model in [("plain", plain), ("denoising", denoising)]:
    denoised = model.inverse_transform(model.transform(noisy))
    print(f"{name + ' autoencoder:':<23} {psnr(denoised, X_test):.1f} dB")

# %%
# Noisy digits in, clean digits out
# ---------------------------------
# Rows: the noisy input, the denoising autoencoder's output, the clean digit.
display = ReconstructionDisplay.from_estimator(
    denoising, noisy, clean=X_test, n_samples=8, image_shape=(8, 8)
)
display.figure_.suptitle("Denoising autoencoder")
plt.show()
