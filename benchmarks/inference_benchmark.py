"""Inference speed: our server against the stock SageMaker stack and a do-nothing ceiling.

In one run, on loopback, with `wrk` as the load generator, every server running side by side
and measured in alternating rounds (each point's figure is the median of its rounds):
- sagestack: `serve`, exactly as the image runs it (uvicorn + httptools + uvloop under
  gunicorn's arbiter), one worker, with only the image's dependency set, bytecode compiled
  (benchmarks/pinned_venv.py);
- baseline: gunicorn + gevent workers + Flask, CSV via numpy.genfromtxt, pipeline.predict
  (benchmarks/baseline_server.py), one worker;
- mlserver: MLServer's scikit-learn runtime (what users pick instead), serving the same
  model.joblib from its own venv (.benchmarks/mlserver-venv, made from
  benchmarks/mlserver-requirements.txt), with its default settings but `debug` off (no access
  log line a request): one inference worker process behind its FastAPI/uvicorn front. It reads
  only JSON, so it gets the same rows as a V2 inference request (`POST
  /v2/models/model/infer`, one FP64 input of shape [rows, 30], the CSV's digits as they are);
  like the baseline, the rows reach predict as a bare array. Skipped with --no-mlserver;
- ceiling: a do-nothing asyncio server answering every request with an empty 200.
For each algorithm (logistic regression, random forest, hist gradient boosting): single-row
CSV, single-row JSON (ours only: the baseline reads CSV), 100-row CSV and a 6 MB CSV, at 1 and
8 connections. Also our cold start (process start to the first 200 on /ping, model loaded),
each server's time to its first ready answer, and each worker's memory.
Results: benchmarks/results/inference.json and inference.md.

    make benchmark-inference
    make benchmark-inference BENCH_ARGS="--seconds 2 --rounds 3"
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.pinned_venv import image_python, pinned_python
from contracts.artifact import MODEL_FILE
from contracts.container import BASE_DIR_ENV, HOST_ENV, PORT_ENV, TRAIN_CHANNEL, WORKERS_ENV
from contracts.hyperparameters import ALGORITHMS
from sagestack.processes import container_path, stop_group

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks" / "results"
DATASET = REPO / "data" / "breast_cancer.csv"
CONNECTIONS = (1, 8)
MAX_POINT_SECONDS = 20
SIX_MB = 6_291_456
MLSERVER_VENV = REPO / ".benchmarks" / "mlserver-venv"
MLSERVER_REQUIREMENTS = REPO / "benchmarks" / "mlserver-requirements.txt"
MLSERVER_MODEL = "model"
SERVERS = ("sagestack", "baseline", "mlserver", "ceiling")

_WRK_SCRIPT = """
local body_file = os.getenv("BENCH_BODY")
if body_file and body_file ~= "" then
  wrk.method = "POST"
  wrk.path = os.getenv("BENCH_PATH")
  wrk.headers["Content-Type"] = os.getenv("BENCH_TYPE")
  local f = io.open(body_file, "rb")
  wrk.body = f:read("*all")
  f:close()
else
  wrk.method = "GET"
  wrk.path = "/ping"
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\\"requests\\": %d, \\"duration_us\\": %d, \\"errors\\": %d, \\"non_2xx\\": %d, "
    .. "\\"p50_us\\": %d, \\"p99_us\\": %d}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Server:
    """How to start one server and where to send it requests."""

    command: list[str]
    environment: dict[str, str]
    port: int
    ready_path: str = "/ping"
    invocations_path: str = "/invocations"


def wait_for_ping(
    port: int, process: subprocess.Popen[bytes], timeout: float = 60, path: str = "/ping"
) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode} before answering {path}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as answer,
        ):
            if answer.status == 200:
                return time.perf_counter() - started
        time.sleep(0.005)
    raise SystemExit(f"no 200 on {path} after {timeout} s")


