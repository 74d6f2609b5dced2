"""`python -m inference monitor` as a process, over capture files in SageMaker's format."""

from __future__ import annotations

import os
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from sklearn.metrics import f1_score, roc_auc_score

from tests.monitoring.support import (
    ENDPOINT,
    VARIANT,
    Model,
    b64,
    csv_row,
    read_json,
    record,
    run_monitor,
    write_lines,
)

START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
WINDOW = ["--start", "2026-03-01T10:00:00Z", "--end", "2026-03-01T11:00:00Z"]
REGION = "us-east-1"


def _traffic(model: Model, frame: pd.DataFrame, root: Path, ids: bool = False) -> list[str]:
    """One single-row CSV request per row, spread over the window, with the model's answers."""
    answers = model.answers(frame)
    lines = []
    event_ids = []
    for index, (row, answer) in enumerate(zip(frame.itertuples(index=False), answers, strict=True)):
        event_id = f"event-{index}"
        event_ids.append(event_id)
        when = START + timedelta(seconds=index * 3600 / len(frame))
        lines.append(record(when, csv_row(row), output=answer, event_id=event_id))
    write_lines(root, START, lines)
    return event_ids


def _monitor(model: Model, capture: Path, output: Path, *extra: str) -> dict[str, Any]:
    done = run_monitor(
        "--capture",
        str(capture),
        "--model",
        str(model.model_dir),
        "--output",
        str(output),
        *WINDOW,
        *extra,
    )
    assert done.returncode == 0, done.stderr
    statistics: dict[str, Any] = read_json(output / "statistics.json")
    return statistics


