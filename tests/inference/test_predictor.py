"""The compiled predictor gives the fitted pipeline's own answers, to 1e-9."""

from __future__ import annotations

import math
from typing import Any

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


def _compare(model: TrainedModel, frame: pd.DataFrame) -> None:
    artifact = load_artifact(model.model_dir)
    predictor = compile_predictor(artifact)
    rows = [[None if _missing(v) else v for v in row] for row in frame.itertuples(index=False)]
    batch = Decoder(artifact.schema).decode_rows(rows)
    got = predictor.predict_proba(batch)
    pipeline = artifact.load_pipeline()
    # The contract: blank text is a missing value, like an empty CSV field.
    blank = frame.map(lambda v: isinstance(v, str) and not v.strip())
    reference = as_training_input(model, frame.mask(blank, None))
    want = pipeline.predict_proba(reference)
    assert np.max(np.abs(got - want)) <= TOLERANCE
    assert predictor.labels(got).tolist() == pipeline.predict(reference).tolist()


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
        _compare(model, frame)

    check()


def test_an_unknown_estimator_uses_its_own_predict_proba(
    models: dict[str, TrainedModel],
) -> None:
    predictor = compile_predictor(load_artifact(models["forest"].model_dir))
    assert "own predict_proba" in predictor.description
    predictor = compile_predictor(load_artifact(models["binary"].model_dir))
    assert "compiled" in predictor.description


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
