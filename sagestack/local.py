"""`python -m sagestack local`: the whole pipeline on this machine, no AWS, no Docker.

1. Read and validate the stack's config as `pulumi up` would hand it to the program
   (infra.config.load_stack_config: Pulumi.yaml's defaults merged under Pulumi.<stack>.yaml and
   checked as the engine checks them), with the program's own validation: the same
   hyperparameters and quality bar apply.
2. Hold out a stratified test split, lay out a SageMaker-shaped folder under
   .sagestack/runs/<timestamp>/ and run `train` in it as a process, as a training job would.
3. Pack model.tar.gz, unpack it into a hosting folder as SageMaker hosting does, start `serve`
   on 127.0.0.1 and wait for /ping.
4. Send the held-out rows, compare the live endpoint with the training report, time requests.
5. Capture the traffic in SageMaker's data-capture format and run `monitor` over it, as sent
   and with a few features shifted (sagestack/local_monitor.py).
6. Print a curl example and serve until Ctrl-C (with --once: stop and exit 0).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from contracts.artifact import EVALUATION_FILE, MODEL_ARCHIVE
from contracts.container import (
    BASE_DIR_ENV,
    HOST_ENV,
    PORT_ENV,
    TEST_CHANNEL,
    TRAIN_CHANNEL,
    WORKERS_ENV,
)
from contracts.metrics import METRIC_LINE_PREFIX
from sagestack.processes import REPO, container_path, stop_group

RUNS_DIR = REPO / ".sagestack" / "runs"
SHOWN_PREDICTIONS = 5
TIMED_REQUESTS = 200
# The held-out row's largest contributions shown.
SHOWN_CONTRIBUTIONS = 3


class LocalError(Exception):
    """A failure to report in one clear message, with a non-zero exit."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sagestack local", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--stack", default="dev", help="stack whose config to use (default: dev)")
    parser.add_argument("--data", help="a CSV file to train on instead of the stack's dataPath")
    parser.add_argument("--port", type=int, default=8080, help="port to serve on (default: 8080)")
    parser.add_argument(
        "--once", action="store_true", help="stop after the checks instead of serving until Ctrl-C"
    )
    parser.add_argument(
        "--project-dir", type=Path, default=REPO, help="folder of Pulumi.yaml and the stack files"
    )
    parser.add_argument("--runs-dir", type=Path, default=RUNS_DIR, help="where runs are kept")
    arguments = parser.parse_args(argv)
    # Ctrl-C always stops local mode, even when started with SIGINT ignored (a shell's
    # background job, some CI runners): Python then installs no handler of its own.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return run(
            arguments.stack,
            arguments.data,
            arguments.port,
            arguments.once,
            arguments.project_dir,
            arguments.runs_dir,
        )
    except LocalError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr)
        return 130


def run(
    stack: str, data: str | None, port: int, once: bool, project_dir: Path, runs_dir: Path
) -> int:
    started = time.monotonic()
    training = _stack_config(project_dir, stack).training
    data_path = Path(data) if data else project_dir / training.data_path
    if not data and training.data_in_s3:
        raise LocalError(
            f"stack {stack!r} trains on {training.data_path}; local mode reads local files: "
            "pass --data path/to/file.csv"
        )
    if not data_path.is_file():
        raise LocalError(f"no data file {data_path}")
    _require_free_port(port)

    run_dir = new_run_dir(runs_dir)
    hyperparameters = training.job_hyperparameters()
    print(f"stack {stack}: {training.algorithm} on {data_path.name}; run folder {_shown(run_dir)}")
    test_rows = _lay_out_training(run_dir / "training", data_path, hyperparameters)

    print("\n== training (the `train` command, as a SageMaker training job runs it)")
    report = _train(run_dir / "training")
    _print_evaluation(report)

    hosting = run_dir / "hosting"
    archive = _pack(run_dir / "training" / "model", run_dir / MODEL_ARCHIVE)
    _unpack(archive, hosting / "model")
    print(f"\n== serving (the `serve` command) on http://127.0.0.1:{port}")
    with _server(hosting, port) as server:
        print(f"ready in {server.ready_seconds:.2f} s")
        _check_endpoint(port, test_rows, report)
        _check_monitoring(run_dir, hosting / "model", port, data_path, test_rows["target"])
        print(f"\nwhole pipeline: {time.monotonic() - started:.1f} s")
        print("\ntry it:")
        first = ",".join(_csv_cell(v) for v in test_rows["features"][0])
        print(
            f"  curl -s -X POST -H 'Content-Type: text/csv' --data '{first}' "
            f"http://127.0.0.1:{port}/invocations"
        )
        if once:
            return 0
        print("\nserving until Ctrl-C")
        while server.process.poll() is None:
            time.sleep(0.5)
        raise LocalError(f"the server stopped by itself (exit {server.process.returncode})")


