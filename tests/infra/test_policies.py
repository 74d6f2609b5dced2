"""Policy documents: scoped to our ARNs, "*" only where AWS gives no choice."""

from __future__ import annotations

import pytest

from infra.policies import (
    WILDCARD_RESOURCE_ACTIONS,
    ecr_lifecycle_policy,
    ecr_pull_policy,
    ecr_repository_arn,
    kms_use_policy,
    logs_policy,
    metrics_policy,
    s3_location,
    s3_read_policy,
    s3_read_write_policy,
    s3_write_policy,
    sagemaker_trust_policy,
    tls_only_bucket_policy,
)

BUCKET = "arn:aws:s3:::sagestack-dev-data-abc"
KEY = "arn:aws:kms:us-east-1:123456789012:key/k"
REPOSITORY = "arn:aws:ecr:us-east-1:123456789012:repository/training"


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


ROLE_DOCUMENTS = {
    "read": s3_read_policy(BUCKET, "datasets/"),
    "read-write": s3_read_write_policy(BUCKET, ["training", "checkpoints"]),
    "write": s3_write_policy(BUCKET, "capture"),
    "ecr": ecr_pull_policy([REPOSITORY, REPOSITORY]),
    "logs": logs_policy("aws", "us-east-1", "123456789012"),
    "metrics": metrics_policy(),
    "kms": kms_use_policy(KEY),
}


@pytest.mark.parametrize("name", sorted(ROLE_DOCUMENTS))
def test_role_statements_never_use_wildcard_actions(name: str) -> None:
    for statement in ROLE_DOCUMENTS[name]["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            assert action != "*", name
            assert not action.endswith(":*"), (name, action)
        if "*" in _as_list(statement["Resource"]):
            assert set(_as_list(statement["Action"])) <= WILDCARD_RESOURCE_ACTIONS, (
                name,
                statement,
            )


def test_trust_policy_admits_sagemaker_for_this_account_only() -> None:
    (statement,) = sagemaker_trust_policy("123456789012")["Statement"]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_bucket_policy_denies_plain_http_to_bucket_and_objects() -> None:
    (statement,) = tls_only_bucket_policy(BUCKET)["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Resource"] == [BUCKET, f"{BUCKET}/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_reads_are_limited_to_the_prefix() -> None:
    listing, reading = s3_read_policy(BUCKET, "datasets/")["Statement"]
    assert listing["Condition"]["StringLike"]["s3:prefix"] == ["datasets", "datasets/*"]
    assert reading["Resource"] == f"{BUCKET}/datasets/*"
    assert reading["Action"] == "s3:GetObject"


def test_training_output_can_be_written_but_never_deleted() -> None:
    _, objects = s3_read_write_policy(BUCKET, ["training", "checkpoints"])["Statement"]
    assert objects["Resource"] == [f"{BUCKET}/training/*", f"{BUCKET}/checkpoints/*"]
    assert not any("Delete" in action for action in objects["Action"])


def test_capture_is_write_only() -> None:
    (statement,) = s3_write_policy(BUCKET, "capture")["Statement"]
    assert "s3:GetObject" not in statement["Action"]
    assert statement["Resource"] == f"{BUCKET}/capture/*"


def test_metrics_are_limited_by_namespace() -> None:
    (statement,) = metrics_policy()["Statement"]
    assert statement["Resource"] == "*"
    assert "sagestack" in statement["Condition"]["StringEquals"]["cloudwatch:namespace"]


def test_image_pulls_name_our_repositories() -> None:
    pull, login = ecr_pull_policy([REPOSITORY, REPOSITORY])["Statement"]
    assert pull["Resource"] == [REPOSITORY]
    assert login == {
        "Sid": "RegistryLogin",
        "Effect": "Allow",
        "Action": "ecr:GetAuthorizationToken",
        "Resource": "*",
    }


def test_key_grants_only_for_aws_services() -> None:
    _, grants = kms_use_policy(KEY)["Statement"]
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


@pytest.mark.parametrize(
    ("uri", "arn"),
    [
        (
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/training:v1",
            "arn:aws:ecr:eu-west-1:123456789012:repository/team/training",
        ),
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/inference@sha256:" + "a" * 64,
            "arn:aws:ecr:us-east-1:123456789012:repository/inference",
        ),
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/inference",
            "arn:aws:ecr:us-east-1:123456789012:repository/inference",
        ),
    ],
)
def test_repository_arn_from_image_uri(uri: str, arn: str) -> None:
    assert ecr_repository_arn(uri) == arn


@pytest.mark.parametrize(
    "uri", ["docker.io/library/python:3.11", "python:3.11", "", "123.dkr.ecr.x.amazonaws.com/a"]
)
def test_non_ecr_image_uri_is_refused(uri: str) -> None:
    with pytest.raises(ValueError, match="not an ECR image URI"):
        ecr_repository_arn(uri)


def test_s3_location() -> None:
    assert s3_location("s3://bucket/a/b.csv") == ("bucket", "a/b.csv")
    assert s3_location("s3://bucket") == ("bucket", "")
    with pytest.raises(ValueError, match="not an s3:// URI"):
        s3_location("https://bucket/a")


def test_ecr_lifecycle_keeps_the_last_n_images() -> None:
    (rule,) = ecr_lifecycle_policy(7)["rules"]
    assert rule["selection"]["countType"] == "imageCountMoreThan"
    assert rule["selection"]["countNumber"] == 7
    assert rule["action"] == {"type": "expire"}