@contextlib.contextmanager
def running(server: Server) -> Iterator[tuple[int, float]]:
    """The server's process id and its seconds from start to the first ready answer."""
    process = subprocess.Popen(
        server.command,
        env=server.environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # MLServer's inference worker, a spawned process, takes tens of seconds to be ready.
        ready = wait_for_ping(server.port, process, timeout=180, path=server.ready_path)
        yield process.pid, ready
    finally:
        stop_group(process)


def ours(base: Path, workers: int, port: int) -> tuple[list[str], dict[str, str]]:
    # `serve` runs `python`: the image's interpreter, ahead of the development venv.
    path = [str(REPO / "inference" / "bin"), str(image_python().parent), container_path()]
    return ["serve"], {
        **os.environ,
        "PATH": os.pathsep.join(path),
        "PYTHONPATH": str(REPO),
        BASE_DIR_ENV: str(base),
        PORT_ENV: str(port),
        HOST_ENV: "127.0.0.1",
        WORKERS_ENV: str(workers),
    }


def mlserver(base: Path, folder: Path, port: int) -> Server:
    """MLServer's scikit-learn runtime on base's model.joblib, configured in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "debug": False,
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    model = {
        "name": MLSERVER_MODEL,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(base / "model" / MODEL_FILE)},
    }
    (folder / "model-settings.json").write_text(json.dumps(model))
    python = pinned_python(MLSERVER_VENV, MLSERVER_REQUIREMENTS)
    environment = {
        **os.environ,
        # As in the baseline: the pipeline was fitted on named columns, predict gets an array.
        "PYTHONWARNINGS": "ignore:X does not have valid feature names",
    }
    return Server(
        [str(python), "-m", "mlserver.cli.main", "start", str(folder)],
        environment,
        port,
        ready_path=f"/v2/models/{MLSERVER_MODEL}/ready",
        invocations_path=f"/v2/models/{MLSERVER_MODEL}/infer",
    )


def baseline(base: Path, workers: int, port: int) -> tuple[list[str], dict[str, str]]:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "-k",
        "gevent",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "benchmarks.baseline_server:app",
    ]
    environment = {**os.environ, "BASELINE_MODEL_DIR": str(base / "model"), "PYTHONPATH": str(REPO)}
    return command, environment


def ceiling(port: int) -> tuple[list[str], dict[str, str]]:
    return [sys.executable, str(REPO / "benchmarks" / "ceiling_server.py"), str(port)], dict(
        os.environ
    )


def load(
    port: int,
    connections: int,
    seconds: float,
    body: Path | None,
    kind: str,
    path: str = "/invocations",
) -> dict[str, Any]:
    script = Path(tempfile.gettempdir()) / "sagestack-wrk.lua"
    script.write_text(_WRK_SCRIPT)
    environment = {
        **os.environ,
        "BENCH_BODY": str(body or ""),
        "BENCH_TYPE": kind,
        "BENCH_PATH": path,
    }
    result = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    )
    match = re.search(r"^RESULT (.*)$", result.stdout, re.MULTILINE)
    if not match:
        raise SystemExit(f"wrk printed no result:\n{result.stdout}\n{result.stderr}")
    raw = json.loads(match.group(1))
    seconds_run = raw["duration_us"] / 1e6
    return {
        "requests_per_second": round(raw["requests"] / seconds_run, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 3),
        "p99_ms": round(raw["p99_us"] / 1000, 3),
        "errors": raw["errors"] + raw["non_2xx"],
        "requests": raw["requests"],
    }


def payloads(directory: Path) -> dict[str, tuple[Path, str, int]]:
    """name -> (file, content type, rows)"""
    lines = DATASET.read_text().splitlines()[1:]
    rows = [line.rsplit(",", 1)[0] for line in lines]
    files: dict[str, tuple[Path, str, int]] = {}

    def write(name: str, text: str, kind: str, count: int) -> None:
        path = directory / name
        path.write_text(text)
        files[name] = (path, kind, count)

    write("single-row CSV", rows[0] + "\n", "text/csv", 1)
    values = [float(v) for v in rows[0].split(",")]
    write("single-row JSON", json.dumps({"instances": [values]}), "application/json", 1)
    write("100-row CSV", "\n".join(rows[i % len(rows)] for i in range(100)) + "\n", "text/csv", 100)
    big: list[str] = []
    size = 0
    while size + len(rows[len(big) % len(rows)]) + 1 < SIX_MB - 1024:
        row = rows[len(big) % len(rows)]
        big.append(row)
        size += len(row) + 1
    write("6 MB CSV", "\n".join(big) + "\n", "text/csv", len(big))
    return files


def v2_requests(
    bodies: dict[str, tuple[Path, str, int]], directory: Path
) -> dict[str, tuple[Path, str, int]]:
    """Each CSV payload's rows as one V2 inference request (MLServer's JSON), same digits."""
    requests: dict[str, tuple[Path, str, int]] = {}
    for name, (path, kind, count) in bodies.items():
        if kind != "text/csv":
            continue
        lines = path.read_text().splitlines()
        width = len(lines[0].split(","))
        request = (
            '{"inputs": [{"name": "input-0", "datatype": "FP64", '
            f'"shape": [{count}, {width}], "data": [' + ",".join(lines) + "]}]}"
        )
        target = directory / f"{name} (V2 JSON)"
        target.write_text(request)
        requests[name] = (target, "application/json", count)
    return requests


def worker_memory_mib(pid: int, with_parent: bool = False) -> list[float]:
    """RSS of each child of pid (the workers), or of pid itself when it has none; with_parent
    for a server whose parent process serves too (MLServer's front)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    sizes = []
    for child in ([str(pid)] if with_parent else []) + (children or [str(pid)]):
        status = Path(f"/proc/{child}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        if match:
            sizes.append(round(int(match.group(1)) / 1024, 1))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS))
    parser.add_argument("--note", default="", help="a caveat written into the results")
    parser.add_argument(
        "--no-mlserver",
        action="store_true",
        help="leave MLServer out (it is installed into .benchmarks/mlserver-venv on first use)",
    )
    arguments = parser.parse_args()
    seconds = min(arguments.seconds, MAX_POINT_SECONDS)
    if shutil.which("wrk") is None:
        raise SystemExit("the inference benchmark needs wrk: apt-get install wrk")

    points: list[dict[str, Any]] = []
    memory: dict[str, list[float]] = {}
    ready: dict[str, float] = {}
    starts: dict[str, list[float]] = {}
    servers = tuple(s for s in SERVERS if not (arguments.no_mlserver and s == "mlserver"))
    with tempfile.TemporaryDirectory(prefix="sagestack-bench-") as scratch:
        root = Path(scratch)
        bodies = payloads(root)
        # MLServer reads only JSON: the same rows as V2 requests, written once for every model.
        v2_bodies = v2_requests(bodies, root) if "mlserver" in servers else {}
        for algorithm in arguments.algorithms.split(","):
            base = train_model(root, algorithm)
            points += measure(
                algorithm,
                base,
                (bodies, v2_bodies),
                servers,
                seconds,
                arguments.rounds,
                memory,
                ready,
            )
            starts[algorithm] = cold_starts(base)

    report = {
        "benchmark": "inference",
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "note": arguments.note,
        "seconds_per_point": seconds,
        "rounds": arguments.rounds,
        "servers": list(servers),
        "seconds_to_ready_once": ready,
        "cold_start_seconds": {
            algorithm: {"median": round(statistics.median(runs), 3), "runs": runs}
            for algorithm, runs in starts.items()
        },
        "worker_memory_mib": memory,
        "points": points,
    }
    report["targets"] = targets(report)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "inference.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (RESULTS_DIR / "inference.md").write_text(table)
    print("\n" + table)


