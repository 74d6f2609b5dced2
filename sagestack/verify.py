"""`python -m sagestack verify`: check a deployed stack through its outputs.

    pulumi stack output --json | python -m sagestack verify
    python -m sagestack verify --outputs outputs.json

`pulumi up` can succeed while the endpoint is still updating, or after SageMaker rolled a bad
model back. This checks, and says what it checked:
1. the endpoint is InService;
2. it runs the endpoint configuration this deployment created (else it rolled back, or was
   changed outside Pulumi);
3. the model artifact (`model_data_url`) holds a schema with sample rows and the predictions
   training made for them;
4. invoking the endpoint with those rows returns one well-formed prediction per row, with
   the same labels;
5. asked with `explain=true`, it explains the first sample row: one contribution per feature,
   adding up with the base value to the row's score (checked against the probability it
   served; a multinomial class score cannot be, and is said so), and it passes the other
   custom attributes back.
Exit status: 0 all good, 1 a check failed, 2 the outputs cannot be used. boto3 takes
credentials, region and endpoint (`AWS_ENDPOINT_URL`) from the usual places.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.artifact import SCHEMA_FILE

REQUIRED_OUTPUTS = ("endpoint_name", "endpoint_config_name", "model_data_url", "region")
# A model artifact's schema is small; anything bigger is not ours.
MAX_SCHEMA_BYTES = 16 << 20
PROBABILITY_TOLERANCE = 1e-6
# Sent beside explain=true; the endpoint must pass it back (SageMaker returns what it echoes).
EXPLAIN_ATTRIBUTES = "explain=true;sagestack-verify=1"
PASSED_BACK = "sagestack-verify=1"


class VerificationError(Exception):
    """A check failed: the message says which and why."""


class OutputsError(ValueError):
    """The stack outputs cannot be used."""


@dataclass(frozen=True)
class StackOutputs:
    endpoint_name: str
    endpoint_config_name: str
    model_data_url: str
    region: str


def parse_outputs(text: str) -> StackOutputs:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise OutputsError(f"the stack outputs are not JSON ({error})") from None
    if not isinstance(document, dict):
        raise OutputsError("the stack outputs must be a JSON object (pulumi stack output --json)")
    missing = [key for key in REQUIRED_OUTPUTS if not isinstance(document.get(key), str)]
    if missing:
        raise OutputsError(
            f"the stack outputs lack {missing} (need {', '.join(REQUIRED_OUTPUTS)}; "
            "is this the sagestack program's `pulumi stack output --json`?)"
        )
    if not document["model_data_url"].startswith("s3://"):
        raise OutputsError(f"model_data_url={document['model_data_url']!r} is not an s3:// URL")
    return StackOutputs(**{key: document[key] for key in REQUIRED_OUTPUTS})


def read_schema(archive: bytes) -> dict[str, Any]:
    """schema.json from model.tar.gz, without unpacking anything else."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for member in tar:
                if member.isfile() and member.name.lstrip("./") == SCHEMA_FILE:
                    if member.size > MAX_SCHEMA_BYTES:
                        raise VerificationError(f"{SCHEMA_FILE} is {member.size} bytes")
                    stream = tar.extractfile(member)
                    assert stream is not None
                    schema: dict[str, Any] = json.loads(stream.read())
                    return schema
    except (tarfile.TarError, OSError, ValueError) as error:
        raise VerificationError(
            f"the model artifact is not a readable model.tar.gz ({error})"
        ) from None
    raise VerificationError(f"the model artifact has no {SCHEMA_FILE}")


def sample_request(schema: Mapping[str, Any]) -> tuple[list[list[Any]], list[Any]]:
    """The schema's sample rows and the labels training predicted for them."""
    sample = schema.get("sample") or {}
    rows, labels = sample.get("rows"), sample.get("predictions")
    if not rows or not isinstance(labels, list) or len(rows) != len(labels):
        raise VerificationError("the schema holds no sample rows with their predictions")
    return rows, labels


def check_predictions(body: bytes, expected: Sequence[Any]) -> None:
    """One well-formed prediction per row, labels as expected, probabilities summing to 1."""
    try:
        answer = json.loads(body)
        predictions = answer["predictions"]
    except (ValueError, KeyError, TypeError):
        raise VerificationError(
            f"the endpoint's answer is not {{'predictions': [...]}}: {body[:200]!r}"
        ) from None
    if not isinstance(predictions, list) or len(predictions) != len(expected):
        count = len(predictions) if isinstance(predictions, list) else "no"
        raise VerificationError(f"sent {len(expected)} rows, got {count} predictions")
    for row, (prediction, label) in enumerate(zip(predictions, expected, strict=True)):
        if not isinstance(prediction, dict) or "label" not in prediction:
            raise VerificationError(f"prediction {row} has no label: {prediction!r}")
        if prediction["label"] != label:
            raise VerificationError(
                f"row {row}: the endpoint predicts {prediction['label']!r}, training predicted "
                f"{label!r} (is the endpoint serving another model?)"
            )
        probabilities = prediction.get("probabilities")
        if probabilities is not None:
            total = sum(float(p) for p in probabilities.values())
            if not math.isclose(total, 1.0, abs_tol=PROBABILITY_TOLERANCE):
                raise VerificationError(f"row {row}: probabilities sum to {total}, not 1")