def _violations(output: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for violation in read_json(output / "constraint_violations.json")["violations"]:
        found.setdefault(violation["feature_name"], set()).add(violation["constraint_check_type"])
    return found


def test_traffic_like_training_has_no_drift(binary: Model, tmp_path: Path) -> None:
    frame = binary.features.sample(2000, replace=True, random_state=1)
    _traffic(binary, frame, tmp_path / "capture")
    statistics = _monitor(binary, tmp_path / "capture", tmp_path / "out")
    result = statistics["sagestack"]
    assert result["verdict"] == "no drift", result["verdict_reason"]
    assert result["rows"] == statistics["dataset"]["item_count"] == 2000
    assert _violations(tmp_path / "out") == {}
    assert result["read"]["problems"] == {}
    assert (tmp_path / "out" / "report.md").read_text().count("no drift") >= 1


def test_shifted_features_and_only_those_drift(binary: Model, tmp_path: Path) -> None:
    frame = binary.features.sample(2000, replace=True, random_state=2)
    shifted = ["mean_radius", "worst_texture"]
    frame = frame.assign(**{name: frame[name] * 1.6 for name in shifted})
    _traffic(binary, frame, tmp_path / "capture")
    statistics = _monitor(binary, tmp_path / "capture", tmp_path / "out")
    result = statistics["sagestack"]
    assert result["verdict"] == "drift"
    assert sorted(result["drifted"]) == sorted(shifted)
    violations = _violations(tmp_path / "out")
    assert {name: checks for name, checks in violations.items() if name in shifted} == {
        name: {"baseline_drift_check"} for name in shifted
    }
    by_name = {feature["name"]: feature for feature in statistics["features"]}
    assert by_name["mean_radius"]["sagestack"]["scores"]["psi"] > 0.2
    assert by_name["mean_radius"]["numerical_statistics"]["common"]["num_present"] == 2000
    plots = sorted(path.name for path in (tmp_path / "out" / "plots").iterdir())
    assert {"mean_radius.png", "worst_texture.png"} <= set(plots)
    assert (tmp_path / "out" / "plots" / "mean_radius.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input_is_counted_never_fatal(binary: Model, tmp_path: Path) -> None:
    capture = tmp_path / "capture"
    frame = binary.features.sample(600, replace=True, random_state=3)
    _traffic(binary, frame, capture)
    row = csv_row(frame.iloc[0])
    answer = binary.answers(frame.iloc[:1])[0]
    bad = [
        "this is not json",
        '{"captureData": "nope", "eventMetadata": {}}',
        record(START, row, encoding="GZIP", output=answer),
        record(START, row + ",1.0", output=answer),  # one value too many
        record(START, "1,2,3", output=answer),
        record(START, row.replace(",", ",abc,", 1).rsplit(",", 1)[0], output=answer),
        record(START, "", output=answer),
        record(START, "%%%", encoding="BASE64", output=answer),
        record(START, row, content_type="application/x-unknown", output=answer),
        record(START, row, output='{"predictions": [}', output_encoding="JSON"),
    ]
    # Good requests in other encodings and types, which must count as rows.
    good = [
        record(START, b64(row), encoding="BASE64", output=answer),
        record(
            START, "[" + row + "]", content_type="application/json", encoding="JSON", output=answer
        ),
    ]
    outside = [
        record(END, row, output=answer),
        record(START - timedelta(seconds=1), row, output=answer),
    ]
    write_lines(capture, START, bad + good + outside, name="mixed")
    statistics = _monitor(binary, capture, tmp_path / "out")
    read = statistics["sagestack"]["read"]
    problems = read["problems"]
    assert problems["corrupt_line"] == 2
    assert problems["unknown_encoding"] == 1
    assert problems["bad_base64"] == 1
    assert problems["request_wrong_feature_count"] == 2
    assert problems["request_not_a_number"] == 1
    assert problems["request_empty_body"] == 1
    assert problems["request_unsupported_content_type"] == 1
    assert problems["unreadable_output"] == 1
    assert read["records_outside_window"] == 2
    # 600 + the BASE64 row + the JSON row + the row whose answer was unreadable.
    assert statistics["sagestack"]["rows"] == 603
    report = (tmp_path / "out" / "report.md").read_text()
    assert "bad input, counted and skipped" in report


def test_an_empty_window_is_insufficient_data_and_says_so_in_metrics(
    binary: Model, tmp_path: Path, aws: str
) -> None:
    capture = tmp_path / "capture"
    capture.mkdir()
    environment = _aws_environment(aws)
    done = run_monitor(
        "--capture",
        str(capture),
        "--model",
        str(binary.model_dir),
        "--output",
        str(tmp_path / "out"),
        *WINDOW,
        "--endpoint",
        ENDPOINT,
        "--variant",
        VARIANT,
        env=environment,
    )
    assert done.returncode == 0, done.stderr
    assert "insufficient data" in done.stdout
    metrics = _metrics(aws)
    assert metrics["NoData"] == 1.0
    assert metrics["RowsMonitored"] == 0.0
    assert "DriftedFeatures" not in metrics
    assert read_json(tmp_path / "out" / "constraint_violations.json") == {"violations": []}


def test_metrics_carry_endpoint_and_variant(binary: Model, tmp_path: Path, aws: str) -> None:
    frame = binary.features.sample(1000, replace=True, random_state=4)
    frame = frame.assign(mean_radius=frame["mean_radius"] * 2)
    ids = _traffic(binary, frame, tmp_path / "capture")
    truth = tmp_path / "truth"
    truth.mkdir()
    labels = binary.labels.loc[frame.index].tolist()
    (truth / "labels.jsonl").write_text(
        "".join(
            f'{{"eventId": "{i}", "label": {label}}}\n'
            for i, label in zip(ids, labels, strict=True)
        )
    )
    done = run_monitor(
        "--capture",
        str(tmp_path / "capture"),
        "--model",
        str(binary.model_dir),
        "--output",
        str(tmp_path / "out"),
        *WINDOW,
        "--endpoint",
        ENDPOINT,
        "--variant",
        VARIANT,
        "--ground-truth",
        str(truth),
        env=_aws_environment(aws),
    )
    assert done.returncode == 0, done.stderr
    metrics = _metrics(aws)
    assert metrics["DriftedFeatures"] == 1.0
    assert metrics["NoData"] == 0.0
    assert metrics["RowsMonitored"] == 1000.0
    assert metrics["MaxFeaturePsi"] > 0.2
    # Live quality, against scikit-learn on the same joined rows.
    answers = binary.answers(frame)
    predicted = [int(a.split('"label": ')[1].split(",")[0]) for a in answers]
    assert metrics["LiveF1"] == pytest.approx(f1_score(labels, predicted), abs=1e-9)
    quality = read_json(tmp_path / "out" / "statistics.json")["sagestack"]["quality"]
    probabilities = binary_probabilities(binary, frame)
    assert quality["metrics"]["roc_auc"] == pytest.approx(roc_auc_score(labels, probabilities))
    assert quality["rows"] == 1000


def test_processing_job_interface_env_and_model_archive(binary: Model, tmp_path: Path) -> None:
    """The paths and variables a Processing job gives (contract.py), model.tar.gz included."""
    base = tmp_path / "ml"
    frame = binary.features.sample(600, replace=True, random_state=5)
    _traffic(binary, frame, base / "processing" / "input" / "capture")
    model_input = base / "processing" / "input" / "model"
    model_input.mkdir(parents=True)
    with tarfile.open(model_input / "model.tar.gz", "w:gz") as tar:
        for path in sorted(binary.model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    environment = {
        **os.environ,
        "SAGEMAKER_BASE_DIR": str(base),
        "SAGESTACK_MONITOR_END": "2026-03-01T11:00:00Z",
        "SAGESTACK_MONITOR_WINDOW_MINUTES": "60",
        "SAGESTACK_MONITOR_PSI_ALERT": "0.5",
    }
    done = run_monitor(env=environment)
    assert done.returncode == 0, done.stderr
    statistics = read_json(base / "processing" / "output" / "statistics.json")
    assert statistics["sagestack"]["rows"] == 600
    assert statistics["sagestack"]["thresholds"]["psi_alert"] == 0.5
    assert statistics["sagestack"]["window"]["start"] == "2026-03-01T10:00:00+00:00"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((), "SAGESTACK_MONITOR_END"),
        (("--end", "yesterday"), "--end='yesterday' is not an ISO 8601 time"),
        (("--end", "2026-03-01T11:00:00Z", "--psi-alert", "x"), "--psi-alert='x' is not a number"),
        (("--end", "2026-03-01T11:00:00Z", "--min-f1", "2"), "--min-f1=2 is out of range"),
    ],
)
def test_bad_configuration_names_the_key(
    binary: Model, tmp_path: Path, arguments: tuple[str, ...], message: str
) -> None:
    (tmp_path / "capture").mkdir()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SAGESTACK_")}
    done = run_monitor(
        "--capture",
        str(tmp_path / "capture"),
        "--model",
        str(binary.model_dir),
        "--output",
        str(tmp_path / "out"),
        *arguments,
        env=environment,
    )
    assert done.returncode == 1
    assert message in done.stderr


def test_categorical_drift_and_unseen_categories(mixed: Model, tmp_path: Path) -> None:
    frame = mixed.features.sample(2000, replace=True, random_state=6).reset_index(drop=True)
    rng = np.random.default_rng(0)
    frame["colour"] = np.where(rng.random(len(frame)) < 0.3, "purple", frame["colour"])
    _traffic(mixed, frame, tmp_path / "capture")
    statistics = _monitor(mixed, tmp_path / "capture", tmp_path / "out")
    violations = _violations(tmp_path / "out")
    assert violations["colour"] == {"baseline_drift_check", "categorical_values_check"}
    assert set(statistics["sagestack"]["drifted"]) == {"colour"}
    colour = next(f for f in statistics["features"] if f["name"] == "colour")
    # A share of the values present (missing ones are the completeness check's).
    purple = (frame["colour"] == "purple").sum() / frame["colour"].notna().sum()
    assert colour["sagestack"]["scores"]["unseen_share"] == pytest.approx(purple, abs=1e-12)


def binary_probabilities(model: Model, frame: pd.DataFrame) -> list[float]:
    import joblib

    pipeline = joblib.load(model.model_dir / "model.joblib")
    return list(pipeline.predict_proba(frame)[:, 1])


@pytest.fixture(scope="module")
def aws() -> Any:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _aws_environment(url: str) -> dict[str, str]:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }


def _metrics(url: str) -> dict[str, float]:
    """Every metric in our namespace with exactly our endpoint's dimensions: its last value."""
    client = boto3.client(
        "cloudwatch",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    dimensions = [
        {"Name": "EndpointName", "Value": ENDPOINT},
        {"Name": "VariantName", "Value": VARIANT},
    ]
    found = {}
    for metric in client.list_metrics(Namespace="sagestack")["Metrics"]:
        assert sorted(metric["Dimensions"], key=lambda d: d["Name"]) == dimensions
        points = client.get_metric_statistics(
            Namespace="sagestack",
            MetricName=metric["MetricName"],
            Dimensions=dimensions,
            StartTime=START,
            EndTime=END + timedelta(minutes=5),
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
        assert len(points) == 1, metric["MetricName"]
        found[metric["MetricName"]] = points[0]["Maximum"]
    return found
