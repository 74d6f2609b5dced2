"""Monitor speed and memory: `monitor` over captured rows against Evidently's DataDriftPreset.

One model is trained on data/breast_cancer.csv (30 numeric features). The benchmark's rows are
training rows resampled with 2% noise, three features shifted; they are written once under
.benchmarks/monitor/ both as SageMaker capture files (single-row CSV requests with the
server's JSON answers, 100k records a file) and as a .npy of the same values.

- monitor: `python -m inference monitor` over the capture files, end to end (reading the
  JSON lines, decoding with the server's codecs, statistics, report, plots), as the job runs;
- evidently: `Report([DataDriftPreset()]).run(current, reference)` on the same rows as a
  DataFrame (handed over decoded: its best case) with the training rows as reference, in its
  own venv (.benchmarks/evidently-venv, from benchmarks/evidently-requirements.txt: evidently
  0.7 cannot be installed beside our pandas 3).

Both run as fresh processes, alternating, in one run; wall time and peak RSS (ru_maxrss from
wait4, that child alone) per round; medians and ratios go to benchmarks/results/monitor.json
and monitor.md. The goal (issue 16): at least 5x faster, at most 1/3 of the memory.

    .venv/bin/python -m benchmarks.monitor_benchmark                 # 1M rows, 3 rounds
    .venv/bin/python -m benchmarks.monitor_benchmark --rows 100000 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.pinned_venv import pinned_python
from contracts.artifact import MODEL_FILE, SCHEMA_FILE
from contracts.container import TEST_CHANNEL, TRAIN_CHANNEL

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".benchmarks" / "monitor"
VENV = REPO / ".benchmarks" / "evidently-venv"
REQUIREMENTS = REPO / "benchmarks" / "evidently-requirements.txt"
RESULTS_DIR = REPO / "benchmarks" / "results"
START = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
SHIFTED = ("mean_radius", "worst_texture", "mean_smoothness")
RECORDS_PER_FILE = 100_000
TARGET_SPEEDUP = 5.0
TARGET_MEMORY_SHARE = 1 / 3


def train_model() -> Path:
    model_dir = WORK / "job" / "model"
    if (model_dir / SCHEMA_FILE).is_file():
        return model_dir
    import pandas as pd

    from sagestack.layout import TrainingJobLayout
    from training.entrypoint import run
    from training.environment import TrainingPaths

    frame = pd.read_csv(REPO / "data" / "breast_cancer.csv").sample(frac=1.0, random_state=0)
    data = WORK / "data"
    data.mkdir(parents=True, exist_ok=True)
    cut = int(len(frame) * 0.8)
    frame.iloc[:cut].to_csv(data / "train.csv", index=False)
    frame.iloc[cut:].to_csv(data / "test.csv", index=False)
    layout = TrainingJobLayout.create(
        WORK / "job",
        {"target": "target"},
        {TRAIN_CHANNEL: [data / "train.csv"], TEST_CHANNEL: [data / "test.csv"]},
    )
    run(TrainingPaths(layout.base))
    return model_dir


def make_rows(rows: int, model_dir: Path) -> tuple[Path, Path, Path]:
    """The capture folder, the .npy of the same rows and the feature names (written once)."""
    import joblib
    import numpy as np
    import pandas as pd

    from inference.codecs import encode
    from sagestack.capture import Exchange, capture_line

    folder = WORK / f"rows-{rows}"
    capture, matrix_path = folder / "capture", folder / "current.npy"
    names_path = folder / "names.json"
    if (folder / "done").is_file():
        return capture, matrix_path, names_path
    schema = json.loads((model_dir / SCHEMA_FILE).read_text())
    names = [feature["name"] for feature in schema["features"]]
    train = pd.read_csv(WORK / "data" / "train.csv")[names]
    rng = np.random.default_rng(0)
    values = train.to_numpy()[rng.integers(0, len(train), rows)]
    values = np.round(values * rng.normal(1.0, 0.02, values.shape), 6)
    for name in SHIFTED:
        values[:, names.index(name)] *= 1.3
    probabilities = joblib.load(model_dir / MODEL_FILE).predict_proba(
        pd.DataFrame(values, columns=names)
    )
    classes = schema["classes"]
    hour = capture / "sagestack-bench" / "primary" / START.strftime("%Y/%m/%d/%H")
    hour.mkdir(parents=True, exist_ok=True)
    step = 3600 / rows
    for first in range(0, rows, RECORDS_PER_FILE):
        lines = []
        for index in range(first, min(first + RECORDS_PER_FILE, rows)):
            row = probabilities[index : index + 1]
            label = classes[int(row[0].argmax())]
            exchange = Exchange(
                START + timedelta(seconds=index * step),
                "text/csv",
                ",".join(map(repr, values[index].tolist())).encode(),
                "application/json",
                encode("application/json", [label], row, classes),
                event_id=f"e{index}",
            )
            lines.append(capture_line(exchange) + "\n")
        (hour / f"{first // RECORDS_PER_FILE:04d}.jsonl").write_text("".join(lines))
    np.save(matrix_path, values)
    names_path.write_text(json.dumps(names))
    (folder / "done").write_text("")
    return capture, matrix_path, names_path


def measure(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed with status {status}")
    return seconds, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args(argv)
    model_dir = train_model()
    capture, matrix, names = make_rows(arguments.rows, model_dir)
    python = pinned_python(VENV, REQUIREMENTS)
    output = WORK / "output"
    evidently_result = WORK / "evidently.json"
    monitor = [
        sys.executable,
        "-m",
        "inference",
        "monitor",
        "--capture",
        str(capture),
        "--model",
        str(model_dir),
        "--output",
        str(output),
        "--start",
        START.isoformat(),
        "--end",
        END.isoformat(),
    ]
    evidently = [
        str(python),
        str(REPO / "benchmarks" / "evidently_drift.py"),
        str(WORK / "data" / "train.csv"),
        str(matrix),
        str(names),
        str(evidently_result),
    ]
    samples: dict[str, list[tuple[float, float]]] = {"monitor": [], "evidently": []}
    for round_number in range(arguments.rounds):
        # Alternate which goes first, so neither always meets a warm or a cold page cache.
        order = ["monitor", "evidently"] if round_number % 2 == 0 else ["evidently", "monitor"]
        for name in order:
            samples[name].append(measure(monitor if name == "monitor" else evidently))
            print(
                f"round {round_number + 1} {name}: {samples[name][-1][0]:.1f} s, "
                f"{samples[name][-1][1]:.0f} MiB",
                flush=True,
            )
    ours = json.loads((output / "statistics.json").read_text())["sagestack"]
    theirs = json.loads(evidently_result.read_text())
    median = {
        name: (statistics.median(s for s, _ in runs), statistics.median(m for _, m in runs))
        for name, runs in samples.items()
    }
    speedup = median["evidently"][0] / median["monitor"][0]
    memory_share = median["monitor"][1] / median["evidently"][1]
    result = {
        "rows": arguments.rows,
        "rounds": arguments.rounds,
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs, shared with other work",
        "monitor": {
            "seconds": median["monitor"][0],
            "peak_mib": median["monitor"][1],
            "rows_judged": ours["rows"],
            "drifted": ours["drifted"],
        },
        "evidently": {
            "seconds": median["evidently"][0],
            "peak_mib": median["evidently"][1],
            "drift_seconds_last_round": theirs["drift_seconds"],
            "drifted_columns": theirs["drifted_columns"],
        },
        "speedup": speedup,
        "memory_share": memory_share,
        "goal": {
            "speedup": TARGET_SPEEDUP,
            "memory_share": TARGET_MEMORY_SHARE,
            "met": speedup >= TARGET_SPEEDUP and memory_share <= TARGET_MEMORY_SHARE,
        },
        "samples": samples,
        "shifted_features": list(SHIFTED),
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "monitor.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS_DIR / "monitor.md").write_text(_markdown(result))
    print(_markdown(result))
    return 0


def _markdown(result: dict[str, object]) -> str:
    m, e = result["monitor"], result["evidently"]
    assert isinstance(m, dict)
    assert isinstance(e, dict)
    goal = result["goal"]
    assert isinstance(goal, dict)
    return "\n".join(
        [
            f"# monitor vs Evidently DataDriftPreset, {result['rows']:,} captured rows",
            "",
            f"Medians of {result['rounds']} alternating rounds; {result['machine']} (so absolute",
            "times are noisy; the ratios are measured side by side in the same run).",
            "",
            "| | wall time | peak RSS | drifted features found |",
            "| --- | --- | --- | --- |",
            f"| `monitor` (capture files, end to end) | {m['seconds']:.1f} s | "
            f"{m['peak_mib']:.0f} MiB | {len(m['drifted'])}: {', '.join(m['drifted'])} |",
            f"| Evidently DataDriftPreset (rows handed over decoded) | {e['seconds']:.1f} s | "
            f"{e['peak_mib']:.0f} MiB | {e['drifted_columns']} |",
            "",
            f"Speed-up {result['speedup']:.2f}x (goal {goal['speedup']:g}x); memory "
            f"{result['memory_share']:.2f} of Evidently's (goal at most "
            f"{goal['memory_share']:.2f}): goal {'met' if goal['met'] else 'NOT met'}.",
            "",
            f"Shifted features: {', '.join(result['shifted_features'])} (x1.3).",  # type: ignore[arg-type]
            "",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
