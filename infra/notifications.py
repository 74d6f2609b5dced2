"""Notifications: the stack's alarm topic, who it tells, and the training-failure events.

The topic is encrypted with the stack's key, or (without one) a key of its own, since
CloudWatch cannot publish under the AWS-managed SNS key. Email and HTTPS subscriptions are
named from their address, so adding or removing one never replaces another. A training job of
this stack that fails or is stopped publishes its reason to the same topic.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.account import AwsAccount
from infra.config import NotificationsConfig
from infra.encryption import kms_key
from infra.policies import topic_policy

# Until this split, everything here was a child of one `sagestack:monitoring:Monitoring`
# component named "monitoring": the alias keeps existing stacks' resources (and their
# confirmed subscriptions) instead of replacing them.
LEGACY_TYPE = "sagestack:monitoring:Monitoring"
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def legacy_parent_alias() -> pulumi.Alias:
    return pulumi.Alias(parent=pulumi.create_urn("monitoring", LEGACY_TYPE))


def address_key(address: str) -> str:
    """A short, stable name part for a subscription: the hash of its address."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:8]


def training_event_pattern(job_name_prefix: str) -> dict[str, Any]:
    """This stack's training jobs ending in Failed or Stopped."""
    return {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Training Job State Change"],
        "detail": {
            "TrainingJobStatus": ["Failed", "Stopped"],
            "TrainingJobName": [{"prefix": job_name_prefix}],
        },
    }


@dataclass(frozen=True)
class NotificationsArgs:
    account: AwsAccount
    training_job_prefix: str
    kms_key_arn: pulumi.Output[str] | None
    notifications: NotificationsConfig
    training_log_group_retention_days: int
    tags: dict[str, str]


class Notifications(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: NotificationsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sagestack:notifications:Notifications", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, aliases=[legacy_parent_alias()])
        topic_key = args.kms_key_arn
        if topic_key is None:
            topic_key = kms_key(
                f"{name}-topic-key",
                f"sagestack {pulumi.get_stack()}: alarm notifications",
                args.account,
                deletion_window_days=7,
                tags=args.tags,
                opts=child,
            ).arn
        topic = aws.sns.Topic(
            f"{name}-topic",
            aws.sns.TopicArgs(kms_master_key_id=topic_key, tags=args.tags),
            opts=child,
        )
        for index, email in enumerate(args.notifications.emails):
            aws.sns.TopicSubscription(
                f"{name}-email-{address_key(email)}",
                aws.sns.TopicSubscriptionArgs(topic=topic.arn, protocol="email", endpoint=email),
                # Subscriptions used to be named by list position: the old name is an alias,
                # so the first `up` after the split keeps the confirmed subscriptions.
                opts=pulumi.ResourceOptions(
                    parent=self,
                    aliases=[
                        pulumi.Alias(
                            name=f"{name}-email-{index}",
                            parent=pulumi.create_urn("monitoring", LEGACY_TYPE),
                        )
                    ],
                ),
            )
        if args.notifications.https_url:
            aws.sns.TopicSubscription(
                f"{name}-https",
                aws.sns.TopicSubscriptionArgs(
                    topic=topic.arn, protocol="https", endpoint=args.notifications.https_url
                ),
                opts=child,
            )

        rule = aws.cloudwatch.EventRule(
            f"{name}-training-ended",
            aws.cloudwatch.EventRuleArgs(
                description=f"sagestack {pulumi.get_stack()}: training job failed or stopped",
                event_pattern=json.dumps(training_event_pattern(args.training_job_prefix)),
                tags=args.tags,
            ),
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            aws.sns.TopicPolicyArgs(
                arn=topic.arn,
                policy=pulumi.Output.all(topic.arn, args.account.account_id, rule.arn).apply(
                    lambda values: json.dumps(topic_policy(values[0], values[1], values[2]))
                ),
            ),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-training-ended-target",
            aws.cloudwatch.EventTargetArgs(
                rule=rule.name,
                arn=topic.arn,
                input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
                    input_paths={
                        "job": "$.detail.TrainingJobName",
                        "status": "$.detail.TrainingJobStatus",
                        "reason": "$.detail.FailureReason",
                    },
                    input_template='"Training job <job> ended <status>: <reason>"',
                ),
            ),
            opts=child,
        )
        if args.training_log_group_retention_days:
            aws.cloudwatch.LogGroup(
                f"{name}-training-logs",
                aws.cloudwatch.LogGroupArgs(
                    name=TRAINING_LOG_GROUP,
                    retention_in_days=args.training_log_group_retention_days,
                    # Shared by every training job in the account: never deleted by a destroy.
                    skip_destroy=True,
                    tags=args.tags,
                ),
                opts=child,
            )
        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})
