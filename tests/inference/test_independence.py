"""The inference tests run without the training package: they serve committed fixtures."""

from __future__ import annotations

import ast
from pathlib import Path

# Training's code and the libraries only the training image has.
TRAINING_SIDE = ("training", "tests.training", "sklearn", "joblib", "skl2onnx")


def _imports(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_no_inference_test_imports_the_training_side() -> None:
    found = {
        f"{path.name}: {module}"
        for path in Path(__file__).parent.rglob("*.py")
        for module in _imports(path)
        if any(module == side or module.startswith(f"{side}.") for side in TRAINING_SIDE)
    }
    assert not found, found
