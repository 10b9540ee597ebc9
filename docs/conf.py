"""Sphinx configuration: API pages from the numpydoc docstrings."""

import skl_sae

project = "skl_sae"
release = version = skl_sae.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
]
autosummary_generate = True
numpydoc_show_class_members = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
# Docstrings inherited from scikit-learn (e.g. ClassifierMixin.score) refer to
# labels of scikit-learn's own documentation, which this offline build lacks.
suppress_warnings = ["ref.ref"]
