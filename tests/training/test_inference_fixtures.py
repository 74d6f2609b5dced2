"""The inference tests' committed model directories still have the shape training writes:
the same files, the same versions, the same keys. A change to the artifact's contract fails
here until the fixtures are rebuilt (python -m tests.training.inference_fixtures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contracts.artifact import EXPLAINER_FILE, PARAMETERS_FILE, SCHEMA_FILE
from tests.training.inference_fixtures import FIXTURES, SPECS, TrainedFixture

# Well under a megabyte: the fixtures are committed, and read on every inference test run.
MAX_FIXTURE_BYTES = 500_000
VERSION_KEYS = {
    SCHEMA_FILE: "format_version",
    PARAMETERS_FILE: "version",
    EXPLAINER_FILE: "version",
}

BuiltFixtures = tuple[Path, dict[str, TrainedFixture]]


def _shape(value: Any) -> Any:
    """The keys of every object, however deep; lists by the shapes of their items."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        shapes = {json.dumps(_shape(item), sort_keys=True) for item in value}
        return sorted(shapes)
    return None


def _files(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_every_fixture_is_committed() -> None:
    assert sorted(path.name for path in FIXTURES.iterdir()) == sorted(SPECS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SPECS))
def test_committed_fixture_has_the_files_training_writes(
    built_fixtures: BuiltFixtures, name: str
) -> None:
    built, _ = built_fixtures
    assert _files(FIXTURES / name) == _files(built / name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("file", sorted(VERSION_KEYS))
def test_committed_fixture_has_trainings_versions_and_keys(
    built_fixtures: BuiltFixtures, name: str, file: str
) -> None:
    built, _ = built_fixtures
    committed = json.loads((FIXTURES / name / "model" / file).read_text())
    current = json.loads((built / name / "model" / file).read_text())
    key = VERSION_KEYS[file]
    assert committed[key] == current[key], f"{name}/{file}: rebuild the fixtures"
    assert _shape(committed) == _shape(current), f"{name}/{file}: rebuild the fixtures"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SPECS))
def test_committed_answers_have_the_builders_keys(built_fixtures: BuiltFixtures, name: str) -> None:
    built, _ = built_fixtures
    committed = json.loads((FIXTURES / name / "expected.json").read_text())
    current = json.loads((built / name / "expected.json").read_text())
    assert _shape(committed) == _shape(current)


def test_fixtures_stay_small() -> None:
    total = sum(path.stat().st_size for path in FIXTURES.rglob("*") if path.is_file())
    assert total <= MAX_FIXTURE_BYTES
