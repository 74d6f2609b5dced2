"""Local mode's monitoring step: the served traffic, captured as SageMaker captures it, judged.

Every row of the dataset is sent to the running server one request at a time (rows repeat
until the window holds enough for a verdict), the requests and the server's answers are
written in the data-capture format and layout, and `monitor` runs over them twice: as sent
(the training distribution: no drift expected), and over a copy whose first few numeric
features are shifted by 1.5 training standard deviations (drift expected on exactly those).
The lines to print say both verdicts, with the report's path.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from contracts.artifact import NUMERIC, SCHEMA_FILE
from sagestack.capture import Exchange, write_capture
from sagestack.processes import container_path

SHIFTED_FEATURES = 3
# The shift: this many training standard deviations, far past any PSI threshold.
SHIFT_STDS = 1.5
ENDPOINT = "local"
VARIANT = "primary"


class MonitorCheckError(Exception):
    """The monitoring step found what it should not (or missed what it should)."""


def check_monitoring(
    run_dir: Path, model_dir: Path, port: int, data_path: Path, target: str
) -> list[str]:
    import pandas as pd

    schema = json.loads((model_dir / SCHEMA_FILE).read_text())
    names = [feature["name"] for feature in schema["features"]]
    numeric = [f for f in schema["features"] if f["kind"] == NUMERIC and f.get("std")]
    frame = pd.read_csv(data_path)
    frame = frame[frame[target].notna()][names].reset_index(drop=True)
    minimum = 600
    repeats = -(-minimum // len(frame))
    frame = pd.concat([frame] * repeats, ignore_index=True)
    shifted_names = [f["name"] for f in numeric[:SHIFTED_FEATURES]]
    shifted = frame.assign(
        **{f["name"]: frame[f["name"]] + SHIFT_STDS * f["std"] for f in numeric[:SHIFTED_FEATURES]}
    )
    end = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    start = end - timedelta(hours=1)
    base = run_dir / "monitoring"
    verdicts = {}
    for label, rows in (("as served", frame), ("shifted", shifted)):
        capture = base / label.replace(" ", "-") / "capture"
        exchanges = _serve(port, rows, start)
        write_capture(capture, ENDPOINT, VARIANT, exchanges)
        result = _monitor(capture, model_dir, capture.parent / "report", start, end)
        verdicts[label] = result
    plain, moved = verdicts["as served"], verdicts["shifted"]
    lines = [
        f"  {len(frame)} requests captured per run, under {_shown(base)}",
        f"  as served: {plain['verdict']}: {plain['verdict_reason']}",
        f"  {', '.join(shifted_names)} shifted by {SHIFT_STDS} std: "
        f"{moved['verdict']}: {moved['verdict_reason']}",
        f"  report: {_shown(base / 'shifted' / 'report' / 'report.md')}",
    ]
    if plain["verdict"] != "no drift":
        raise MonitorCheckError(f"traffic like the training data was judged {plain['verdict']}")
    if sorted(moved["drifted"]) != sorted(shifted_names):
        raise MonitorCheckError(
            f"the shifted features were {shifted_names}, monitor found {moved['drifted']}"
        )
    return lines


def _serve(port: int, frame: Any, start: datetime) -> list[Exchange]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    exchanges = []
    lines = frame.to_csv(index=False, header=False).splitlines()
    step = timedelta(seconds=3000 / max(len(lines), 1))
    for index, line in enumerate(lines):
        connection.request("POST", "/invocations", line, {"Content-Type": "text/csv"})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise MonitorCheckError(f"the endpoint answered {response.status}: {body[:200]!r}")
        exchanges.append(
            Exchange(
                start + step * index + timedelta(seconds=60),
                "text/csv",
                line.encode(),
                response.getheader("Content-Type") or "application/json",
                body,
            )
        )
    connection.close()
    return exchanges


def _monitor(capture: Path, model_dir: Path, output: Path, start: datetime, end: datetime) -> Any:
    environment = {**os.environ, "PATH": container_path()}
    done = subprocess.run(
        [
            "monitor",
            "--capture",
            str(capture),
            "--model",
            str(model_dir),
            "--output",
            str(output),
            "--start",
            start.isoformat(),
            "--end",
            end.isoformat(),
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise MonitorCheckError(f"monitor failed (exit {done.returncode}): {done.stderr[-500:]}")
    return json.loads((output / "statistics.json").read_text())["sagestack"]


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