def check_explanation(
    body: bytes, features: Sequence[str], classes: Sequence[Any], passed_back: str | None
) -> str:
    """One explained row whose contributions add up to its served probability; returns the
    line to print."""
    try:
        prediction = json.loads(body)["predictions"][0]
        explanation = prediction["explanation"]
        probabilities = prediction["probabilities"]
        contributions = explanation["contributions"]
        total = float(explanation["base_value"]) + sum(map(float, contributions.values()))
        space, label = explanation["space"], explanation["class"]
    except (ValueError, KeyError, TypeError, IndexError):
        raise VerificationError(
            f"asked to explain, the endpoint answered without an explanation: {body[:200]!r}"
        ) from None
    if list(contributions) != list(features):
        raise VerificationError(
            f"the explanation's features {list(contributions)} are not the schema's {features}"
        )
    if passed_back != PASSED_BACK:
        raise VerificationError(
            f"the endpoint passed back custom attributes {passed_back!r}, not {PASSED_BACK!r}"
        )
    if str(label) not in probabilities or label not in classes:
        raise VerificationError(f"the explanation is for {label!r}, not one of the classes")
    served = float(probabilities[str(label)])
    if space == "class_score":
        return (
            f"ok    the endpoint explains a row over its {len(features)} features (a class "
            "score's sum cannot be checked against probabilities; the server checks it at start)"
        )
    if space == "log_odds":
        shown = 1.0 / (1.0 + math.exp(-total)) if total > -700 else 0.0
    elif space == "probability":
        shown = total
    else:
        raise VerificationError(f"the explanation's space {space!r} is not one this tool knows")
    if not math.isclose(shown, served, abs_tol=PROBABILITY_TOLERANCE):
        raise VerificationError(
            f"the explanation does not add up: base_value + contributions gives {shown!r} "
            f"({space}), the endpoint served probability {served!r} for {label!r}"
        )
    return (
        f"ok    the endpoint explains a row over its {len(features)} features, adding up to "
        f"its served probability ({space})"
    )


def verify(outputs: StackOutputs, say: Any = print) -> None:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        sagemaker = boto3.client("sagemaker", region_name=outputs.region)
        endpoint = sagemaker.describe_endpoint(EndpointName=outputs.endpoint_name)
        status = endpoint["EndpointStatus"]
        if status != "InService":
            reason = endpoint.get("FailureReason")
            raise VerificationError(
                f"endpoint {outputs.endpoint_name} is {status}, not InService"
                + (f": {reason}" if reason else "")
            )
        say(f"ok    endpoint {outputs.endpoint_name} is InService")
        current = endpoint["EndpointConfigName"]
        if current != outputs.endpoint_config_name:
            raise VerificationError(
                f"endpoint {outputs.endpoint_name} runs configuration {current}, not "
                f"{outputs.endpoint_config_name} that this deployment created: the update was "
                "rolled back (see the stack's alarms) or the endpoint was changed outside Pulumi"
            )
        say(f"ok    it runs this deployment's configuration {current}")

        bucket, _, key = outputs.model_data_url.removeprefix("s3://").partition("/")
        archive = (
            boto3.client("s3", region_name=outputs.region)
            .get_object(Bucket=bucket, Key=key)["Body"]
            .read()
        )
        schema = read_schema(archive)
        rows, labels = sample_request(schema)
        say(f"ok    the model artifact holds {len(rows)} sample rows and their predictions")

        runtime = boto3.client("sagemaker-runtime", region_name=outputs.region)
        answer = runtime.invoke_endpoint(
            EndpointName=outputs.endpoint_name,
            ContentType="application/json",
            Accept="application/json",
            Body=json.dumps({"instances": rows}).encode("utf-8"),
        )
        check_predictions(answer["Body"].read(), labels)
        say(f"ok    the endpoint predicts the same {len(labels)} labels as training did")

        explained = runtime.invoke_endpoint(
            EndpointName=outputs.endpoint_name,
            ContentType="application/json",
            Accept="application/json",
            CustomAttributes=EXPLAIN_ATTRIBUTES,
            Body=json.dumps({"instances": rows[:1]}).encode("utf-8"),
        )
        features = [str(feature.get("name")) for feature in schema.get("features") or []]
        say(
            check_explanation(
                explained["Body"].read(),
                features,
                schema.get("classes") or [],
                explained.get("CustomAttributes"),
            )
        )
    except (ClientError, BotoCoreError) as error:
        raise VerificationError(f"AWS refused: {error}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sagestack verify",
        description="Check a deployed stack through `pulumi stack output --json`.",
    )
    parser.add_argument(
        "--outputs",
        type=Path,
        help="a file holding `pulumi stack output --json` (default: standard input)",
    )
    args = parser.parse_args(argv)
    try:
        if args.outputs is not None:
            text = args.outputs.read_text(encoding="utf-8")
        else:
            text = sys.stdin.read()
        outputs = parse_outputs(text)
    except (OSError, OutputsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        verify(outputs)
    except VerificationError as failure:
        print(f"FAIL  {failure}", file=sys.stderr)
        return 1
    print(f"verified: {outputs.endpoint_name} serves the model this deployment trained")
    return 0
