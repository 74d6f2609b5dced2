"""A bug answers a JSON 500, logged with its traceback but not the request's data."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from inference.app import App
from inference.http import Request
from inference.predictor import Predictor
from tests.inference.conftest import make_schema

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
