"""Monitoring, safe endpoint updates and autoscaling, under the recording mocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.cloudwatch import SUMMARY_METRICS
from inference.app import Stats
from infra.alarm_specs import microseconds
from infra.monitoring import dashboard_body
from infra.naming import training_job_prefix
from infra.notifications import address_key, training_event_pattern
from tests.infra.program import Graph, Registration, run_program

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
# What a blue/green update rolls back on: the new model answering errors or slowly.
ROLLBACK_ALARMS = ("errors-5xx", "error-rate-4xx", "model-latency-p99", "server-errors")
COMMON_ALARMS = [
    "errors-5xx",
    "error-rate-4xx",
    "model-latency-p99",
    "overhead-latency-p99",
    "server-errors",
    "schema-violations",
]


def _alarms(graph: Graph) -> dict[str, Registration]:
    return {a.name.removeprefix("monitoring-"): a for a in graph.of_type(ALARM)}


def test_alarms_per_stack(graphs: dict[str, Graph]) -> None:
    instances = ["cpu", "memory", "disk"]
    assert sorted(_alarms(graphs["dev"])) == sorted(COMMON_ALARMS)
    # staging and prod capture traffic: the monitoring job's drift alarm, and its watchdog.
    monitored = ["data-drift", "monitor-silent"]
    assert sorted(_alarms(graphs["staging"])) == sorted([*COMMON_ALARMS, *instances, *monitored])
    assert sorted(_alarms(graphs["prod"])) == sorted(
        [*COMMON_ALARMS, *instances, "no-traffic", *monitored]
    )


def test_every_alarm_watches_the_variant_and_notifies_both_ways(graphs: dict[str, Graph]) -> None:
    graph = graphs["prod"]
    topic = graph.outputs["alarm_topic_arn"]
    dimensions = {"EndpointName": "sagestack-prod", "VariantName": "primary"}
    for name, alarm in _alarms(graph).items():
        assert alarm.inputs["alarmActions"] == [topic], name
        assert alarm.inputs["okActions"] == [topic], name
        if "metricQueries" in alarm.inputs:
            metrics = [q["metric"] for q in alarm.inputs["metricQueries"] if "metric" in q]
            assert all(m["dimensions"] == dimensions for m in metrics), name
        else:
            assert alarm.inputs["dimensions"] == dimensions, name


def test_split_components_keep_the_resources_of_the_one_they_replace(
    graphs: dict[str, Graph],
) -> None:
    """Every child of the two components answers to its URN under the old Monitoring component,
    so the first `up` after the split moves resources in the state instead of replacing them."""
    graph = run_program("dev", {"alarmEmails": "a@example.com, b@example.com"})
    old_parent = "urn:pulumi:dev::sagestack::sagestack:monitoring:Monitoring::monitoring"
    components = {
        r.urn
        for r in graph.resources
        if r.type
        in ("sagestack:notifications:Notifications", "sagestack:monitoring:EndpointAlarms")
    }
    assert len(components) == 2
    children = [r for r in graph.resources if r.parent in components]
    assert len(children) > 10
    for resource in children:
        assert any(a["parentUrn"] == old_parent for a in resource.aliases), resource.urn
    emails = {
        r.inputs["endpoint"]: r
        for r in graph.of_type("aws:sns/topicSubscription:TopicSubscription")
    }
    # Named by their address, with their old list position as an alias.
    assert emails["a@example.com"].name == "monitoring-email-" + address_key("a@example.com")
    assert emails["b@example.com"].aliases[0]["name"] == "monitoring-email-1"


def test_a_subscription_keeps_its_name_when_another_is_removed() -> None:
    both = run_program("dev", {"alarmEmails": "a@example.com, b@example.com"})
    one = run_program("dev", {"alarmEmails": "b@example.com"})
    subscription = "aws:sns/topicSubscription:TopicSubscription"
    assert {r.urn for r in one.of_type(subscription)} < {r.urn for r in both.of_type(subscription)}


def test_latency_thresholds_are_converted_to_microseconds() -> None:
    assert microseconds(250) == 250_000
    graph = run_program("dev", {"alarmModelLatencyP99Ms": 250, "alarmOverheadLatencyP99Ms": 40})
    alarms = _alarms(graph)
    model = alarms["model-latency-p99"].inputs
    assert (model["metricName"], model["extendedStatistic"]) == ("ModelLatency", "p99")
    assert model["threshold"] == 250_000
    assert alarms["overhead-latency-p99"].inputs["threshold"] == 40_000


def test_4xx_rate_is_metric_math_over_invocations(graphs: dict[str, Graph]) -> None:
    alarm = _alarms(graphs["dev"])["error-rate-4xx"].inputs
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    assert queries["errors"]["metric"]["metricName"] == "Invocation4XXErrors"
    assert queries["invocations"]["metric"]["metricName"] == "Invocations"
    assert queries["rate"]["expression"] == "IF(invocations > 0, 100 * errors / invocations, 0)"
    assert [q["id"] for q in alarm["metricQueries"] if q["returnData"]] == ["rate"]
    assert alarm["threshold"] == 10
    assert "dimensions" not in alarm
    assert "period" not in alarm


def test_thresholds_and_periods_come_from_config() -> None:
    graph = run_program(
        "staging",
        {
            "alarmPeriodSeconds": 300,
            "alarmEvaluationPeriods": 2,
            "alarm5xxErrors": 5,
            "alarmCpuUtilization": 150,
        },
    )
    alarms = _alarms(graph)
    errors = alarms["errors-5xx"].inputs
    assert (errors["period"], errors["evaluationPeriods"], errors["threshold"]) == (300, 2, 5)
    assert errors["treatMissingData"] == "notBreaching"
    assert alarms["cpu"].inputs["namespace"] == "/aws/sagemaker/Endpoints"
    assert alarms["cpu"].inputs["threshold"] == 150


def test_no_traffic_treats_missing_data_as_breaching(graphs: dict[str, Graph]) -> None:
    alarm = _alarms(graphs["prod"])["no-traffic"].inputs
    assert alarm["treatMissingData"] == "breaching"
    assert (alarm["period"], alarm["evaluationPeriods"]) == (60, 60)
    assert alarm["comparisonOperator"] == "LessThanThreshold"


def test_summary_lines_become_metrics_with_dimensions(graphs: dict[str, Graph]) -> None:
    graph = graphs["dev"]
    log_group = graph.one("aws:cloudwatch/logGroup:LogGroup")
    assert log_group.inputs["name"] == "/aws/sagemaker/Endpoints/sagestack-dev"
    assert log_group.inputs["retentionInDays"] == 7
    filters = graph.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    assert sorted(f.inputs["metricTransformation"]["name"] for f in filters) == sorted(
        SUMMARY_METRICS.values()
    )
    for metric_filter in filters:
        assert metric_filter.inputs["pattern"] == '{ $.event = "summary" }'
        transformation = metric_filter.inputs["metricTransformation"]
        assert transformation["dimensions"] == {
            "EndpointName": "$.endpoint",
            "VariantName": "$.variant",
        }
    # The other side of the contract: the inference server writes those fields.
    summary = Stats().summary(worker=1)
    assert summary["event"] == "summary"
    assert set(SUMMARY_METRICS) <= set(summary)


def test_endpoint_waits_for_its_log_group(graphs: dict[str, Graph]) -> None:
    for graph in graphs.values():
        log_group = graph.one("aws:cloudwatch/logGroup:LogGroup")
        assert log_group.urn in graph.one(ENDPOINT).dependencies


def test_shared_training_log_group_only_on_request() -> None:
    graph = run_program("dev", {"trainingLogGroupRetentionDays": 30})
    group = graph.one("aws:cloudwatch/logGroup:LogGroup", "monitoring-training-logs")
    assert group.inputs["name"] == "/aws/sagemaker/TrainingJobs"
    assert group.inputs["skipDestroy"] is True


def test_failed_or_stopped_training_notifies_with_the_reason(graphs: dict[str, Graph]) -> None:
    graph = graphs["staging"]
    rule = graph.one("aws:cloudwatch/eventRule:EventRule")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern == training_event_pattern(training_job_prefix("sagestack", "staging"))
    prefix = pattern["detail"]["TrainingJobName"][0]["prefix"]
    assert graph.outputs["training_job_name"].startswith(prefix)
    assert pattern["detail"]["TrainingJobStatus"] == ["Failed", "Stopped"]
    target = graph.one("aws:cloudwatch/eventTarget:EventTarget").inputs
    assert target["arn"] == graph.outputs["alarm_topic_arn"]
    assert target["inputTransformer"]["inputPaths"]["reason"] == "$.detail.FailureReason"
    topic_policy = json.loads(graph.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    events = next(s for s in topic_policy["Statement"] if s["Sid"] == "TrainingJobEvents")
    assert events["Condition"] == {"ArnEquals": {"aws:SourceArn": rule.outputs["arn"]}}


def test_topic_is_encrypted_with_a_key_alarms_may_use(graphs: dict[str, Graph]) -> None:
    prod_topic = graphs["prod"].one("aws:sns/topic:Topic").inputs
    prod_key = graphs["prod"].one("aws:kms/key:Key")
    assert (
        prod_topic["kmsMasterKeyId"]
        == graphs["prod"]
        .one("aws:sagemaker/trainingJob:TrainingJob")
        .inputs["outputDataConfig"]["kmsKeyId"]
    )
    assert prod_topic["kmsMasterKeyId"] == prod_key.outputs["arn"]
    # dev has no key of its own: CloudWatch cannot publish under the AWS-managed SNS key.
    dev_key = graphs["dev"].one("aws:kms/key:Key", "monitoring-topic-key")
    dev_topic = graphs["dev"].one("aws:sns/topic:Topic").inputs
    assert dev_topic["kmsMasterKeyId"] == dev_key.outputs["arn"]
    for key in (prod_key, dev_key):
        statements = json.loads(key.inputs["policy"])["Statement"]
        services = next(s for s in statements if s["Sid"] == "AlarmsAndEventsPublishEncrypted")
        assert set(services["Principal"]["Service"]) == {
            "cloudwatch.amazonaws.com",
            "events.amazonaws.com",
        }


def test_subscriptions_from_config() -> None:
    graph = run_program(
        "dev", {"alarmEmails": "a@example.com, b@example.com", "alarmHttpsUrl": "https://x.io/h"}
    )
    subscriptions = graph.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted((s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions) == [
        ("email", "a@example.com"),
        ("email", "b@example.com"),
        ("https", "https://x.io/h"),
    ]


def test_dashboard_shows_traffic_errors_latency_and_alarms(graphs: dict[str, Graph]) -> None:
    graph = graphs["prod"]
    dashboard = graph.one("aws:cloudwatch/dashboard:Dashboard").inputs
    assert dashboard["dashboardName"] == "sagestack-prod"
    body = json.loads(dashboard["dashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles == [
        "Invocations",
        "Errors",
        "Model latency (microseconds)",
        "Instances: utilization and count",
        "Alarms",
    ]
    alarm_arns = sorted(a.outputs["arn"] for a in graph.of_type(ALARM))
    assert body["widgets"][-1]["properties"]["alarms"] == alarm_arns
    assert graph.outputs["dashboard_url"] == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#dashboards:name=sagestack-prod"
    )


def test_serverless_dashboard_has_no_instance_widget() -> None:
    body = dashboard_body("us-east-1", "e", "primary", True, [])
    assert "Instances: utilization and count" not in json.dumps(body)


# --- safe updates ------------------------------------------------------------------------------


def _deployment(graph: Graph) -> dict[str, Any]:
    config: dict[str, Any] = graph.one(ENDPOINT).inputs["deploymentConfig"]
    return config


def test_prod_shifts_a_canary_and_rolls_back_on_alarms(graphs: dict[str, Graph]) -> None:
    graph = graphs["prod"]
    deployment = _deployment(graph)
    policy = deployment["blueGreenUpdatePolicy"]
    assert policy["trafficRoutingConfiguration"] == {
        "type": "CANARY",
        "waitIntervalInSeconds": 600,
        "canarySize": {"type": "CAPACITY_PERCENT", "value": 10},
    }
    assert policy["terminationWaitInSeconds"] == 600
    rollback = [a["alarmName"] for a in deployment["autoRollbackConfiguration"]["alarms"]]
    alarms = _alarms(graph)
    assert rollback == [alarms[key].outputs["name"] for key in ROLLBACK_ALARMS]
    assert {alarms[key].urn for key in ROLLBACK_ALARMS} <= set(graph.one(ENDPOINT).dependencies)


def test_dev_shifts_all_at_once(graphs: dict[str, Graph]) -> None:
    routing = _deployment(graphs["dev"])["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]
    assert routing == {"type": "ALL_AT_ONCE", "waitIntervalInSeconds": 60}


def test_linear_shifting() -> None:
    graph = run_program("staging", {"deploymentStrategy": "linear"})
    routing = _deployment(graph)["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]
    assert routing["type"] == "LINEAR"
    assert routing["linearStepSize"] == {"type": "CAPACITY_PERCENT", "value": 25}


@pytest.mark.parametrize(("stack", "low", "high"), [("staging", 1, 2), ("prod", 2, 4)])
def test_instance_endpoints_scale_on_invocations(
    graphs: dict[str, Graph], stack: str, low: int, high: int
) -> None:
    graph = graphs[stack]
    target = graph.one("aws:appautoscaling/target:Target").inputs
    assert target["resourceId"] == f"endpoint/sagestack-{stack}/variant/primary"
    assert target["scalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert (target["minCapacity"], target["maxCapacity"]) == (low, high)
    policy = graph.one("aws:appautoscaling/policy:Policy").inputs
    tracking = policy["targetTrackingScalingPolicyConfiguration"]
    assert tracking["predefinedMetricSpecification"] == {
        "predefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert (tracking["targetValue"], tracking["scaleInCooldown"], tracking["scaleOutCooldown"]) == (
        1000,
        300,
        60,
    )
    assert graph.one(ENDPOINT).urn in graph.one("aws:appautoscaling/target:Target").dependencies


def test_serverless_has_no_autoscaling(graphs: dict[str, Graph]) -> None:
    assert not graphs["dev"].of_type("aws:appautoscaling/target:Target")