def new_run_dir(runs_dir: Path) -> Path:
    """.sagestack/runs/<timestamp>, with a suffix when another run started in the same second."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1000):
        candidate = runs_dir / (stamp if not attempt else f"{stamp}-{attempt}")
        try:
            candidate.mkdir(parents=True)
        except FileExistsError:
            continue
        return candidate
    raise LocalError(f"cannot create a run folder under {runs_dir}")


def _stack_config(project_dir: Path, stack: str) -> Any:
    # The config `pulumi up` would hand the program: Pulumi.yaml's defaults merged in and
    # checked as the engine checks them, then the program's own validation.
    from infra.config import ConfigError, ignored_settings, load_stack_config

    try:
        config = load_stack_config(project_dir, stack)
    except ConfigError as error:
        raise LocalError(str(error)) from None
    for warning in ignored_settings(config):
        print(f"warning: {warning}", file=sys.stderr)
    return config


def _require_free_port(port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise LocalError(f"port {port} is in use: pass --port with a free one") from None


def _lay_out_training(
    base: Path, data_path: Path, hyperparameters: dict[str, str]
) -> dict[str, Any]:
    """Split off the held-out rows (the test channel), so the endpoint can be checked on them."""
    import pandas as pd

    from sagestack.layout import TrainingJobLayout
    from training.cleaning import stratified_split
    from training.errors import TrainingError
    from training.hyperparameters import parse_hyperparameters

    try:
        typed, _ = parse_hyperparameters(hyperparameters)
    except (TrainingError, ValueError) as error:
        raise LocalError(f"invalid training hyperparameters: {error}") from None
    try:
        frame = pd.read_csv(data_path)
    except (ValueError, OSError) as error:
        raise LocalError(f"cannot read {data_path}: {error}") from None
    if typed.target not in frame.columns:
        raise LocalError(
            f"{data_path.name} has no target column {typed.target!r} "
            f"(columns: {', '.join(map(str, frame.columns[:20]))})"
        )
    labelled = frame[frame[typed.target].notna()].reset_index(drop=True)
    if labelled[typed.target].value_counts().min() < 2:
        raise LocalError("every target class needs at least two rows to hold some out")
    train_rows, test_rows = stratified_split(labelled[typed.target], typed.test_size, typed.seed)
    channels = base.parent / "channels"
    channels.mkdir(parents=True)
    labelled.iloc[train_rows].to_csv(channels / "train.csv", index=False)
    labelled.iloc[test_rows].to_csv(channels / "test.csv", index=False)
    TrainingJobLayout.create(
        base,
        hyperparameters,
        {TRAIN_CHANNEL: [channels / "train.csv"], TEST_CHANNEL: [channels / "test.csv"]},
    )
    test = labelled.iloc[test_rows]
    first_row = test.drop(columns=[typed.target]).head(1).values.tolist()
    return {"frame": test, "target": typed.target, "features": first_row}


def _train(base: Path) -> dict[str, Any]:
    environment = {**os.environ, "PATH": container_path(), BASE_DIR_ENV: str(base)}
    process = subprocess.Popen(
        ["train"], env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if not line.startswith(METRIC_LINE_PREFIX):
            print(f"  {line.rstrip()}")
    if process.wait() != 0:
        failure = base / "output" / "failure"
        reason = failure.read_text().strip() if failure.exists() else "no failure file written"
        raise LocalError(f"training failed (exit {process.returncode}): {reason}")
    report: dict[str, Any] = json.loads((base / "model" / EVALUATION_FILE).read_text())
    return report


def _print_evaluation(report: dict[str, Any]) -> None:
    test = report["splits"]["test"]
    bars = report["quality_gate"]["bars"]
    print(f"\n  {'metric':<10} {'test':>8} {'bar':>8}")
    for name, value in test["metrics"].items():
        bar = bars.get(name)
        mark = "" if bar is None else ("  ok" if value is not None and value >= bar else "  MISSED")
        shown = "-" if value is None else f"{value:.4f}"
        print(f"  {name:<10} {shown:>8} {'' if bar is None else f'{bar:.4f}':>8}{mark}")
    print(f"  ({test['rows']} held-out rows; trained in {report['training_seconds']:.2f} s)")
    _print_importance(report)


def _print_importance(report: dict[str, Any]) -> None:
    """The top features by permutation importance (training's evaluation.json)."""
    explanations = report.get("explanations") or {}
    importance = explanations.get("permutation_importance")
    if not importance:
        return
    by_name = {entry["feature"]: entry for entry in importance["features"]}
    print(f"\n  top features (log loss increase when shuffled, {importance['rows']} test rows)")
    for entry in (by_name[name] for name in explanations["top_features"]):
        print(f"  {entry['feature']:<28} {entry['mean']:>9.4f} +- {entry['std']:.4f}")


def _pack(model_dir: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


def _unpack(archive: Path, target: Path) -> None:
    target.mkdir(parents=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(target, filter="data")


class _Server:
    def __init__(self, process: subprocess.Popen[bytes], ready_seconds: float) -> None:
        self.process = process
        self.ready_seconds = ready_seconds


@contextlib.contextmanager
def _server(base: Path, port: int) -> Iterator[_Server]:
    environment = {
        **os.environ,
        "PATH": container_path(),
        BASE_DIR_ENV: str(base),
        PORT_ENV: str(port),
        HOST_ENV: "127.0.0.1",
        WORKERS_ENV: "1",
    }
    log = (base / "server.log").open("wb")
    started = time.monotonic()
    process = subprocess.Popen(
        ["serve"], env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        while not _ping(port):
            if process.poll() is not None:
                raise LocalError(
                    f"the server did not start: {(base / 'server.log').read_text()[-500:]}"
                )
            if time.monotonic() - started > 30:
                raise LocalError("the server did not answer /ping within 30 s")
            time.sleep(0.02)
        yield _Server(process, time.monotonic() - started)
    finally:
        stop_group(process)
        log.close()


def _ping(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        connection.request("GET", "/ping")
        return connection.getresponse().status == 200
    except OSError:
        return False


def _check_endpoint(port: int, test: dict[str, Any], report: dict[str, Any]) -> None:
    frame = test["frame"]
    target = test["target"]
    features = frame.drop(columns=[target])
    body = features.to_csv(index=False, header=False)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/invocations", body, {"Content-Type": "text/csv"})
    response = connection.getresponse()
    payload = response.read()
    if response.status != 200:
        raise LocalError(f"the endpoint answered {response.status}: {payload[:300]!r}")
    predictions = json.loads(payload)["predictions"]
    truth = frame[target].tolist()
    labels = [p["label"] for p in predictions]
    print(f"\n  {'truth':<12} {'predicted':<12} probabilities")
    for index in range(min(SHOWN_PREDICTIONS, len(labels))):
        probabilities = ", ".join(
            f"{k}: {v:.3f}" for k, v in predictions[index]["probabilities"].items()
        )
        print(f"  {truth[index]!s:<12} {labels[index]!s:<12} {probabilities}")
    accuracy = sum(str(a) == str(b) for a, b in zip(truth, labels, strict=True)) / len(truth)
    expected = report["splits"]["test"]["metrics"]["accuracy"]
    print(
        f"\n  live endpoint accuracy on {len(truth)} held-out rows: {accuracy:.4f} "
        f"(training report: {expected:.4f})"
    )
    if abs(accuracy - expected) > 1e-9:
        raise LocalError("the endpoint's predictions differ from the training report's")
    rows = body.splitlines()
    _print_explanation(connection, rows[0])
    latencies = []
    for index in range(TIMED_REQUESTS):
        started = time.perf_counter()
        connection.request(
            "POST", "/invocations", rows[index % len(rows)], {"Content-Type": "text/csv"}
        )
        answer = connection.getresponse()
        answer.read()
        latencies.append((time.perf_counter() - started) * 1000)
        if answer.status != 200:
            raise LocalError(f"the endpoint answered {answer.status} to a single row")
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"  single-row latency over {TIMED_REQUESTS} requests: p50 "
        f"{statistics.median(latencies):.2f} ms, p99 {p99:.2f} ms"
    )
    connection.close()


def _check_monitoring(
    run_dir: Path, model_dir: Path, port: int, data_path: Path, target: str
) -> None:
    from sagestack.local_monitor import MonitorCheckError, check_monitoring

    print("\n== monitoring (the `monitor` command over the traffic, captured as SageMaker does)")
    try:
        lines = check_monitoring(run_dir, model_dir, port, data_path, target)
    except MonitorCheckError as error:
        raise LocalError(str(error)) from None
    print("\n".join(lines))


def _print_explanation(connection: http.client.HTTPConnection, row: str) -> None:
    """The first held-out row's largest contributions, as the endpoint explains them."""
    connection.request(
        "POST",
        "/invocations",
        row,
        {"Content-Type": "text/csv", "X-Amzn-SageMaker-Custom-Attributes": "explain=true"},
    )
    response = connection.getresponse()
    payload = response.read()
    if response.status != 200:
        raise LocalError(f"the endpoint answered {response.status} to explain=true: {payload!r}")
    explanation = json.loads(payload)["predictions"][0]["explanation"]
    contributions = explanation["contributions"]
    top = sorted(contributions.items(), key=lambda item: -abs(item[1]))[:SHOWN_CONTRIBUTIONS]
    print(
        f"\n  row 1 explained ({explanation['space']} of class {explanation['class']!s}): base "
        f"value {explanation['base_value']:.4f} + contributions = "
        f"{explanation['base_value'] + sum(contributions.values()):.4f}; the largest:"
    )
    for name, value in top:
        print(f"  {name:<28} {value:>+9.4f}")
    print()


def _csv_cell(value: Any) -> str:
    return "" if value is None or value != value else str(value)


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)
