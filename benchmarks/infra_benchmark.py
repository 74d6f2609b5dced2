"""How long the Pulumi program takes to run under the mocks, per stack.

The target (issue 5): under 5 s per stack. Each stack is run in a fresh process, as a test
worker or the engine would start it, and the report separates the program itself from the
interpreter's imports (pulumi, pulumi-aws and friends), which a fresh process pays once.
Results go to benchmarks/results/infra.json and infra.md.

    make benchmark-infra
    make benchmark-infra BENCH_ARGS="--repeats 5"
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks" / "results"
STACKS = ("dev", "staging", "prod")
TARGET_SECONDS = 5.0

# Printed by the child: seconds spent importing, then running the program.
CHILD = """
import json, time
start = time.perf_counter()
from tests.infra.program import run_program
imported = time.perf_counter()
graph = run_program({stack!r})
done = time.perf_counter()
print(json.dumps({{"imports": imported - start, "program": done - imported,
                   "resources": len(graph.resources)}}))
"""


def measure(stack: str) -> dict[str, float]:
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", CHILD.format(stack=stack)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    result["process"] = wall
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    for stack in STACKS:
        runs = [measure(stack) for _ in range(args.repeats)]
        medians = {
            f"median_{key}_s": round(statistics.median(run[key] for run in runs), 3)
            for key in ("process", "imports", "program")
        }
        row: dict[str, object] = {
            "stack": stack,
            "resources": int(runs[0]["resources"]),
            **medians,
            "target_met": medians["median_process_s"] < TARGET_SECONDS,
        }
        rows.append(row)
        print(json.dumps(row))
    report = {
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "repeats": args.repeats,
        "target_seconds": TARGET_SECONDS,
        "stacks": rows,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "infra.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "| stack | resources | fresh process (s) | imports (s) | program (s) | under 5 s |",
        "| --- | --- | --- | --- | --- | --- |",
        *(
            f"| {r['stack']} | {r['resources']} | {r['median_process_s']} | "
            f"{r['median_imports_s']} | {r['median_program_s']} | "
            f"{'yes' if r['target_met'] else 'no'} |"
            for r in rows
        ),
    ]
    (RESULTS_DIR / "infra.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
