"""README.md and the manual (docs/) document what the code does: commands, hyperparameters,
metric format, config keys, stack outputs."""

from __future__ import annotations

import re

import pytest

from contracts.metrics import metric_regex
from tests.conftest import REPO
from training.hyperparameters import DEFAULTS, SPECS

README = (REPO / "README.md").read_text()
TRAINING = (REPO / "docs" / "training.md").read_text()


def _hyperparameter_rows() -> dict[str, str]:
    section = TRAINING.split("## Hyperparameters", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", section, re.MULTILINE))


def test_every_hyperparameter_is_documented_once() -> None:
    assert sorted(_hyperparameter_rows()) == sorted(SPECS)


@pytest.mark.parametrize("key", sorted(SPECS))
def test_documented_default_is_the_real_default(key: str) -> None:
    documented = _hyperparameter_rows()[key].strip("`")
    default = getattr(DEFAULTS, key)
    if default is None:
        assert documented == "none"
    elif default == ():
        assert documented == "(none)"
    else:
        assert documented == str(default)


def test_the_two_commands_come_first() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make local", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    lines = [
        line
        for line in (REPO / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[-1] == "make test"


def test_documented_metric_regex_is_the_real_one() -> None:
    assert f"`{metric_regex('test', 'f1')}`" in TRAINING


def test_every_make_target_in_the_readme_and_the_manual_exists() -> None:
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", makefile, re.MULTILINE))
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"`make ([a-z-]+)`", page.read_text()):
            assert target in targets, (page.name, target)


def test_outputs_table_is_the_stack_output_contract() -> None:
    from infra.outputs import OUTPUT_NAMES

    section = README.split("## Outputs", 1)[1].split("\n## ", 1)[0]
    assert tuple(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE)) == OUTPUT_NAMES
