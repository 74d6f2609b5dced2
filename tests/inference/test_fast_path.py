"""The single-numeric-row fast path answers exactly what the general path answers.

`App._single_numeric_row` scores one CSV row in plain Python and returns None for anything it
does not handle; the general path (numpy decoder, compiled predictor) is the reference. For
any body, the fast answer, when there is one, must equal the general answer (status, label,
probabilities within 1e-12), and both must equal the fitted pipeline's.
"""

from __future__ import annotations

import json
import math
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference.app import App
from inference.artifact import load_artifact
from inference.http import Request, Response
from inference.predictor import compile_predictor
from tests.inference.conftest import TrainedModel

TOLERANCE = 1e-12


def _apps(model: TrainedModel) -> tuple[App, App]:
    """The same model twice: as served, and with the fast path switched off."""
    artifact = load_artifact(model.model_dir)
    fast = App(compile_predictor(artifact), artifact.schema, 6_291_456)
    general_predictor = compile_predictor(artifact)
    general_predictor.row_scorer = None
    return fast, App(general_predictor, artifact.schema, 6_291_456)


def _request(body: bytes, **headers: str) -> Request:
    return Request("POST", "/invocations", {"content-type": "text/csv", **headers}, body)


def _same(fast: Response, general: Response) -> None:
    assert general.status < 500, general.body  # whatever the input, never a server error
    assert (fast.status, fast.content_type) == (general.status, general.content_type)
    if fast.status != 200 or fast.content_type != "application/json":
        assert fast.body == general.body
        return
    got, want = json.loads(fast.body), json.loads(general.body)
    assert [p["label"] for p in got["predictions"]] == [p["label"] for p in want["predictions"]]
    for mine, theirs in zip(got["predictions"], want["predictions"], strict=True):
        assert mine.keys() == theirs.keys()
        for key, value in mine.get("probabilities", {}).items():
            assert abs(value - theirs["probabilities"][key]) <= TOLERANCE


def test_only_numeric_binary_logistic_regressions_get_a_row_scorer(
    models: dict[str, TrainedModel],
) -> None:
    scorers = {
        name: compile_predictor(load_artifact(model.model_dir)).row_scorer is not None
        for name, model in models.items()
    }
    assert scorers == {
        "binary": True,
        "multiclass": False,
        "mixed": False,
        "forest": False,
        "boosting": False,
    }


def test_plain_rows_take_the_fast_path_and_match_the_pipeline(
    models: dict[str, TrainedModel],
) -> None:
    model = models["binary"]
    fast, general = _apps(model)
    pipeline = joblib.load(model.model_dir / "model.joblib")
    for _, row in model.features.head(50).iterrows():
        body = (",".join(repr(float(v)) for v in row) + "\n").encode()
        answer = fast._single_numeric_row(_request(body))
        assert answer is not None  # it really took the fast path
        _same(answer, general.handle(_request(body)))
        (entry,) = json.loads(answer.body)["predictions"]
        frame = pd.DataFrame([row.to_numpy()], columns=row.index)
        assert abs(entry["probabilities"]["1"] - pipeline.predict_proba(frame)[0][1]) <= 1e-9
        assert entry["label"] == pipeline.predict(frame)[0]


@pytest.mark.parametrize(
    ("change", "headers"),
    [
        (lambda cells: cells, {"accept": "text/csv"}),
        (lambda cells: cells, {"x-amzn-sagemaker-custom-attributes": "probabilities=false"}),
        (lambda cells: cells, {"content-type": "application/json"}),
        (lambda cells: ["", *cells[1:]], {}),  # a missing value: the decoder's job
        (lambda cells: ["inf", *cells[1:]], {}),
        (lambda cells: cells[1:], {}),
        (lambda cells: ['"1.0"', *cells[1:]], {}),
        (lambda cells: ["abc", *cells[1:]], {}),
    ],
)
def test_anything_unusual_goes_the_general_way(
    models: dict[str, TrainedModel], change: object, headers: dict[str, str]
) -> None:
    model = models["binary"]
    fast, general = _apps(model)
    cells = [repr(float(v)) for v in model.features.iloc[0]]
    body = (",".join(change(cells)) + "\n").encode()  # type: ignore[operator]
    assert fast._single_numeric_row(_request(body, **headers)) is None
    _same(fast.handle(_request(body, **headers)), general.handle(_request(body, **headers)))


_CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda v: f" {v:g} "),
    st.sampled_from(["", "nan", "NaN", "-inf", "1e309", "1_000", "+5", ".5", "x", "١٢", '"3"']),
    st.integers(-(10**6), 10**6).map(str),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fast_and_general_paths_agree_on_any_row(
    models: dict[str, TrainedModel], data: st.DataObject
) -> None:
    model = models["binary"]
    fast, general = _apps(model)
    width = model.features.shape[1]
    cells = data.draw(st.lists(_CELLS, min_size=width - 1, max_size=width + 1))
    ending = data.draw(st.sampled_from(["", "\n", "\r\n"]))
    body = (",".join(cells) + ending).encode()
    _same(fast.handle(_request(body)), general.handle(_request(body)))


def test_scores_within_the_rounding_budget_match_numpy_and_others_go_the_general_way() -> None:
    from inference.predictor import RowScorer, _NumericStep

    step = _NumericStep(np.zeros(2), np.zeros(2), np.ones(2))
    scorer = RowScorer(step, np.array([[1.0, 1.0]]), 0.0)
    for value in (-250.0, -20.0, -1e-9, 0.0, 20.0, 250.0):
        numpy_probability = 1.0 / (1.0 + np.exp(-np.float64(value + value)))
        got = scorer.probability([value, value])
        assert got is not None
        assert math.isclose(got, float(numpy_probability), rel_tol=0, abs_tol=1e-15)
    # Beyond the budget, or not a number: the general path answers.
    assert scorer.probability([250.0, 250.1]) is None
    assert scorer.probability([1e308, -1e308]) is None
    assert scorer.probability([math.nan, 1.0]) is None
    assert scorer.probability([math.inf, 1.0]) is None
    assert scorer.probability([1.0]) is None


# -- one row of JSON numbers ------------------------------------------------------------------

_JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    "shape",
    [
        lambda row: {"instances": [row]},
        lambda row: [row],
        lambda row: row,
    ],
)
def test_plain_json_rows_take_the_fast_path_and_match_the_pipeline(
    models: dict[str, TrainedModel], shape: Any
) -> None:
    model = models["binary"]
    fast, general = _apps(model)
    pipeline = joblib.load(model.model_dir / "model.joblib")
    for _, row in model.features.head(20).iterrows():
        # Integers too, as JSON writers send whole numbers.
        values = [int(v) if float(v).is_integer() else float(v) for v in row]
        body = json.dumps(shape(values)).encode()
        answer = fast._single_numeric_row(_request(body, **_JSON))
        assert answer is not None  # it really took the fast path
        _same(answer, general.handle(_request(body, **_JSON)))
        (entry,) = json.loads(answer.body)["predictions"]
        frame = pd.DataFrame([row.to_numpy()], columns=row.index)
        assert abs(entry["probabilities"]["1"] - pipeline.predict_proba(frame)[0][1]) <= 1e-9
        assert entry["label"] == pipeline.predict(frame)[0]


@pytest.mark.parametrize(
    "change",
    [
        lambda row: {"instances": [[None, *row[1:]]]},  # missing: the decoder's job
        lambda row: {"instances": [[True, *row[1:]]]},
        lambda row: {"instances": [[str(row[0]), *row[1:]]]},
        lambda row: {"instances": [row, row]},
        lambda row: {"instances": [row], "extra": 1},
        lambda row: {"instances": [dict(enumerate(row))]},
        lambda row: {"instances": [row[1:]]},
        lambda row: {"rows": [row]},
        lambda row: [[10**400, *row[1:]]],
        lambda row: [[float("inf"), *row[1:]]],
    ],
)
def test_unusual_json_goes_the_general_way(models: dict[str, TrainedModel], change: Any) -> None:
    model = models["binary"]
    fast, general = _apps(model)
    row = [float(v) for v in model.features.iloc[0]]
    body = json.dumps(change(row)).encode()
    assert fast._single_numeric_row(_request(body, **_JSON)) is None
    _same(fast.handle(_request(body, **_JSON)), general.handle(_request(body, **_JSON)))


_JSON_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e4, max_value=1e4),
    st.integers(-(10**20), 10**20),
    st.sampled_from([None, True, False, "1.5", "", [], {}, 10**400, -(10**400)]),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fast_and_general_paths_agree_on_any_json_row(
    models: dict[str, TrainedModel], data: st.DataObject
) -> None:
    model = models["binary"]
    fast, general = _apps(model)
    width = model.features.shape[1]
    row = data.draw(st.lists(_JSON_VALUES, min_size=width - 1, max_size=width + 1))
    document = data.draw(st.sampled_from([{"instances": [row]}, [row], row]))
    text = json.dumps(document)
    if data.draw(st.booleans()):  # Python's JSON reads these too; the general path decides
        text = text.replace("1.0", "NaN", 1)
    body = text.encode()
    _same(fast.handle(_request(body, **_JSON)), general.handle(_request(body, **_JSON)))
