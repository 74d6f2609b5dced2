"""The model server as SageMaker runs it: `serve`, a real port, real HTTP."""

from __future__ import annotations

import http.client
import io
import json
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.inference.conftest import RunningServer, TrainedModel, start_server

Serve = Callable[..., RunningServer]


def request(
    server: RunningServer,
    method: str,
    path: str,
    body: bytes | str = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(
            method, path, body.encode() if isinstance(body, str) else body, headers or {}
        )
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def invoke(
    server: RunningServer, body: bytes | str, content_type: str, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    return request(server, "POST", "/invocations", body, {"Content-Type": content_type, **headers})


def csv_rows(model: TrainedModel, rows: int) -> str:
    return model.features.head(rows).to_csv(index=False, header=False)


def expected(model: TrainedModel, rows: int) -> tuple[list[Any], np.ndarray]:
    """What the fitted pipeline itself answered on the first held-out rows (in the fixture)."""
    answers = model.expected()
    return answers["labels"][:rows], np.array(answers["probabilities"][:rows])


@pytest.fixture
def binary(models: dict[str, TrainedModel], serve: Serve) -> tuple[TrainedModel, RunningServer]:
    return models["binary"], serve(models["binary"].base)


def test_ping_is_empty_200(binary: tuple[TrainedModel, RunningServer]) -> None:
    _, server = binary
    status, headers, body = request(server, "GET", "/ping")
    assert (status, body, headers["content-length"]) == (200, b"", "0")


def test_csv_single_row_and_batch_match_the_pipeline(
    binary: tuple[TrainedModel, RunningServer],
) -> None:
    model, server = binary
    for rows in (1, 50):
        status, headers, body = invoke(server, csv_rows(model, rows), "text/csv")
        assert status == 200, body
        assert headers["content-type"] == "application/json"
        predictions = json.loads(body)["predictions"]
        labels, probabilities = expected(model, rows)
        assert [p["label"] for p in predictions] == labels
        got = np.array([[p["probabilities"]["0"], p["probabilities"]["1"]] for p in predictions])
        np.testing.assert_allclose(got, probabilities, atol=1e-9, rtol=0)


@pytest.mark.parametrize(
    ("content_type", "make_body"),
    [
        ("text/csv; charset=utf-8", lambda f: f.to_csv(index=False)),  # with a header row
        ("application/json", lambda f: json.dumps({"instances": f.values.tolist()})),
        ("application/json", lambda f: json.dumps({"instances": f.to_dict("records")})),
        ("application/json", lambda f: json.dumps(f.values.tolist())),
        ("application/json", lambda f: json.dumps(f.values.tolist()[0])),
        (
            "application/jsonlines",
            lambda f: "\n".join(json.dumps(row) for row in f.values.tolist()),
        ),
        (
            "application/jsonlines",
            lambda f: "\n".join(json.dumps(row) for row in f.to_dict("records")),
        ),
    ],
)
def test_every_request_type(
    binary: tuple[TrainedModel, RunningServer],
    content_type: str,
    make_body: Callable[[Any], str],
) -> None:
    model, server = binary
    frame = model.features.head(1 if "[0]" in repr(make_body) else 3)
    status, _, body = invoke(server, make_body(frame), content_type)
    assert status == 200, body
    labels, _ = expected(model, len(json.loads(body)["predictions"]))
    assert [p["label"] for p in json.loads(body)["predictions"]] == labels


def test_npy_request(binary: tuple[TrainedModel, RunningServer]) -> None:
    model, server = binary
    buffer = io.BytesIO()
    np.save(buffer, model.features.head(4).to_numpy(dtype=float))
    status, _, body = invoke(server, buffer.getvalue(), "application/x-npy")
    assert status == 200, body
    labels, _ = expected(model, 4)
    assert [p["label"] for p in json.loads(body)["predictions"]] == labels


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("text/csv", "text/csv"),
        ("application/jsonlines", "application/jsonlines"),
        ("application/xml;q=1, text/csv;q=0.5, application/json;q=0.9", "application/json"),
        ("text/csv;q=0.2, application/jsonlines", "application/jsonlines"),
    ],
)
def test_accept_negotiation(
    binary: tuple[TrainedModel, RunningServer], accept: str | None, content_type: str
) -> None:
    model, server = binary
    headers = {"Accept": accept} if accept else {}
    status, response_headers, body = invoke(server, csv_rows(model, 2), "text/csv", **headers)
    assert status == 200, body
    assert response_headers["content-type"] == content_type
    labels, probabilities = expected(model, 2)
    if content_type == "text/csv":
        lines = [line.split(",") for line in body.decode().splitlines()]
        assert [int(line[0]) for line in lines] == labels
        np.testing.assert_allclose([[float(v) for v in line[1:]] for line in lines], probabilities)
    elif content_type == "application/jsonlines":
        assert [json.loads(line)["label"] for line in body.decode().splitlines()] == labels


