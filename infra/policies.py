"""IAM, bucket and key policy documents, built from plain values by pure functions.

Components resolve the ARNs they need and call these inside `apply`, which only formats text.
Every statement is scoped to our own ARNs; the two `"*"` resources are actions AWS gives no
resource type (`ecr:GetAuthorizationToken`, `cloudwatch:PutMetricData`), and the second is
narrowed by namespace instead. `WILDCARD_RESOURCE_ACTIONS` is the list tests hold us to.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from contracts.cloudwatch import NAMESPACE

Document = dict[str, Any]
Statement = dict[str, Any]

VERSION = "2012-10-17"
# Actions that only accept Resource "*" (the service defines no resource type for them).
WILDCARD_RESOURCE_ACTIONS = frozenset({"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"})
# Namespaces the training and inference containers may publish metrics to.
METRIC_NAMESPACES = ("/aws/sagemaker/TrainingJobs", "/aws/sagemaker/Endpoints", NAMESPACE)
_ECR_URI = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*?)(?::[A-Za-z0-9_.-]+|@sha256:[a-f0-9]{64})?$"
)


def document(*statements: Statement) -> Document:
    return {"Version": VERSION, "Statement": list(statements)}


def sagemaker_trust_policy(account_id: str) -> Document:
    """Only SageMaker, acting for this account, may assume the role (no confused deputy)."""
    return document(
        {
            "Sid": "SageMakerForThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


def tls_only_bucket_policy(bucket_arn: str) -> Document:
    return document(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def _prefix_pattern(prefix: str) -> str:
    return f"{prefix.rstrip('/')}/*" if prefix else "*"


def s3_read_policy(bucket_arn: str, prefix: str) -> Document:
    """Read the objects under `prefix` (list and get), nothing else in the bucket."""
    pattern = _prefix_pattern(prefix)
    return document(
        {
            "Sid": "ListPrefix",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [prefix.rstrip("/"), pattern]}},
        },
        {
            "Sid": "ReadObjects",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/{pattern}",
        },
    )


def s3_read_write_policy(bucket_arn: str, prefixes: Sequence[str]) -> Document:
    """Read and write (never delete) under each prefix: training output and checkpoints."""
    patterns = [_prefix_pattern(prefix) for prefix in prefixes]
    return document(
        {
            "Sid": "ListPrefixes",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {
                "StringLike": {"s3:prefix": [p.rstrip("/") for p in prefixes] + patterns}
            },
        },
        {
            "Sid": "ReadWriteObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": [f"{bucket_arn}/{pattern}" for pattern in patterns],
        },
    )


def s3_write_policy(bucket_arn: str, prefix: str) -> Document:
    """Write only: the endpoint adds captured traffic and never reads it back."""
    return document(
        {
            "Sid": "WriteObjects",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": f"{bucket_arn}/{_prefix_pattern(prefix)}",
        }
    )


def s3_read_object_policy(bucket_arn: str, key: str) -> Document:
    """Read one object (the model artifact the monitoring job compares traffic with).

    SageMaker Processing lists an S3Prefix input before it downloads it: the listing is
    allowed for exactly that key."""
    return document(
        {
            "Sid": "ListTheObject",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": {"s3:prefix": key}},
        },
        {
            "Sid": "ReadObject",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/{key}",
        },
    )


def service_trust_policy(service: str, account_id: str) -> Document:
    """Only `service` (scheduler, events), acting for this account, may assume the role."""
    return document(
        {
            "Sid": "ServiceForThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


def start_processing_job_policy(job_arn_pattern: str, job_role_arn: str) -> Document:
    """The scheduler starts our monitoring jobs, passing the job's role and no other."""
    return document(
        {
            "Sid": "StartMonitoringJobs",
            "Effect": "Allow",
            "Action": "sagemaker:CreateProcessingJob",
            "Resource": job_arn_pattern,
        },
        {
            "Sid": "PassTheJobRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": job_role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
    )


def invoke_api_destination_policy(destination_arn: str) -> Document:
    return document(
        {
            "Sid": "InvokeTheDestination",
            "Effect": "Allow",
            "Action": "events:InvokeApiDestination",
            "Resource": destination_arn,
        }
    )


def ecr_pull_policy(repository_arns: Sequence[str]) -> Document:
    return document(
        {
            "Sid": "PullOurImages",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            "Resource": sorted(set(repository_arns)),
        },
        {
            # AWS requires "*": registry login is not tied to a repository.
            "Sid": "RegistryLogin",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
    )


def logs_policy(partition: str, region: str, account_id: str, groups: str = "*") -> Document:
    """SageMaker's own log groups (all, or one kind such as ProcessingJobs), nothing else."""
    group = f"arn:{partition}:logs:{region}:{account_id}:log-group:/aws/sagemaker/{groups}"
    return document(
        {
            "Sid": "SageMakerLogGroups",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:DescribeLogStreams"],
            "Resource": group,
        },
        {
            "Sid": "SageMakerLogStreams",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{group}:log-stream:*",
        },
    )


def metrics_policy(namespaces: Sequence[str] = METRIC_NAMESPACES) -> Document:
    return document(
        {
            # AWS requires "*" for PutMetricData; the namespace condition is what limits it.
            "Sid": "PutMetricsInOurNamespaces",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": list(namespaces)}},
        }
    )


def kms_use_policy(key_arn: str) -> Document:
    """Encrypt and decrypt with our key; CreateGrant lets SageMaker encrypt its volumes."""
    return document(
        {
            "Sid": "UseOurKey",
            "Effect": "Allow",
            "Action": [
                "kms:Decrypt",
                "kms:DescribeKey",
                "kms:Encrypt",
                "kms:GenerateDataKey",
                "kms:ReEncrypt*",
            ],
            "Resource": key_arn,
        },
        {
            "Sid": "GrantsForAwsServicesOnly",
            "Effect": "Allow",
            "Action": "kms:CreateGrant",
            "Resource": key_arn,
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    )


def key_policy(partition: str, account_id: str) -> Document:
    """The account administers the key, so IAM policies (like the role's) decide who uses it;
    CloudWatch alarms and EventBridge may use it to publish to our encrypted topic (they cannot
    use the AWS-managed SNS key, which is why the topic never uses that one)."""
    return document(
        {
            "Sid": "AccountAdministersTheKey",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "AlarmsAndEventsPublishEncrypted",
            "Effect": "Allow",
            "Principal": {"Service": list(NOTIFYING_SERVICES)},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
        },
    )


NOTIFYING_SERVICES = ("cloudwatch.amazonaws.com", "events.amazonaws.com")


def topic_policy(topic_arn: str, account_id: str, event_rule_arn: str) -> Document:
    """Our account manages the topic; CloudWatch alarms of this account and our one training
    event rule may publish to it."""
    return document(
        {
            "Sid": "AccountManagesTheTopic",
            "Effect": "Allow",
            "Principal": {"AWS": account_id},
            "Action": [
                "sns:GetTopicAttributes",
                "sns:ListSubscriptionsByTopic",
                "sns:Publish",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
            ],
            "Resource": topic_arn,
        },
        {
            "Sid": "AlarmsOfThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
        {
            "Sid": "TrainingJobEvents",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": event_rule_arn}},
        },
    )


def s3_location(uri: str) -> tuple[str, str]:
    """`s3://bucket/key/prefix` -> ("bucket", "key/prefix")."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def ecr_repository_arn(image_uri: str, partition: str = "aws") -> str:
    """The repository ARN of an ECR image URI (tag or digest), for the role's pull statement."""
    match = _ECR_URI.match(image_uri)
    if not match:
        raise ValueError(f"not an ECR image URI: {image_uri!r}")
    return (
        f"arn:{partition}:ecr:{match['region']}:{match['account']}:repository/{match['repository']}"
    )


def is_ecr_image_uri(image_uri: str) -> bool:
    return _ECR_URI.match(image_uri) is not None


def ecr_lifecycle_policy(keep_images: int) -> Document:
    """Keep the newest `keep_images` images; older ones (never the deployed digest's
    successors) expire, so the repository does not grow without bound."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"keep the last {keep_images} images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": keep_images,
                },
                "action": {"type": "expire"},
            }
        ]
    }
