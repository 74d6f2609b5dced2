"""The predictor gives the fitted pipeline's own answers, recorded in the fixtures: a compiled
linear model to 1e-9, trees (onnxruntime, float32) within the bound training recorded, with the
same labels. (On random rows, against fresh models: tests/training/test_served_predictions.py.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from inference.artifact import ArtifactError, load_artifact
from inference.predictor import compile_predictor
from tests.inference.agreement import TOLERANCE, assert_predictions_agree, recorded_bound
from tests.inference.conftest import TrainedModel

MODEL_NAMES = ["binary", "multiclass", "mixed", "forest", "boosting"]
TREE_MODELS = ["forest", "boosting"]


def _compare(model: TrainedModel, frame: pd.DataFrame) -> None:
    """frame: some of the model's held-out rows, whose scikit-learn answers the fixture holds."""
    expected = model.expected()
    answers = {
        "labels": [expected["labels"][index] for index in frame.index],
        "probabilities": [expected["probabilities"][index] for index in frame.index],
    }
    assert_predictions_agree(model.model_dir, frame, answers)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_held_out_rows(models: dict[str, TrainedModel], name: str) -> None:
    _compare(models[name], models[name].features)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_single_rows_one_by_one(models: dict[str, TrainedModel], name: str) -> None:
    model = models[name]
    for index in range(5):
        _compare(model, model.features.iloc[[index]])


@pytest.mark.parametrize("name", TREE_MODELS)
def test_trees_run_in_onnxruntime_within_their_recorded_bound(
    models: dict[str, TrainedModel], name: str
) -> None:
    predictor = compile_predictor(load_artifact(models[name].model_dir))
    assert "onnxruntime, float32" in predictor.description
    bound = recorded_bound(models[name].model_dir)
    # float32 is not exact: a bound of 0 would mean nothing was measured.
    assert 0 < bound < 0.05
    assert predictor.self_check_tolerance == bound
    predictor = compile_predictor(load_artifact(models["binary"].model_dir))
    assert "compiled" in predictor.description
    assert predictor.self_check_tolerance == TOLERANCE


def test_exact_ties_take_the_first_class_as_scikit_learn_does(
    models: dict[str, TrainedModel],
) -> None:
    predictor = compile_predictor(load_artifact(models["forest"].model_dir))
    # A 50/50 forest vote after float32 sums: either class a hair ahead.
    probabilities = np.array([[0.49999997, 0.50000003], [0.50000003, 0.49999997], [0.3, 0.7]])
    assert predictor.labels(probabilities).tolist() == [
        predictor.classes[0],
        predictor.classes[0],
        predictor.classes[1],
    ]
    linear = compile_predictor(load_artifact(models["binary"].model_dir))
    assert linear.labels(probabilities).tolist() == [linear.classes[1], linear.classes[0], 1]


def test_parameters_that_do_not_fit_the_schema_are_refused(
    models: dict[str, TrainedModel], tmp_path: Any
) -> None:
    import json
    import shutil

    target = tmp_path / "model"
    shutil.copytree(models["mixed"].model_dir, target)
    parameters = json.loads((target / "predictor.json").read_text())
    parameters["numeric"]["columns"].reverse()
    (target / "predictor.json").write_text(json.dumps(parameters))
    with pytest.raises(ArtifactError, match="numeric columns differ"):
        compile_predictor(load_artifact(target))


def test_linear_models_are_served_without_importing_scikit_learn(
    models: dict[str, TrainedModel],
) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path\n"
        "from inference.artifact import load_artifact\n"
        "from inference.predictor import compile_predictor\n"
        f"compile_predictor(load_artifact(Path({str(models['binary'].model_dir)!r})))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