def test_probabilities_can_be_turned_off(binary: tuple[TrainedModel, RunningServer]) -> None:
    model, server = binary
    status, _, body = invoke(
        server,
        csv_rows(model, 2),
        "text/csv",
        **{"X-Amzn-SageMaker-Custom-Attributes": "probabilities=false"},
    )
    assert status == 200
    assert all(set(p) == {"label"} for p in json.loads(body)["predictions"])


def test_execution_parameters(binary: tuple[TrainedModel, RunningServer]) -> None:
    _, server = binary
    status, _, body = request(server, "GET", "/execution-parameters")
    assert status == 200
    assert json.loads(body) == {
        "MaxConcurrentTransforms": 1,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6,
    }


ERROR_CASES: list[tuple[str, str, str | None, int, str, str]] = [
    # (name, content type, body, status, code, fragment of the message)
    ("malformed csv", "text/csv", '1,"2', 400, "malformed_csv", "malformed CSV"),
    ("ragged rows", "text/csv", "1,2,3\n1,2", 400, "wrong_feature_count", "row 1 has 3 values"),
    ("not a number", "text/csv", None, 400, "not_a_number", "row 2, feature 'mean_texture'"),
    ("infinity", "text/csv", None, 400, "not_finite", "'inf' is not finite"),
    ("empty body", "text/csv", "", 400, "empty_body", "empty"),
    ("malformed json", "application/json", "{oops", 400, "malformed_json", "malformed JSON"),
    (
        "json object without instances",
        "application/json",
        '{"rows": []}',
        400,
        "malformed_json",
        '"instances"',
    ),
    ("unknown feature", "application/json", None, 400, "unknown_feature", "'radius'"),
    ("missing feature", "application/json", None, 400, "missing_feature", "lacks features"),
    ("json boolean in numeric", "application/json", None, 400, "not_a_number", "true"),
    ("not utf-8", "text/csv", b"\xff\xfe1,2".decode("latin-1"), 400, "", ""),
    ("unsupported type", "text/plain", "1,2", 415, "unsupported_content_type", "text/csv"),
    ("no content type", "", "1,2", 415, "unsupported_content_type", "(none)"),
]


def _error_body(model: TrainedModel, name: str, body: str | None) -> str:
    row = model.features.head(2).values.tolist()
    if name == "not a number":
        row[1][1] = "abc"
        return "\n".join(",".join(map(str, r)) for r in row)
    if name == "infinity":
        row[0][3] = "inf"
        return ",".join(map(str, row[0]))
    record = model.features.head(1).to_dict("records")[0]
    if name == "unknown feature":
        return json.dumps([{**record, "radius": 1}])
    if name == "missing feature":
        record.pop("mean_area")
        return json.dumps([record])
    if name == "json boolean in numeric":
        return json.dumps([{**record, "mean_area": True}])
    assert body is not None
    return body


@pytest.mark.parametrize("case", ERROR_CASES, ids=[case[0] for case in ERROR_CASES])
def test_bad_requests_get_a_clear_4xx(
    binary: tuple[TrainedModel, RunningServer], case: tuple[str, str, str | None, int, str, str]
) -> None:
    model, server = binary
    name, content_type, body, status, code, fragment = case
    headers = {"Content-Type": content_type} if content_type else {}
    got, response_headers, payload = request(
        server, "POST", "/invocations", _error_body(model, name, body).encode("latin-1"), headers
    )
    assert response_headers["content-type"] == "application/json"
    error = json.loads(payload)["error"]
    if name == "not utf-8":
        assert got == 400
        return
    assert (got, error["code"]) == (status, code), error
    assert fragment in error["message"]
    # The server is still healthy afterwards.
    assert request(server, "GET", "/ping")[0] == 200


