"""Every input of every stack's resources, checked against AWS's own rules (botocore's models).

The table and the checks live in tests/infra/aws_rules.py. Here: every stack passes, the table
covers every resource type and input and names only real API members, and each kind of rule is
shown to fire on a broken copy of a real recorded resource, naming its URN, member and rule.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
import regex

from infra.config import LOG_RETENTION_DAYS, ConfigError
from tests.infra import aws_rules
from tests.infra.conftest import STACKS
from tests.infra.program import Graph, Registration, run_program

# Settings no shipped stack uses but the program supports, so that their inputs are checked too:
# notification subscriptions, spot training (checkpoints, wait limit), the training log group.
OPTIONAL_PARTS = {
    "alarmEmails": "oncall@example.com,ml@example.com",
    "alarmHttpsUrl": "https://hooks.example.com/sagestack",
    "trainingUseSpot": True,
    "trainingLogGroupRetentionDays": 30,
    # The monitoring job's labels and the loop to GitHub.
    "monitorGroundTruth": True,
    "monitorGithubRepository": "octo-org/sagestack",
    "monitorGithubTokenSecret": "sagestack/github-token",
}


@pytest.fixture(scope="module")
def every_graph(graphs: dict[str, Graph]) -> dict[str, Graph]:
    return {**graphs, "prod+optional": run_program("prod", OPTIONAL_PARTS)}


@pytest.mark.parametrize("stack", [*STACKS, "prod+optional"])
def test_every_input_keeps_aws_rules(every_graph: dict[str, Graph], stack: str) -> None:
    problems = aws_rules.violations(every_graph[stack])
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("stack", STACKS)
def test_every_value_a_preview_knows_keeps_aws_rules(stack: str) -> None:
    """A preview leaves computed values unknown; everything it does know keeps the rules, and
    every unknown value is reported as unchecked (never passed)."""
    problems = aws_rules.violations(run_program(stack, preview=True))
    unchecked = [p for p in problems if p.endswith("unknown until deployment, so not checked")]
    assert [p for p in problems if p not in unchecked] == []


def test_the_table_maps_every_declared_type(every_graph: dict[str, Graph]) -> None:
    declared = {r.type for graph in every_graph.values() for r in graph.resources if r.custom}
    unmapped = declared - set(aws_rules.RESOURCES) - set(aws_rules.NOT_AWS)
    assert unmapped == set(), f"add these types to aws_rules.RESOURCES: {sorted(unmapped)}"
    # And the table holds no type the program has stopped declaring.
    assert set(aws_rules.RESOURCES) | set(aws_rules.NOT_AWS) <= declared


def test_every_mapped_input_is_seen_in_some_stack(every_graph: dict[str, Graph]) -> None:
    """A table entry no stack exercises is a guess; each one is seen at least once."""
    seen: set[tuple[str, str]] = set()
    for graph in every_graph.values():
        for resource in graph.resources:
            rules = aws_rules.RESOURCES.get(resource.type)
            if rules is not None:
                known = aws_rules.known_paths(rules)
                seen |= {(resource.type, p) for p, _ in aws_rules.leaves(resource.inputs, known)}
    never = sorted(
        (type_, path)
        for type_, rules in aws_rules.RESOURCES.items()
        for path in aws_rules.known_paths(rules)
        if (type_, path) not in seen
    )
    # The linear strategy's step size: no shipped stack deploys linearly; checked below.
    linear = {p for p in aws_rules.SAGEMAKER_ENDPOINT_INPUTS if "linearStepSize" in p}
    assert [entry for entry in never if entry[1] not in linear] == []


def test_a_linear_rollout_keeps_aws_rules() -> None:
    graph = run_program("staging", {"deploymentStrategy": "linear"})
    endpoint = graph.one("aws:sagemaker/endpoint:Endpoint")
    routing = endpoint.inputs["deploymentConfig"]["blueGreenUpdatePolicy"]
    assert "linearStepSize" in routing["trafficRoutingConfiguration"]
    assert aws_rules.violations(graph) == []


def test_every_provider_only_input_says_why() -> None:
    for type_, rules in aws_rules.RESOURCES.items():
        for path, why in rules.provider_only.items():
            assert len(why) > 20, f"{type_} {path}: give the reason it has no API member"


# --- the patterns: Java's syntax, read faithfully -------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "matching", "failing"),
    [
        # Unicode letters, numbers and separators, as in Java.
        ("^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$", ["prod", "café 2", "x_y:z"], ["a*b", "a\tb"]),
        # Java's POSIX classes are ASCII only: é is not \p{Alnum}, nor \p{Print}.
        ("arn:[\\p{Alnum}\\-]+:lambda", ["arn:aws-cn:lambda"], ["arn:awsé:lambda"]),
        ("\\p{Print}+", ["policy name"], ["é", "tab\there"]),
        # A surrogate pair is one supplementary code point in Java.
        (
            "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*",
            ["a😀b"],
            ["\x01"],
        ),
        # The whole value must match, not a part of it.
        ("[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", ["sagestack-dev"], ["sagestack_dev", "-x"]),
    ],
)
def test_java_patterns_mean_what_they_mean_in_java(
    pattern: str, matching: list[str], failing: list[str]
) -> None:
    compiled = aws_rules.compiled(pattern)
    assert [v for v in matching if not compiled.fullmatch(v)] == []
    assert [v for v in failing if compiled.fullmatch(v)] == []


def test_every_pattern_the_program_meets_compiles() -> None:
    """Every pattern reachable from the table's operations compiles (none is skipped)."""
    seen: set[str] = set()

    def walk(shape: Any) -> None:
        if shape.name in seen:
            return
        seen.add(shape.name)
        if "pattern" in shape.metadata:
            aws_rules.compiled(shape.metadata["pattern"])
        for child in list(getattr(shape, "members", {}).values()) + [
            getattr(shape, attr) for attr in ("member", "key", "value") if hasattr(shape, attr)
        ]:
            walk(child)

    for rules in aws_rules.RESOURCES.values():
        for call in rules.calls:
            walk(aws_rules.input_shape(call.service, call.operation))
    assert len(seen) > 200


