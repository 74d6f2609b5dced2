"""What the Pulumi program creates for a stack config, counted the way AWS bills it.

These rules restate infra/ (monitoring.py, encryption.py, storage.py) in counts: the cost tool
must not import the program (ARCHITECTURE.md), so tests/cost/test_inventory.py runs the program
under mocks for each stack and for config variations that take every branch, and requires these
counts to equal what it registers. Change the program, and that test says what to change here.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.config import StackConfig

# monitoring.py: alarms on every endpoint, and the instance-only ones.
ENDPOINT_ALARMS = (
    "errors-5xx",
    "error-rate-4xx",
    "model-latency-p99",
    "overhead-latency-p99",
    "server-errors",
    "schema-violations",
)
INSTANCE_ALARMS = ("cpu", "memory", "disk")
NO_TRAFFIC_ALARM = "no-traffic"
# alarm_specs.py: stacks that capture and schedule the monitoring job; live quality with labels.
MODEL_MONITOR_ALARMS = ("data-drift", "monitor-silent")
LIVE_QUALITY_ALARM = "live-quality"
# CloudWatch bills an alarm per metric it reads: the 4XX-rate alarm's math reads two.
ALARM_METRICS = {"error-rate-4xx": 2}
# monitoring.py's log metric filters: one custom metric each, for the one variant.
CUSTOM_METRICS = ("ServerErrors", "SchemaViolations")
BUCKETS = ("data", "artifacts", "capture")
# Application Auto Scaling's target tracking creates its own alarms (one to scale out, one to
# scale in); they are billed but are not in the program's graph.
TARGET_TRACKING_ALARMS = 2


@dataclass(frozen=True)
class Inventory:
    kms_keys: int
    alarms: tuple[str, ...]
    alarm_metrics: int
    autoscaling_alarms: int
    dashboards: int
    custom_metrics: int
    topics: int
    email_subscriptions: int
    https_subscriptions: int
    buckets: int
    log_groups: int


def inventory(config: StackConfig) -> Inventory:
    alarms = list(ENDPOINT_ALARMS)
    if not config.serverless:
        alarms += INSTANCE_ALARMS
    if config.alarm_no_traffic_minutes:
        alarms.append(NO_TRAFFIC_ALARM)
    if config.model_monitoring:
        alarms += MODEL_MONITOR_ALARMS
        if config.monitor_ground_truth:
            alarms.append(LIVE_QUALITY_ALARM)
    return Inventory(
        # The stack's own key, or (without one) the key that encrypts the alarm topic only.
        kms_keys=1,
        alarms=tuple(alarms),
        alarm_metrics=sum(ALARM_METRICS.get(alarm, 1) for alarm in alarms),
        autoscaling_alarms=TARGET_TRACKING_ALARMS if config.autoscaling else 0,
        dashboards=1,
        custom_metrics=len(CUSTOM_METRICS),
        topics=1,
        email_subscriptions=len(config.alarm_emails),
        https_subscriptions=1 if config.alarm_https_url else 0,
        buckets=len(BUCKETS),
        log_groups=1 + (1 if config.training_log_group_retention_days else 0),
    )