def test_not_acceptable(binary: tuple[TrainedModel, RunningServer]) -> None:
    model, server = binary
    status, _, body = invoke(server, csv_rows(model, 1), "text/csv", Accept="application/xml")
    assert status == 406
    assert "application/json" in json.loads(body)["error"]["message"]


def test_wrong_method_and_path(binary: tuple[TrainedModel, RunningServer]) -> None:
    _, server = binary
    status, headers, body = request(server, "GET", "/invocations")
    assert status == 405
    assert headers["allow"] == "POST"
    assert json.loads(body)["error"]["code"] == "method_not_allowed"
    status, _, body = request(server, "GET", "/models")
    assert status == 404
    assert json.loads(body)["error"]["code"] == "not_found"


def test_payload_over_the_limit_is_413_before_it_is_read(
    models: dict[str, TrainedModel], serve: Serve
) -> None:
    server = serve(models["binary"].base, environment={"SAGESTACK_MAX_PAYLOAD_BYTES": "1000"})
    status, _, body = invoke(server, "1," * 600, "text/csv")
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    assert request(server, "GET", "/ping")[0] == 200


def test_default_limit_is_sagemakers_6_mb(binary: tuple[TrainedModel, RunningServer]) -> None:
    _, server = binary
    status, _, _ = invoke(server, b"1" * 6_291_457, "text/csv")
    assert status == 413


def test_mixed_features_with_missing_values_and_unseen_categories(
    models: dict[str, TrainedModel], serve: Serve
) -> None:
    model = models["mixed"]
    server = serve(model.base)
    names = list(model.features.columns)
    row = dict.fromkeys(names)
    row.update({"x2": 4.5, "colour": "purple", "flag": True})
    status, _, body = invoke(server, json.dumps([row]), "application/json")
    assert status == 200, body
    csv_body = ",".join("" if row[name] is None else str(row[name]) for name in names)
    status, _, csv_answer = invoke(server, csv_body, "text/csv")
    assert status == 200, csv_answer
    assert json.loads(body) == json.loads(csv_answer)
    labels, _ = expected(model, 40)
    status, _, body = invoke(server, csv_rows(model, 40), "text/csv")
    assert [p["label"] for p in json.loads(body)["predictions"]] == labels


def test_npy_is_refused_for_categorical_models(
    models: dict[str, TrainedModel], serve: Serve
) -> None:
    server = serve(models["mixed"].base)
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((1, 4)))
    status, _, body = invoke(server, buffer.getvalue(), "application/x-npy")
    assert status == 415
    assert "categorical" in json.loads(body)["error"]["message"]


@pytest.mark.parametrize("name", ["multiclass", "forest", "boosting"])
def test_other_models_match_their_pipeline(
    models: dict[str, TrainedModel], serve: Serve, name: str
) -> None:
    model = models[name]
    server = serve(model.base)
    status, _, body = invoke(server, csv_rows(model, 30), "text/csv")
    assert status == 200, body
    labels, probabilities = expected(model, 30)
    predictions = json.loads(body)["predictions"]
    assert [p["label"] for p in predictions] == labels
    got = np.array([list(p["probabilities"].values()) for p in predictions])
    # Trees run in float32 (onnxruntime), within the bound training measured on these rows.
    estimator = json.loads((model.model_dir / "predictor.json").read_text())["estimator"]
    bound = estimator.get("max_probability_difference", 1e-9)
    np.testing.assert_allclose(got, probabilities, atol=bound, rtol=0)


def test_32_concurrent_clients_two_workers(models: dict[str, TrainedModel], serve: Serve) -> None:
    model = models["binary"]
    server = serve(model.base, workers=2)
    body = csv_rows(model, 1).encode()
    labels, _ = expected(model, 1)
    failures: list[str] = []

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            for _ in range(25):
                connection.request("POST", "/invocations", body, {"Content-Type": "text/csv"})
                response = connection.getresponse()
                payload = response.read()
                if response.status != 200:
                    failures.append(f"{response.status} {payload[:200]!r}")
                elif json.loads(payload)["predictions"][0]["label"] != labels[0]:
                    failures.append(f"wrong label {payload[:200]!r}")
        except Exception as error:
            failures.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert server.stop() == 0
    summaries = [r for r in server.log_records() if r.get("event") == "summary"]
    assert sum(s["requests"].get("200", 0) for s in summaries) == 32 * 25
    assert sum(s["rows_predicted"] for s in summaries) == 32 * 25


