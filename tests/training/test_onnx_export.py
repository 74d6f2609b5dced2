"""Trees are converted for onnxruntime and measured against scikit-learn on held-out rows;
a model that does not convert, or whose labels change, fails the job with a reason."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sagestack.layout import TrainingJobLayout
from tests.training.support import (
    TRAIN_COMMAND,
    TrainRun,
    assert_failed,
    container_environment,
    mixed_frame,
    multiclass_frame,
)
from training import onnx_export
from training.cleaning import clean_training_frame
from training.errors import ConversionError
from training.hyperparameters import Hyperparameters
from training.model import fit
from training.onnx_export import (
    LABEL_TIE_TOLERANCE,
    export_trees,
    label_change_error,
    run_converted,
    tied_first_labels,
)


def _fitted(frame: pd.DataFrame, target: str, ids: tuple[str, ...], **hp: Any) -> Any:
    data, spec, _ = clean_training_frame(frame, target, ids)
    pipeline, _ = fit(Hyperparameters(target=target, **hp), spec, data.features, data.labels)
    return pipeline, data.features


@pytest.mark.parametrize(
    ("frame", "target", "ids", "hp"),
    [
        (mixed_frame(400, seed=2), "label", ("customer_id",), {"algorithm": "random_forest"}),
        (
            mixed_frame(400, seed=2),
            "label",
            ("customer_id",),
            {"algorithm": "hist_gradient_boosting"},
        ),
        (multiclass_frame(300, seed=4), "species", (), {"algorithm": "hist_gradient_boosting"}),
        (multiclass_frame(300, seed=4), "species", (), {"algorithm": "random_forest"}),
    ],
)
def test_trees_convert_with_categorical_and_missing_values_and_keep_their_labels(
    frame: pd.DataFrame, target: str, ids: tuple[str, ...], hp: dict[str, Any]
) -> None:
    pipeline, features = _fitted(frame, target, ids, **hp)
    reference = pipeline.predict_proba(features)
    export = export_trees(pipeline, features, reference)
    assert export is not None
    report = export.report
    assert report["labels_changed"] == 0
    assert export.passed
    assert report["rows"] == len(features)
    # The recorded figure is what the converted model really does on these rows.
    matrix = pipeline.named_steps["preprocess"].transform(features)
    measured = np.max(np.abs(run_converted(export.model, matrix) - reference))
    assert report["max_probability_difference"] == measured
    assert 0 < measured < 1e-3


def test_linear_models_are_not_converted() -> None:
    pipeline, features = _fitted(mixed_frame(100, seed=1), "label", ("customer_id",))
    assert export_trees(pipeline, features, pipeline.predict_proba(features)) is None


def test_a_converter_that_fails_fails_the_job_with_its_reason() -> None:
    pipeline, features = _fitted(
        mixed_frame(100, seed=1), "label", ("customer_id",), algorithm="random_forest"
    )

    def unsupported(estimator: Any, width: int) -> bytes:
        raise NotImplementedError("no converter for this option")

    with pytest.raises(ConversionError, match="no converter for this option") as raised:
        export_trees(pipeline, features, pipeline.predict_proba(features), unsupported)
    assert "RandomForestClassifier could not be converted to ONNX" in str(raised.value)
    assert raised.value.kind == "Model conversion failed"


def test_a_graph_onnxruntime_cannot_load_fails_the_job() -> None:
    pipeline, features = _fitted(
        mixed_frame(100, seed=1), "label", ("customer_id",), algorithm="random_forest"
    )
    with pytest.raises(ConversionError, match="could not be converted"):
        export_trees(pipeline, features, pipeline.predict_proba(features), lambda e, w: b"not onnx")


def test_changed_labels_are_counted_and_fail_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline, features = _fitted(
        mixed_frame(200, seed=3), "label", ("customer_id",), algorithm="hist_gradient_boosting"
    )
    reference = pipeline.predict_proba(features)
    real = run_converted

    def swap_first_rows(model: bytes, matrix: np.ndarray) -> np.ndarray:
        # A runtime that answers the other class for the first three rows.
        probabilities = real(model, matrix)
        probabilities[:3] = probabilities[:3, ::-1]
        return probabilities

    monkeypatch.setattr(onnx_export, "run_converted", swap_first_rows)
    export = export_trees(pipeline, features, reference)
    assert export is not None
    clear = np.abs(reference[:3, 0] - reference[:3, 1]) > LABEL_TIE_TOLERANCE
    assert export.report["labels_changed"] == int(clear.sum()) > 0
    assert not export.passed
    message = str(label_change_error(export, "hist_gradient_boosting"))
    assert f"changes the label of {int(clear.sum())} of 200 held-out rows" in message
    assert "no model was written" in message


def test_tied_classes_take_the_first_as_numpy_argmax_does_on_exact_ties() -> None:
    two = np.array([[0.5, 0.5], [0.49999997, 0.50000003], [0.4, 0.6]])
    assert tied_first_labels(two, LABEL_TIE_TOLERANCE).tolist() == [0, 0, 1]
    assert np.argmax(two, axis=1).tolist() == [0, 1, 1]
    three = np.array([[0.2, 0.4, 0.4], [0.2, 0.39, 0.41]])
    assert tied_first_labels(three, LABEL_TIE_TOLERANCE).tolist() == [1, 2]


# Loaded by the training process at start (sitecustomize): skl2onnx's converter then fails as
# it does for an estimator or option it has no converter for.
_BROKEN_CONVERTER = """
import skl2onnx


def convert_sklearn(*args, **kwargs):
    raise RuntimeError("Unable to find a shape calculator for type 'Broken'")


skl2onnx.convert_sklearn = convert_sklearn
"""


def test_a_real_job_whose_model_does_not_convert_writes_the_failure_file(
    tmp_path: Path,
) -> None:
    data = tmp_path / "train.csv"
    mixed_frame(200, seed=6).to_csv(data, index=False)
    layout = TrainingJobLayout.create(
        tmp_path / "job",
        {
            "target": "label",
            "id_columns": "customer_id",
            "algorithm": "random_forest",
            "n_estimators": 5,
        },
        {"train": [data]},
    )
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(_BROKEN_CONVERTER)
    environment = container_environment(layout.base)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(hooks), *filter(None, [environment.get("PYTHONPATH")])]
    )
    completed = subprocess.run(
        TRAIN_COMMAND, env=environment, capture_output=True, text=True, timeout=180, check=False
    )
    run = TrainRun(completed.returncode, completed.stdout, completed.stderr, layout)
    assert run.returncode == 1, run.explain()
    failure = assert_failed(
        run,
        "Model conversion failed: the RandomForestClassifier could not be converted to ONNX",
        "Unable to find a shape calculator",
    )
    assert failure.count("\n") == 1
