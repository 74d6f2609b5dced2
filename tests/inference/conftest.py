"""Models to serve, from the committed fixtures, and the real server as a process.

tests/inference/fixtures/ holds one small model directory per kind of model, as the training
image writes it, with its held-out rows and scikit-learn's answers on them (expected.json):
the inference tests need neither a training run nor scikit-learn. They are rebuilt with
`python -m tests.training.inference_fixtures`, and tests/training checks they still match
what training writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from inference.artifact import Feature, Schema
from sagestack.processes import container_path

SERVE_PATH = container_path()
FIXTURES = Path(__file__).with_name("fixtures")


@dataclass(frozen=True)
class TrainedModel:
    name: str
    base: Path
    # Held-out rows, raw, in the schema's feature order, with their true labels.
    features: pd.DataFrame
    labels: pd.Series

    @property
    def model_dir(self) -> Path:
        return self.base / "model"

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = json.loads((self.model_dir / "schema.json").read_text())
        return schema

    def expected(self) -> dict[str, Any]:
        """scikit-learn's answers on the held-out rows: labels, probabilities and, for a linear
        model, each row's explanation (class, score, contributions, scale)."""
        expected: dict[str, Any] = json.loads((self.base / "expected.json").read_text())
        return expected


def _load(fixture: Path, base: Path) -> TrainedModel:
    # A copy, so that no test can change the committed files.
    shutil.copytree(fixture, base)
    schema = json.loads((base / "model" / "schema.json").read_text())
    names = [feature["name"] for feature in schema["features"]]
    held_out = pd.read_csv(base / "held_out.csv")
    return TrainedModel(fixture.name, base, held_out[names], held_out[schema["target"]])


def make_schema(kinds: dict[str, str], classes: tuple[Any, ...] = (0, 1)) -> Schema:
    """A schema for unit tests: features (name -> numeric/categorical) in order, no samples."""
    return Schema(
        features=tuple(Feature(name, kind) for name, kind in kinds.items()),
        classes=classes,
        target="y",
        sample_rows=(),
        sample_predictions=(),
        sample_probabilities=(),
        raw={},
    )


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TrainedModel]:
    root = tmp_path_factory.mktemp("models")
    return {
        fixture.name: _load(fixture, root / fixture.name)
        for fixture in sorted(FIXTURES.iterdir())
        if (fixture / "model").is_dir()
    }


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue[str] = field(default_factory=queue.Queue)
    _reader: threading.Thread | None = None

    def close(self) -> None:
        """Stop the server and its workers (SIGTERM, then SIGKILL), and release the pipe."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
        # The workers are in the server's process group: none may outlive the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if self._reader is not None:
            self._reader.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._collect()

    def log_records(self) -> list[dict[str, Any]]:
        self._collect()
        records = []
        for line in self.lines:
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
        return records

    def wait_for_log(self, predicate: Any, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in self.log_records():
                if predicate(record):
                    return record
            time.sleep(0.05)
        raise AssertionError("no such log line; got:\n" + "\n".join(self.lines[-20:]))

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self.close()

    def _collect(self) -> None:
        while True:
            try:
                self.lines.append(self._queue.get_nowait())
            except queue.Empty:
                return


def start_server(
    base: Path, *, workers: int = 1, environment: dict[str, str] | None = None, timeout: float = 30
) -> RunningServer:
    """`serve`, as the image runs it, on a free port; returns once it logs that it listens."""
    env = {
        **os.environ,
        "PATH": SERVE_PATH,
        "SAGEMAKER_BASE_DIR": str(base),
        "SAGEMAKER_BIND_TO_PORT": "0",
        "SAGESTACK_BIND_HOST": "127.0.0.1",
        "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
        **(environment or {}),
    }
    process = subprocess.Popen(
        ["serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    server = RunningServer(process, 0)
    assert process.stdout is not None
    stdout = process.stdout

    def pump() -> None:
        for line in stdout:
            server._queue.put(line.rstrip("\n"))

    server._reader = threading.Thread(target=pump, daemon=True)
    server._reader.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in server.log_records():
            if record.get("message") == "model loaded and checked":
                server.port = int(record["port"])
                return server
        if process.poll() is not None:
            break
        time.sleep(0.02)
    server.close()
    raise AssertionError(
        f"server did not start (exit {process.returncode}):\n" + "\n".join(server.lines)
    )


@pytest.fixture
def serve() -> Iterator[Any]:
    started: list[RunningServer] = []

    def factory(base: Path, **options: Any) -> RunningServer:
        server = start_server(base, **options)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.close()
