"""Every stack as a first `pulumi preview` sees it: nothing exists yet, so each provider answers
a create with its inputs only and every computed output (ARNs, ids, bucket names, image
digests, the job name derived from them) is unknown; apply() callbacks over unknowns do not run.

What this shows, per stack: the program completes; it constructs nothing inside apply(); it
registers the same resources (type, name, parent) as `up`; and values are unknown exactly where
they depend on something AWS computes, known wherever they come from config, the stack's name
or the account lookups (invokes run during a preview). The preview graph is snapshotted beside
the `up` one (test_snapshots.py).

Stricter than the real engine in one way, on purpose: pulumi-aws fills auto-names (`name` of a
model, role, ...) in its Check step, which runs during a preview, so those are known in a real
preview but unknown here. A value known here is known there; nothing here may rely on more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.output import Unknown

from tests.infra.conftest import STACKS
from tests.infra.program import Graph, Registration, run, run_program, stack_config

# Each stack output, and whether a first preview can know it (with the reason).
KNOWN_IN_PREVIEW = {
    "endpoint_name": True,  # from the project and stack names
    "region": True,  # the getRegion invoke runs during a preview
    "dashboard_url": True,  # region and the dashboard's own (deterministic) name
    "invoke_command": True,  # endpoint name and region
    "endpoint_arn": False,  # AWS assigns it
    "endpoint_config_name": False,  # auto-named by the provider
    "model_data_url": False,  # the artifacts bucket's name and the job name
    "training_job_name": False,  # a hash that includes the built images' digests
    "data_bucket": False,  # bucket_prefix + a suffix AWS-side
    "artifacts_bucket": False,
    "capture_bucket": False,
    "execution_role_arn": False,
    "training_image_uri": False,  # the pushed image's digest
    "inference_image_uri": False,
    "alarm_topic_arn": False,
}


def _unknown(value: Any) -> bool:
    return isinstance(value, Unknown)


def _contains_unknown(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_unknown(v) for v in value)
    return _unknown(value)


def _shape(graph: Graph) -> set[tuple[str, str, str]]:
    return {(r.type, r.name, r.parent) for r in graph.resources}


@pytest.mark.parametrize("stack", STACKS)
def test_the_preview_completes_and_registers_what_up_registers(
    graphs: dict[str, Graph], preview_graphs: dict[str, Graph], stack: str
) -> None:
    preview, up = preview_graphs[stack], graphs[stack]
    assert preview.preview
    assert not up.preview
    assert len(preview.resources) == len(up.resources) > 40
    assert _shape(preview) == _shape(up)


@pytest.mark.parametrize("stack", STACKS)
def test_nothing_is_constructed_inside_apply(
    graphs: dict[str, Graph], preview_graphs: dict[str, Graph], stack: str
) -> None:
    assert graphs[stack].created_in_apply == []
    assert preview_graphs[stack].created_in_apply == []


def _bad_program() -> None:
    """The anti-pattern pulumi/templates' sagemaker example has: a resource made in apply()."""
    bucket = aws.s3.Bucket("bucket", bucket_prefix="bad-")
    bucket.arn.apply(
        lambda arn: aws.sns.Topic("made-in-apply", display_name=arn[:10])  # the mistake
    )
    pulumi.export("bucket", bucket.bucket)


def test_the_apply_detector_fires_on_a_program_that_creates_in_apply() -> None:
    config = stack_config("dev")
    up = run(_bad_program, "dev", config)
    assert len(up.created_in_apply) == 1
    assert up.created_in_apply[0].startswith("aws:sns/topic:Topic made-in-apply (")
    assert "test_preview.py" in up.created_in_apply[0]
    # And what it costs: a preview never runs the callback, so the resource is missing there,
    # which the resource-set comparison catches.
    preview = run(_bad_program, "dev", config, preview=True)
    assert preview.created_in_apply == []
    assert _shape(up) - _shape(preview) == {
        (
            "aws:sns/topic:Topic",
            "made-in-apply",
            "urn:pulumi:dev::sagestack::pulumi:pulumi:Stack::sagestack-dev",
        )
    }