def test_sigterm_finishes_the_request_in_flight(
    models: dict[str, TrainedModel], serve: Serve
) -> None:
    """A request whose body is still arriving when SIGTERM lands is answered, then it exits 0."""
    model = models["binary"]
    server = serve(model.base)
    rows = len(model.features)
    body = csv_rows(model, rows).encode()
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    head = (
        f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    connection.sendall(head + body[:100])
    time.sleep(0.3)
    server.process.send_signal(signal.SIGTERM)
    server.wait_for_log(lambda r: r.get("message") == "Shutting down")
    time.sleep(0.3)
    connection.sendall(body[100:])
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
    connection.close()
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
    assert b"connection: close" in answer.lower()
    assert len(json.loads(answer.split(b"\r\n\r\n", 1)[1])["predictions"]) == rows
    assert server.process.wait(20) == 0
    # Once stopped, nobody listens.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2)


def test_summary_line_counts_statuses_and_violations(
    models: dict[str, TrainedModel], serve: Serve
) -> None:
    model = models["binary"]
    server = serve(
        model.base,
        environment={
            "SAGESTACK_SUMMARY_INTERVAL_SECONDS": "0.5",
            # As the Pulumi program sets them: the metric filters' dimensions.
            "SAGESTACK_ENDPOINT_NAME": "sagestack-dev",
            "SAGESTACK_VARIANT_NAME": "primary",
        },
    )
    invoke(server, csv_rows(model, 3), "text/csv")
    invoke(server, "1,2", "text/csv")
    invoke(server, "x", "text/plain")
    summary = server.wait_for_log(lambda r: r.get("event") == "summary")
    assert summary["requests"] == {"200": 1, "400": 1, "415": 1}
    assert summary["rows_predicted"] == 3
    assert summary["schema_violations"] == {"wrong_feature_count": 1}
    assert summary["schema_violations_total"] == 1
    assert summary["client_errors"] == 2
    assert summary["server_errors"] == 0
    assert (summary["endpoint"], summary["variant"]) == ("sagestack-dev", "primary")
    assert summary["latency_ms"]["p50"] > 0
    assert summary["latency_ms"]["p99"] >= summary["latency_ms"]["p50"]


def _broken_copy(model: TrainedModel, tmp_path: Path, breakage: str) -> Path:
    base = tmp_path / "broken"
    shutil.copytree(model.base / "model", base / "model")
    schema_path = base / "model" / "schema.json"
    if breakage == "missing model directory":
        shutil.rmtree(base / "model")
    elif breakage == "corrupt model file":
        (base / "model" / "model.joblib").write_bytes(b"not a pickle")
    elif breakage == "missing schema":
        schema_path.unlink()
    elif breakage == "missing parameters":
        (base / "model" / "predictor.json").unlink()
    elif breakage == "future format version":
        schema = json.loads(schema_path.read_text())
        schema["format_version"] = 99
        schema_path.write_text(json.dumps(schema))
    elif breakage == "sample predictions disagree":
        schema = json.loads(schema_path.read_text())
        schema["sample"]["probabilities"][0] = schema["sample"]["probabilities"][0][::-1]
        schema_path.write_text(json.dumps(schema))
    return base


@pytest.mark.parametrize(
    ("breakage", "fragment"),
    [
        ("missing model directory", "does not exist"),
        ("corrupt model file", "model.joblib could not be loaded"),
        ("missing schema", "schema.json is missing"),
        ("missing parameters", "predictor.json is missing"),
        ("future format version", "format_version 99"),
        ("sample predictions disagree", "self-check failed"),
    ],
)
def test_bad_artifact_fails_fast_with_one_clear_line(
    models: dict[str, TrainedModel], tmp_path: Path, breakage: str, fragment: str
) -> None:
    base = _broken_copy(models["binary"], tmp_path, breakage)
    started = time.monotonic()
    with pytest.raises(AssertionError, match="server did not start") as raised:
        start_server(base)
    assert time.monotonic() - started < 15
    output = str(raised.value)
    assert "exit 1" in output
    errors = [line for line in output.splitlines() if '"level": "ERROR"' in line]
    assert len(errors) == 1, output
    assert fragment in json.loads(errors[0])["message"]


def test_port_in_use_is_a_clear_start_failure(models: dict[str, TrainedModel]) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    try:
        with pytest.raises(AssertionError, match=r"cannot listen on 127\.0\.0\.1"):
            start_server(
                models["binary"].base,
                environment={"SAGEMAKER_BIND_TO_PORT": str(blocker.getsockname()[1])},
            )
    finally:
        blocker.close()


def test_bad_setting_names_the_variable(models: dict[str, TrainedModel]) -> None:
    with pytest.raises(AssertionError, match=r"SAGEMAKER_MODEL_SERVER_WORKERS='many'"):
        start_server(models["binary"].base, environment={"SAGEMAKER_MODEL_SERVER_WORKERS": "many"})


_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    # Beyond any float, and at its edge: overflow on the way in or in the model's arithmetic.
    | st.sampled_from([10**400, -(10**400), 1.7976931348623157e308, -1e308])
)
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=40,
)
_CONTENT_TYPES = st.sampled_from(
    ["text/csv", "application/json", "application/jsonlines", "application/x-npy", "text/plain", ""]
)


