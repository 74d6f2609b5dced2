"""Which CloudWatch alarms a stack's endpoint gets, as plain data: no Pulumi here.

`alarm_specs` is the one statement of the rules (which alarms exist for which config, on which
metric, at which threshold). infra/monitoring.py turns each spec into a MetricAlarm in one loop;
anything else that needs to know the alarms (the cost estimator, a runbook) can call it with a
StackConfig and no Pulumi engine. Every spec carries the endpoint's EndpointName and
VariantName dimensions, on the alarm or on each metric its math reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from contracts.cloudwatch import (
    DATASET_DRIFT_METRIC,
    ENDPOINT_DIMENSION,
    QUALITY_BELOW_BAR_METRIC,
    ROWS_MONITORED_METRIC,
    SCHEMA_VIOLATIONS_METRIC,
    SERVER_ERRORS_METRIC,
    VARIANT_DIMENSION,
)
from contracts.cloudwatch import NAMESPACE as CUSTOM_NAMESPACE
from infra.config import AlarmThresholds, MonitorConfig, StackConfig

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"

Comparison = Literal["GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold"]
MissingData = Literal["notBreaching", "breaching", "missing", "ignore"]

# Windows without a RowsMonitored point before the "monitor is silent" alarm fires.
SILENT_WINDOWS = 3


def retrain_command(stack: str) -> str:
    return f"gh workflow run retrain.yml -f stack={stack}"


def microseconds(milliseconds: int) -> int:
    """SageMaker reports ModelLatency and OverheadLatency in microseconds."""
    return milliseconds * 1000


@dataclass(frozen=True)
class AlarmConfig:
    """What the endpoint's alarms read: the stack's thresholds, the endpoint's shape and the
    scheduled monitoring job (None when the stack has none)."""

    thresholds: AlarmThresholds
    serverless: bool
    monitor: MonitorConfig | None = None
    # What a drift or quality alarm tells the reader to run (names the stack).
    retrain_command: str = ""

    @classmethod
    def from_stack(cls, config: StackConfig, stack: str = "<stack>") -> AlarmConfig:
        return cls(
            thresholds=config.alarms,
            serverless=config.serverless,
            monitor=config.monitor if config.model_monitoring else None,
            retrain_command=retrain_command(stack),
        )


@dataclass(frozen=True)
class MetricQuery:
    """One line of an alarm's metric math: a metric it reads, or the expression it returns."""

    id: str
    return_data: bool
    metric_name: str = ""
    namespace: str = ""
    stat: str = ""
    period: int = 0
    dimensions: dict[str, str] = field(default_factory=dict)
    expression: str = ""
    label: str = ""


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm on the endpoint's variant. Either a single metric, or `queries` (metric math)."""

    key: str
    description: str
    comparison_operator: Comparison
    threshold: float
    evaluation_periods: int
    # No traffic is not an error (the no-traffic alarm says otherwise).
    treat_missing_data: MissingData = "notBreaching"
    namespace: str = ""
    metric_name: str = ""
    statistic: str = ""
    extended_statistic: str = ""
    period: int = 0
    dimensions: dict[str, str] = field(default_factory=dict)
    queries: tuple[MetricQuery, ...] = ()
    # A blue/green update watches this alarm and rolls back when it fires.
    rollback: bool = False
    # The model needs newer data: the GitHub loop (if configured) opens a retraining PR.
    retrain: bool = False

    @property
    def metrics_read(self) -> int:
        """How many metrics the alarm reads (CloudWatch bills an alarm per metric)."""
        return sum(1 for q in self.queries if q.metric_name) or 1


