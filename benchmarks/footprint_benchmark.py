"""The inference image's footprint: its dependency set's installed size, and cold start.

- Installed size: requirements/inference.txt installed with bytecode into an empty folder
  (`uv pip install --target ... --compile-bytecode`), per package, beside main's lock of the
  previous set when `git show main:requirements/inference.txt` finds one.
- Cold start: `python -m inference serve` in a SageMaker-shaped folder, from process start
  until GET /ping answers 200 (import, model load and self-check included), for each
  algorithm; rounds alternate between the algorithms, medians. Run as the image runs it: an
  interpreter with only the inference dependency set, bytecode compiled
  (benchmarks/pinned_venv.py), the repository on PYTHONPATH. Beside it, its parts in a
  fresh process: importing numpy, onnxruntime (trees only) and the server's modules, then
  loading and self-checking the model.
Results: benchmarks/results/footprint.json and benchmarks/results/footprint.md.

    .venv/bin/python -m benchmarks.footprint_benchmark [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.pinned_venv import image_python
from contracts.container import BASE_DIR_ENV, HOST_ENV, PORT_ENV, TRAIN_CHANNEL, WORKERS_ENV
from contracts.hyperparameters import ALGORITHMS

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks" / "results"
UV = Path(sys.executable).parent / "uv"
MIB = 1024 * 1024


def _installed(lock: Path, target: Path) -> dict[str, int]:
    subprocess.run(
        [
            str(UV),
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--require-hashes",
            "--compile-bytecode",
            "--python",
            sys.executable,
            "--target",
            str(target),
            "-r",
            str(lock),
        ],
        check=True,
    )
    sizes: dict[str, int] = {}
    for entry in target.iterdir():
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        sizes[entry.name] = sum(p.stat().st_size for p in files)
    return sizes


def _sizes(scratch: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    locks = {"this branch": REPO / "requirements" / "inference.txt"}
    previous = subprocess.run(
        ["git", "-C", str(REPO), "show", "main:requirements/inference.txt"],
        capture_output=True,
        text=True,
        check=False,
    )
    if previous.returncode == 0:
        (scratch / "main-inference.txt").write_text(previous.stdout)
        locks["main"] = scratch / "main-inference.txt"
    for name, lock in locks.items():
        sizes = _installed(lock, scratch / name.replace(" ", "-"))
        top = sorted(sizes.items(), key=lambda item: -item[1])[:8]
        out[name] = {
            "total_mib": round(sum(sizes.values()) / MIB, 1),
            "largest_mib": {k: round(v / MIB, 1) for k, v in top},
        }
    return out


def _train(root: Path, algorithm: str) -> Path:
    from sagestack.layout import TrainingJobLayout
    from training.entrypoint import run
    from training.environment import TrainingPaths

    frame = pd.read_csv(REPO / "data" / "breast_cancer.csv")
    root.mkdir(parents=True)
    frame.to_csv(root / "train.csv", index=False)
    layout = TrainingJobLayout.create(
        root / "job",
        {"target": "target", "algorithm": algorithm},
        {TRAIN_CHANNEL: [root / "train.csv"]},
    )
    run(TrainingPaths(layout.base))
    return layout.base


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _cold_start(base: Path) -> float:
    port = _free_port()
    env = {
        **os.environ,
        BASE_DIR_ENV: str(base),
        PORT_ENV: str(port),
        HOST_ENV: "127.0.0.1",
        WORKERS_ENV: "1",
        "PYTHONPATH": str(REPO),
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(image_python()), "-m", "inference", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while time.perf_counter() - started < 30:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as reply:
                    if reply.status == 200:
                        return time.perf_counter() - started
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"serve exited {process.returncode}") from None
                time.sleep(0.005)
        raise RuntimeError("no answer on /ping within 30 s")
    finally:
        # Stopping is not measured: SIGTERM (the server drains), then SIGKILL for the group.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


_PARTS = """
import sys, time
started = time.perf_counter()
import numpy
numpy_done = time.perf_counter()
if sys.argv[2] == "trees":
    import onnxruntime
runtime_done = time.perf_counter()
import inference.server
from pathlib import Path
from inference.artifact import load_artifact
from inference.codecs import Decoder
from inference.predictor import compile_predictor, self_check
server_done = time.perf_counter()
artifact = load_artifact(Path(sys.argv[1]))
predictor = compile_predictor(artifact)
rows = [list(row) for row in artifact.schema.sample_rows]
self_check(predictor, artifact.schema, Decoder(artifact.schema).decode_rows(rows))
loaded = time.perf_counter()
print(numpy_done - started, runtime_done - numpy_done, server_done - runtime_done,
      loaded - server_done)
"""
PART_NAMES = ("import numpy", "import onnxruntime", "import the server", "load + self-check")


def _parts(base: Path, algorithm: str) -> list[float]:
    kind = "linear" if algorithm == "logistic_regression" else "trees"
    result = subprocess.run(
        [str(image_python()), "-c", _PARTS, str(base / "model"), kind],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    return [float(value) for value in result.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--label", default="", help="said after the machine note, e.g. a tree")
    parser.add_argument("--output", default="footprint", help="results file name, no suffix")
    arguments = parser.parse_args()
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "note": "a shared 2-core machine (other engineers' jobs ran alongside)",
        },
        "rounds": arguments.rounds,
    }
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        results["installed"] = _sizes(root)
        bases = {algorithm: _train(root / algorithm, algorithm) for algorithm in ALGORITHMS}
        timings: dict[str, list[float]] = {algorithm: [] for algorithm in ALGORITHMS}
        parts: dict[str, list[list[float]]] = {algorithm: [] for algorithm in ALGORITHMS}
        for _ in range(arguments.rounds):
            for algorithm in ALGORITHMS:
                timings[algorithm].append(_cold_start(bases[algorithm]))
                parts[algorithm].append(_parts(bases[algorithm], algorithm))
        shutil.rmtree(root, ignore_errors=True)
    results["cold_start_seconds"] = {
        algorithm: {"median": round(statistics.median(t), 3), "max": round(max(t), 3)}
        for algorithm, t in timings.items()
    }
    results["cold_start_parts_seconds"] = {
        algorithm: {
            name: round(statistics.median(run[index] for run in runs), 3)
            for index, name in enumerate(PART_NAMES)
        }
        for algorithm, runs in parts.items()
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{arguments.output}.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Inference footprint",
        "",
        results["machine"]["note"] + arguments.label + ".",
        "",
        "| dependency set | installed with bytecode | largest |",
        "| --- | ---: | --- |",
    ]
    for name, entry in results["installed"].items():
        largest = ", ".join(f"{k} {v}" for k, v in list(entry["largest_mib"].items())[:5])
        lines.append(f"| {name} | {entry['total_mib']} MiB | {largest} |")
    lines += [
        "",
        f"Cold start, process start to the first 200 on /ping ({arguments.rounds} "
        "alternating rounds):",
        "",
        "| algorithm | median | max |",
        "| --- | ---: | ---: |",
    ]
    for algorithm, entry in results["cold_start_seconds"].items():
        lines.append(f"| {algorithm} | {entry['median']} s | {entry['max']} s |")
    lines += [
        "",
        "Its parts in a fresh process (medians, seconds):",
        "",
        "| algorithm | " + " | ".join(PART_NAMES) + " |",
        "| --- |" + " ---: |" * len(PART_NAMES),
    ]
    for algorithm, entry in results["cold_start_parts_seconds"].items():
        lines.append(f"| {algorithm} | " + " | ".join(str(entry[n]) for n in PART_NAMES) + " |")
    (RESULTS_DIR / f"{arguments.output}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
