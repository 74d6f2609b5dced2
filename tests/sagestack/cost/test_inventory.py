"""The cost tool's counts equal what the Pulumi program registers (under mocks), for each stack
and for config variations that take every branch the counts depend on."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from infra.alarm_specs import AlarmConfig, alarm_specs
from infra.config import load_stack_config, parse_config
from sagestack.cost.inventory import Inventory, inventory
from tests.conftest import REPO
from tests.infra.program import Graph, run_program, stack_config

CASES: list[tuple[str, Mapping[str, object]]] = [
    ("dev", {}),
    ("staging", {}),
    ("prod", {}),
    ("dev", {"alarmNoTrafficMinutes": 15, "alarmEmails": "a@example.com,b@example.com"}),
    ("staging", {"customerManagedKey": False, "alarmHttpsUrl": "https://example.com/hook"}),
    ("prod", {"alarmNoTrafficMinutes": 0, "trainingLogGroupRetentionDays": 30}),
]


def _counted(graph: Graph) -> Inventory:
    alarms = graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")

    def metrics(alarm_inputs: Mapping[str, object]) -> int:
        queries = alarm_inputs.get("metricQueries") or []
        assert isinstance(queries, list)
        return sum(1 for q in queries if q.get("metric")) or 1

    subscriptions = graph.of_type("aws:sns/topicSubscription:TopicSubscription")
    return Inventory(
        kms_keys=len(graph.of_type("aws:kms/key:Key")),
        alarms=tuple(a.name.removeprefix("monitoring-") for a in alarms),
        alarm_metrics=sum(metrics(a.inputs) for a in alarms),
        # Created by Application Auto Scaling, not by the program: one policy makes two.
        autoscaling_alarms=2 * len(graph.of_type("aws:appautoscaling/policy:Policy")),
        dashboards=len(graph.of_type("aws:cloudwatch/dashboard:Dashboard")),
        custom_metrics=len(graph.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")),
        topics=len(graph.of_type("aws:sns/topic:Topic")),
        email_subscriptions=sum(1 for s in subscriptions if s.inputs["protocol"] == "email"),
        https_subscriptions=sum(1 for s in subscriptions if s.inputs["protocol"] == "https"),
        buckets=len(graph.of_type("aws:s3/bucket:Bucket")),
        log_groups=len(graph.of_type("aws:cloudwatch/logGroup:LogGroup")),
    )


@pytest.mark.parametrize(("stack", "overrides"), CASES, ids=lambda c: str(c))
def test_counts_match_what_the_program_registers(
    stack: str, overrides: Mapping[str, object]
) -> None:
    prefix = "sagestack:"
    values = {
        k[len(prefix) :]: v
        for k, v in stack_config(stack, overrides).items()
        if k.startswith(prefix)
    }
    expected = inventory(parse_config(values))
    counted = _counted(run_program(stack, overrides))
    assert sorted(counted.alarms) == sorted(expected.alarms)
    assert counted == Inventory(**{**vars(expected), "alarms": counted.alarms})


def test_the_multi_metric_alarms_are_the_ones_named() -> None:
    graph = run_program("staging")
    multi = {
        a.name.removeprefix("monitoring-")
        for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs.get("metricQueries")
    }
    specs = alarm_specs(AlarmConfig.from_stack(load_stack_config(REPO, "staging")), "e", "v")
    assert multi == {spec.key for spec in specs if spec.metrics_read > 1}
