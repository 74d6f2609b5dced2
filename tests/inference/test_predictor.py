"""The predictor gives the fitted pipeline's own answers: a compiled linear model to 1e-9,
trees (onnxruntime, float32) within the bound training recorded, with the same labels."""

from __future__ import annotations

import math
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference.artifact import ArtifactError, load_artifact
from inference.codecs import Decoder
from inference.predictor import compile_predictor
from tests.inference.conftest import TrainedModel, as_training_input

TOLERANCE = 1e-9
MODEL_NAMES = ["binary", "multiclass", "mixed", "forest", "boosting"]
TREE_MODELS = ["forest", "boosting"]
# Rows training never saw: the held-out bound is an observation, not a proof, so random rows
# get twice it (and 1e-6, a few float32 roundings of a probability); scikit-learn's label
# may then differ only where its own two best classes are that close.
RANDOM_ROW_SLACK = 2.0
RANDOM_ROW_FLOOR = 1e-6


def _recorded_bound(model: TrainedModel) -> float:
    import json

    estimator = json.loads((model.model_dir / "predictor.json").read_text())["estimator"]
    if estimator["kind"] != "tree_ensemble":
        return TOLERANCE
    return float(estimator["max_probability_difference"])


def _compare(model: TrainedModel, frame: pd.DataFrame, *, held_out: bool = True) -> None:
    artifact = load_artifact(model.model_dir)
    predictor = compile_predictor(artifact)
    rows = [[None if _missing(v) else v for v in row] for row in frame.itertuples(index=False)]
    batch = Decoder(artifact.schema).decode_rows(rows)
    got = predictor.predict_proba(batch)
    pipeline = joblib.load(model.model_dir / "model.joblib")
    # The contract: blank text is a missing value, like an empty CSV field.
    blank = frame.map(lambda v: isinstance(v, str) and not v.strip())
    reference = as_training_input(model, frame.mask(blank, None))
    want = pipeline.predict_proba(reference)
    bound = _recorded_bound(model)
    if not held_out and bound > TOLERANCE:
        bound = max(RANDOM_ROW_SLACK * bound, RANDOM_ROW_FLOOR)
    assert np.max(np.abs(got - want)) <= bound
    labels, theirs = predictor.labels(got), pipeline.predict(reference)
    if held_out or bound == TOLERANCE:
        assert labels.tolist() == theirs.tolist()
        return
    ordered = np.sort(want, axis=1)
    clear = ordered[:, -1] - ordered[:, -2] > 2 * bound
    assert labels[clear].tolist() == theirs[clear].tolist()


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_held_out_rows(models: dict[str, TrainedModel], name: str) -> None:
    _compare(models[name], models[name].features)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_single_rows_one_by_one(models: dict[str, TrainedModel], name: str) -> None:
    model = models[name]
    for index in range(5):
        _compare(model, model.features.iloc[[index]])


def _rows_strategy(model: TrainedModel) -> st.SearchStrategy[pd.DataFrame]:
    schema = model.schema()
    columns = []
    for feature in schema["features"]:
        if feature["kind"] == "numeric":
            low, high = feature["min"], feature["max"]
            span = high - low or 1.0
            columns.append(
                st.one_of(
                    st.none(),
                    st.floats(low - span, high + span, allow_nan=False, allow_infinity=False),
                )
            )
        else:
            columns.append(
                st.one_of(st.none(), st.sampled_from(feature["categories"]), st.text(max_size=5))
            )
    names = [feature["name"] for feature in schema["features"]]
    return st.lists(st.tuples(*columns), min_size=1, max_size=20).map(
        lambda rows: pd.DataFrame(rows, columns=names).astype(
            {
                n: float
                for n, f in zip(names, schema["features"], strict=True)
                if f["kind"] == "numeric"
            }
        )
    )


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_random_rows_with_missing_values_and_unseen_categories(
    models: dict[str, TrainedModel], name: str
) -> None:
    model = models[name]

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_rows_strategy(model))
    def check(frame: pd.DataFrame) -> None:
        _compare(model, frame, held_out=False)

    check()


@pytest.mark.parametrize("name", TREE_MODELS)
def test_trees_run_in_onnxruntime_within_their_recorded_bound(
    models: dict[str, TrainedModel], name: str
) -> None:
    predictor = compile_predictor(load_artifact(models[name].model_dir))
    assert "onnxruntime, float32" in predictor.description
    bound = _recorded_bound(models[name])
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