# --- each kind of rule fires on a broken copy of a real resource ----------------------------------

Break = Callable[[Registration], None]


def _set(path: str, value: Any) -> Break:
    def breakage(resource: Registration) -> None:
        node: Any = resource.inputs
        *head, last = path.split(".")
        for part in head:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            del node[last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return breakage


_DELETE = object()
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
BLUE_GREEN = "deploymentConfig.blueGreenUpdatePolicy"

# rule kind -> (stack, resource type, breakage, member path, words of the rule)
BREAKAGES: dict[str, tuple[str, str, Break, str, str]] = {
    "max length (a 64-character name)": (
        "prod",
        ENDPOINT,
        _set("name", "e" * 64),
        "EndpointName",
        "length 64 is above the maximum 63",
    ),
    "enum": (
        "prod",
        CONFIG,
        _set("productionVariants.0.instanceType", "ml.m5.huge"),
        "ProductionVariants[0].InstanceType",
        "'ml.m5.huge' is not one of the enum ProductionVariantInstanceType",
    ),
    "pattern": (
        "prod",
        "aws:sagemaker/trainingJob:TrainingJob",
        _set("trainingJobName", "sagestack_prod_1"),
        "TrainingJobName",
        "does not match the pattern",
    ),
    "numeric range (an out-of-range period)": (
        "prod",
        ENDPOINT,
        _set(f"{BLUE_GREEN}.trafficRoutingConfiguration.waitIntervalInSeconds", 7200.0),
        "DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.WaitIntervalInSeconds",
        "value 7200 is above the maximum 3600",
    ),
    "numeric minimum (a zero alarm period)": (
        "prod",
        ALARM,
        _set("period", 0.0),
        "Period",
        "value 0 is below the minimum 1",
    ),
    "required member": (
        "prod",
        CONFIG,
        _set("productionVariants.0.variantName", _DELETE),
        "ProductionVariants[0].VariantName",
        "required member missing",
    ),
    "integer": (
        "prod",
        CONFIG,
        _set("productionVariants.0.initialInstanceCount", 1.5),
        "ProductionVariants[0].InitialInstanceCount",
        "1.5 is not an integer",
    ),
    "a Unicode pattern (tags)": (
        "dev",
        "aws:sagemaker/model:Model",
        _set("tags.owner", "ops*team"),
        "Tags[3].Value",
        "does not match the pattern",
    ),
    "an input the table does not know": (
        "dev",
        "aws:s3/bucket:Bucket",
        _set("objectLockEnabled", True),
        "'objectLockEnabled'",
        "neither mapped to an API member nor listed as provider-only",
    ),
}


@pytest.mark.parametrize("kind", sorted(BREAKAGES))
def test_a_broken_input_is_named_with_its_urn_member_and_rule(
    graphs: dict[str, Graph], kind: str
) -> None:
    stack, type_, breakage, member, rule = BREAKAGES[kind]
    broken = copy.deepcopy(graphs[stack])
    resource = broken.of_type(type_)[0]
    breakage(resource)
    problems = aws_rules.violations(broken)
    named = [p for p in problems if p.startswith(f"{resource.urn}:") and member in p and rule in p]
    assert named, f"{kind}: expected {member}: {rule}; got {problems}"
    assert all(p.startswith("urn:pulumi:") for p in problems)


def test_a_new_resource_type_must_join_the_table(graphs: dict[str, Graph]) -> None:
    broken = copy.deepcopy(graphs["dev"])
    stray = copy.deepcopy(broken.of_type("aws:sns/topic:Topic")[0])
    stray.type = "aws:sqs/queue:Queue"
    stray.urn = stray.urn.replace("aws:sns/topic:Topic", stray.type)
    broken.resources.append(stray)
    assert any(
        p.startswith(stray.urn) and "is not in the table" in p for p in aws_rules.violations(broken)
    )


def test_unknown_values_are_reported_not_passed(graphs: dict[str, Graph]) -> None:
    """A preview leaves ARNs unknown: the rules cannot check them and say so."""
    broken = copy.deepcopy(graphs["prod"])
    model = broken.one("aws:sagemaker/model:Model")
    model.inputs["executionRoleArn"] = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    assert any(
        p.startswith(model.urn) and "ExecutionRoleArn: unknown until deployment" in p
        for p in aws_rules.violations(broken)
    )


def test_the_bucket_name_is_checked_as_the_provider_makes_it(graphs: dict[str, Graph]) -> None:
    """bucketPrefix plus the provider's 26 characters must fit S3's 63 (a rule S3 documents but
    botocore's model lacks: aws_rules.DOCUMENTED): a longer prefix fails."""
    broken = copy.deepcopy(graphs["prod"])
    bucket = broken.of_type("aws:s3/bucket:Bucket")[0]
    bucket.inputs["bucketPrefix"] = "p" * 38
    assert any(
        p.startswith(bucket.urn) and "s3 CreateBucket Bucket: length 64" in p
        for p in aws_rules.violations(broken)
    )


def test_a_table_entry_naming_no_real_member_fails(
    graphs: dict[str, Graph], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table is checked too: an API member path botocore's shape lacks is a violation."""
    dashboard = "aws:cloudwatch/dashboard:Dashboard"
    wrong = aws_rules.Resource(
        calls=(
            aws_rules.Call(
                "cloudwatch",
                "PutDashboard",
                inputs={"dashboardName": "DashboardNam", "dashboardBody": "DashboardBody"},
            ),
        )
    )
    monkeypatch.setitem(aws_rules.RESOURCES, dashboard, wrong)
    problems = aws_rules.violations(graphs["dev"])
    urn = graphs["dev"].one(dashboard).urn
    assert f"{urn}: cloudwatch PutDashboard DashboardNam: no such member in PutDashboardInput" in (
        problems
    )
    assert f"{urn}: cloudwatch PutDashboard DashboardName: required member missing" in problems


def test_documented_rules_are_what_botocore_documents() -> None:
    """The rules botocore states in prose but does not encode are copied from that prose."""
    retention = aws_rules.input_shape("logs", "PutRetentionPolicy").members["retentionInDays"]
    assert retention.name == "Days"
    listed = regex.search(r"Possible values are: ([0-9, and]+)\.", retention.documentation)
    assert listed is not None
    assert tuple(int(n) for n in regex.findall(r"[0-9]+", listed[1])) == (LOG_RETENTION_DAYS)
    window = aws_rules.input_shape("kms", "ScheduleKeyDeletion").members["PendingWindowInDays"]
    assert "between 7 and 30, inclusive" in window.documentation
    assert aws_rules.DOCUMENTED[("kms", window.name)] == {"min": 7, "max": 30}


def _graph_or_refusal(stack: str, overrides: dict[str, object]) -> Graph | str:
    """The stack's graph, or the config's refusal of the overrides."""
    try:
        return run_program(stack, overrides)
    except ConfigError as error:
        return str(error)


@pytest.mark.parametrize("key", ["logRetentionDays", "trainingLogGroupRetentionDays"])
def test_a_log_retention_aws_does_not_take_never_reaches_aws_unnoticed(key: str) -> None:
    """CloudWatch Logs takes 22 retention values only: the config refuses 10, naming the key
    (it once took any number from 1 to 3653, which AWS would have refused at `pulumi up`)."""
    outcome = _graph_or_refusal("dev", {key: 10})
    assert isinstance(outcome, str), "the config took a retention CloudWatch Logs refuses"
    assert f"sagestack:{key}='10'" in outcome


def test_the_same_shape_name_in_another_service_keeps_its_own_rules(
    graphs: dict[str, Graph],
) -> None:
    """S3's lifecycle `Days` is a shape of the same name as CloudWatch Logs' retention; 10 days
    of capture retention is fine for S3 (the documented rule is the logs service's only)."""
    assert aws_rules.violations(run_program("dev", {"captureRetentionDays": 10})) == []


def test_the_schedules_processing_job_is_checked_as_the_request_it_is(
    every_graph: dict[str, Graph],
) -> None:
    """The schedule's target input is CreateProcessingJob's request: SageMaker's own rules
    apply to it, with the context attributes at their longest plausible values."""
    schedule = every_graph["prod"].one("aws:scheduler/schedule:Schedule")
    assert aws_rules.universal_target_violations(schedule) == []
    request = json.loads(schedule.inputs["target"]["input"])
    for field, value, rule in (
        ("ProcessingJobName", "x" * 30 + "-<aws.scheduler.execution-id>", "ProcessingJobName"),
        ("AppSpecification", {"ContainerEntrypoint": ["monitor"]}, "ImageUri"),
        ("Environment", {"1BAD": "x"}, "Environment"),
    ):
        broken = copy.deepcopy(schedule)
        broken.inputs["target"]["input"] = json.dumps({**request, field: value})
        problems = aws_rules.universal_target_violations(broken)
        assert any(rule in p for p in problems), (field, problems)
        assert all(p.startswith(schedule.urn) for p in problems)
