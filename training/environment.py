"""The SageMaker training container contract: paths and the files only training writes.

Everything the entrypoint reads or writes on disk is named here, or in contracts/ when
inference or infra read it too (the artifact's files, the channels, the variables).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from contracts.container import BASE_DIR_ENV, DEFAULT_BASE_DIR

# File names inside output/data/, beside the artifact's evaluation.json (contracts/artifact.py).
ROC_CURVE_FILE = "roc_curve.png"
CONFUSION_MATRIX_FILE = "confusion_matrix.png"
FEATURE_IMPORTANCE_FILE = "feature_importance.png"

# SageMaker shows this many characters of output/failure as the job's FailureReason.
FAILURE_REASON_LIMIT = 1024


@dataclass(frozen=True)
class TrainingPaths:
    """Where the container finds its inputs and leaves its outputs."""

    base: Path

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> TrainingPaths:
        environ = os.environ if environ is None else environ
        base = environ.get(BASE_DIR_ENV) or str(DEFAULT_BASE_DIR)
        return cls(Path(base))

    @property
    def config_dir(self) -> Path:
        return self.base / "input" / "config"

    @property
    def hyperparameters(self) -> Path:
        return self.config_dir / "hyperparameters.json"

    @property
    def input_data_config(self) -> Path:
        return self.config_dir / "inputdataconfig.json"

    @property
    def resource_config(self) -> Path:
        return self.config_dir / "resourceconfig.json"

    def channel(self, name: str) -> Path:
        return self.base / "input" / "data" / name

    @property
    def model_dir(self) -> Path:
        return self.base / "model"

    @property
    def output_dir(self) -> Path:
        return self.base / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"
