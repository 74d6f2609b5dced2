"""Encryption: a customer-managed KMS key with rotation, or the AWS-managed keys.

With `customerManagedKey` the buckets, ECR repositories, training volumes and output, and the
endpoint's storage and captured data use one key of ours. Without it (dev) every service uses
its AWS-managed key, which costs nothing and needs no key policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.account import AwsAccount
from infra.config import StorageConfig
from infra.policies import key_policy


def kms_key(
    name: str,
    description: str,
    account: AwsAccount,
    deletion_window_days: int,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.kms.Key:
    """A rotated customer-managed key under our key policy (IAM decides its users; CloudWatch
    and EventBridge may publish to topics it encrypts)."""
    return aws.kms.Key(
        name,
        aws.kms.KeyArgs(
            description=description,
            enable_key_rotation=True,
            deletion_window_in_days=deletion_window_days,
            policy=pulumi.Output.all(account.partition, account.account_id).apply(
                lambda values: json.dumps(key_policy(values[0], values[1]))
            ),
            tags=tags,
        ),
        opts=opts,
    )


@dataclass(frozen=True)
class EncryptionArgs:
    account: AwsAccount
    # Whether the key exists, and (buckets that outlive `pulumi destroy` must keep the key that
    # decrypts them) whether it is retained and protected as they are.
    storage: StorageConfig
    tags: dict[str, str]


class Encryption(pulumi.ComponentResource):
    key_arn: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: EncryptionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sagestack:encryption:Encryption", name, None, opts)
        self.key_arn = None
        if args.storage.customer_managed_key:
            key = kms_key(
                f"{name}-key",
                f"sagestack {pulumi.get_stack()}: data, models and endpoints",
                args.account,
                deletion_window_days=30,
                tags=args.tags,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    protect=args.storage.protect_data,
                    retain_on_delete=not args.storage.force_destroy,
                ),
            )
            aws.kms.Alias(
                f"{name}-alias",
                aws.kms.AliasArgs(
                    name_prefix=f"alias/sagestack-{pulumi.get_stack()}-",
                    target_key_id=key.key_id,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.key_arn = key.arn
        self.register_outputs({"key_arn": self.key_arn})
