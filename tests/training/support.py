"""Running the training entrypoint as SageMaker does: a process in a SageMaker-shaped folder."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sagestack.layout import TrainingJobLayout
from sagestack.processes import container_path

# The image puts training/bin/train on the PATH and SageMaker runs `train`; so do the tests,
# with this environment's Python first on the PATH as the image's is.
REPO = Path(__file__).resolve().parents[2]
TRAIN_COMMAND = ["train"]
CONTAINER_PATH = container_path()
_METRIC = re.compile(r"^metric (\w+):(\w+)=(\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class TrainRun:
    returncode: int
    stdout: str
    stderr: str
    layout: TrainingJobLayout

    @property
    def failure(self) -> str | None:
        path = self.layout.failure_file
        return path.read_text(encoding="utf-8") if path.exists() else None

    @property
    def model_files(self) -> list[str]:
        return sorted(path.name for path in self.layout.model_dir.iterdir())

    def evaluation(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads(
            (self.layout.output_data_dir / "evaluation.json").read_text()
        )
        return report

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = json.loads((self.layout.model_dir / "schema.json").read_text())
        return schema

    def metrics(self) -> dict[str, float]:
        return {
            f"{split}:{name}": float(value) for split, name, value in _METRIC.findall(self.stdout)
        }

    def explain(self) -> str:
        return (
            f"exit {self.returncode}\n--- stdout\n{self.stdout[-3000:]}"
            f"\n--- stderr\n{self.stderr[-3000:]}"
        )


def run_train(
    layout: TrainingJobLayout, command: list[str] | None = None, timeout: float = 180
) -> TrainRun:
    environment = container_environment(layout.base)
    completed = subprocess.run(
        command or TRAIN_COMMAND,
        env=environment,
        cwd=layout.base,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return TrainRun(completed.returncode, completed.stdout, completed.stderr, layout)


def container_environment(base: Path) -> dict[str, str]:
    return {**os.environ, "PATH": CONTAINER_PATH, "SAGEMAKER_BASE_DIR": str(base)}


def assert_failed(run: TrainRun, *fragments: str) -> str:
    """The run failed the SageMaker way: non-zero exit, a reason, and no model."""
    assert run.returncode != 0, run.explain()
    assert run.failure is not None, f"no output/failure written\n{run.explain()}"
    assert run.model_files == [], f"model/ is not empty: {run.model_files}"
    first_kb = run.failure[:1024]
    for fragment in fragments:
        assert fragment in first_kb, f"{fragment!r} not in the failure reason:\n{run.failure}"
    return run.failure


def mixed_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """Numeric, text and bool features with missing values; the label depends on all of them."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=rows)
    x2 = rng.normal(loc=5, scale=2, size=rows)
    colour = rng.choice(["red", "green", "blue"], size=rows)
    flag = rng.random(rows) < 0.3
    score = 1.5 * x1 - 0.8 * (x2 - 5) + (colour == "red") * 1.2 - flag * 0.7
    label = np.where(score + rng.normal(scale=0.5, size=rows) > 0, "yes", "no")
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(rows),
            "x1": x1,
            "x2": x2,
            "colour": colour,
            "flag": flag,
            "label": label,
        }
    )
    frame.loc[rng.random(rows) < 0.1, "x1"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "colour"] = None
    return frame


def multiclass_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    features, labels = make_classification(
        n_samples=rows,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        class_sep=2.0,
        random_state=seed,
    )
    frame = pd.DataFrame(features, columns=[f"f{index}" for index in range(6)])
    frame["species"] = np.array(["setosa", "versicolor", "virginica"])[labels]
    return frame
