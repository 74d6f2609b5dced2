"""Execution role: what the training job and the endpoint may do, and nothing more.

SageMaker (for this account only) assumes it. One inline policy per purpose, each built by a
pure function in `infra/policies.py`: read the dataset, read/write training output and
checkpoints, write captured traffic, pull our images, write SageMaker's logs, put metrics in
our namespaces, use our key. Never AmazonSageMakerFullAccess.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.account import AwsAccount
from infra.policies import (
    Document,
    ecr_pull_policy,
    kms_use_policy,
    logs_policy,
    metrics_policy,
    s3_read_policy,
    s3_read_write_policy,
    s3_write_policy,
    sagemaker_trust_policy,
)

TRAINING_OUTPUT_PREFIX = "training"
CHECKPOINTS_PREFIX = "checkpoints"
CAPTURE_PREFIX = "capture"


@dataclass(frozen=True)
class ExecutionRoleArgs:
    account: AwsAccount
    data_bucket_arn: pulumi.Output[str]
    data_prefix: str
    artifacts_bucket_arn: pulumi.Output[str]
    capture_bucket_arn: pulumi.Output[str]
    repository_arns: pulumi.Output[Sequence[str]]
    kms_key_arn: pulumi.Output[str] | None
    tags: dict[str, str]


class ExecutionRole(pulumi.ComponentResource):
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ExecutionRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sagestack:iam:ExecutionRole", name, None, opts)
        role = aws.iam.Role(
            f"{name}-role",
            aws.iam.RoleArgs(
                description=f"sagestack {pulumi.get_stack()}: SageMaker training and hosting",
                assume_role_policy=args.account.account_id.apply(
                    lambda account: json.dumps(sagemaker_trust_policy(account))
                ),
                tags=args.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        policies: list[aws.iam.RolePolicy] = []

        def inline(purpose: str, build: Callable[..., Document], *values: Any) -> None:
            policy = aws.iam.RolePolicy(
                f"{name}-{purpose}",
                aws.iam.RolePolicyArgs(
                    role=role.id,
                    policy=pulumi.Output.all(*values).apply(
                        lambda resolved: json.dumps(build(*resolved))
                    ),
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            policies.append(policy)

        inline("read-data", s3_read_policy, args.data_bucket_arn, args.data_prefix)
        inline(
            "training-output",
            s3_read_write_policy,
            args.artifacts_bucket_arn,
            [TRAINING_OUTPUT_PREFIX, CHECKPOINTS_PREFIX],
        )
        inline("capture", s3_write_policy, args.capture_bucket_arn, CAPTURE_PREFIX)
        inline("pull-images", ecr_pull_policy, args.repository_arns)
        inline(
            "logs",
            logs_policy,
            args.account.partition,
            args.account.region,
            args.account.account_id,
        )
        inline("metrics", metrics_policy)
        if args.kms_key_arn is not None:
            inline("use-key", kms_use_policy, args.kms_key_arn)
        # The ARN "once its policies are attached": whoever uses it (the training job, the
        # model) waits for every policy, not just the role, before SageMaker assumes it.
        self.arn = pulumi.Output.all(role.arn, *(policy.id for policy in policies)).apply(
            lambda values: str(values[0])
        )
        self.register_outputs({"arn": self.arn})
