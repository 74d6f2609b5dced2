"""Capture files as SageMaker writes them, written here independently of the product code.

The record shape and the key layout are AWS's ("Capture data from real-time endpoint", View
captured data): s3://<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl, one JSON object
a line with captureData.endpointInput/endpointOutput and eventMetadata.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from inference.artifact import load_schema
from inference.codecs import encode
from tests.conftest import REPO

ENDPOINT = "sagestack-dev"
VARIANT = "primary"


def record(
    when: datetime,
    data: str,
    *,
    content_type: str = "text/csv",
    encoding: str = "CSV",
    output: str = "",
    output_type: str = "application/json",
    output_encoding: str = "JSON",
    event_id: str = "",
) -> str:
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": content_type,
                    "mode": "INPUT",
                    "data": data,
                    "encoding": encoding,
                },
                "endpointOutput": {
                    "observedContentType": output_type,
                    "mode": "OUTPUT",
                    "data": output,
                    "encoding": output_encoding,
                },
            },
            "eventMetadata": {
                "eventId": event_id,
                "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "eventVersion": "0",
        }
    )


def write_lines(root: Path, when: datetime, lines: list[str], name: str = "part") -> Path:
    folder = root / ENDPOINT / VARIANT / when.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{when.strftime('%M-%S')}-{name}.jsonl"
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))
    return path


@dataclass
class Model:
    model_dir: Path
    features: pd.DataFrame  # training rows, schema order
    labels: pd.Series

    def answers(self, frame: pd.DataFrame) -> list[str]:
        """The server's JSON answer for each row, from the fitted pipeline and its encoder."""
        schema = load_schema(self.model_dir / "schema.json")
        pipeline = joblib.load(self.model_dir / "model.joblib")
        probabilities = pipeline.predict_proba(frame)
        classes = list(schema.classes)
        labels = [classes[i] for i in np.argmax(probabilities, axis=1)]
        return [
            encode("application/json", [label], probabilities[i : i + 1], classes).decode()
            for i, label in enumerate(labels)
        ]


def csv_row(values: Any) -> str:
    return ",".join("" if v is None or v != v else str(v) for v in values)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def run_monitor(
    *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inference", "monitor", *arguments],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())
