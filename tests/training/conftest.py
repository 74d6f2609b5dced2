"""Fixtures shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.inference_fixtures import TrainedFixture, build


@pytest.fixture(scope="session")
def built_fixtures(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, TrainedFixture]]:
    """tests/inference/fixtures/ as the current training code builds it, into a temporary
    folder; with each training run (and its real model.joblib) by name."""
    root = tmp_path_factory.mktemp("inference-fixtures")
    return root / "fixtures", build(root / "fixtures", root / "training")
