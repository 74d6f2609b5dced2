"""Each contract string is written once, in contracts/, and the product code imports it."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import contracts.artifact
import contracts.cloudwatch
import contracts.container
import contracts.hyperparameters
import contracts.json_text
import contracts.json_values
import contracts.metrics
from tests.conftest import REPO

MODULES = (
    contracts.artifact,
    contracts.cloudwatch,
    contracts.container,
    contracts.hyperparameters,
    contracts.json_text,
    contracts.json_values,
    contracts.metrics,
)
# The code on both sides of the import wall, and the benchmarks that drive it (tests may
# restate a contract: a test that spells the value out checks it independently).
PRODUCT = ("infra", "training", "inference", "sagestack", "benchmarks")
# Words too common to be a contract on their own: the same text means other things elsewhere
# (a split named "test", a JSON key "numeric" in predictor.json, the project's own name).
COMMON_WORDS = frozenset(
    {"train", "test", "validation", "numeric", "categorical", "sagestack", "summary", "event"}
    | {"endpoint", "variant"}
)


def _literals(module: ModuleType) -> dict[str, str]:
    """Each public constant's source form: a quoted string, or a tuple's quoted items."""
    found = {}
    for name, value in vars(module).items():
        if not name.isupper():
            continue
        if isinstance(value, str) and value not in COMMON_WORDS:
            found[f"{module.__name__}.{name}"] = f'"{value}"'
        elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            found[f"{module.__name__}.{name}"] = ", ".join(f'"{v}"' for v in value)
    return found


def _product_files() -> list[Path]:
    # A folder renamed or moved would otherwise be skipped in silence (rglob finds nothing).
    missing = [folder for folder in PRODUCT if not (REPO / folder / "__init__.py").is_file()]
    assert not missing, f"PRODUCT names folders that are not packages: {missing}"
    return sorted(path for folder in PRODUCT for path in (REPO / folder).rglob("*.py"))


def test_the_contract_literals_are_nowhere_else_in_the_product_code() -> None:
    literals = {name: text for module in MODULES for name, text in _literals(module).items()}
    # The test reads the constants it guards: a new one is guarded as soon as it is added.
    assert '"model.joblib"' in literals.values()
    assert '"SAGESTACK_ENDPOINT_NAME"' in literals.values()
    assert '"accuracy", "precision", "recall", "f1", "roc_auc"' in literals.values()
    copies = [
        f"{path.relative_to(REPO)}:{number}: {text} (use {name})"
        for path in _product_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for name, text in literals.items()
        if text in line
    ]
    assert not copies, "contract strings written again outside contracts/:\n" + "\n".join(copies)


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_imports_only_the_standard_library(module: ModuleType) -> None:
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0
    }
    outside = imported - set(sys.stdlib_module_names) - {"__future__", "contracts"}
    assert not outside, f"{module.__name__} imports {sorted(outside)}"


def test_the_package_imports_without_site_packages() -> None:
    # -S: no site-packages at all, as in an image that copied contracts/ and nothing else.
    names = ", ".join(module.__name__ for module in MODULES)
    done = subprocess.run(
        [sys.executable, "-S", "-c", f"import {names}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_every_module_is_guarded() -> None:
    on_disk = {path.stem for path in (REPO / "contracts").glob("*.py")} - {"__init__"}
    # validation.py belongs to the config branch: it holds functions, not contract strings.
    assert on_disk - {"validation"} == {module.__name__.split(".")[1] for module in MODULES}


# (module, name it uses, the contracts object): pairs that used to be two literals kept equal
# by nothing, or by a test of equal values.
PAIRS = (
    ("infra.config", "ALGORITHMS", contracts.hyperparameters.ALGORITHMS),
    ("training.hyperparameters", "ALGORITHMS", contracts.hyperparameters.ALGORITHMS),
    ("infra.config", "GATED_METRICS", contracts.metrics.GATED_METRICS),
    ("training.hyperparameters", "GATED_METRICS", contracts.metrics.GATED_METRICS),
    ("inference.monitoring.contract", "QUALITY_METRICS", contracts.metrics.GATED_METRICS),
    ("infra.training_job", "METRIC_NAMES", contracts.metrics.METRIC_NAMES),
    ("infra.training_job", "TRAIN_CHANNEL", contracts.container.TRAIN_CHANNEL),
    ("training.entrypoint", "TRAIN_CHANNEL", contracts.container.TRAIN_CHANNEL),
    ("infra.model_monitor", "MONITOR_END_ENV", contracts.container.MONITOR_END_ENV),
    ("inference.monitoring.contract", "END_ENV", contracts.container.MONITOR_END_ENV),
    ("infra.serving", "ENDPOINT_NAME_ENV", contracts.container.ENDPOINT_NAME_ENV),
    ("inference.environment", "ENDPOINT_NAME_ENV", contracts.container.ENDPOINT_NAME_ENV),
    ("infra.monitoring", "SUMMARY_METRICS", contracts.cloudwatch.SUMMARY_METRICS),
    ("inference.app", "SERVER_ERRORS_FIELD", contracts.cloudwatch.SERVER_ERRORS_FIELD),
    ("infra.alarm_specs", "CUSTOM_NAMESPACE", contracts.cloudwatch.NAMESPACE),
    ("inference.monitoring.metrics", "NAMESPACE", contracts.cloudwatch.NAMESPACE),
    ("training.entrypoint", "SCHEMA_FILE", contracts.artifact.SCHEMA_FILE),
    ("inference.artifact", "SCHEMA_FILE", contracts.artifact.SCHEMA_FILE),
    ("sagestack.verify", "SCHEMA_FILE", contracts.artifact.SCHEMA_FILE),
)


@pytest.mark.parametrize(
    ("module", "name", "shared"), PAIRS, ids=[f"{module}.{name}" for module, name, _ in PAIRS]
)
def test_both_sides_of_each_pair_use_the_contracts_object(
    module: str, name: str, shared: object
) -> None:
    assert vars(importlib.import_module(module))[name] is shared
