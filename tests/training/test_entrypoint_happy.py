"""The training entrypoint's happy paths, run as SageMaker runs the image's `train` command."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from contracts.metrics import METRIC_NAMES, metric_regex
from sagestack.layout import TrainingJobLayout
from tests.conftest import SAMPLE_DATASET
from tests.training.support import mixed_frame, multiclass_frame, run_train

METRICS = METRIC_NAMES


def test_binary_sample_dataset_without_test_channel(tmp_path: Path) -> None:
    layout = TrainingJobLayout.create(
        tmp_path, {"min_accuracy": 0.9, "min_roc_auc": 0.95}, {"train": [SAMPLE_DATASET]}
    )
    run = run_train(layout)

    assert run.returncode == 0, run.explain()
    assert run.failure is None
    assert run.model_files == [
        "evaluation.json",
        "explainer.json",
        "model.joblib",
        "predictor.json",
        "schema.json",
    ]
    produced = sorted(path.name for path in layout.output_data_dir.iterdir())
    pngs = ["confusion_matrix.png", "feature_importance.png", "roc_curve.png"]
    assert produced == sorted([*pngs, "evaluation.json"])
    for png in pngs:
        assert (layout.output_data_dir / png).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    metrics = run.metrics()
    assert {f"test:{name}" for name in METRICS} <= metrics.keys()
    assert {f"train:{name}" for name in METRICS} <= metrics.keys()
    assert metrics["test:accuracy"] > 0.9
    assert metrics["test:roc_auc"] > 0.95

    evaluation = run.evaluation()
    assert evaluation["quality_gate"] == {
        "bars": {"accuracy": 0.9, "roc_auc": 0.95},
        "passed": True,
        "failures": [],
    }
    test = evaluation["splits"]["test"]
    # 20% of each class held out: round(0.2 x 212) + round(0.2 x 357) = 42 + 71 rows.
    assert test["class_counts"] == {"0": 42, "1": 71}
    assert test["rows"] == 113
    assert sum(map(sum, test["confusion_matrix"])) == 113
    assert evaluation["cleaning"]["rows_read"] == 569
    # The printed metric lines and the JSON report carry the same values.
    for name in METRICS:
        assert metrics[f"test:{name}"] == pytest.approx(test["metrics"][name], abs=1e-6)

    # The artifact's model reproduces the schema's recorded sample predictions.
    schema = run.schema()
    assert schema["format_version"] == 2
    # A linear model is compiled from predictor.json: nothing is converted for it.
    assert evaluation["serving"] is None
    assert schema["classes"] == [0, 1]
    assert schema["positive_class"] == 1
    assert schema["target"] == "target"
    assert len(schema["features"]) == 30
    assert all(feature["kind"] == "numeric" for feature in schema["features"])
    radius = schema["features"][0]
    assert radius["name"] == "mean_radius"
    assert radius["min"] <= radius["quantiles"]["0.5"] <= radius["max"]
    pipeline = joblib.load(layout.model_dir / "model.joblib")
    names = [feature["name"] for feature in schema["features"]]
    sample = pd.DataFrame(schema["sample"]["rows"], columns=names)
    assert pipeline.predict(sample).tolist() == schema["sample"]["predictions"]
    np.testing.assert_allclose(
        pipeline.predict_proba(sample), schema["sample"]["probabilities"], atol=1e-12
    )


def test_metric_lines_match_the_regexes_sagemaker_will_use(tmp_path: Path) -> None:
    import re

    layout = TrainingJobLayout.create(tmp_path, {}, {"train": [SAMPLE_DATASET]})
    run = run_train(layout)
    assert run.returncode == 0, run.explain()
    report = run.evaluation()["splits"]["test"]["metrics"]
    # Every metric evaluation computes is one the job's metric definitions extract, and back.
    assert sorted(report) == sorted(METRIC_NAMES)
    for name in METRICS:
        found = re.findall(metric_regex("test", name), run.stdout)
        assert len(found) == 1, f"{name}: {found}"
        assert float(found[0]) == pytest.approx(report[name], abs=1e-6)


def test_multiclass_with_test_and_validation_channels(tmp_path: Path) -> None:
    frame = multiclass_frame(600, seed=1)
    files = {}
    for name, part in (
        ("train", frame[:400]),
        ("validation", frame[400:500]),
        ("test", frame[500:]),
    ):
        files[name] = [tmp_path / f"{name}.csv"]
        part.to_csv(files[name][0], index=False)
    layout = TrainingJobLayout.create(tmp_path / "job", {"target": "species"}, files)
    run = run_train(layout)

    assert run.returncode == 0, run.explain()
    evaluation = run.evaluation()
    assert evaluation["classes"] == ["setosa", "versicolor", "virginica"]
    assert evaluation["positive_class"] is None
    assert set(evaluation["splits"]) == {"train", "validation", "test"}
    # The train channel is all trained on: no split when a test channel exists.
    assert evaluation["splits"]["train"]["rows"] == 400
    assert evaluation["splits"]["test"]["rows"] == 100
    assert evaluation["splits"]["validation"]["rows"] == 100
    assert len(evaluation["splits"]["test"]["confusion_matrix"]) == 3
    metrics = run.metrics()
    assert metrics["test:accuracy"] > 0.7
    assert 0.5 < metrics["validation:roc_auc"] <= 1
    assert run.schema()["sample"]["predictions"][0] in evaluation["classes"]


def test_mixed_features_with_missing_values_across_gzip_and_parquet_files(tmp_path: Path) -> None:
    frame = mixed_frame(800, seed=2)
    # Rows without a label and exact duplicates are dropped and counted.
    frame.loc[[3, 7], "label"] = None
    frame = pd.concat([frame, frame.iloc[10:15]], ignore_index=True)
    plain = tmp_path / "part-1.csv"
    zipped = tmp_path / "part-2.csv.gz"
    parquet = tmp_path / "part-3.parquet"
    frame[:300].to_csv(plain, index=False)
    with gzip.open(zipped, "wt") as handle:
        frame[300:600].to_csv(handle, index=False)
    frame[600:].to_parquet(parquet)
    layout = TrainingJobLayout.create(
        tmp_path / "job",
        {
            "target": "label",
            "id_columns": "customer_id",
            "algorithm": "random_forest",
            "n_estimators": 50,
            "positive_class": "yes",
            "min_f1": 0.6,
        },
        {"train": [plain, zipped, parquet]},
    )
    run = run_train(layout)

    assert run.returncode == 0, run.explain()
    evaluation = run.evaluation()
    # The forest is served from model.onnx, measured on the held-out rows.
    assert "model.onnx" in run.model_files
    serving = evaluation["serving"]
    assert serving["runtime"] == "onnxruntime"
    assert serving["labels_changed"] == 0
    assert serving["rows"] == evaluation["splits"]["test"]["rows"]
    assert 0 < serving["max_probability_difference"] < 1e-3
    assert evaluation["cleaning"] == {
        "rows_read": 805,
        "rows_without_target": 2,
        "duplicate_rows": 5,
        "rows_kept": 798,
        "dropped_id_columns": ["customer_id"],
        "dropped_empty_columns": [],
    }
    assert evaluation["features"] == {"numeric": ["x1", "x2"], "categorical": ["colour", "flag"]}
    assert evaluation["positive_class"] == "yes"
    schema = run.schema()
    kinds = {feature["name"]: feature for feature in schema["features"]}
    assert kinds["colour"]["categories"] == ["blue", "green", "red"]
    assert kinds["flag"]["categories"] == ["False", "True"]
    assert kinds["x1"]["missing_fraction"] > 0.05
    # A row with missing values and an unseen category still predicts.
    pipeline = joblib.load(layout.model_dir / "model.joblib")
    unseen = pd.DataFrame(
        [[np.nan, 5.0, "purple", "True"]], columns=["x1", "x2", "colour", "flag"], dtype=object
    )
    unseen[["x1", "x2"]] = unseen[["x1", "x2"]].astype(float)
    assert pipeline.predict(unseen)[0] in ("yes", "no")


@pytest.mark.parametrize(
    ("algorithm", "search", "extra"),
    [
        ("logistic_regression", "grid", {"search_folds": 3}),
        ("hist_gradient_boosting", "random", {"search_iterations": 3, "search_folds": 3}),
    ],
)
def test_cross_validated_search(
    tmp_path: Path, algorithm: str, search: str, extra: dict[str, int]
) -> None:
    layout = TrainingJobLayout.create(
        tmp_path, {"algorithm": algorithm, "search": search, **extra}, {"train": [SAMPLE_DATASET]}
    )
    run = run_train(layout)
    assert run.returncode == 0, run.explain()
    report = run.evaluation()["search"]
    assert report["mode"] == search
    assert report["folds"] == 3
    assert report["candidates"] == (5 if search == "grid" else 3)
    assert report["best_params"]
    assert report["best_score"] < 0  # negated log loss


def test_sdk_encoded_hyperparameters_and_sagemaker_keys(tmp_path: Path) -> None:
    """The SageMaker SDK JSON-encodes every value, and adds keys of its own."""
    layout = TrainingJobLayout.create(tmp_path, {}, {"train": [SAMPLE_DATASET]})
    config = tmp_path / "input" / "config" / "hyperparameters.json"
    config.write_text(
        json.dumps(
            {
                "C": json.dumps("0.5"),
                "max_iter": json.dumps(500),
                "class_weight": json.dumps("balanced"),
                "sagemaker_program": json.dumps("train.py"),
                "sagemaker_region": json.dumps("eu-west-1"),
                "_tuning_objective_metric": "test:f1",
            }
        )
    )
    run = run_train(layout)
    assert run.returncode == 0, run.explain()
    hyperparameters = run.evaluation()["hyperparameters"]
    assert hyperparameters["C"] == 0.5
    assert hyperparameters["max_iter"] == 500
    assert hyperparameters["class_weight"] == "balanced"


def test_same_seed_same_model_and_module_entry_without_argument(tmp_path: Path) -> None:
    """`python -m training` alone is the `train` command, and a seed makes runs repeatable."""
    runs = []
    for index, command in enumerate([None, [sys.executable, "-m", "training"]]):
        layout = TrainingJobLayout.create(
            tmp_path / str(index),
            {"algorithm": "random_forest", "n_estimators": 20, "seed": 7},
            {"train": [SAMPLE_DATASET]},
        )
        runs.append(run_train(layout, command))
    for run in runs:
        assert run.returncode == 0, run.explain()
    first, second = (run.evaluation() for run in runs)
    for report in (first, second):
        report.pop("training_seconds")
        report["explanations"].pop("seconds")
    # Permutation importance included: it is seeded.
    assert first == second
    assert runs[0].schema()["sample"] == runs[1].schema()["sample"]


def test_warns_about_hyperparameters_the_algorithm_ignores(tmp_path: Path) -> None:
    layout = TrainingJobLayout.create(tmp_path, {"n_estimators": 10}, {"train": [SAMPLE_DATASET]})
    run = run_train(layout)
    assert run.returncode == 0, run.explain()
    assert "n_estimators is ignored by algorithm=logistic_regression" in run.stdout