def measure(
    algorithm: str,
    base: Path,
    payload_files: tuple[dict[str, tuple[Path, str, int]], dict[str, tuple[Path, str, int]]],
    servers: tuple[str, ...],
    seconds: float,
    rounds: int,
    memory: dict[str, list[float]],
    ready: dict[str, float],
) -> list[dict[str, Any]]:
    """Every point of one algorithm, the servers side by side, in alternating rounds.
    `payload_files`: the bodies, and the same rows as V2 requests for MLServer."""
    bodies, v2_bodies = payload_files
    started: dict[str, Server] = {}
    for name in servers:
        port = free_port()
        if name == "sagestack":
            started[name] = Server(*ours(base, 1, port), port)
        elif name == "baseline":
            started[name] = Server(*baseline(base, 1, port), port)
        elif name == "mlserver":
            started[name] = mlserver(base, base / "mlserver", port)
        else:
            started[name] = Server(*ceiling(port), port)
    requests = dict.fromkeys(servers, bodies)
    # The baseline reads only CSV, MLServer only JSON.
    requests["baseline"] = {name: body for name, body in bodies.items() if body[1] == "text/csv"}
    if "mlserver" in servers:
        requests["mlserver"] = v2_bodies
    samples: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    with contextlib.ExitStack() as stack:
        pids = {}
        for name, server in started.items():
            pids[name], seconds_to_ready = stack.enter_context(running(server))
            ready[f"{algorithm}/{name}"] = round(seconds_to_ready, 3)
        time.sleep(0.5)
        for round_number in range(rounds):
            for payload in bodies:
                for connections in CONNECTIONS:
                    for name in _order(round_number, servers):
                        if name == "ceiling" and payload != "single-row CSV":
                            continue  # the ceiling answers /ping whatever is sent
                        if payload not in requests[name]:
                            continue
                        body, kind, _ = requests[name][payload]
                        result = load(
                            started[name].port,
                            connections,
                            seconds,
                            None if name == "ceiling" else body,
                            "" if name == "ceiling" else kind,
                            started[name].invocations_path,
                        )
                        samples.setdefault((name, payload, connections), []).append(result)
        for name in servers:
            if name != "ceiling":
                memory[f"{algorithm}/{name}"] = worker_memory_mib(
                    pids[name], with_parent=name == "mlserver"
                )
    points = []
    for (name, payload, connections), results in samples.items():
        rows = bodies[payload][2]
        rate = statistics.median(r["requests_per_second"] for r in results)
        point = {
            "algorithm": algorithm,
            "server": name,
            "payload": "GET /ping" if name == "ceiling" else payload,
            "body": "" if name == "ceiling" else requests[name][payload][1],
            "connections": connections,
            "requests_per_second": round(rate, 1),
            "rows_per_second": round(rate * (0 if name == "ceiling" else rows), 1),
            "p50_ms": round(statistics.median(r["p50_ms"] for r in results), 3),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in results), 3),
            "errors": sum(r["errors"] for r in results),
            "rounds": [r["requests_per_second"] for r in results],
        }
        points.append(point)
        print(
            f"  {algorithm:<22} {name:<9} {point['payload']:<16} c={connections:<2} "
            f"{rate:>9.1f} req/s  p99 {point['p99_ms']:>9.3f} ms  errors {point['errors']}",
            flush=True,
        )
    return points


