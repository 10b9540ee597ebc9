"""Every script in examples/ runs to the end."""

import runpy
from pathlib import Path

import pytest

# The gallery scripts fit real models for minutes in all: run them with -m slow.
pytestmark = pytest.mark.slow

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(path, capsys):
    if path.name.startswith("plot_"):  # gallery scripts draw, off screen here
        matplotlib = pytest.importorskip("matplotlib")
        matplotlib.use("Agg")
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out
    if path.name.startswith("plot_"):
        import matplotlib.pyplot as plt

        assert plt.get_fignums(), "a gallery example draws at least one figure"
        plt.close("all")
