"""Training speed and memory: the `train` entrypoint against a bare scikit-learn script.

For each size (synthetic classification data, 30 numeric features, written once as CSV under
.benchmarks/), both commands run as fresh processes, alternating, in one run of this script:

- entrypoint: `train` in a SageMaker-shaped folder, exactly as the image runs it (reading,
  cleaning, split, fit, evaluation, plots, schema and atomic artifact included);
- bare: `pandas.read_csv` + `LogisticRegression().fit` + `joblib.dump` on the same file.

Wall time and peak RSS (the kernel's ru_maxrss for that child alone, from wait4) are recorded
for every repeat; the report gives medians and the entrypoint/bare ratios, and how much of
the entrypoint's time went to explanations (permutation importance on a sample of
training.explain.IMPORTANCE_ROWS test rows, standardized coefficients, explainer.json; the
entrypoint times them and writes it into evaluation.json). Results go to
benchmarks/results/training.json and, as a Markdown table, benchmarks/results/training.md.

    make benchmark                       # 10k, 100k and 1M rows
    make benchmark BENCH_ARGS="--sizes 10000 --repeats 1"
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from contracts.artifact import EVALUATION_FILE
from contracts.container import BASE_DIR_ENV, TRAIN_CHANNEL
from training.explain import IMPORTANCE_ROWS

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / ".benchmarks" / "data"
RESULTS_DIR = REPO / "benchmarks" / "results"
FEATURES = 30
# The targets at 1M rows: the entrypoint within these multiples of the bare script.
TARGET_TIME_RATIO = 1.3
TARGET_MEMORY_RATIO = 1.5

BARE_SCRIPT = """
import sys
import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression

frame = pd.read_csv(sys.argv[1])
labels = frame.pop("target")
model = LogisticRegression(max_iter=1000).fit(frame, labels)
joblib.dump(model, sys.argv[2])
"""


@dataclass(frozen=True)
class Sample:
    seconds: float
    peak_mib: float


def dataset(rows: int) -> Path:
    """Synthetic binary data, rounded to 6 decimals like real exports; generated once."""
    path = DATA_DIR / f"classification-{rows}x{FEATURES}.csv"
    if path.exists():
        return path
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    features, labels = make_classification(
        n_samples=rows, n_features=FEATURES, n_informative=10, random_state=0
    )
    frame = pd.DataFrame(np.round(features, 6), columns=[f"f{i}" for i in range(FEATURES)])
    frame["target"] = labels
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    frame.to_csv(partial, index=False)
    partial.replace(path)
    return path


def measure(command: list[str], environment: dict[str, str]) -> Sample:
    started = time.perf_counter()
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed with status {status}")
    return Sample(seconds, usage.ru_maxrss / 1024)


def entrypoint_command(data: Path, workdir: Path) -> tuple[list[str], dict[str, str]]:
    from sagestack.layout import TrainingJobLayout
    from sagestack.processes import container_path

    layout = TrainingJobLayout.create(workdir, {}, {})
    channel = workdir / "input" / "data" / TRAIN_CHANNEL
    channel.mkdir(parents=True, exist_ok=True)
    (channel / data.name).symlink_to(data)
    (workdir / "input" / "config" / "inputdataconfig.json").write_text(
        json.dumps({TRAIN_CHANNEL: {"TrainingInputMode": "File"}})
    )
    environment = {**os.environ, "PATH": container_path(), BASE_DIR_ENV: str(layout.base)}
    return ["train"], environment


def clear_outputs(workdir: Path) -> None:
    for folder in (workdir / "model", workdir / "output" / "data"):
        for file in folder.glob("*"):
            file.unlink()


def run_size(rows: int, repeats: int) -> dict[str, object]:
    data = dataset(rows)
    with tempfile.TemporaryDirectory(prefix="sagestack-bench-") as scratch:
        workdir = Path(scratch) / "job"
        train, train_env = entrypoint_command(data, workdir)
        bare_script = Path(scratch) / "bare.py"
        bare_script.write_text(BARE_SCRIPT)
        bare = [sys.executable, str(bare_script), str(data), str(Path(scratch) / "bare.joblib")]
        samples: dict[str, list[Sample]] = {"entrypoint": [], "bare": []}
        explanation_seconds: list[float] = []
        # One untimed round first: file cache and this VM's memory are warm for both alike.
        for repeat in range(repeats + 1):
            order = [("entrypoint", train, train_env), ("bare", bare, dict(os.environ))]
            if repeat % 2:
                order.reverse()
            for name, command, environment in order:
                clear_outputs(workdir)
                sample = measure(command, environment)
                if repeat:
                    samples[name].append(sample)
                    if name == "entrypoint":
                        report = json.loads(
                            (workdir / "output" / "data" / EVALUATION_FILE).read_text()
                        )
                        explanation_seconds.append(float(report["explanations"]["seconds"]))
                    print(
                        f"  {rows:>9} rows  {name:<10} {sample.seconds:6.2f} s "
                        f"{sample.peak_mib:7.0f} MiB",
                        flush=True,
                    )

    def median(name: str, field: str) -> float:
        return float(statistics.median(getattr(sample, field) for sample in samples[name]))

    summary: dict[str, object] = {"rows": rows, "features": FEATURES, "repeats": repeats}
    for name in samples:
        summary[name] = {
            "seconds": round(median(name, "seconds"), 3),
            "peak_mib": round(median(name, "peak_mib"), 1),
            "samples": [asdict(sample) for sample in samples[name]],
        }
    summary["explanations"] = {
        "seconds": round(statistics.median(explanation_seconds), 3),
        "samples": explanation_seconds,
        "importance_rows": min(IMPORTANCE_ROWS, round(rows * 0.2)),
    }
    summary["time_ratio"] = round(median("entrypoint", "seconds") / median("bare", "seconds"), 3)
    summary["memory_ratio"] = round(
        median("entrypoint", "peak_mib") / median("bare", "peak_mib"), 3
    )
    return summary


def markdown(results: list[dict[str, object]]) -> str:
    lines = [
        "| rows | entrypoint | bare script | time ratio | entrypoint peak | bare peak "
        "| memory ratio | of which explanations |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        entry, bare, explained = result["entrypoint"], result["bare"], result["explanations"]
        assert isinstance(explained, dict)
        assert isinstance(entry, dict)
        assert isinstance(bare, dict)
        lines.append(
            f"| {result['rows']:,} | {entry['seconds']:.2f} s | {bare['seconds']:.2f} s "
            f"| {result['time_ratio']:.2f}x | {entry['peak_mib']:.0f} MiB "
            f"| {bare['peak_mib']:.0f} MiB | {result['memory_ratio']:.2f}x "
            f"| {explained['seconds']:.2f} s ({explained['importance_rows']:,} rows) |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--name", default="training", help="results file name (default: training.json/.md)"
    )
    arguments = parser.parse_args()

    results = []
    for rows in arguments.sizes:
        print(f"{rows:,} rows:", flush=True)
        results.append(run_size(rows, arguments.repeats))
    report = {
        "benchmark": "training",
        "date": time.strftime("%Y-%m-%d"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "targets_at_1M": {"time_ratio": TARGET_TIME_RATIO, "memory_ratio": TARGET_MEMORY_RATIO},
        "results": results,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{arguments.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(results)
    (RESULTS_DIR / f"{arguments.name}.md").write_text(table)
    print("\n" + table)


if __name__ == "__main__":
    main()
