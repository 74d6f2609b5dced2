"""The CrossGuard policy pack: every policy passes every stack, and fires on a broken resource.

The policies are called exactly as the engine calls them (ResourceValidationArgs and
StackValidationArgs built from each stack's mock-recorded graph); the pack itself is started
as a process, as `pulumi preview --policy-pack infra/policy` starts it.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable

import pytest
import yaml
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)

from infra.policy.pack import PACK_NAME, POLICIES
from infra.policy.rules import RESOURCE_RULES, STACK_RULES
from tests.conftest import REPO
from tests.infra.conftest import STACKS
from tests.infra.program import Graph, Registration

PACK_DIR = REPO / "infra" / "policy"


def _options(resource: Registration) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=[],
        delete_before_replace=resource.delete_before_replace,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent or None,
    )


def run_policies(graph: Graph) -> dict[str, list[tuple[str, str | None]]]:
    """Each policy's reported violations over the graph: (message, URN)."""
    reports: dict[str, list[tuple[str, str | None]]] = {}
    custom = [r for r in graph.resources if r.custom]
    for policy in POLICIES:
        found: list[tuple[str, str | None]] = []

        def report(
            message: str, urn: str | None = None, into: list[tuple[str, str | None]] = found
        ) -> None:
            into.append((message, urn))

        if isinstance(policy, ResourceValidationPolicy):
            for resource in custom:
                args = ResourceValidationArgs(
                    resource.type,
                    resource.inputs,
                    resource.urn,
                    resource.name,
                    _options(resource),
                    None,
                )
                policy.validate(args, report)
        else:
            by_urn: dict[str, PolicyResource] = {}
            for resource in graph.resources:
                by_urn[resource.urn] = PolicyResource(
                    resource.type,
                    resource.inputs,
                    resource.urn,
                    resource.name,
                    _options(resource),
                    None,
                    by_urn.get(resource.parent),
                    [],
                    {},
                )
            policy.validate(StackValidationArgs(list(by_urn.values())), report)
        reports[policy.name] = found
    return reports


def test_the_pack_holds_every_rule() -> None:
    assert sorted(p.name for p in POLICIES) == sorted([*RESOURCE_RULES, *STACK_RULES])
    assert all(p.enforcement_level.value == "mandatory" for p in POLICIES)


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_every_policy(graphs: dict[str, Graph], stack: str) -> None:
    assert run_policies(graphs[stack]) == {p.name: [] for p in POLICIES}


def _first(graph: Graph, type_: str) -> Registration:
    return graph.of_type(type_)[0]


def _set(type_: str, key: str, value: object) -> Callable[[Graph], Registration]:
    def breakage(graph: Graph) -> Registration:
        resource = _first(graph, type_)
        resource.inputs[key] = value
        return resource

    return breakage


def _wildcard(graph: Graph) -> Registration:
    policy = _first(graph, "aws:iam/rolePolicy:RolePolicy")
    document = json.loads(policy.inputs["policy"])
    document["Statement"].append({"Effect": "Allow", "Action": "*", "Resource": "*"})
    policy.inputs["policy"] = json.dumps(document)
    return policy


def _drop_capture(graph: Graph) -> Registration:
    config = _first(graph, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    config.inputs.pop("dataCaptureConfig")
    return config


def _unversion(graph: Graph) -> Registration:
    versioning = _first(graph, "aws:s3/bucketVersioning:BucketVersioning")
    versioning.inputs["versioningConfiguration"] = {"status": "Suspended"}
    # The violation names the bucket whose setting broke.
    return next(r for r in graph.of_type("aws:s3/bucket:Bucket") if r.parent == versioning.parent)


BREAKAGES: dict[str, tuple[str, Callable[[Graph], Registration]]] = {
    "iam-without-wildcards": ("dev", _wildcard),
    "training-network-isolation": (
        "staging",
        _set("aws:sagemaker/trainingJob:TrainingJob", "enableNetworkIsolation", False),
    ),
    "endpoint-configs-encrypted-and-captured": ("prod", _drop_capture),
    "alarms-watch-an-endpoint": (
        "dev",
        _set("aws:cloudwatch/metricAlarm:MetricAlarm", "okActions", []),
    ),
    "endpoints-roll-back": (
        "staging",
        _set("aws:sagemaker/endpoint:Endpoint", "deploymentConfig", {}),
    ),
    "buckets-locked-down": ("prod", _unversion),
}


def test_every_policy_has_a_breakage() -> None:
    assert sorted(BREAKAGES) == sorted(p.name for p in POLICIES)


@pytest.mark.parametrize("policy", sorted(BREAKAGES))
def test_a_broken_resource_is_reported_by_name(graphs: dict[str, Graph], policy: str) -> None:
    stack, breakage = BREAKAGES[policy]
    broken = copy.deepcopy(graphs[stack])
    culprit = breakage(broken)
    reports = run_policies(broken)
    assert reports[policy], policy
    for message, urn in reports[policy]:
        assert urn == culprit.urn
        assert message.startswith(culprit.urn)
    assert all(not found for name, found in reports.items() if name != policy)


def test_dev_needs_no_capture_or_rollback(graphs: dict[str, Graph]) -> None:
    broken = copy.deepcopy(graphs["dev"])
    _set("aws:sagemaker/endpoint:Endpoint", "deploymentConfig", {})(broken)
    assert run_policies(broken)["endpoints-roll-back"] == []


def test_pack_file_uses_the_repository_virtualenv() -> None:
    document = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert document["runtime"]["name"] == "python"
    virtualenv = PACK_DIR / document["runtime"]["options"]["virtualenv"]
    assert virtualenv.resolve() == (REPO / ".venv").resolve()


def test_pack_starts_as_the_engine_starts_it() -> None:
    # The engine runs the pack's folder with its virtualenv's Python and reads the port it
    # listens on from the first line of stdout.
    process = subprocess.Popen(
        [sys.executable, "-u", "__main__.py"],
        cwd=PACK_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.isdigit(), line
        assert int(line) > 0
    finally:
        process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert PACK_NAME == "sagestack-guardrails"
