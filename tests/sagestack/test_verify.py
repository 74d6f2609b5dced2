"""`python -m sagestack verify`, run as a process against a moto server on 127.0.0.1.

The stack is "deployed" into moto with boto3 (bucket, model artifact, model, endpoint
configuration, endpoint). The artifact is a real one from the training entrypoint, and the
answer moto returns for the invocation is what our real inference server answers to the very
request `verify` sends: moto cannot run a container, so the server runs beside it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from sagestack.layout import TrainingJobLayout
from sagestack.verify import EXPLAIN_ATTRIBUTES, parse_outputs, read_schema, sample_request
from tests.conftest import REPO, SAMPLE_DATASET
from tests.inference.conftest import start_server
from tests.training.support import run_train

REGION = "us-east-1"
BUCKET = "sagestack-dev-artifacts-0000000"
KEY = "training/sagestack-dev-0123456789ab/output/model.tar.gz"
ENDPOINT = "sagestack-dev"
CONFIG = "serving-config-1111111"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory written by the training entrypoint, as SageMaker would upload it."""
    layout = TrainingJobLayout.create(
        tmp_path_factory.mktemp("job"), {"target": "target"}, {"train": [SAMPLE_DATASET]}
    )
    run = run_train(layout)
    assert run.returncode == 0, run.explain()
    return layout.model_dir


