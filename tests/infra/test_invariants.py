"""Rules every stack's resource graph keeps. A failure names the resource's URN and the rule.

Each rule is a function from a recorded graph to its violations; the tests run every rule over
every stack (no violations) and over a deliberately broken copy (the rule fires), so that no
rule can pass by checking nothing.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.naming import SAGEMAKER_NAME
from infra.policies import WILDCARD_RESOURCE_ACTIONS
from tests.conftest import SAMPLE_DATASET
from tests.infra.conftest import STACKS
from tests.infra.program import Graph, Registration, run_program

Rule = Callable[[Graph], list[str]]
BUCKET = "aws:s3/bucket:Bucket"


def _siblings(graph: Graph, bucket: Registration, type_: str) -> list[Registration]:
    return [r for r in graph.of_type(type_) if r.parent == bucket.parent]


def buckets_private(graph: Graph) -> list[str]:
    problems = []
    for bucket in graph.of_type(BUCKET):
        blocks = _siblings(graph, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        flags = (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
        if len(blocks) != 1 or not all(blocks[0].inputs.get(flag) is True for flag in flags):
            problems.append(f"{bucket.urn}: bucket must block all four kinds of public access")
        owners = _siblings(graph, bucket, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
        if [o.inputs["rule"]["objectOwnership"] for o in owners] != ["BucketOwnerEnforced"]:
            problems.append(f"{bucket.urn}: bucket must enforce bucket-owner object ownership")
    return problems


def buckets_encrypted(graph: Graph) -> list[str]:
    problems = []
    sse_type = (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    for bucket in graph.of_type(BUCKET):
        configs = _siblings(graph, bucket, sse_type)
        rules = configs[0].inputs["rules"] if len(configs) == 1 else []
        if not rules or not all(
            rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
            and rule.get("bucketKeyEnabled") is True
            for rule in rules
        ):
            problems.append(f"{bucket.urn}: bucket must use SSE-KMS with bucket keys")
    return problems


def buckets_versioned(graph: Graph) -> list[str]:
    return [
        f"{bucket.urn}: bucket must be versioned"
        for bucket in graph.of_type(BUCKET)
        if [
            v.inputs["versioningConfiguration"]["status"]
            for v in _siblings(graph, bucket, "aws:s3/bucketVersioning:BucketVersioning")
        ]
        != ["Enabled"]
    ]


def buckets_tls_only(graph: Graph) -> list[str]:
    problems = []
    for bucket in graph.of_type(BUCKET):
        policies = _siblings(graph, bucket, "aws:s3/bucketPolicy:BucketPolicy")
        statements = json.loads(policies[0].inputs["policy"])["Statement"] if policies else []
        if not any(
            s["Effect"] == "Deny"
            and s["Principal"] == "*"
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        ):
            problems.append(f"{bucket.urn}: bucket policy must deny requests without TLS")
    return problems


def _as_list(value: object) -> list[str]:
    return [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]


def iam_without_wildcards(graph: Graph) -> list[str]:
    problems = []
    for policy in graph.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            actions = _as_list(statement["Action"])
            if any(action == "*" or action.endswith(":*") for action in actions):
                problems.append(f"{policy.urn}: no IAM statement may allow a wildcard action")
            if "*" in _as_list(statement["Resource"]) and not set(actions) <= (
                WILDCARD_RESOURCE_ACTIONS
            ):
                problems.append(
                    f"{policy.urn}: Resource '*' only for {sorted(WILDCARD_RESOURCE_ACTIONS)}"
                )
    for role in graph.of_type("aws:iam/role:Role"):
        if role.inputs.get("managedPolicyArns"):
            problems.append(f"{role.urn}: no managed policies (AmazonSageMakerFullAccess et al.)")
    return problems


def training_job_name_valid(graph: Graph) -> list[str]:
    return [
        f"{job.urn}: training job name {job.inputs['trainingJobName']!r} is not valid for SageMaker"
        for job in graph.of_type("aws:sagemaker/trainingJob:TrainingJob")
        if not SAGEMAKER_NAME.match(job.inputs["trainingJobName"])
    ]


def training_isolated(graph: Graph) -> list[str]:
    return [
        f"{job.urn}: training jobs run with network isolation"
        for job in graph.of_type("aws:sagemaker/trainingJob:TrainingJob")
        if job.inputs.get("enableNetworkIsolation") is not True
    ]


def model_depends_on_training(graph: Graph) -> list[str]:
    jobs = {job.urn for job in graph.of_type("aws:sagemaker/trainingJob:TrainingJob")}
    return [
        f"{model.urn}: the model must depend on the training job that produced its artifact"
        for model in graph.of_type("aws:sagemaker/model:Model")
        if not jobs & set(model.dependencies)
    ]


def _data_bucket_roles(graph: Graph) -> dict[str, Registration]:
    return {b.inputs["tags"]["data-role"]: b for b in graph.of_type(BUCKET)}


def buckets_survive_destroy_as_configured(graph: Graph) -> list[str]:
    """prod: data and artifacts protected and retained, with everything that keeps them safe.
    dev: force-destroyed and not retained, so `pulumi destroy` leaves nothing behind."""
    problems = []
    buckets = _data_bucket_roles(graph)
    if graph.stack == "prod":
        for role in ("data", "artifacts"):
            bucket = buckets[role]
            kept = [bucket, *(r for r in graph.resources if r.parent == bucket.parent)]
            for resource in kept:
                if not (resource.protect and resource.retain_on_delete):
                    problems.append(f"{resource.urn}: prod {role} must be protected and retained")
            if bucket.inputs.get("forceDestroy"):
                problems.append(f"{bucket.urn}: prod {role} bucket must not be force-destroyed")
        for key in graph.of_type("aws:kms/key:Key"):
            if not key.retain_on_delete:
                problems.append(f"{key.urn}: the key of retained buckets must be retained too")
    if graph.stack == "dev":
        for role, bucket in buckets.items():
            if bucket.inputs.get("forceDestroy") is not True or bucket.retain_on_delete:
                problems.append(f"{bucket.urn}: dev {role} bucket must be force-destroyed")
    return problems


def endpoint_follows_new_models(graph: Graph) -> list[str]:
    problems = []
    for type_ in (
        "aws:sagemaker/model:Model",
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    ):
        for resource in graph.of_type(type_):
            if "name" in resource.inputs or resource.delete_before_replace:
                problems.append(
                    f"{resource.urn}: must be auto-named and replaced create-before-delete"
                )
    return problems


ENDPOINT_DIMENSIONS = {"EndpointName", "VariantName"}


def alarms_watch_an_endpoint_and_notify(graph: Graph) -> list[str]:
    problems = []
    for alarm in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        queries = alarm.inputs.get("metricQueries") or []
        dimension_sets = [q["metric"].get("dimensions", {}) for q in queries if "metric" in q]
        if not queries:
            dimension_sets = [alarm.inputs.get("dimensions") or {}]
        if not all(set(d) >= ENDPOINT_DIMENSIONS for d in dimension_sets):
            problems.append(f"{alarm.urn}: alarms need EndpointName and VariantName dimensions")
        if not (alarm.inputs.get("alarmActions") and alarm.inputs.get("okActions")):
            problems.append(f"{alarm.urn}: alarms notify when they fire and when they recover")
    return problems


def endpoints_roll_back_outside_dev(graph: Graph) -> list[str]:
    if graph.stack == "dev":
        return []
    alarm_names = {
        a.outputs["name"] for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    problems = []
    for endpoint in graph.of_type("aws:sagemaker/endpoint:Endpoint"):
        rollback = (endpoint.inputs.get("deploymentConfig") or {}).get("autoRollbackConfiguration")
        names = [a["alarmName"] for a in (rollback or {}).get("alarms", [])]
        if not names or not set(names) <= alarm_names:
            problems.append(f"{endpoint.urn}: endpoints outside dev roll back on our alarms")
    return problems


def no_autoscaling_on_serverless(graph: Graph) -> list[str]:
    serverless = any(
        "serverlessConfig" in variant
        for config in graph.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
        for variant in config.inputs["productionVariants"]
    )
    if not serverless:
        return []
    return [
        f"{target.urn}: serverless endpoints scale by themselves; no autoscaling target"
        for target in graph.of_type("aws:appautoscaling/target:Target")
    ]


RULES: dict[str, Rule] = {
    rule.__name__: rule
    for rule in (
        buckets_private,
        buckets_encrypted,
        buckets_versioned,
        buckets_tls_only,
        iam_without_wildcards,
        training_job_name_valid,
        training_isolated,
        model_depends_on_training,
        buckets_survive_destroy_as_configured,
        endpoint_follows_new_models,
        alarms_watch_an_endpoint_and_notify,
        endpoints_roll_back_outside_dev,
        no_autoscaling_on_serverless,
    )
}


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_stack_keeps_every_rule(graphs: dict[str, Graph], stack: str, rule: str) -> None:
    assert RULES[rule](graphs[stack]) == []


Breakage = Callable[[Graph], None]


def _first(type_: str, change: Callable[[Registration], object]) -> Breakage:
    """Break the first resource of `type_` in the graph with `change`."""

    def breakage(graph: Graph) -> None:
        change(graph.of_type(type_)[0])

    return breakage


def _set_input(key: str, value: object) -> Callable[[Registration], None]:
    def change(resource: Registration) -> None:
        resource.inputs[key] = value

    return change


def _wildcard_policy(resource: Registration) -> None:
    document = json.loads(resource.inputs["policy"])
    document["Statement"].append({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    resource.inputs["policy"] = json.dumps(document)


def _unprotect(resource: Registration) -> None:
    resource.protect = False


def _scale_dev(graph: Graph) -> None:
    # A resource the graph must not have: a scaling target for a serverless endpoint.
    target = copy.deepcopy(graph.one("aws:sagemaker/endpoint:Endpoint"))
    target.type = "aws:appautoscaling/target:Target"
    target.urn = target.urn.replace("aws:sagemaker/endpoint:Endpoint", target.type)
    graph.resources.append(target)


BREAKAGES: dict[str, tuple[str, Breakage]] = {
    "buckets_private": (
        "dev",
        _first(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            _set_input("restrictPublicBuckets", False),
        ),
    ),
    "buckets_encrypted": (
        "dev",
        _first(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            _set_input(
                "rules", [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
            ),
        ),
    ),
    "buckets_versioned": (
        "dev",
        _first(
            "aws:s3/bucketVersioning:BucketVersioning",
            _set_input("versioningConfiguration", {"status": "Suspended"}),
        ),
    ),
    "buckets_tls_only": (
        "dev",
        _first(
            "aws:s3/bucketPolicy:BucketPolicy", _set_input("policy", json.dumps({"Statement": []}))
        ),
    ),
    "iam_without_wildcards": ("dev", _first("aws:iam/rolePolicy:RolePolicy", _wildcard_policy)),
    "training_job_name_valid": (
        "dev",
        _first(
            "aws:sagemaker/trainingJob:TrainingJob",
            _set_input("trainingJobName", "sagestack_dev_1"),
        ),
    ),
    "training_isolated": (
        "dev",
        _first(
            "aws:sagemaker/trainingJob:TrainingJob", _set_input("enableNetworkIsolation", False)
        ),
    ),
    "model_depends_on_training": (
        "dev",
        _first("aws:sagemaker/model:Model", lambda model: setattr(model, "dependencies", [])),
    ),
    "buckets_survive_destroy_as_configured": ("prod", _first(BUCKET, _unprotect)),
    "endpoint_follows_new_models": (
        "dev",
        _first(
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
            _set_input("name", "sagestack-dev-config"),
        ),
    ),
    "alarms_watch_an_endpoint_and_notify": (
        "dev",
        _first(
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            _set_input("dimensions", {"EndpointName": "sagestack-dev"}),
        ),
    ),
    "endpoints_roll_back_outside_dev": (
        "prod",
        _first(
            "aws:sagemaker/endpoint:Endpoint",
            lambda endpoint: endpoint.inputs.pop("deploymentConfig"),
        ),
    ),
    "no_autoscaling_on_serverless": ("dev", _scale_dev),
}


def test_every_rule_has_a_breakage() -> None:
    assert sorted(BREAKAGES) == sorted(RULES)


@pytest.mark.parametrize("rule", sorted(BREAKAGES))
def test_a_broken_resource_is_named(graphs: dict[str, Graph], rule: str) -> None:
    stack, breakage = BREAKAGES[rule]
    broken = copy.deepcopy(graphs[stack])
    breakage(broken)
    problems = RULES[rule](broken)
    assert problems, rule
    assert all(problem.startswith("urn:pulumi:") for problem in problems)


# --- the training job name is deterministic and follows what should retrain --------------------


def _job_name(overrides: dict[str, object] | None = None) -> str:
    name: str = run_program("dev", overrides).outputs["training_job_name"]
    return name


def test_same_inputs_same_job_and_nothing_retrains(graphs: dict[str, Graph]) -> None:
    assert _job_name() == graphs["dev"].outputs["training_job_name"]


def test_new_data_image_or_hyperparameters_retrain(
    graphs: dict[str, Graph], tmp_path: Path
) -> None:
    base = graphs["dev"].outputs["training_job_name"]
    changed_data = tmp_path / "data.csv"
    changed_data.write_text(SAMPLE_DATASET.read_text() + "\n")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/t@sha256:" + "3" * 64
    other_image = image.replace("3" * 64, "4" * 64)
    names = {
        "data": _job_name({"dataPath": str(changed_data)}),
        "hyperparameters": _job_name({"hyperparameters": '{"C": 0.5}'}),
        "instance": _job_name({"trainingInstanceType": "ml.c5.xlarge"}),
        "image": _job_name({"trainingImageUri": image}),
        "other image": _job_name({"trainingImageUri": other_image}),
    }
    assert len(set(names.values()) | {base}) == len(names) + 1, names
    # Serving-only settings do not retrain.
    assert _job_name({"serverlessMemoryMb": 4096, "logRetentionDays": 14}) == base
