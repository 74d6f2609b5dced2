"""The endpoint's alarms, log group and dashboard, so that a failing model is seen.

Everything here is addressed by names known before the endpoint exists (its stable name and
the variant name), so it is built first and the endpoint's blue/green updates can roll back on
these alarms. The alarms are infra/alarm_specs.py's, one MetricAlarm per spec; each notifies
the stack's topic (infra/notifications.py) when it fires and when it recovers. The endpoint's
log group is created here (before SageMaker would create it) with the stack's retention, and
its metric filters turn the inference server's summary lines into custom metrics.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from contracts.cloudwatch import (
    ENDPOINT_DIMENSION,
    SCHEMA_VIOLATIONS_METRIC,
    SERVER_ERRORS_METRIC,
    SUMMARY_ENDPOINT_FIELD,
    SUMMARY_EVENT,
    SUMMARY_EVENT_FIELD,
    SUMMARY_METRICS,
    SUMMARY_VARIANT_FIELD,
    VARIANT_DIMENSION,
)
from contracts.cloudwatch import NAMESPACE as CUSTOM_NAMESPACE
from infra.account import AwsAccount
from infra.alarm_specs import (
    INSTANCE_NAMESPACE,
    SAGEMAKER_NAMESPACE,
    AlarmConfig,
    AlarmSpec,
    MetricQuery,
    alarm_specs,
)
from infra.notifications import legacy_parent_alias

SUMMARY_PATTERN = f'{{ $.{SUMMARY_EVENT_FIELD} = "{SUMMARY_EVENT}" }}'


def endpoint_log_group_name(endpoint_name: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


def dashboard_url(region: str, name: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards:name={name}"
    )


def dashboard_body(
    region: str, endpoint_name: str, variant: str, serverless: bool, alarm_arns: Sequence[str]
) -> dict[str, Any]:
    """Invocations, errors, latency, utilization and the alarms, for one endpoint variant."""
    dimensions = [ENDPOINT_DIMENSION, endpoint_name, VARIANT_DIMENSION, variant]

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
                metric(CUSTOM_NAMESPACE, SCHEMA_VIOLATIONS_METRIC, "Sum", "schema violations"),
                metric(CUSTOM_NAMESPACE, SERVER_ERRORS_METRIC, "Sum", "server errors (logs)"),
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


def _query_args(query: MetricQuery) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    metric = None
    if query.metric_name:
        metric = aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=query.namespace,
            metric_name=query.metric_name,
            dimensions=query.dimensions,
            stat=query.stat,
            period=query.period,
        )
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=query.id,
        metric=metric,
        expression=query.expression or None,
        label=query.label or None,
        return_data=query.return_data,
    )


def alarm_args(
    spec: AlarmSpec, actions: Sequence[pulumi.Input[str]], tags: dict[str, str]
) -> aws.cloudwatch.MetricAlarmArgs:
    """The MetricAlarm for one spec: empty spec fields are left out, as the API wants."""
    return aws.cloudwatch.MetricAlarmArgs(
        alarm_description=spec.description,
        alarm_actions=list(actions),
        ok_actions=list(actions),
        comparison_operator=spec.comparison_operator,
        threshold=spec.threshold,
        evaluation_periods=spec.evaluation_periods,
        treat_missing_data=spec.treat_missing_data,
        namespace=spec.namespace or None,
        metric_name=spec.metric_name or None,
        statistic=spec.statistic or None,
        extended_statistic=spec.extended_statistic or None,
        period=spec.period or None,
        dimensions=spec.dimensions or None,
        metric_queries=[_query_args(q) for q in spec.queries] or None,
        tags=tags,
    )


@dataclass(frozen=True)
class EndpointAlarmsArgs:
    account: AwsAccount
    endpoint_name: str
    variant_name: str
    alarms: AlarmConfig
    topic_arn: pulumi.Input[str]
    log_retention_days: int
    tags: dict[str, str]


class EndpointAlarms(pulumi.ComponentResource):
    # The alarms a blue/green update watches, and rolls back on.
    rollback_alarm_names: pulumi.Output[list[str]]
    # The drift and quality alarms: the loop back to training listens to these.
    retrain_alarm_arns: pulumi.Output[list[str]]
    endpoint_log_group: aws.cloudwatch.LogGroup
    dashboard_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: EndpointAlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sagestack:monitoring:EndpointAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, aliases=[legacy_parent_alias()])
        self.endpoint_log_group = aws.cloudwatch.LogGroup(
            f"{name}-endpoint-logs",
            aws.cloudwatch.LogGroupArgs(
                name=endpoint_log_group_name(args.endpoint_name),
                retention_in_days=args.log_retention_days,
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
                        dimensions={
                            ENDPOINT_DIMENSION: f"$.{SUMMARY_ENDPOINT_FIELD}",
                            VARIANT_DIMENSION: f"$.{SUMMARY_VARIANT_FIELD}",
                        },
                    ),
                ),
                opts=child,
            )

        specs = alarm_specs(args.alarms, args.endpoint_name, args.variant_name)
        alarms = [
            (
                spec,
                aws.cloudwatch.MetricAlarm(
                    f"{name}-{spec.key}", alarm_args(spec, [args.topic_arn], args.tags), opts=child
                ),
            )
            for spec in specs
        ]
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            aws.cloudwatch.DashboardArgs(
                dashboard_name=args.endpoint_name,
                dashboard_body=pulumi.Output.all(
                    args.account.region, *(alarm.arn for _, alarm in alarms)
                ).apply(
                    lambda values: json.dumps(
                        dashboard_body(
                            values[0],
                            args.endpoint_name,
                            args.variant_name,
                            args.alarms.serverless,
                            values[1:],
                        )
                    )
                ),
            ),
            opts=child,
        )
        self.rollback_alarm_names = pulumi.Output.all(
            *(alarm.name for spec, alarm in alarms if spec.rollback)
        ).apply(lambda names: [str(n) for n in names])
        self.retrain_alarm_arns = pulumi.Output.all(
            *(alarm.arn for spec, alarm in alarms if spec.retrain)
        ).apply(lambda arns: [str(a) for a in arns])
        self.dashboard_url = pulumi.Output.all(args.account.region, dashboard.dashboard_name).apply(
            lambda values: dashboard_url(values[0], values[1])
        )
        self.register_outputs(
            {
                "rollback_alarm_names": self.rollback_alarm_names,
                "dashboard_url": self.dashboard_url,
            }
        )
