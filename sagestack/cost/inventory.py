"""What the Pulumi program creates for a stack config, counted the way AWS bills it.

The alarms come from the program's own pure `infra.alarm_specs` (no Pulumi in it), the one list
the program creates its alarms from. The other counts restate infra/ (encryption.py, storage.py,
notifications.py), since the cost tool must not import the program itself (ARCHITECTURE.md):
tests/sagestack/cost/test_inventory.py runs the program under mocks for each stack and for config
variations that take every branch, and requires these counts to equal what it registers.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.cloudwatch import SUMMARY_METRICS
from infra.alarm_specs import AlarmConfig, alarm_specs
from infra.config import StackConfig

# monitoring.py's log metric filters: one custom metric each, for the one variant.
CUSTOM_METRICS = tuple(SUMMARY_METRICS.values())
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
    specs = alarm_specs(AlarmConfig.from_stack(config), "endpoint", "variant")
    return Inventory(
        # The stack's own key, or (without one) the key that encrypts the alarm topic only.
        kms_keys=1,
        alarms=tuple(spec.key for spec in specs),
        alarm_metrics=sum(spec.metrics_read for spec in specs),
        autoscaling_alarms=TARGET_TRACKING_ALARMS if config.autoscaling.enabled else 0,
        dashboards=1,
        custom_metrics=len(CUSTOM_METRICS),
        topics=1,
        email_subscriptions=len(config.notifications.emails),
        https_subscriptions=1 if config.notifications.https_url else 0,
        buckets=len(BUCKETS),
        log_groups=1 + (1 if config.logs.training_log_group_retention_days else 0),
    )
