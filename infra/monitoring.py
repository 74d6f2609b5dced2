"""Monitoring: alarms, a dashboard and notifications, so that a failing model is seen.

Everything here is addressed by names known before the endpoint exists (its stable name and
the variant name), so it is built first and the endpoint's blue/green updates can roll back on
these alarms. Every alarm carries the EndpointName and VariantName dimensions and notifies the
topic when it fires and when it recovers. The endpoint's log group is created here (before
SageMaker would create it) with the stack's retention, and its metric filters turn the
inference server's summary lines into custom metrics.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.account import AwsAccount
from infra.encryption import kms_key
from infra.policies import topic_policy

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
# The custom metrics' namespace: the log metric filters publish there.
CUSTOM_NAMESPACE = "sagestack"
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
SUMMARY_PATTERN = '{ $.event = "summary" }'
# Summary-line fields (inference/app.py) that become metrics, and the metric names.
SUMMARY_METRICS = {"server_errors": "ServerErrors", "schema_violations_total": "SchemaViolations"}


def microseconds(milliseconds: int) -> int:
    """SageMaker reports ModelLatency and OverheadLatency in microseconds."""
    return milliseconds * 1000


def endpoint_log_group_name(endpoint_name: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


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


def dashboard_url(region: str, name: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards:name={name}"
    )


def dashboard_body(
    region: str, endpoint_name: str, variant: str, serverless: bool, alarm_arns: Sequence[str]
) -> dict[str, Any]:
    """Invocations, errors, latency, utilization and the alarms, for one endpoint variant."""
    dimensions = ["EndpointName", endpoint_name, "VariantName", variant]

    def metric(namespace: str, name: str, stat: str, label: str) -> list[Any]:
        return [namespace, name, *dimensions, {"stat": stat, "label": label}]

    def graph(title: str, metrics: list[list[Any]], x: int, y: int) -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "view": "timeSeries",
                "period": 60,
                "metrics": metrics,
            },
        }

    widgets = [
        graph(
            "Invocations",
            [metric(SAGEMAKER_NAMESPACE, "Invocations", "Sum", "invocations")],
            0,
            0,
        ),
        graph(
            "Errors",
            [
                metric(SAGEMAKER_NAMESPACE, "Invocation4XXErrors", "Sum", "4XX"),
                metric(SAGEMAKER_NAMESPACE, "Invocation5XXErrors", "Sum", "5XX"),
                metric(CUSTOM_NAMESPACE, "SchemaViolations", "Sum", "schema violations"),
                metric(CUSTOM_NAMESPACE, "ServerErrors", "Sum", "server errors (logs)"),
            ],
            12,
            0,
        ),
        graph(
            "Model latency (microseconds)",
            [
                metric(SAGEMAKER_NAMESPACE, "ModelLatency", "p50", "p50"),
                metric(SAGEMAKER_NAMESPACE, "ModelLatency", "p99", "p99"),
                metric(SAGEMAKER_NAMESPACE, "OverheadLatency", "p99", "overhead p99"),
            ],
            0,
            6,
        ),
    ]
    if not serverless:
        widgets.append(
            graph(
                "Instances: utilization and count",
                [
                    metric(INSTANCE_NAMESPACE, "CPUUtilization", "Average", "CPU (100 per vCPU)"),
                    metric(INSTANCE_NAMESPACE, "MemoryUtilization", "Average", "memory %"),
                    metric(INSTANCE_NAMESPACE, "DiskUtilization", "Average", "disk %"),
                    # One CPU sample per instance and minute: the number of running instances.
                    metric(INSTANCE_NAMESPACE, "CPUUtilization", "SampleCount", "instances"),
                ],
                12,
                6,
            )
        )
    widgets.append(
        {
            "type": "alarm",
            "x": 0,
            "y": 12,
            "width": 24,
            "height": 4,
            "properties": {"title": "Alarms", "alarms": sorted(alarm_arns)},
        }
    )
    return {"widgets": widgets}


@dataclass(frozen=True)
class MonitoringArgs:
    account: AwsAccount
    endpoint_name: str
    variant_name: str
    serverless: bool
    training_job_prefix: str
    kms_key_arn: pulumi.Output[str] | None
    emails: Sequence[str]
    https_url: str
    period_seconds: int
    evaluation_periods: int
    errors_5xx: int
    rate_4xx_percent: int
    model_latency_p99_ms: int
    overhead_latency_p99_ms: int
    cpu_utilization: int
    memory_percent: int
    disk_percent: int
    no_traffic_minutes: int
    schema_violations: int
    log_retention_days: int
    training_log_group_retention_days: int
    tags: dict[str, str]


class Monitoring(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]
    # The alarms a blue/green update watches, and rolls back on.
    rollback_alarm_names: pulumi.Output[list[str]]
    endpoint_log_group: aws.cloudwatch.LogGroup
    dashboard_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sagestack:monitoring:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        topic_key = args.kms_key_arn
        if topic_key is None:
            # CloudWatch cannot publish to a topic under the AWS-managed SNS key, so a stack
            # without its own key gets one for notifications only.
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
        for index, email in enumerate(args.emails):
            aws.sns.TopicSubscription(
                f"{name}-email-{index}",
                aws.sns.TopicSubscriptionArgs(topic=topic.arn, protocol="email", endpoint=email),
                opts=child,
            )
        if args.https_url:
            aws.sns.TopicSubscription(
                f"{name}-https",
                aws.sns.TopicSubscriptionArgs(
                    topic=topic.arn, protocol="https", endpoint=args.https_url
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

        self.endpoint_log_group = aws.cloudwatch.LogGroup(
            f"{name}-endpoint-logs",
            aws.cloudwatch.LogGroupArgs(
                name=endpoint_log_group_name(args.endpoint_name),
                retention_in_days=args.log_retention_days,
                tags=args.tags,
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
        for field, metric_name in SUMMARY_METRICS.items():
            aws.cloudwatch.LogMetricFilter(
                f"{name}-{metric_name.lower()}",
                aws.cloudwatch.LogMetricFilterArgs(
                    log_group_name=self.endpoint_log_group.name,
                    pattern=SUMMARY_PATTERN,
                    metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                        name=metric_name,
                        namespace=CUSTOM_NAMESPACE,
                        value=f"$.{field}",
                        unit="Count",
                        dimensions={"EndpointName": "$.endpoint", "VariantName": "$.variant"},
                    ),
                ),
                opts=child,
            )

        dimensions = {"EndpointName": args.endpoint_name, "VariantName": args.variant_name}
        actions = [topic.arn]
        alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}

        def alarm(key: str, description: str, **settings: Any) -> aws.cloudwatch.MetricAlarm:
            defaults: dict[str, Any] = {
                "evaluation_periods": args.evaluation_periods,
                # No traffic is not an error (the no-traffic alarm says otherwise).
                "treat_missing_data": "notBreaching",
            }
            if "metric_queries" not in settings:  # metric math sets these per query
                defaults |= {"period": args.period_seconds, "dimensions": dimensions}
            created = aws.cloudwatch.MetricAlarm(
                f"{name}-{key}",
                aws.cloudwatch.MetricAlarmArgs(
                    alarm_description=f"{args.endpoint_name}/{args.variant_name}: {description}",
                    alarm_actions=actions,
                    ok_actions=actions,
                    tags=args.tags,
                    **{**defaults, **settings},
                ),
                opts=child,
            )
            alarms[key] = created
            return created

        alarm(
            "errors-5xx",
            f"at least {args.errors_5xx} 5XX responses per period",
            namespace=SAGEMAKER_NAMESPACE,
            metric_name="Invocation5XXErrors",
            statistic="Sum",
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=args.errors_5xx,
        )

        def query_metric(metric_name: str) -> aws.cloudwatch.MetricAlarmMetricQueryMetricArgs:
            return aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                namespace=SAGEMAKER_NAMESPACE,
                metric_name=metric_name,
                dimensions=dimensions,
                stat="Sum",
                period=args.period_seconds,
            )

        alarm(
            "error-rate-4xx",
            f"at least {args.rate_4xx_percent}% of invocations answered 4XX",
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=args.rate_4xx_percent,
            metric_queries=[
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="errors", metric=query_metric("Invocation4XXErrors"), return_data=False
                ),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="invocations", metric=query_metric("Invocations"), return_data=False
                ),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="rate",
                    expression="IF(invocations > 0, 100 * errors / invocations, 0)",
                    label="4XX rate (%)",
                    return_data=True,
                ),
            ],
        )
        alarm(
            "model-latency-p99",
            f"p99 model latency above {args.model_latency_p99_ms} ms",
            namespace=SAGEMAKER_NAMESPACE,
            metric_name="ModelLatency",
            extended_statistic="p99",
            comparison_operator="GreaterThanThreshold",
            threshold=microseconds(args.model_latency_p99_ms),
        )
        alarm(
            "overhead-latency-p99",
            f"p99 SageMaker overhead latency above {args.overhead_latency_p99_ms} ms",
            namespace=SAGEMAKER_NAMESPACE,
            metric_name="OverheadLatency",
            extended_statistic="p99",
            comparison_operator="GreaterThanThreshold",
            threshold=microseconds(args.overhead_latency_p99_ms),
        )
        alarm(
            "server-errors",
            "the inference server logged a 5XX (a bug: see the endpoint's log group)",
            namespace=CUSTOM_NAMESPACE,
            metric_name="ServerErrors",
            statistic="Sum",
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
        )
        alarm(
            "schema-violations",
            f"at least {args.schema_violations} requests per period rejected by the schema",
            namespace=CUSTOM_NAMESPACE,
            metric_name="SchemaViolations",
            statistic="Sum",
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=args.schema_violations,
        )
        if not args.serverless:
            for key, metric_name, threshold, unit in (
                ("cpu", "CPUUtilization", args.cpu_utilization, "(100 per vCPU)"),
                ("memory", "MemoryUtilization", args.memory_percent, "%"),
                ("disk", "DiskUtilization", args.disk_percent, "%"),
            ):
                alarm(
                    key,
                    f"average {metric_name} above {threshold} {unit}",
                    namespace=INSTANCE_NAMESPACE,
                    metric_name=metric_name,
                    statistic="Average",
                    comparison_operator="GreaterThanThreshold",
                    threshold=threshold,
                )
        if args.no_traffic_minutes:
            alarm(
                "no-traffic",
                f"no invocations for {args.no_traffic_minutes} minutes",
                namespace=SAGEMAKER_NAMESPACE,
                metric_name="Invocations",
                statistic="Sum",
                period=60,
                evaluation_periods=args.no_traffic_minutes,
                comparison_operator="LessThanThreshold",
                threshold=1,
                # No data at all is exactly what this alarm is for.
                treat_missing_data="breaching",
            )

        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            aws.cloudwatch.DashboardArgs(
                dashboard_name=args.endpoint_name,
                dashboard_body=pulumi.Output.all(
                    args.account.region, *(a.arn for a in alarms.values())
                ).apply(
                    lambda values: json.dumps(
                        dashboard_body(
                            values[0],
                            args.endpoint_name,
                            args.variant_name,
                            args.serverless,
                            values[1:],
                        )
                    )
                ),
            ),
            opts=child,
        )
        self.topic_arn = topic.arn
        self.rollback_alarm_names = pulumi.Output.all(
            *(alarms[key].name for key in ROLLBACK_ALARMS)
        ).apply(lambda names: [str(n) for n in names])
        self.dashboard_url = pulumi.Output.all(args.account.region, dashboard.dashboard_name).apply(
            lambda values: dashboard_url(values[0], values[1])
        )
        self.register_outputs(
            {
                "topic_arn": self.topic_arn,
                "rollback_alarm_names": self.rollback_alarm_names,
                "dashboard_url": self.dashboard_url,
            }
        )


# What a blue/green update rolls back on: the new model answering errors or slowly.
ROLLBACK_ALARMS = ("errors-5xx", "error-rate-4xx", "model-latency-p99", "server-errors")
