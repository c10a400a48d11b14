"""The code keeps the shape docs/ARCHITECTURE.md describes: packages by concept, short modules and functions."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "waestyle"
MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_top_of_the_package_is_a_handful_of_concepts():
    entries = {path.name for path in PACKAGE.iterdir() if path.name != "__pycache__"}
    assert entries == {"__init__.py", "__main__.py", "assets", "core", "features", "models", "data", "training",
                       "stylize", "evaluation", "cli", "web"}  # fmt: skip


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_modules_and_functions_stay_short(path):
    source = path.read_text()
    assert len(source.splitlines()) <= 400, "split the module along its concepts"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            assert length <= 60, f"{node.name} is {length} lines: split it along its steps"
