"""The AWS account, partition and region the stack deploys to, looked up once."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class AwsAccount:
    account_id: pulumi.Output[str]
    partition: pulumi.Output[str]
    region: pulumi.Output[str]


def lookup_account() -> AwsAccount:
    return AwsAccount(
        account_id=aws.get_caller_identity_output().account_id,
        partition=aws.get_partition_output().partition,
        region=aws.get_region_output().region,
    )
