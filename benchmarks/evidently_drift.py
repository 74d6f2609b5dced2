"""Evidently's DataDriftPreset on the benchmark's rows: run by monitor_benchmark.py in its venv.

Evidently is handed the rows already decoded (a DataFrame from the .npy the capture files
were written from) and the training rows as reference: its best case, no capture parsing.

    python benchmarks/evidently_drift.py reference.csv current.npy names.json result.json
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

# Installed only in the benchmark's own venv, never in .venv where mypy runs.
from evidently import Report  # type: ignore[import-not-found]
from evidently.presets import DataDriftPreset  # type: ignore[import-not-found]

started = time.perf_counter()
reference = pd.read_csv(sys.argv[1])
names = json.loads(Path(sys.argv[3]).read_text())
current = pd.DataFrame(np.load(sys.argv[2]), columns=names)
reference = reference[names]
loaded = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
document = snapshot.dict()
finished = time.perf_counter()
drifted = None
for metric in document.get("metrics", []):
    if str(metric.get("metric_name", "")).startswith("DriftedColumnsCount"):
        drifted = metric.get("value", {}).get("count")
Path(sys.argv[4]).write_text(
    json.dumps(
        {
            "load_seconds": loaded - started,
            "drift_seconds": finished - loaded,
            "drifted_columns": drifted,
        }
    )
)
