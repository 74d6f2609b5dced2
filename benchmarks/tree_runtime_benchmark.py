"""Tree models in-process: which runtime serves them without scikit-learn, at what precision.

In one run, side by side, alternating rounds, medians, for a random forest and a hist gradient
boosting model (defaults) on the sample data (numeric) and on a mixed frame (categorical and
missing values):
- scikit-learn: `pipeline.predict_proba` on a one-row frame (the reference);
- sagestack: the server's predictor (numpy preprocessing from predictor.json, the estimator in
  onnxruntime from model.onnx, float32), on one decoded row;
- onnxruntime on the whole pipeline converted by skl2onnx in float32 (preprocessing too);
- onnxruntime in float64 (skl2onnx with DoubleTensorType): recorded as it loads or fails;
- treelite GTIL (float64) on the preprocessed row.
For each: max |Δp| against scikit-learn and labels changed on the held-out rows. Results:
benchmarks/results/trees.json and benchmarks/results/trees.md.

    .venv/bin/python -m benchmarks.tree_runtime_benchmark [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contracts.artifact import MODEL_FILE, SCHEMA_FILE
from contracts.container import TEST_CHANNEL, TRAIN_CHANNEL

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks" / "results"
CALLS_PER_ROUND = 200


def _datasets() -> list[tuple[str, pd.DataFrame, str, str]]:
    from tests.training.support import mixed_frame

    return [
        (
            "numeric (sample data, 30 columns)",
            pd.read_csv(REPO / "data" / "breast_cancer.csv"),
            "target",
            "",
        ),
        ("mixed (categorical, missing values)", mixed_frame(2000, seed=5), "label", "customer_id"),
    ]


def _train(root: Path, frame: pd.DataFrame, target: str, ids: str, algorithm: str) -> Path:
    from sagestack.layout import TrainingJobLayout
    from training.entrypoint import run
    from training.environment import TrainingPaths

    cut = int(len(frame) * 0.7)
    source = root / "data"
    source.mkdir(parents=True)
    frame.iloc[:cut].to_csv(source / "train.csv", index=False)
    frame.iloc[cut:].to_csv(source / "test.csv", index=False)
    hp: dict[str, object] = {"target": target, "algorithm": algorithm}
    if ids:
        hp["id_columns"] = ids
    layout = TrainingJobLayout.create(
        root / "job",
        hp,
        {TRAIN_CHANNEL: [source / "train.csv"], TEST_CHANNEL: [source / "test.csv"]},
    )
    run(TrainingPaths(layout.base))
    return layout.model_dir


def _median_us(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    for _ in range(CALLS_PER_ROUND):
        call()
    return (time.perf_counter() - started) / CALLS_PER_ROUND * 1e6


def _compare(probabilities: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    return {
        "max_abs_dp": float(np.max(np.abs(probabilities - reference))),
        "labels_changed": int(np.sum(np.argmax(probabilities, 1) != np.argmax(reference, 1))),
    }


def _candidates(model_dir: Path, held_out: pd.DataFrame) -> dict[str, Any]:
    import joblib
    import onnxruntime
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    from inference.artifact import load_artifact
    from inference.codecs import Decoder
    from inference.predictor import compile_predictor
    from tests.inference.agreement import is_missing

    pipeline = joblib.load(model_dir / MODEL_FILE)
    schema = json.loads((model_dir / SCHEMA_FILE).read_text())
    kinds = {f["name"]: f["kind"] for f in schema["features"]}
    frame = held_out
    reference = pipeline.predict_proba(frame)
    estimator = pipeline.steps[-1][1]
    matrix = pipeline.steps[0][1].transform(frame)
    one_frame = frame.iloc[:1]
    out: dict[str, Any] = {}

    out["scikit-learn predict_proba"] = {
        "call": lambda: pipeline.predict_proba(one_frame),
        "max_abs_dp": 0.0,
        "labels_changed": 0,
    }

    artifact = load_artifact(model_dir)
    predictor = compile_predictor(artifact)
    decoder = Decoder(artifact.schema)
    rows = [[None if is_missing(v) else v for v in row] for row in frame.itertuples(index=False)]
    got = predictor.predict_proba(decoder.decode_rows(rows))
    served = predictor.labels(got)
    one = decoder.decode_rows(rows[:1])
    out["sagestack predictor (numpy + onnxruntime float32)"] = {
        "call": lambda: predictor.predict_proba(one),
        "max_abs_dp": float(np.max(np.abs(got - reference))),
        "labels_changed": int(np.sum(served != pipeline.predict(frame))),
    }

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1

    def session(model: Any) -> Any:
        return onnxruntime.InferenceSession(
            model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
        )

    numeric = [n for n, k in kinds.items() if k == "numeric"]
    categorical = [n for n, k in kinds.items() if k == "categorical"]
    for label, tensor, dtype in (
        ("onnxruntime, whole pipeline, float32", FloatTensorType, np.float32),
        ("onnxruntime, whole pipeline, float64", DoubleTensorType, np.float64),
    ):
        if categorical:
            types = [(n, tensor([None, 1])) for n in numeric]
            types += [(n, StringTensorType([None, 1])) for n in categorical]
        else:
            types = [("input", tensor([None, len(numeric)]))]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                graph = convert_sklearn(
                    pipeline,
                    initial_types=types,
                    options={id(estimator): {"zipmap": False}},
                    target_opset={"": 21, "ai.onnx.ml": 3},
                )
            runner = session(graph)
        except Exception as error:
            out[label] = {"error": f"{type(error).__name__}: {str(error)[:200]}"}
            continue

        def feed(rows_frame: pd.DataFrame, dtype: Any = dtype) -> dict[str, Any]:
            if not categorical:
                return {"input": rows_frame[numeric].to_numpy(dtype=dtype)}
            values = {n: rows_frame[[n]].to_numpy(dtype=dtype) for n in numeric}
            values.update({n: rows_frame[[n]].to_numpy(dtype=object) for n in categorical})
            return values

        probabilities = runner.run(["probabilities"], feed(frame))[0].astype(np.float64)
        one_feed = feed(one_frame)
        out[label] = {
            "call": lambda runner=runner, one_feed=one_feed: runner.run(
                ["probabilities"], one_feed
            ),
            **_compare(probabilities, reference),
        }

    import treelite

    try:
        forest = treelite.sklearn.import_model(estimator)
        # scikit-learn's forests compare float32 values; its boosting compares float64.
        cast = (
            matrix.astype(np.float32).astype(np.float64)
            if hasattr(estimator, "estimators_")
            else matrix
        )
        raw = np.asarray(treelite.gtil.predict(forest, cast), dtype=np.float64)
        raw = raw.reshape(len(cast), -1)
        if raw.shape[1] == 1:
            raw = np.hstack([1 - raw, raw])
        one_row = cast[:1]
        out["treelite GTIL, float64"] = {
            "call": lambda: treelite.gtil.predict(forest, one_row),
            **_compare(raw, reference),
        }
    except Exception as error:
        out["treelite GTIL, float64"] = {"error": f"{type(error).__name__}: {str(error)[:200]}"}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "note": "a shared 2-core machine (other engineers' jobs ran alongside)",
        },
        "rounds": arguments.rounds,
        "calls_per_round": CALLS_PER_ROUND,
        "cases": [],
    }
    with tempfile.TemporaryDirectory() as scratch:
        for dataset, frame, target, ids in _datasets():
            for algorithm in ("random_forest", "hist_gradient_boosting"):
                root = Path(scratch) / f"{len(results['cases'])}"
                model_dir = _train(root, frame, target, ids, algorithm)
                held_out = pd.read_csv(root / "data" / "test.csv")
                schema = json.loads((model_dir / SCHEMA_FILE).read_text())
                names = [f["name"] for f in schema["features"]]
                from tests.training.inference_fixtures import as_training_input

                candidates = _candidates(model_dir, as_training_input(schema, held_out[names]))
                timings: dict[str, list[float]] = {
                    name: [] for name, c in candidates.items() if "call" in c
                }
                for _ in range(arguments.rounds):
                    for name in timings:
                        timings[name].append(_median_us(candidates[name]["call"]))
                case: dict[str, Any] = {
                    "dataset": dataset,
                    "algorithm": algorithm,
                    "held_out_rows": len(held_out),
                    "runtimes": {},
                }
                for name, candidate in candidates.items():
                    entry = {k: v for k, v in candidate.items() if k != "call"}
                    if name in timings:
                        entry["us_per_row"] = round(statistics.median(timings[name]), 1)
                    case["runtimes"][name] = entry
                results["cases"].append(case)
                print(json.dumps(case))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "trees.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Tree runtimes in-process (one row per call)",
        "",
        f"{results['machine']['note']}; {arguments.rounds} alternating rounds of "
        f"{CALLS_PER_ROUND} calls, medians. Held-out rows: max |Δp| against scikit-learn and "
        "labels changed.",
        "",
        "| data | algorithm | runtime | µs/row | max abs Δp | labels changed |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for case in results["cases"]:
        for name, entry in case["runtimes"].items():
            if "error" in entry:
                lines.append(
                    f"| {case['dataset']} | {case['algorithm']} | {name} | "
                    f"fails: {entry['error'][:90]} | | |"
                )
                continue
            lines.append(
                f"| {case['dataset']} | {case['algorithm']} | {name} | {entry['us_per_row']} | "
                f"{entry['max_abs_dp']:.2g} | "
                f"{entry['labels_changed']} of {case['held_out_rows']} |"
            )
    (RESULTS_DIR / "trees.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
