"""`python -m sagestack local`, end to end, as `make local` runs it."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _project(tmp_path: Path, stack_config: str) -> Path:
    """A project folder with the repository's Pulumi.yaml and one stack, `qa`."""
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    shutil.copy(REPO / "Pulumi.yaml", project)
    shutil.copy(REPO / "data" / "breast_cancer.csv", project / "data")
    (project / "Pulumi.qa.yaml").write_text(f"config:\n{stack_config}")
    return project


def _local(*arguments: str, runs: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sagestack", "local", "--runs-dir", str(runs), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_whole_pipeline_once(tmp_path: Path) -> None:
    port = _free_port()
    result = _local("--once", "--port", str(port), runs=tmp_path / "runs")
    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    assert "stack dev: logistic_regression on breast_cancer.csv" in output
    assert "roc_auc" in output
    assert "0.9000  ok" in output  # dev's minRocAuc, met
    assert "live endpoint accuracy on 113 held-out rows" in output
    accuracy = output.split("live endpoint accuracy on 113 held-out rows: ")[1].split()[0]
    report = output.split("(training report: ")[1].split(")")[0]
    assert accuracy == report
    assert "single-row latency over 200 requests" in output
    # The monitoring step: its own traffic judged as sent, then with three features shifted.
    assert "as served: no drift" in output
    shifted = "drift: 3 of 30 features drifted: mean_radius, mean_texture, mean_perimeter"
    assert shifted in output
    report_path = output.split("  report: ")[1].split()[0]
    assert Path(report_path).is_file()
    # The five most important features, then the first held-out row's three largest
    # contributions, whose stated total is the sum of base value and contributions.
    importance = output.split("top features (log loss increase when shuffled")[1]
    assert len([line for line in importance.splitlines()[1:6] if " +- " in line]) == 5
    why = output.split("row 1 explained (")[1].splitlines()
    assert why[0].startswith("log_odds of class 1): base value ")
    assert all(line.split()[-1][0] in "+-" for line in why[1:4])
    assert f"http://127.0.0.1:{port}/invocations" in output
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "model.tar.gz").is_file()
    assert sorted(p.name for p in (run / "hosting" / "model").iterdir()) == [
        "evaluation.json",
        "explainer.json",
        "model.joblib",
        "predictor.json",
        "schema.json",
    ]
    # The server is gone.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_a_missed_quality_bar_prints_the_reason(tmp_path: Path) -> None:
    project = _project(tmp_path, '  sagestack:minRecall: "0.9999"\n')
    result = _local(
        "--once", "--stack", "qa", "--project-dir", str(project), runs=tmp_path / "runs"
    )
    assert result.returncode == 1
    assert "training failed (exit 1): Quality bar not met: test recall" in result.stderr
    assert "< min_recall 0.9999" in result.stderr


def test_invalid_stack_config_is_reported_before_anything_runs(tmp_path: Path) -> None:
    project = _project(tmp_path, "  sagestack:serverlessMemoryMb: 1500\n")
    result = _local("--once", "--stack", "qa", "--project-dir", str(project), runs=tmp_path / "r")
    assert result.returncode == 1
    assert "serverlessMemoryMb=1500 must be one of 1024, 2048" in result.stderr
    assert not (tmp_path / "r").exists()


def test_unknown_stack_and_missing_data(tmp_path: Path) -> None:
    result = _local("--once", "--stack", "qa", runs=tmp_path / "runs")
    assert result.returncode == 1
    assert "no stack file Pulumi.qa.yaml (stacks: dev, prod, staging)" in result.stderr
    result = _local("--once", "--data", str(tmp_path / "nope.csv"), runs=tmp_path / "runs")
    assert result.returncode == 1
    assert "no data file" in result.stderr


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path: Path) -> None:
    from sagestack.local import new_run_dir

    first, second = new_run_dir(tmp_path), new_run_dir(tmp_path)
    assert first != second
    assert first.is_dir()
    assert second.is_dir()


def test_a_port_in_use_is_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = _local("--once", "--port", str(port), runs=tmp_path / "runs")
    assert result.returncode == 1
    assert f"port {port} is in use: pass --port with a free one" in result.stderr


def test_ctrl_c_stops_everything_it_started(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sagestack",
            "local",
            "--port",
            str(port),
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As a background job of a shell starts it: with SIGINT ignored. Ctrl-C must still work.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    seen: list[str] = []
    for line in process.stdout:
        seen.append(line)
        if "serving until Ctrl-C" in line or time.monotonic() > deadline:
            break
    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        rest, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        # Say what it was doing: the output so far and the server's log.
        process.kill()
        rest, _ = process.communicate()
        logs = [p.read_text()[-2000:] for p in (tmp_path / "runs").glob("*/server.log")]
        pytest.fail(
            f"still running {time.monotonic() - interrupted:.0f} s after SIGINT\n"
            + "".join(seen[-30:])
            + rest
            + "\n".join(logs)
        )
    assert process.returncode == 130, "".join(seen[-30:]) + rest
    # No server or worker is left: any of them would still hold the listening socket.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_invalid_hyperparameters_are_a_clear_error(tmp_path: Path) -> None:
    project = _project(tmp_path, '  sagestack:hyperparameters: \'{"Cc": 1, "C": -1}\'\n')
    result = _local("--once", "--stack", "qa", "--project-dir", str(project), runs=tmp_path / "r")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "error: invalid training hyperparameters: " in result.stderr
    assert "unknown key 'Cc'" in result.stderr
    assert "C=-1 must be greater than 0" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
