"""The package layout keeps its promises: data flows one way through the stages, no import
circles, and no module grows past what a reader takes in at once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.commands import ROOT

PACKAGES = ("trainables", "search_spaces", "analysis")
#: Layers in the order data flows; a module may import from its own layer and lower ones.
LAYERS = (
    "trainables",  # the shared core: keys, registers, image size, errors, tracking URI
    "trainables.data",
    "trainables.features",
    "trainables.model",
    "trainables.training",
    "trainables.serving",
    "search_spaces",
    "analysis",
)
#: The name models logged before the stage packages import (a re-export of serving's).
COMPATIBILITY = {"trainables.sheet_model": "trainables.serving"}
MAX_LINES = 350


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def product_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def layer_of(module: str) -> int:
    module = COMPATIBILITY.get(module, module)
    matches = [
        i for i, layer in enumerate(LAYERS) if module == layer or module.startswith(layer + ".")
    ]
    return max(matches)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The project's modules `path` imports, at any depth (lazy imports included), except
    under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name in known}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = product_modules()
    return {name: imported_modules(path, set(modules)) - {name} for name, path in modules.items()}


def test_no_module_imports_from_a_later_stage(graph):
    upward = [
        f"{module} ({LAYERS[layer_of(module)]}) imports {target} ({LAYERS[layer_of(target)]})"
        for module, targets in graph.items()
        for target in targets
        if layer_of(target) > layer_of(module)
    ]
    assert upward == []


def test_the_imports_have_no_circle(graph):
    """Depth-first search for a back edge; a circle is named by its modules."""
    state: dict[str, str] = {}
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_the_checks_see_a_violation(tmp_path):
    """The import reader finds lazy imports and skips TYPE_CHECKING-only ones."""
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from analysis.report import Report\n"
        "def f():\n    from search_spaces.study import load_study\n"
    )
    assert imported_modules(source, {"analysis.report", "search_spaces.study"}) == {
        "search_spaces.study"
    }
    assert layer_of("trainables.data.audio") < layer_of("trainables.model.net")
    assert layer_of("trainables.sheet_model") == layer_of("trainables.serving.sheet_model")


def test_no_module_is_longer_than_a_sitting():
    long = {
        name: lines
        for name, path in product_modules().items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_every_module_says_its_purpose_first():
    missing = [
        name
        for name, path in product_modules().items()
        if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert missing == []
