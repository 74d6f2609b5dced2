"""Evidently's DataDriftPreset on the benchmark's rows: run by monitor_benchmark.py in its venv.

Evidently is handed the rows already decoded (a DataFrame from the .npy the capture files
were written from) and the training rows as reference: its best case, no capture parsing.

    python benchmarks/evidently_drift.py reference.csv current.npy names.json result.json
"""

import json
import sys
import time

import numpy as np
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

started = time.perf_counter()
reference = pd.read_csv(sys.argv[1])
names = json.loads(open(sys.argv[3]).read())
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
with open(sys.argv[4], "w") as handle:
    json.dump({"load_seconds": loaded - started, "drift_seconds": finished - loaded,
               "drifted_columns": drifted}, handle)
