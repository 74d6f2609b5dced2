"""The guardrails every stack must keep, as pure functions over resources.

Each rule takes resources as the policy engine (or the tests' recording mocks) sees them: type,
URN, properties (the engine's camelCase names), parent and options. It returns its violations,
each message starting with the resource's URN. `pack.py` turns them into CrossGuard policies;
the test suite runs the same functions over every stack's mock-recorded graph.

A stack is "relaxed" (dev, and `pr-<n>` review stacks made from dev's config) when its
resources carry that `stack` tag: there, data capture and rollback alarms are not required.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contracts.cloudwatch import ENDPOINT_DIMENSION, VARIANT_DIMENSION
from infra.config import has_local_storage
from infra.policies import WILDCARD_RESOURCE_ACTIONS

RELAXED_STACKS = ("dev",)
REVIEW_STACK_PREFIX = "pr-"
ENDPOINT_DIMENSIONS = frozenset({ENDPOINT_DIMENSION, VARIANT_DIMENSION})

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
TRAINING_JOB = "aws:sagemaker/trainingJob:TrainingJob"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


@dataclass(frozen=True)
class Resource:
    type: str
    urn: str
    props: Mapping[str, Any]
    parent: str | None = None
    protect: bool = False


ResourceRule = Callable[[Resource], list[str]]
StackRule = Callable[[Sequence[Resource]], list[str]]


def relaxed(resource: Resource) -> bool:
    stack = str((resource.props.get("tags") or {}).get("stack", ""))
    return stack in RELAXED_STACKS or stack.startswith(REVIEW_STACK_PREFIX)


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value or [])


# --- stack rules (a bucket's settings are resources of their own) -------------------------------


def buckets_locked_down(resources: Sequence[Resource]) -> list[str]:
    """Every bucket: all public access blocked, owner-enforced, SSE-KMS with bucket keys,
    versioned, and a policy denying requests without TLS."""
    problems = []
    for bucket in (r for r in resources if r.type == BUCKET):
        # The bucket's settings are its siblings: children of the same PrivateBucket.
        siblings: dict[str, list[Mapping[str, Any]]] = {}
        for other in resources:
            if other.parent == bucket.parent and other is not bucket:
                siblings.setdefault(other.type, []).append(other.props)

        def settings(type_: str, found: dict[str, list[Mapping[str, Any]]] = siblings) -> Any:
            return found.get(type_, [])

        flags = (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
        if not any(
            all(p.get(flag) is True for flag in flags) for p in settings(PUBLIC_ACCESS_BLOCK)
        ):
            problems.append(f"{bucket.urn}: bucket must block all four kinds of public access")
        if not any(
            (p.get("rule") or {}).get("objectOwnership") == "BucketOwnerEnforced"
            for p in settings(OWNERSHIP)
        ):
            problems.append(f"{bucket.urn}: bucket must enforce bucket-owner object ownership")
        if not any(_kms_with_bucket_keys(p) for p in settings(ENCRYPTION)):
            problems.append(f"{bucket.urn}: bucket must use SSE-KMS with bucket keys")
        if not any(
            (p.get("versioningConfiguration") or {}).get("status") == "Enabled"
            for p in settings(VERSIONING)
        ):
            problems.append(f"{bucket.urn}: bucket must be versioned")
        if not any(_denies_plain_http(p.get("policy")) for p in settings(BUCKET_POLICY)):
            problems.append(f"{bucket.urn}: bucket policy must deny requests without TLS")
    return problems


def _kms_with_bucket_keys(props: Mapping[str, Any]) -> bool:
    rules = props.get("rules") or []
    return bool(rules) and all(
        (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm") == "aws:kms"
        and rule.get("bucketKeyEnabled") is True
        for rule in rules
    )


def _denies_plain_http(policy: Any) -> bool:
    document = json.loads(policy) if isinstance(policy, str) else policy or {}
    return any(
        statement.get("Effect") == "Deny"
        and statement.get("Principal") == "*"
        and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in document.get("Statement", [])
    )


# --- resource rules ------------------------------------------------------------------------


def iam_without_wildcards(resource: Resource) -> list[str]:
    """No statement allows a wildcard action; Resource "*" only for actions that need it; no
    managed policies (AmazonSageMakerFullAccess and friends)."""
    problems = []
    if resource.type == ROLE and resource.props.get("managedPolicyArns"):
        problems.append(f"{resource.urn}: no managed policies on the role; inline, scoped ones")
    if resource.type == ROLE_POLICY:
        policy = resource.props.get("policy")
        document = json.loads(policy) if isinstance(policy, str) else policy or {}
        for statement in _as_list(document.get("Statement")):
            if statement.get("Effect") != "Allow":
                continue
            actions = _as_list(statement.get("Action"))
            if any(action == "*" or str(action).endswith(":*") for action in actions):
                problems.append(f"{resource.urn}: no IAM statement may allow a wildcard action")
            if "*" in _as_list(statement.get("Resource")) and not set(actions) <= (
                WILDCARD_RESOURCE_ACTIONS
            ):
                problems.append(
                    f"{resource.urn}: Resource '*' only for {sorted(WILDCARD_RESOURCE_ACTIONS)}"
                )
    return problems


def training_isolated(resource: Resource) -> list[str]:
    if resource.type == TRAINING_JOB and resource.props.get("enableNetworkIsolation") is not True:
        return [f"{resource.urn}: training jobs run with network isolation"]
    return []


def endpoint_configs_encrypted_and_captured(resource: Resource) -> list[str]:
    """Outside relaxed stacks: a KMS key for the instances' storage (unless their local NVMe
    storage is encrypted by AWS) and data capture to our bucket."""
    if resource.type != ENDPOINT_CONFIG or relaxed(resource):
        return []
    problems = []
    variants = resource.props.get("productionVariants") or []
    needs_key = any(
        "serverlessConfig" not in v and not has_local_storage(str(v.get("instanceType", "")))
        for v in variants
    )
    if needs_key and not resource.props.get("kmsKeyArn"):
        problems.append(f"{resource.urn}: endpoint configurations encrypt storage with our key")
    capture = resource.props.get("dataCaptureConfig") or {}
    if not (capture.get("enableCapture") and capture.get("initialSamplingPercentage")):
        problems.append(f"{resource.urn}: endpoint configurations outside dev capture traffic")
    return problems


def alarms_watch_an_endpoint(resource: Resource) -> list[str]:
    """Every alarm names the endpoint and variant it watches, and notifies both ways."""
    if resource.type != ALARM:
        return []
    problems = []
    queries = resource.props.get("metricQueries") or []
    dimension_sets = [q["metric"].get("dimensions") or {} for q in queries if q.get("metric")]
    if not queries:
        dimension_sets = [resource.props.get("dimensions") or {}]
    if not all(set(dimensions) >= ENDPOINT_DIMENSIONS for dimensions in dimension_sets):
        problems.append(f"{resource.urn}: alarms need EndpointName and VariantName dimensions")
    if not (resource.props.get("alarmActions") and resource.props.get("okActions")):
        problems.append(f"{resource.urn}: alarms notify when they fire and when they recover")
    return problems


def endpoints_roll_back(resource: Resource) -> list[str]:
    """Outside relaxed stacks, a blue/green update rolls back on alarms."""
    if resource.type != ENDPOINT or relaxed(resource):
        return []
    rollback = (resource.props.get("deploymentConfig") or {}).get("autoRollbackConfiguration")
    if not (rollback or {}).get("alarms"):
        return [f"{resource.urn}: endpoints outside dev roll back on alarms"]
    return []


RESOURCE_RULES: dict[str, ResourceRule] = {
    "iam-without-wildcards": iam_without_wildcards,
    "training-network-isolation": training_isolated,
    "endpoint-configs-encrypted-and-captured": endpoint_configs_encrypted_and_captured,
    "alarms-watch-an-endpoint": alarms_watch_an_endpoint,
    "endpoints-roll-back": endpoints_roll_back,
}
STACK_RULES: dict[str, StackRule] = {"buckets-locked-down": buckets_locked_down}