@pytest.fixture(scope="module")
def archive(trained: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(trained.iterdir()):
            tar.add(path, arcname=path.name)
    return buffer.getvalue()


@dataclass(frozen=True)
class Served:
    """Our inference server's answers to the two requests verify sends."""

    predictions: bytes
    explained: bytes
    # The custom attributes the server set on its explained answer.
    passed_back: str | None


@pytest.fixture(scope="module")
def served(trained: Path, archive: bytes) -> Served:
    rows, _ = sample_request(read_schema(archive))
    server = start_server(trained.parent)
    answers = []
    try:
        for body, attributes in (
            ({"instances": rows}, None),
            ({"instances": rows[:1]}, EXPLAIN_ATTRIBUTES),
        ):
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            if attributes is not None:
                headers["X-Amzn-SageMaker-Custom-Attributes"] = attributes
            request = urllib.request.Request(
                f"http://127.0.0.1:{server.port}/invocations",
                data=json.dumps(body).encode(),
                headers=headers,
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                answers.append(
                    (response.read(), response.headers.get("X-Amzn-SageMaker-Custom-Attributes"))
                )
    finally:
        server.close()
    return Served(answers[0][0], answers[1][0], answers[1][1])


@pytest.fixture(scope="module")
def served_answer(served: Served) -> bytes:
    return served.predictions


@pytest.fixture(scope="module")
def aws() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class Deployment:
    url: str
    outputs: dict[str, str]

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def queue_answer(self, body: bytes, *more: tuple[bytes, str | None]) -> None:
        """What the next new invocations return (moto's canned-results API): `body`, then
        each of `more` with the custom attributes the endpoint set on it."""
        results: list[dict[str, str]] = [{"Body": body.decode(), "ContentType": "application/json"}]
        for extra, attributes in more:
            result = {"Body": extra.decode(), "ContentType": "application/json"}
            if attributes is not None:
                result["CustomAttributes"] = attributes
            results.append(result)
        document = {"region": REGION, "results": results}
        request = urllib.request.Request(
            f"{self.url}/moto-api/static/sagemaker/endpoint-results",
            data=json.dumps(document).encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).close()

    def verify(self, outputs: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
        environment = {
            **os.environ,
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
        return run_verify(json.dumps(self.outputs if outputs is None else outputs), environment)


def run_verify(
    stdin: str, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m sagestack verify`, as a person runs it, with the outputs on stdin."""
    return subprocess.run(
        [sys.executable, "-m", "sagestack", "verify"],
        input=stdin,
        env=environment,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def deployed(aws: str, archive: bytes) -> Deployment:
    urllib.request.urlopen(urllib.request.Request(f"{aws}/moto-api/reset", method="POST")).close()
    deployment = Deployment(
        aws,
        {
            "endpoint_name": ENDPOINT,
            "endpoint_config_name": CONFIG,
            "model_data_url": f"s3://{BUCKET}/{KEY}",
            "region": REGION,
            "dashboard_url": "https://example.invalid",
        },
    )
    s3 = deployment.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=archive)
    sagemaker = deployment.client("sagemaker")
    role = "arn:aws:iam::123456789012:role/sagestack-execution"
    for model, config in (("model-1", CONFIG), ("model-0", "serving-config-0000000")):
        sagemaker.create_model(
            ModelName=model,
            ExecutionRoleArn=role,
            PrimaryContainer={
                "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/inference@sha256:"
                + "a" * 64,
                "ModelDataUrl": f"s3://{BUCKET}/{KEY}",
            },
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {
                    "VariantName": "primary",
                    "ModelName": model,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=CONFIG)
    return deployment


def test_a_healthy_deployment_verifies(
    deployed: Deployment, archive: bytes, served: Served
) -> None:
    assert served.passed_back == "sagestack-verify=1"
    deployed.queue_answer(served.predictions, (served.explained, served.passed_back))
    result = deployed.verify()
    assert result.returncode == 0, result.stderr
    schema = read_schema(archive)
    rows, _ = sample_request(schema)
    assert result.stdout.splitlines() == [
        f"ok    endpoint {ENDPOINT} is InService",
        f"ok    it runs this deployment's configuration {CONFIG}",
        f"ok    the model artifact holds {len(rows)} sample rows and their predictions",
        f"ok    the endpoint predicts the same {len(rows)} labels as training did",
        f"ok    the endpoint explains a row over its {len(schema['features'])} features, "
        "adding up to its served probability (log_odds)",
        f"verified: {ENDPOINT} serves the model this deployment trained",
    ]


def _tampered(served: Served, change: Any) -> bytes:
    answer = json.loads(served.explained)
    change(answer["predictions"][0])
    return json.dumps(answer).encode()


def _shift_first_contribution(prediction: dict[str, Any]) -> None:
    contributions = prediction["explanation"]["contributions"]
    contributions[next(iter(contributions))] += 0.5


@pytest.mark.parametrize(
    ("change", "attributes", "message"),
    [
        (_shift_first_contribution, "sagestack-verify=1", "the explanation does not add up"),
        (lambda p: p.pop("explanation"), "sagestack-verify=1", "without an explanation"),
        (
            lambda p: p["explanation"]["contributions"].popitem(),
            "sagestack-verify=1",
            "are not the schema's",
        ),
        (lambda p: None, None, "passed back custom attributes None"),
    ],
)
def test_an_explanation_that_does_not_hold_fails(
    deployed: Deployment, served: Served, change: Any, attributes: str | None, message: str
) -> None:
    deployed.queue_answer(served.predictions, (_tampered(served, change), attributes))
    result = deployed.verify()
    assert result.returncode == 1
    assert message in result.stderr


def test_a_rolled_back_endpoint_fails(deployed: Deployment) -> None:
    # This deployment created serving-config-2222222; SageMaker rolled the endpoint back to the
    # configuration it ran before (moto has no UpdateEndpoint, so the outputs move instead).
    new_config = "serving-config-2222222"
    result = deployed.verify({**deployed.outputs, "endpoint_config_name": new_config})
    assert result.returncode == 1
    assert f"runs configuration {CONFIG}, not {new_config}" in result.stderr
    assert "rolled back" in result.stderr


def test_other_labels_fail(deployed: Deployment, served_answer: bytes) -> None:
    answer = json.loads(served_answer)
    first = answer["predictions"][0]
    first["label"] = next(c for c in (0, 1) if c != first["label"])
    deployed.queue_answer(json.dumps(answer).encode())
    result = deployed.verify()
    assert result.returncode == 1
    assert "row 0: the endpoint predicts" in result.stderr
    assert "is the endpoint serving another model?" in result.stderr


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"<html>500</html>", "the endpoint's answer is not {'predictions': [...]}"),
        (b'{"predictions": []}', "got 0 predictions"),
        (b'{"predictions": [{"probabilities": {}}]}', "got 1 predictions"),
    ],
)
def test_malformed_answers_fail(deployed: Deployment, answer: bytes, message: str) -> None:
    deployed.queue_answer(answer)
    result = deployed.verify()
    assert result.returncode == 1
    assert message in result.stderr


def test_probabilities_must_add_up(deployed: Deployment, served_answer: bytes) -> None:
    answer = json.loads(served_answer)
    for prediction in answer["predictions"]:
        prediction["probabilities"] = dict.fromkeys(prediction["probabilities"], 0.9)
    deployed.queue_answer(json.dumps(answer).encode())
    result = deployed.verify()
    assert result.returncode == 1
    assert "row 0: probabilities sum to 1.8, not 1" in result.stderr


def test_missing_artifact_fails(deployed: Deployment) -> None:
    deployed.client("s3").delete_object(Bucket=BUCKET, Key=KEY)
    result = deployed.verify()
    assert result.returncode == 1
    assert "AWS refused" in result.stderr
    assert "NoSuchKey" in result.stderr


def test_an_unknown_endpoint_fails(deployed: Deployment) -> None:
    result = deployed.verify({**deployed.outputs, "endpoint_name": "sagestack-nope"})
    assert result.returncode == 1
    assert "AWS refused" in result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "the stack outputs are not JSON"),
        ("[]", "must be a JSON object"),
        ('{"endpoint_name": "e"}', "lack ['endpoint_config_name', 'model_data_url', 'region']"),
    ],
)
def test_unusable_outputs_exit_2(text: str, message: str) -> None:
    result = run_verify(text)
    assert result.returncode == 2
    assert message in result.stderr


def test_outputs_parse_and_artifact_reading(archive: bytes) -> None:
    outputs = parse_outputs(
        json.dumps(
            {
                "endpoint_name": "e",
                "endpoint_config_name": "c",
                "model_data_url": "s3://b/k",
                "region": "eu-west-1",
                "extra": 1,
            }
        )
    )
    assert outputs.region == "eu-west-1"
    rows, labels = sample_request(read_schema(archive))
    assert len(rows) == len(labels) > 0
