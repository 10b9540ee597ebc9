"""The documentation covers the package: every public name has an API page,
every gallery script is a sphinx-gallery example, every guide page is linked.

The site itself is built by CI (``sphinx-build -W docs docs/_build``); these
checks keep the sources complete without building it.
"""

import ast
import re
from pathlib import Path

import pytest

import skl_sae
import skl_sae.plot

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
GALLERY = sorted((ROOT / "examples").glob("plot_*.py"))


def autosummary_entries():
    text = (DOCS / "api.rst").read_text()
    return set(re.findall(r"^   (\w+)$", text, flags=re.MULTILINE))


@pytest.mark.parametrize("module", [skl_sae, skl_sae.plot], ids=lambda m: m.__name__)
def test_every_public_name_has_an_api_page(module):
    public = {name for name in module.__all__ if not name.startswith("_")}
    assert public <= autosummary_entries()


def test_every_user_guide_page_is_in_its_toctree():
    guide = DOCS / "user_guide"
    index = (guide / "index.rst").read_text()
    pages = {path.stem for path in guide.glob("*.rst")} - {"index"}
    assert pages
    for page in pages:
        assert re.search(rf"^   {page}$", index, flags=re.MULTILINE), page


@pytest.mark.parametrize("path", GALLERY, ids=lambda path: path.name)
def test_gallery_scripts_have_a_title_and_cells(path):
    source = path.read_text()
    docstring = ast.get_docstring(ast.parse(source))
    assert docstring, "sphinx-gallery takes the page's title from the docstring"
    title, underline = docstring.splitlines()[:2]
    assert set(underline) == {"="} and len(underline) >= len(title)
    assert "# %%" in source, "text and code alternate in # %% cells"


def test_the_gallery_has_its_header():
    header = (ROOT / "examples" / "README.txt").read_text()
    assert header.splitlines()[1].startswith("===")
