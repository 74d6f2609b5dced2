"""explain=true over real HTTP against `serve`: answers, additivity, and every refusal."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.inference.conftest import RunningServer, TrainedModel
from tests.inference.test_server import Serve, csv_rows, invoke

HEADER = "X-Amzn-SageMaker-Custom-Attributes"


def _explained(
    server: RunningServer, body: str, attributes: str = "explain=true", **headers: str
) -> tuple[int, dict[str, str], Any]:
    status, answer_headers, answer = invoke(
        server, body, "text/csv", **{HEADER: attributes, **headers}
    )
    return status, answer_headers, json.loads(answer) if answer else None


def _error(answer: Any) -> tuple[str, str]:
    return answer["error"]["code"], answer["error"]["message"]


@pytest.mark.parametrize("name", ["binary", "multiclass", "mixed", "forest", "boosting"])
def test_every_model_kind_explains_rows_that_add_up(
    models: dict[str, TrainedModel], serve: Serve, name: str
) -> None:
    model = models[name]
    server = serve(model.base)
    status, _, answer = _explained(server, csv_rows(model, 4))
    assert status == 200, answer
    _, _, plain = invoke(server, csv_rows(model, 4), "text/csv")
    unexplained = json.loads(plain)["predictions"]
    # scikit-learn's own answers on these rows, recorded with the fixture.
    expected = model.expected()
    classes = model.schema()["classes"]
    for index, prediction in enumerate(answer["predictions"]):
        # The same label and probabilities as without explain=true.
        assert prediction["label"] == unexplained[index]["label"]
        assert prediction["probabilities"] == unexplained[index]["probabilities"]
        explanation = prediction["explanation"]
        assert list(explanation["contributions"]) == list(model.features.columns)
        total = explanation["base_value"] + sum(explanation["contributions"].values())
        explained = classes.index(explanation["class"])
        if name in ("forest", "boosting"):
            assert explanation["space"] == "probability"
            # The served (float32 onnxruntime) probability, to float rounding...
            served = prediction["probabilities"][str(explanation["class"])]
            assert abs(total - served) <= 1e-12, (total, served)
            # ...which is scikit-learn's within the bound training measured and recorded.
            recorded = json.loads((model.model_dir / "predictor.json").read_text())
            bound = recorded["estimator"]["max_probability_difference"]
            sklearn = expected["probabilities"][index][explained]
            assert abs(total - sklearn) <= bound + 1e-12
            continue
        assert explanation["space"] == ("log_odds" if len(classes) == 2 else "class_score")
        assert explanation["class"] == expected["explanations"][index]["class"]
        want = expected["explanations"][index]["score"]
        assert abs(total - want) <= 1e-9 * max(1.0, abs(want)), (total, want)


def test_json_lines_and_probabilities_off_and_other_attributes_passed_back(
    models: dict[str, TrainedModel], serve: Serve
) -> None:
    model = models["mixed"]
    server = serve(model.base)
    status, headers, body = invoke(
        server,
        csv_rows(model, 3),
        "text/csv",
        Accept="application/jsonlines",
        **{HEADER: "trace-id=abc 123; explain=true;probabilities=false; tenant=7"},
    )
    assert status == 200, body
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert len(lines) == 3
    assert all(set(line) == {"label", "explanation"} for line in lines)
    assert headers["x-amzn-sagemaker-custom-attributes"] == "trace-id=abc 123; tenant=7"

    # explain=false is an answer without explanations; the rest still comes back.
    status, headers, answer = _explained(server, csv_rows(model, 1), "explain=false,id=9")
    assert status == 200
    assert "explanation" not in answer["predictions"][0]
    assert headers["x-amzn-sagemaker-custom-attributes"] == "id=9"
    # Only our own keys: no header back.
    status, headers, _ = _explained(server, csv_rows(model, 1), "explain=TRUE")
    assert status == 200
    assert "x-amzn-sagemaker-custom-attributes" not in headers


@pytest.mark.parametrize(
    ("attributes", "fragment"),
    [
        ("explain=yes", "explain takes true or false"),
        ("explain", "explain takes true or false"),
        ("explain=true;explain=false", "explain twice"),
        ("a=" + "x" * 1024 + ";explain=true", "at most 1024"),
    ],
)
def test_a_bad_header_value_is_a_clear_400(
    models: dict[str, TrainedModel], serve: Serve, attributes: str, fragment: str
) -> None:
    model = models["binary"]
    server = serve(model.base)
    status, _, answer = _explained(server, csv_rows(model, 1), attributes)
    assert status == 400
    code, message = _error(answer)
    assert code == "bad_custom_attributes"
    assert fragment in message


def test_a_header_with_non_ascii_bytes_is_a_400(
    models: dict[str, TrainedModel], serve: Serve
) -> None:
    import http.client

    model = models["binary"]
    server = serve(model.base)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest("POST", "/invocations")
        connection.putheader("Content-Type", "text/csv")
        connection.putheader(HEADER, "explain=true;name=caf\xe9".encode("latin-1"))
        body = csv_rows(model, 1).encode()
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        assert response.status == 400
        assert json.loads(response.read())["error"]["code"] == "bad_custom_attributes"
    finally:
        connection.close()


def test_csv_accept_is_a_406_that_says_why(models: dict[str, TrainedModel], serve: Serve) -> None:
    model = models["binary"]
    server = serve(model.base)
    status, _, answer = _explained(server, csv_rows(model, 1), Accept="text/csv")
    assert status == 406
    code, message = _error(answer)
    assert code == "explanations_need_json"
    assert "Accept: application/json" in message
    # Without explain=true, CSV is still a fine answer.
    status, _, _ = invoke(server, csv_rows(model, 1), "text/csv", Accept="text/csv")
    assert status == 200


def test_too_many_rows_is_a_413_naming_the_bound(
    models: dict[str, TrainedModel], serve: Serve
) -> None:
    model = models["forest"]
    server = serve(model.base, environment={"SAGESTACK_MAX_EXPLAINED_ROWS": "5"})
    status, _, answer = _explained(server, csv_rows(model, 5))
    assert status == 200
    status, _, answer = _explained(server, csv_rows(model, 6))
    assert status == 413
    code, message = _error(answer)
    assert code == "too_many_rows_to_explain"
    assert "at most 5 rows" in message
    assert "SAGESTACK_MAX_EXPLAINED_ROWS" in message
    # The same rows without explain=true are answered.
    status, _, _ = invoke(server, csv_rows(model, 6), "text/csv")
    assert status == 200


def test_a_bad_bound_stops_the_server_naming_the_variable(
    models: dict[str, TrainedModel], serve: Serve
) -> None:
    from tests.inference.conftest import start_server

    with pytest.raises(AssertionError, match=r"SAGESTACK_MAX_EXPLAINED_ROWS=0 is out of range"):
        start_server(
            models["binary"].base, environment={"SAGESTACK_MAX_EXPLAINED_ROWS": "0"}, timeout=10
        )


def test_an_old_artifact_serves_and_refuses_explanations_clearly(
    models: dict[str, TrainedModel], serve: Serve, tmp_path: Path
) -> None:
    model = models["mixed"]
    old = tmp_path / "old"
    shutil.copytree(model.base, old)
    (old / "model" / "explainer.json").unlink()
    server = serve(old)
    status, _, plain = invoke(server, csv_rows(model, 2), "text/csv")
    assert status == 200
    assert len(json.loads(plain)["predictions"]) == 2
    status, _, answer = _explained(server, csv_rows(model, 2))
    assert status == 400
    code, message = _error(answer)
    assert code == "explanations_unavailable"
    assert "retrain" in message


def test_an_explainer_that_does_not_fit_the_model_stops_the_start(
    models: dict[str, TrainedModel], tmp_path: Path
) -> None:
    from tests.inference.conftest import start_server

    model = models["mixed"]
    bad = tmp_path / "bad"
    shutil.copytree(model.base, bad)
    path = bad / "model" / "explainer.json"
    explainer = json.loads(path.read_text())
    explainer["column_means"] = explainer["column_means"][:-1]
    path.write_text(json.dumps(explainer))
    with pytest.raises(AssertionError, match=r"explainer\.json does not fit"):
        start_server(bad, timeout=10)
