"""Models trained once per session by the training entrypoint, for `monitor` to judge."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sagestack.layout import TrainingJobLayout
from tests.conftest import SAMPLE_DATASET
from tests.monitoring.support import Model
from tests.training.support import mixed_frame
from training.entrypoint import run as run_training
from training.environment import TrainingPaths


def _train(root: Path, frame: pd.DataFrame, hp: dict[str, str]) -> Model:
    source = root / "data"
    source.mkdir(parents=True)
    cut = int(len(frame) * 0.8)
    frame.iloc[:cut].to_csv(source / "train.csv", index=False)
    frame.iloc[cut:].to_csv(source / "test.csv", index=False)
    layout = TrainingJobLayout.create(
        root / "job", hp, {"train": [source / "train.csv"], "test": [source / "test.csv"]}
    )
    run_training(TrainingPaths(layout.base))
    train = pd.read_csv(source / "train.csv")
    target = hp["target"]
    names = [c for c in train.columns if c not in (target, hp.get("id_columns"))]
    return Model(layout.model_dir, train[names], train[target])


@pytest.fixture(scope="session")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Model:
    frame = pd.read_csv(SAMPLE_DATASET).sample(frac=1.0, random_state=0)
    return _train(tmp_path_factory.mktemp("binary"), frame, {"target": "target"})


@pytest.fixture(scope="session")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Model:
    return _train(
        tmp_path_factory.mktemp("mixed"),
        mixed_frame(3000, seed=5),
        {"target": "label", "id_columns": "customer_id"},
    )
