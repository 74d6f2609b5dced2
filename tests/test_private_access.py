"""No test reaches into a product module's private names: tests use the public API.

The rule, checked on the syntax of every tests/**/*.py: a name is private when it starts with
one underscore and is not a dunder (`_as_text`, not `__file__`). A test must not
- import a private name, or anything from a private module, of a product package
  (`from training.cleaning import _as_text`, `import sagestack._internal`);
- read, patch or pass a private attribute of something it imported from a product package
  (`cleaning._as_text`, `App._stats`, `monkeypatch.setattr(cleaning, "_as_text", ...)`,
  `getattr(local, "_name")`): monkeypatching a private attribute is access too;
- pass a call a dotted path to a private attribute of a product module
  (`monkeypatch.setattr("training.cleaning._as_text", ...)`, `mock.patch("...")`).
Private names of test modules and test support code are fine, and so are attributes of
instances (which syntax cannot trace to a product class).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import pytest

from tests.conftest import REPO

PRODUCT_PACKAGES = ("training", "inference", "infra", "sagestack", "contracts")
_DOTTED_PRIVATE = re.compile(
    rf"\b(?:{'|'.join(PRODUCT_PACKAGES)})(?:\.\w+)*\.(_(?!_)\w*)", re.ASCII
)


@dataclass(frozen=True)
class Access:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_product(module: str) -> bool:
    return module.split(".")[0] in PRODUCT_PACKAGES


def _root(node: ast.expr) -> str | None:
    """The name an attribute chain starts from: `a` for `a.b.c`."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def private_accesses(source: str, path: str) -> list[Access]:
    tree = ast.parse(source, path)
    found: list[Access] = []
    # Names this module bound to a product module or to something imported from one.
    product_names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not _is_product(alias.name):
                    continue
                product_names.add(alias.asname or alias.name.split(".")[0])
                if any(is_private(part) for part in alias.name.split(".")):
                    found.append(Access(path, node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not _is_product(node.module):
                continue
            private_module = any(is_private(part) for part in node.module.split("."))
            for alias in node.names:
                product_names.add(alias.asname or alias.name)
                if private_module or is_private(alias.name):
                    found.append(
                        Access(path, node.lineno, f"from {node.module} import {alias.name}")
                    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            if _root(node.value) in product_names:
                found.append(Access(path, node.lineno, f"{ast.unparse(node)}"))
        elif isinstance(node, ast.Call):
            # setattr/getattr/monkeypatch.setattr/patch.object(product_thing, "_private", ...)
            for target, name in zip(node.args, node.args[1:], strict=False):
                if _root(target) in product_names and is_private(_text(name) or ""):
                    found.append(Access(path, node.lineno, ast.unparse(node)[:120]))
            # monkeypatch.setattr("product.module._private", ...), mock.patch("...")
            for argument in node.args:
                for match in _DOTTED_PRIVATE.finditer(_text(argument) or ""):
                    found.append(Access(path, node.lineno, f"{match.group(0)!r} in a call"))
    return found


def _text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def test_no_test_reaches_into_a_product_modules_private_names() -> None:
    found = [
        str(access)
        for path in sorted((REPO / "tests").rglob("*.py"))
        for access in private_accesses(
            path.read_text(encoding="utf-8"), str(path.relative_to(REPO))
        )
    ]
    assert not found, "tests use private names of product modules:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "from training.cleaning import _as_text",
        "from training._internal import thing",
        "import sagestack._internal",
        "from training import cleaning\ncleaning._as_text(x)",
        "import training.cleaning\ntraining.cleaning._as_text(x)",
        "from inference.app import App\nApp._stats",
        "from training import cleaning as c\nmonkeypatch.setattr(c, '_as_text', f)",
        "from sagestack import local\ngetattr(local, '_new_run_dir')",
        "monkeypatch.setattr('training.cleaning._as_text', f)",
        "mock.patch('inference.app._y')",
    ],
)
def test_each_kind_of_private_access_is_caught(source: str) -> None:
    assert private_accesses(source, "t.py")


@pytest.mark.parametrize(
    "source",
    [
        "from training.cleaning import clean_evaluation_frame",
        "from tests.inference.test_predictor import _helper",
        "def _helper(): pass\n_helper()",
        "from sagestack import layout\nlayout.__file__",
        "server._queue.get()",
        "from pulumi.runtime.sync_await import _sync_await",
        "monkeypatch.setattr(os, '_exit', f)",
        "'training.cleaning.clean_evaluation_frame'",
    ],
)
def test_public_names_and_test_helpers_pass(source: str) -> None:
    assert private_accesses(source, "t.py") == []
