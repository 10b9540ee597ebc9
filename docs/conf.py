"""Sphinx configuration: the landing page, the user guide, the API pages from
the numpydoc docstrings and the gallery run from ``examples/``.

Everything builds offline: no intersphinx inventories are fetched, and the
gallery examples use the digits that ship with scikit-learn.
"""

import warnings

import skl_sae

project = "skl_sae"
copyright = "the skl_sae developers"
release = version = skl_sae.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
templates_path = ["_templates"]
numpydoc_show_class_members = False
exclude_patterns = ["_build"]
# Docstrings inherited from scikit-learn (e.g. ClassifierMixin.score or
# set_fit_request) refer to labels and glossary terms of scikit-learn's own
# documentation, which this offline build lacks.
suppress_warnings = ["ref.ref", "ref.term"]

html_theme = "pydata_sphinx_theme"
html_title = f"skl_sae {version}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": []}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "ignore_pattern": r"__init__\.py",
    # A failing example fails the build, like any other warning.
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    # "Examples using this class" on the API pages.
    "doc_module": ("skl_sae",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"skl_sae": None},
    "within_subsection_order": "FileNameSortKey",
}

# Examples train short on purpose; their ConvergenceWarnings are not news.
warnings.filterwarnings("ignore", message=".*without converging.*")
