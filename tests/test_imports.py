"""How the package's modules import each other: no circle, and torch below scikit-learn."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skl_sae"

#: The torch layer: these import no module of the package outside this set,
#: and nothing of scikit-learn but what :data:`ALLOWED_SKLEARN` allows.
TORCH_LAYER = {
    "skl_sae._warnings",  # (the standard library's warnings, at the user's line)
    "skl_sae._functional",
    "skl_sae._sparse",
    "skl_sae._codes",
    "skl_sae._statistics",
    "skl_sae._layers",
    "skl_sae._modules",
    "skl_sae._fused",
    "skl_sae._fused_sparse",
    "skl_sae._fused_classifier",
    "skl_sae._losses",
}

#: Modules that import nothing of scikit-learn but what :data:`ALLOWED_SKLEARN`
#: allows (their other imports of the package may): the torch layer, the loop,
#: the trainer and the pre-training of stacks.
NO_SKLEARN = TORCH_LAYER | {"skl_sae._training", "skl_sae._trainer", "skl_sae._pretraining"}

#: What of scikit-learn those may import: its warnings and validation utilities.
ALLOWED_SKLEARN = {
    "sklearn.exceptions",
    "sklearn.utils.validation",
    "sklearn.utils._param_validation",
}


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    """``{module name: path}`` of every module of the package."""
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(name, path, known):
    """The modules that the file imports anywhere in it (function bodies
    included), as ``(module, line)``: the package's own by their full names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module
            else:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            # ``from . import _fused`` imports a module; ``from ._codes import TopK``
            # (or ``from . import SparseAutoencoderTransformer``) a name of ``base``.
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append((submodule if submodule in known else base, node.lineno))
    return found


def import_graph():
    """``{module: {imported module of the package: line}}``."""
    known = modules()
    graph = {}
    for name, path in known.items():
        graph[name] = {
            target: line
            for target, line in imports(name, path, known)
            if target in known and target != name
        }
    return graph


def find_cycle(graph):
    """A list of modules that import each other in a circle, or None."""
    state = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target, path)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node, [])):
            return cycle
    return None


def test_the_modules_import_each_other_without_a_circle():
    graph = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(
        f"{a} (line {graph[a][b]})" for a, b in zip(cycle[:-1], cycle[1:], strict=True)
    )


def test_the_circle_finder_finds_a_circle():
    assert find_cycle({"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}, "c": {"a": 3, "b": 4}}) is None


def test_the_graph_sees_imports_inside_functions(tmp_path):
    (tmp_path / "pkg").mkdir()
    path = tmp_path / "pkg" / "_a.py"
    path.write_text("def f():\n    from . import _b\n    from ._c import g\n")
    known = {"pkg._a": path, "pkg._b": None, "pkg._c": None}
    targets = {target for target, _ in imports("pkg._a", path, known)}
    assert {"pkg._b", "pkg._c"} <= targets


@pytest.mark.parametrize("name", sorted(TORCH_LAYER))
def test_the_torch_layer_imports_only_the_torch_layer(name):
    outside = set(import_graph()[name]) - TORCH_LAYER
    assert not outside, f"{name} imports {sorted(outside)}, outside the torch layer"


@pytest.mark.parametrize("name", sorted(NO_SKLEARN))
def test_torch_level_modules_import_nothing_of_sklearn_but_warnings_and_validation(name):
    known = modules()
    if name not in known:
        pytest.skip(f"{name} does not exist")
    sklearn = {
        target
        for target, _ in imports(name, known[name], known)
        if target == "sklearn" or target.startswith("sklearn.")
    }
    assert sklearn <= ALLOWED_SKLEARN, f"{name} imports {sorted(sklearn - ALLOWED_SKLEARN)}"