def _order(round_number: int, servers: tuple[str, ...]) -> tuple[str, ...]:
    """Servers in a different order each round, so that drift on a shared machine touches
    each of them alike."""
    shift = round_number % len(servers)
    return servers[shift:] + servers[:shift]


def cold_starts(base: Path, runs: int = 5) -> list[float]:
    starts = []
    for _ in range(runs):
        port = free_port()
        command, environment = ours(base, 1, port)
        process = subprocess.Popen(
            command, env=environment, stdout=subprocess.DEVNULL, start_new_session=True
        )
        starts.append(round(wait_for_ping(port, process), 3))
        stop_group(process)
    return starts


def train_model(root: Path, algorithm: str = "logistic_regression") -> Path:
    from sagestack.layout import TrainingJobLayout

    layout = TrainingJobLayout.create(
        root / algorithm, {"algorithm": algorithm}, {TRAIN_CHANNEL: [DATASET]}
    )
    environment = {**os.environ, "PATH": container_path(), BASE_DIR_ENV: str(layout.base)}
    subprocess.run(["train"], env=environment, check=True, stdout=subprocess.DEVNULL)
    return layout.base


def _point(points: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    for point in points:
        if all(point[key] == value for key, value in match.items()):
            return point
    raise KeyError(match)


# (target, algorithm, field, payload, connections, bound, higher is better)
_RATIO_TARGETS = (
    ("logistic_regression", "requests_per_second", "single-row CSV", 8, 15.0, True),
    ("hist_gradient_boosting", "requests_per_second", "single-row CSV", 8, 20.0, True),
    ("random_forest", "requests_per_second", "single-row CSV", 8, 15.0, True),
    ("logistic_regression", "p99_ms", "single-row CSV", 8, 0.2, False),
    ("hist_gradient_boosting", "p99_ms", "single-row CSV", 8, 0.2, False),
)
COLD_START_TARGET_SECONDS = 0.5


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    points = report["points"]
    rows = []
    for algorithm, field, payload, connections, bound, higher in _RATIO_TARGETS:
        try:
            mine = _point(
                points,
                algorithm=algorithm,
                server="sagestack",
                payload=payload,
                connections=connections,
            )
            theirs = _point(
                points,
                algorithm=algorithm,
                server="baseline",
                payload=payload,
                connections=connections,
            )
        except KeyError:
            continue  # the algorithm was not run
        value = round(float(mine[field]) / max(float(theirs[field]), 1e-9), 3)
        what = "throughput" if field == "requests_per_second" else "p99 latency"
        rows.append(
            {
                "target": f"{algorithm}: {payload} {what} at {connections} connections vs baseline",
                "wanted": f"{'>=' if higher else '<='} {bound}x",
                "measured": value,
                "met": value >= bound if higher else value <= bound,
            }
        )
    for algorithm, start in report["cold_start_seconds"].items():
        rows.append(
            {
                "target": f"{algorithm}: cold start, seconds (median)",
                "wanted": f"<= {COLD_START_TARGET_SECONDS}",
                "measured": start["median"],
                "met": start["median"] <= COLD_START_TARGET_SECONDS,
            }
        )
    return rows


def side_by_side(report: dict[str, Any]) -> list[str]:
    """Requests a second of every server at each row count, 8 connections, ours first."""
    servers = [s for s in report["servers"] if s != "ceiling"]
    rivals = [s for s in servers if s != "sagestack"]
    lines = [
        "Side by side, 8 connections, req/s (medians; MLServer gets the rows as V2 JSON, "
        "the ceiling answers GET /ping):",
        "",
        "| algorithm | rows | "
        + " | ".join([*servers, "ceiling"])
        + " | "
        + " | ".join(f"ours / {s}" for s in rivals)
        + " |",
        "| --- | --- |" + " ---: |" * (len(servers) + 1 + len(rivals)),
    ]
    points = report["points"]
    algorithms = dict.fromkeys(p["algorithm"] for p in points)
    for algorithm in algorithms:
        ceiling = _point(points, algorithm=algorithm, server="ceiling", connections=8)
        for payload in ("single-row CSV", "100-row CSV", "6 MB CSV"):
            rates = {
                s: float(
                    _point(points, algorithm=algorithm, server=s, payload=payload, connections=8)[
                        "requests_per_second"
                    ]
                )
                for s in servers
            }
            ceiling_rate = (
                f"{ceiling['requests_per_second']:,.0f}" if payload == "single-row CSV" else ""
            )
            lines.append(
                f"| {algorithm} | {payload} | "
                + " | ".join(f"{rates[s]:,.1f}" for s in servers)
                + f" | {ceiling_rate} | "
                + " | ".join(_ratio(rates["sagestack"], rates[s]) for s in rivals)
                + " |"
            )
    return lines


def _ratio(ours: float, theirs: float) -> str:
    # A point with no request finished within its seconds (a 6 MB body on a busy machine).
    return f"{ours / theirs:.1f}x" if ours and theirs else "n/a"


def markdown(report: dict[str, Any]) -> str:
    lines = []
    if report.get("note"):
        lines += [f"**{report['note']}**", ""]
    lines += [
        f"{report['rounds']} alternating rounds of {report['seconds_per_point']} s a point; "
        "each figure is the median of its rounds.",
        "",
        "| target | wanted | measured | met |",
        "| --- | ---: | ---: | :---: |",
    ]
    for target in report["targets"]:
        lines.append(
            f"| {target['target']} | {target['wanted']} | {target['measured']} "
            f"| {'yes' if target['met'] else 'no'} |"
        )
    lines += ["", *side_by_side(report)]
    lines += [
        "",
        "| algorithm | server | payload | body | connections | req/s | rows/s | p50 ms | p99 ms "
        "| errors |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in report["points"]:
        lines.append(
            f"| {p['algorithm']} | {p['server']} | {p['payload']} | {p['body']} "
            f"| {p['connections']} | {p['requests_per_second']:,.0f} | {p['rows_per_second']:,.0f} "
            f"| {p['p50_ms']} | {p['p99_ms']} | {p['errors']} |"
        )
    memory = ", ".join(f"{k}: {v} MiB" for k, v in report["worker_memory_mib"].items())
    lines += ["", f"Memory per worker (RSS; MLServer's front, then its workers): {memory}."]
    ready = ", ".join(f"{k}: {v} s" for k, v in report["seconds_to_ready_once"].items())
    lines += ["", f"Start to the first ready answer, once each (not a median): {ready}."]
    starts = ", ".join(f"{k}: {v['median']} s" for k, v in report["cold_start_seconds"].items())
    lines += ["", f"Cold start (median of 5, process start to the first 200 on /ping): {starts}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