@pytest.mark.parametrize("kind", ["mixed", "binary"])  # with categories; numbers only
def test_fuzzed_payloads_never_get_a_5xx(
    models: dict[str, TrainedModel], serve: Serve, kind: str
) -> None:
    model = models[kind]
    server = serve(model.base)
    names = list(model.features.columns)
    # Rows of numbers, now and then an extreme one: past the type checks, into the arithmetic.
    numbers = st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(-(10**6), 10**6),
        st.sampled_from([10**400, -(10**400), 1.7976931348623157e308, -1e308]),
    )
    bodies = st.one_of(
        st.lists(
            st.lists(numbers, min_size=len(names), max_size=len(names)),
            min_size=1,
            max_size=3,
        ).map(lambda rows: json.dumps({"instances": rows}).encode()),
        st.binary(max_size=300),
        st.text(max_size=300).map(str.encode),
        _JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        st.lists(
            st.dictionaries(st.sampled_from(names), _JSON_VALUES, min_size=len(names)),
            min_size=1,
            max_size=3,
        ).map(lambda rows: json.dumps({"instances": rows}).encode()),
        st.lists(
            st.lists(st.text(alphabet='0123456789.,-einfa" ', max_size=6), min_size=4, max_size=4),
            min_size=1,
            max_size=4,
        ).map(lambda rows: "\n".join(",".join(r) for r in rows).encode()),
    )

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(bodies, _CONTENT_TYPES, st.sampled_from([None, "*/*", "text/csv", "image/png"]))
    def check(body: bytes, content_type: str, accept: str | None) -> None:
        headers = {"Content-Type": content_type} if content_type else {}
        if accept:
            headers["Accept"] = accept
        status, _, payload = request(server, "POST", "/invocations", body, headers)
        assert status < 500, payload
        if status != 200:
            assert set(json.loads(payload)["error"]) == {"code", "message"}

    check()
    assert request(server, "GET", "/ping")[0] == 200


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /ping HTTP/2.0\r\n\r\n",
        b"POST /invocations HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST /invocations HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /ping HTTP/1.1\r\nBad Header\r\n\r\n",
        b"X" * 70_000,
    ],
)
def test_malformed_http_gets_a_4xx_and_the_server_lives_on(
    binary: tuple[TrainedModel, RunningServer], raw: bytes
) -> None:
    _, server = binary
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    connection.sendall(raw)
    answer = connection.recv(65536)
    connection.close()
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500 or status == 505, answer[:200]
    assert request(server, "GET", "/ping")[0] == 200


def test_chunked_request_body(binary: tuple[TrainedModel, RunningServer]) -> None:
    model, server = binary
    body = csv_rows(model, 3).encode()
    chunks = b"".join(
        f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:50], body[50:])
    )
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    connection.sendall(
        b"POST /invocations HTTP/1.1\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked"
        b"\r\nConnection: close\r\n\r\n" + chunks + b"0\r\n\r\n"
    )
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
    connection.close()
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:300]
    assert len(json.loads(answer.split(b"\r\n\r\n", 1)[1])["predictions"]) == 3
