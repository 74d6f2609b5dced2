"""Per-row explanation cost: ours (linear exact, sampling Shapley over the served model) beside
shap's TreeExplainer, on the same fitted models.

Models: the training container's pipeline, fitted in this process on synthetic data (30
numeric features, 20,000 rows): logistic regression, a 100-tree random forest and a
100-iteration histogram gradient boosting. For each, one row at a time through the server's
own Predictor and Explainer (median of alternating rounds), and the largest additivity gap.

shap cannot live in this project's environment (it requires scikit-learn, scipy, pandas and
numba, none of which the inference image may carry), so `--shap-python` names the Python of a
separate virtual environment that has shap; the script runs there as a fresh process: import
time (the cold-start cost), explainer construction, per-row shap_values latency, additivity,
and the installed size of every distribution in that environment.

    python -m benchmarks.explain_benchmark [--shap-python /tmp/shap-venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from contracts.artifact import MODEL_FILE
from contracts.container import TRAIN_CHANNEL
from contracts.hyperparameters import ALGORITHMS

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks" / "results"
FEATURES = 30
ROWS = 20_000
ROUNDS = 5
ROWS_PER_ROUND = 20

SHAP_SCRIPT = r"""
import json, statistics, sys, time
started = time.perf_counter()
import shap
import_seconds = time.perf_counter() - started
import importlib.metadata as metadata
import joblib, numpy as np
pipeline = joblib.load(sys.argv[1])
matrix = np.load(sys.argv[2])
estimator = pipeline.steps[-1][1]
started = time.perf_counter()
explainer = shap.TreeExplainer(estimator)
build_seconds = time.perf_counter() - started
latencies, gaps = [], []
for row in matrix:
    started = time.perf_counter()
    values = explainer.shap_values(row[None, :])
    latencies.append(time.perf_counter() - started)
    values = np.asarray(values)
    positive = values[..., 1] if values.ndim == 3 else values
    base = np.atleast_1d(explainer.expected_value)
    base = base[1] if base.size > 1 else base[0]
    total = base + positive.sum()
    if hasattr(estimator, "decision_function"):
        want = estimator.decision_function(row[None, :])[0]
    else:
        want = estimator.predict_proba(row[None, :])[0, 1]
    gaps.append(abs(total - want))
sizes = {}
for dist in metadata.distributions():
    total = 0
    for file in dist.files or []:
        try:
            total += file.locate().stat().st_size
        except OSError:
            pass
    sizes[dist.metadata["Name"].lower()] = total
print(json.dumps({
    "shap_version": shap.__version__,
    "import_seconds": import_seconds,
    "build_seconds": build_seconds,
    "per_row_ms": statistics.median(latencies) * 1000,
    "max_additivity_gap": max(gaps),
    "distribution_bytes": sizes,
}))
"""


def _fit(algorithm: str, root: Path) -> Path:
    """The training entrypoint's artifact for one algorithm, on synthetic data."""
    import pandas as pd
    from sklearn.datasets import make_classification

    from sagestack.layout import TrainingJobLayout
    from training.entrypoint import run
    from training.environment import TrainingPaths

    features, labels = make_classification(
        n_samples=ROWS, n_features=FEATURES, n_informative=10, random_state=0
    )
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(FEATURES)])
    frame["target"] = labels
    data = root / f"{algorithm}.csv"
    frame.to_csv(data, index=False)
    layout = TrainingJobLayout.create(
        root / algorithm, {"target": "target", "algorithm": algorithm}, {TRAIN_CHANNEL: [data]}
    )
    run(TrainingPaths(layout.base))
    return layout.model_dir