@pytest.mark.parametrize("stack", STACKS)
def test_stack_outputs_are_unknown_exactly_where_aws_computes_them(
    graphs: dict[str, Graph], preview_graphs: dict[str, Graph], stack: str
) -> None:
    preview, up = preview_graphs[stack].outputs, graphs[stack].outputs
    assert set(preview) == set(KNOWN_IN_PREVIEW) == set(up)
    for name, known in KNOWN_IN_PREVIEW.items():
        if known:
            assert preview[name] == up[name], name  # the same value, already in the preview
        else:
            assert _unknown(preview[name]), f"{name} is known in preview: {preview[name]!r}"
            assert not _contains_unknown(up[name]), name


def _one(graph: Graph, type_: str) -> Registration:
    return graph.one(type_)


@pytest.mark.parametrize("stack", STACKS)
def test_key_inputs_are_unknown_where_they_wait_on_aws(
    preview_graphs: dict[str, Graph], stack: str
) -> None:
    graph = preview_graphs[stack]
    job = _one(graph, "aws:sagemaker/trainingJob:TrainingJob").inputs
    assert _unknown(job["trainingJobName"])  # derived from the image digests
    assert _unknown(job["algorithmSpecification"]["trainingImage"])
    assert job["resourceConfig"]["instanceType"] == "ml.m5.large"  # config: known
    model = _one(graph, "aws:sagemaker/model:Model").inputs
    assert _unknown(model["primaryContainer"]["modelDataUrl"])
    assert _unknown(model["executionRoleArn"])
    config = _one(graph, "aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs
    assert _unknown(config["productionVariants"][0]["modelName"])
    endpoint = _one(graph, "aws:sagemaker/endpoint:Endpoint").inputs
    assert endpoint["name"] == f"sagestack-{stack}"  # known: alarms can name it in the preview
    assert _unknown(endpoint["endpointConfigName"])
    for bucket in graph.of_type("aws:s3/bucket:Bucket"):
        assert not _contains_unknown(bucket.inputs), bucket.urn  # prefixes come from names


@pytest.mark.parametrize("stack", STACKS)
def test_every_alarm_knows_what_it_watches_in_the_preview(
    preview_graphs: dict[str, Graph], stack: str
) -> None:
    # Dimensions come from the endpoint's deterministic name, never from an output: an alarm
    # whose dimensions were unknown in a preview would be reviewed blind.
    alarms = preview_graphs[stack].of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarms
    for alarm in alarms:
        dimensions = alarm.inputs.get("dimensions") or {}
        for metric in alarm.inputs.get("metricQueries") or []:
            dimensions = {**dimensions, **(metric.get("metric") or {}).get("dimensions", {})}
        assert not _contains_unknown(dimensions), alarm.urn
        assert _unknown(alarm.inputs["alarmActions"][0]), alarm.urn  # the topic's ARN


def test_a_job_name_from_known_inputs_is_known_in_the_preview_and_the_same_in_up() -> None:
    registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    prebuilt = {
        "trainingImageUri": f"{registry}/sagestack-training@sha256:{'a' * 64}",
        "inferenceImageUri": f"{registry}/sagestack-inference@sha256:{'b' * 64}",
    }
    preview = run_program("dev", prebuilt, preview=True).outputs
    up = run_program("dev", prebuilt).outputs
    assert preview["training_job_name"] == up["training_job_name"]
    assert preview["training_image_uri"] == prebuilt["trainingImageUri"]
    assert _unknown(preview["model_data_url"])  # still waits on the artifacts bucket's name


def test_each_run_starts_from_a_fresh_stack_as_the_engine_does() -> None:
    """A run's root Stack, its name and its exports do not leak into the next run in the process
    (they did: previews built after another test's program showed its `bucket` export)."""

    def exporting(name: str) -> Callable[[], None]:
        def program() -> None:
            topic = aws.sns.Topic(f"{name}-topic")
            pulumi.export(name, topic.name)

        return program

    config = stack_config("dev")
    run(exporting("first"), "staging", config)
    second = run(exporting("second"), "dev", config)
    assert set(second.outputs) == {"second"}
    assert {r.parent for r in second.resources if r.name == "second-topic"} == {
        "urn:pulumi:dev::sagestack::pulumi:pulumi:Stack::sagestack-dev"
    }
