"""A SageMaker-shaped training directory on disk, laid out as SageMaker lays out /opt/ml.

Local mode and the tests use it to run the training entrypoint exactly as a training job would:
`input/config/*.json`, `input/data/<channel>/`, and the empty `model/` and `output/` folders.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

HOST = "algo-1"


@dataclass(frozen=True)
class TrainingJobLayout:
    base: Path

    @classmethod
    def create(
        cls,
        base: Path,
        hyperparameters: Mapping[str, object],
        channels: Mapping[str, Iterable[Path]],
        *,
        input_mode: str = "File",
    ) -> TrainingJobLayout:
        """Lay out base/ for a job; hyperparameter values are passed as SageMaker does (text)."""
        layout = cls(base)
        config = base / "input" / "config"
        config.mkdir(parents=True, exist_ok=True)
        (base / "model").mkdir(parents=True, exist_ok=True)
        (base / "output" / "data").mkdir(parents=True, exist_ok=True)
        layout.write_hyperparameters(hyperparameters)
        for name, files in channels.items():
            layout.add_channel(name, files)
        _write_json(
            config / "inputdataconfig.json",
            {
                name: {
                    "TrainingInputMode": input_mode,
                    "S3DistributionType": "FullyReplicated",
                    "RecordWrapperType": "None",
                }
                for name in channels
            },
        )
        _write_json(
            config / "resourceconfig.json",
            {"current_host": HOST, "hosts": [HOST], "network_interface_name": "eth0"},
        )
        return layout

    def write_hyperparameters(self, hyperparameters: Mapping[str, object]) -> None:
        as_text = {key: _as_text(value) for key, value in hyperparameters.items()}
        _write_json(self.base / "input" / "config" / "hyperparameters.json", as_text)

    def add_channel(self, name: str, files: Iterable[Path]) -> Path:
        directory = self.base / "input" / "data" / name
        directory.mkdir(parents=True, exist_ok=True)
        for file in files:
            shutil.copy2(file, directory / file.name)
        return directory

    @property
    def model_dir(self) -> Path:
        return self.base / "model"

    @property
    def output_data_dir(self) -> Path:
        return self.base / "output" / "data"

    @property
    def failure_file(self) -> Path:
        return self.base / "output" / "failure"


def _as_text(value: object) -> str:
    """SageMaker's API takes every hyperparameter as a string."""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return json.dumps(value)


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