def _ours(model_dir: Path) -> dict[str, Any]:
    from inference.artifact import load_artifact
    from inference.codecs import Decoder
    from inference.explain import additivity_gap, check_explainer, load_explainer
    from inference.predictor import compile_predictor

    artifact = load_artifact(model_dir)
    predictor = compile_predictor(artifact)
    decoder = Decoder(artifact.schema)
    # What explanations add to a cold start: reading explainer.json and the start self-check.
    started = time.perf_counter()
    explainer = load_explainer(artifact, predictor.head)
    assert explainer is not None
    check_explainer(
        explainer,
        predictor,
        decoder.decode_rows([list(row) for row in artifact.schema.sample_rows]),
    )
    start_seconds = time.perf_counter() - started
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(ROUNDS * ROWS_PER_ROUND, FEATURES))
    plain: list[float] = []
    explained: list[float] = []
    gaps: list[float] = []
    for round_ in range(ROUNDS):
        chunk = rows[round_ * ROWS_PER_ROUND : (round_ + 1) * ROWS_PER_ROUND]
        order = ("plain", "explained") if round_ % 2 == 0 else ("explained", "plain")
        for kind in order:
            for row in chunk:
                started = time.perf_counter()
                batch = decoder.decode_rows([row.tolist()])
                probabilities = predictor.predict_proba(batch)
                if kind == "explained":
                    explanations = explainer.explain(predictor.transform(batch), probabilities)
                    elapsed = time.perf_counter() - started
                    gaps.append(additivity_gap(explanations))
                    explained.append(elapsed)
                else:
                    plain.append(time.perf_counter() - started)
    return {
        "space": explainer.space,
        "cold_start_added_ms": round(start_seconds * 1000, 2),
        "predict_ms": round(statistics.median(plain) * 1000, 4),
        "predict_and_explain_ms": round(statistics.median(explained) * 1000, 4),
        "max_additivity_gap": max(gaps),
    }


def _shap(python: str, model_dir: Path, scratch: Path) -> dict[str, Any]:
    import joblib

    pipeline = joblib.load(model_dir / MODEL_FILE)
    rng = np.random.default_rng(1)
    raw = rng.normal(size=(ROWS_PER_ROUND, FEATURES))
    import pandas as pd

    frame = pd.DataFrame(raw, columns=[f"f{i}" for i in range(FEATURES)])
    matrix = np.asarray(pipeline.steps[0][1].transform(frame), dtype=np.float64)
    np.save(scratch / "rows.npy", matrix)
    script = scratch / "shap_probe.py"
    script.write_text(SHAP_SCRIPT)
    runs = []
    # Twice: the first import after installing compiles bytecode and fills the file cache; an
    # image would ship compiled bytecode, so the second run's figures are the ones compared.
    for _ in range(2):
        completed = subprocess.run(
            [python, str(script), str(model_dir / MODEL_FILE), str(scratch / "rows.npy")],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if completed.returncode != 0:
            return {"error": completed.stderr[-2000:]}
        runs.append(json.loads(completed.stdout.splitlines()[-1]))
    result: dict[str, Any] = runs[1]
    result["first_import_seconds"] = runs[0]["import_seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shap-python", help="the Python of a separate venv that has shap")
    arguments = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sagestack-explain-") as scratch:
        root = Path(scratch)
        for algorithm in ALGORITHMS:
            model_dir = _fit(algorithm, root)
            results[algorithm] = {"ours": _ours(model_dir)}
            if arguments.shap_python and algorithm != "logistic_regression":
                results[algorithm]["shap_tree_explainer"] = _shap(
                    arguments.shap_python, model_dir, root
                )
            print(algorithm, json.dumps(results[algorithm]), flush=True)
    shap_sizes = next(
        (
            entry["shap_tree_explainer"].pop("distribution_bytes")
            for entry in results.values()
            if "distribution_bytes" in entry.get("shap_tree_explainer", {})
        ),
        None,
    )
    report = {
        "benchmark": "explanations",
        "date": time.strftime("%Y-%m-%d"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "note": "shared with other engineers' runs: absolute figures are noisy",
        },
        "rows_per_round": ROWS_PER_ROUND,
        "rounds": ROUNDS,
        "results": results,
        "shap_environment_mib": None
        if shap_sizes is None
        else {name: round(size / 2**20, 1) for name, size in sorted(shap_sizes.items())},
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "explanations.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
