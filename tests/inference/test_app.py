"""The app's answers to what the codecs cannot catch: a bug (a JSON 500, logged with its
traceback but not the request's data) and values the model's arithmetic overflows on (a 400)."""

from __future__ import annotations

import json
import logging
import math
import warnings
from typing import Any

import numpy as np
import pytest

from inference.app import App, Request, Response
from inference.artifact import load_artifact
from inference.predictor import Predictor, compile_predictor
from tests.inference.conftest import TrainedModel, make_schema

SCHEMA = make_schema({"a": "numeric"})


def _broken_head(matrix: np.ndarray) -> np.ndarray:
    raise RuntimeError("a bug in the model code")


def test_a_bug_is_a_500_without_the_request_data(caplog: pytest.LogCaptureFixture) -> None:
    predictor = Predictor(None, None, _broken_head, np.array([0, 1]), "broken")
    app = App(predictor, SCHEMA, 1000)
    secret = "31415.9265"
    with caplog.at_level(logging.ERROR, logger="inference"):
        response = app.handle(
            Request("POST", "/invocations", {"content-type": "text/csv"}, secret.encode())
        )
    assert response.status == 500
    assert json.loads(response.body) == {
        "error": {"code": "internal_error", "message": "internal server error"}
    }
    (record,) = caplog.records
    assert record.exc_info is not None
    assert "a bug in the model code" in caplog.text
    assert secret not in caplog.text
    assert app.stats.statuses[500] == 1


def _strict_json(body: bytes) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(body, parse_constant=refuse)


def _invoke(app: App, body: str) -> Response:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow warnings are handled, not printed
        return app.handle(
            Request("POST", "/invocations", {"content-type": "text/csv"}, body.encode())
        )


@pytest.mark.parametrize("kind", ["binary", "multiclass", "mixed", "forest", "boosting"])
@pytest.mark.parametrize("magnitude", ["1e38", "-1e300", "1.7976931348623157e308"])
def test_huge_values_get_valid_probabilities_or_a_400_naming_the_row(
    models: dict[str, TrainedModel], kind: str, magnitude: str
) -> None:
    """Finite values so large that standardizing or scoring them may overflow (the pipeline
    then refuses them or answers NaN): either probabilities that are real numbers adding up to
    one, or a 400 naming the row. Never a 500, NaN in the JSON, or a warning."""
    model = models[kind]
    artifact = load_artifact(model.model_dir)
    app = App(compile_predictor(artifact), artifact.schema, 6_291_456)
    good = model.features.head(2).to_csv(index=False, header=False).splitlines()
    cells = good[1].split(",")
    for position, feature in enumerate(artifact.schema.features):
        if feature.kind == "numeric":
            cells[position] = magnitude
    response = _invoke(app, "\n".join([good[0], ",".join(cells)]) + "\n")
    answer = _strict_json(response.body)
    if response.status == 400:
        assert answer["error"]["code"] == "out_of_range"
        assert answer["error"]["message"].startswith("row 2: ")
        assert app.stats.violations["out_of_range"] == 1
    else:
        assert response.status == 200, answer
        for prediction in answer["predictions"]:
            assert math.isclose(sum(prediction["probabilities"].values()), 1.0, abs_tol=1e-9)
    assert _invoke(app, good[0] + "\n").status == 200


@pytest.mark.parametrize("kind", ["binary", "forest"])
def test_values_that_overflow_the_model_are_a_400(
    models: dict[str, TrainedModel], kind: str
) -> None:
    # The largest float, on every feature: the binary model's scaling overflows it (some of
    # its features vary by less than one), and trees work in float32.
    model = models[kind]
    artifact = load_artifact(model.model_dir)
    app = App(compile_predictor(artifact), artifact.schema, 6_291_456)
    row = ",".join(["1.7976931348623157e308"] * len(artifact.schema.features))
    response = _invoke(app, row + "\n")
    assert response.status == 400
    assert _strict_json(response.body)["error"]["code"] == "out_of_range"