def alarm_specs(config: AlarmConfig, endpoint_name: str, variant_name: str) -> list[AlarmSpec]:
    """Every alarm the endpoint's variant gets under `config`, in creation order."""
    dimensions = {ENDPOINT_DIMENSION: endpoint_name, VARIANT_DIMENSION: variant_name}
    thresholds = config.thresholds
    period, periods = thresholds.period_seconds, thresholds.evaluation_periods

    def single(
        key: str,
        description: str,
        namespace: str,
        metric_name: str,
        comparison: Comparison,
        threshold: float,
        statistic: str = "",
        extended_statistic: str = "",
        rollback: bool = False,
    ) -> AlarmSpec:
        return AlarmSpec(
            key=key,
            description=f"{endpoint_name}/{variant_name}: {description}",
            namespace=namespace,
            metric_name=metric_name,
            statistic=statistic,
            extended_statistic=extended_statistic,
            comparison_operator=comparison,
            threshold=threshold,
            period=period,
            evaluation_periods=periods,
            dimensions=dimensions,
            rollback=rollback,
        )

    def read(id_: str, metric_name: str) -> MetricQuery:
        return MetricQuery(
            id=id_,
            return_data=False,
            metric_name=metric_name,
            namespace=SAGEMAKER_NAMESPACE,
            stat="Sum",
            period=period,
            dimensions=dimensions,
        )

    specs = [
        single(
            "errors-5xx",
            f"at least {thresholds.errors_5xx} 5XX responses per period",
            SAGEMAKER_NAMESPACE,
            "Invocation5XXErrors",
            "GreaterThanOrEqualToThreshold",
            thresholds.errors_5xx,
            statistic="Sum",
            rollback=True,
        ),
        AlarmSpec(
            key="error-rate-4xx",
            description=(
                f"{endpoint_name}/{variant_name}: "
                f"at least {thresholds.rate_4xx_percent}% of invocations answered 4XX"
            ),
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=thresholds.rate_4xx_percent,
            evaluation_periods=periods,
            queries=(
                read("errors", "Invocation4XXErrors"),
                read("invocations", "Invocations"),
                MetricQuery(
                    id="rate",
                    return_data=True,
                    expression="IF(invocations > 0, 100 * errors / invocations, 0)",
                    label="4XX rate (%)",
                ),
            ),
            rollback=True,
        ),
        single(
            "model-latency-p99",
            f"p99 model latency above {thresholds.model_latency_p99_ms} ms",
            SAGEMAKER_NAMESPACE,
            "ModelLatency",
            "GreaterThanThreshold",
            microseconds(thresholds.model_latency_p99_ms),
            extended_statistic="p99",
            rollback=True,
        ),
        single(
            "overhead-latency-p99",
            f"p99 SageMaker overhead latency above {thresholds.overhead_latency_p99_ms} ms",
            SAGEMAKER_NAMESPACE,
            "OverheadLatency",
            "GreaterThanThreshold",
            microseconds(thresholds.overhead_latency_p99_ms),
            extended_statistic="p99",
        ),
        single(
            "server-errors",
            "the inference server logged a 5XX (a bug: see the endpoint's log group)",
            CUSTOM_NAMESPACE,
            SERVER_ERRORS_METRIC,
            "GreaterThanOrEqualToThreshold",
            1,
            statistic="Sum",
            rollback=True,
        ),
        single(
            "schema-violations",
            f"at least {thresholds.schema_violations} requests per period rejected by the schema",
            CUSTOM_NAMESPACE,
            SCHEMA_VIOLATIONS_METRIC,
            "GreaterThanOrEqualToThreshold",
            thresholds.schema_violations,
            statistic="Sum",
        ),
    ]
    if not config.serverless:
        for key, metric_name, threshold, unit in (
            ("cpu", "CPUUtilization", thresholds.cpu_utilization, "(100 per vCPU)"),
            ("memory", "MemoryUtilization", thresholds.memory_percent, "%"),
            ("disk", "DiskUtilization", thresholds.disk_percent, "%"),
        ):
            specs.append(
                single(
                    key,
                    f"average {metric_name} above {threshold} {unit}",
                    INSTANCE_NAMESPACE,
                    metric_name,
                    "GreaterThanThreshold",
                    threshold,
                    statistic="Average",
                )
            )
    if thresholds.no_traffic_minutes:
        specs.append(
            AlarmSpec(
                key="no-traffic",
                description=(
                    f"{endpoint_name}/{variant_name}: "
                    f"no invocations for {thresholds.no_traffic_minutes} minutes"
                ),
                namespace=SAGEMAKER_NAMESPACE,
                metric_name="Invocations",
                statistic="Sum",
                period=60,
                evaluation_periods=thresholds.no_traffic_minutes,
                dimensions=dimensions,
                comparison_operator="LessThanThreshold",
                threshold=1,
                # No data at all is exactly what this alarm is for.
                treat_missing_data="breaching",
            )
        )
    if config.monitor is not None:
        specs += _model_alarms(
            config.monitor, config.retrain_command, dimensions, f"{endpoint_name}/{variant_name}"
        )
    return specs


def _model_alarms(
    monitor: MonitorConfig, retrain: str, dimensions: dict[str, str], where: str
) -> list[AlarmSpec]:
    """Drift and live quality, from the monitoring job's one point per window."""
    # One point per window: the alarm's period is the window (CloudWatch allows up to a day).
    window = monitor.window_minutes * 60
    todo = (
        "See the report under monitoring/ in the artifacts bucket; to retrain on newer data: "
        + retrain
    )

    def judged(key: str, metric_name: str, what: str) -> AlarmSpec:
        return AlarmSpec(
            key=key,
            description=f"{where}: {what}. {todo}",
            namespace=CUSTOM_NAMESPACE,
            metric_name=metric_name,
            statistic="Maximum",
            period=window,
            evaluation_periods=1,
            dimensions=dimensions,
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
            # A window with too few rows puts no drift or quality point: not a breach (the
            # monitoring job's verdict is "insufficient data").
            treat_missing_data="notBreaching",
            retrain=True,
        )

    specs = [
        judged(
            "data-drift",
            DATASET_DRIFT_METRIC,
            "the captured traffic drifted from the training data",
        )
    ]
    if monitor.ground_truth:
        specs.append(
            judged(
                "live-quality", QUALITY_BELOW_BAR_METRIC, "live quality fell under the stack's bar"
            )
        )
    specs.append(
        AlarmSpec(
            key="monitor-silent",
            description=(
                f"{where}: no monitoring result for {SILENT_WINDOWS} windows: the scheduled "
                "job is failing or not running (see its CloudWatch logs, "
                "/aws/sagemaker/ProcessingJobs)"
            ),
            namespace=CUSTOM_NAMESPACE,
            metric_name=ROWS_MONITORED_METRIC,
            statistic="SampleCount",
            period=window,
            evaluation_periods=SILENT_WINDOWS,
            dimensions=dimensions,
            comparison_operator="LessThanThreshold",
            threshold=1,
            treat_missing_data="breaching",
        )
    )
    return specs
