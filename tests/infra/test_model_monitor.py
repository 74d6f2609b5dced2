"""The scheduled monitoring job and the loop back to GitHub, under the recording mocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.cloudwatch import (
    DATASET_DRIFT_METRIC,
    NAMESPACE,
    QUALITY_BELOW_BAR_METRIC,
    ROWS_MONITORED_METRIC,
)
from infra import model_monitor
from infra.alarm_specs import AlarmConfig, alarm_specs
from infra.config import ConfigError, parse_config
from infra.model_monitor import (
    CREATE_PROCESSING_JOB_TARGET,
    EXECUTION_ID,
    SCHEDULED_TIME,
    monitor_job_prefix,
)
from tests.infra.program import Graph, run_program

SCHEDULE = "aws:scheduler/schedule:Schedule"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOOP = {
    "monitorGithubRepository": "octo-org/sagestack",
    "monitorGithubTokenSecret": "sagestack/github-token",
}


def _request(graph: Graph) -> dict[str, Any]:
    request: dict[str, Any] = json.loads(graph.one(SCHEDULE).inputs["target"]["input"])
    return request


def _policy(graph: Graph, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(graph.one(ROLE_POLICY, name).inputs["policy"])
    return document


def _actions(document: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for statement in document["Statement"]:
        action = statement["Action"]
        found |= {action} if isinstance(action, str) else set(action)
    return found


def test_only_stacks_that_capture_are_monitored(graphs: dict[str, Graph]) -> None:
    # dev is serverless: SageMaker serverless endpoints cannot capture, so nothing to judge.
    assert not graphs["dev"].of_type(SCHEDULE)
    assert graphs["staging"].one(SCHEDULE)
    assert not run_program("staging", {"monitorSchedule": ""}).of_type(SCHEDULE)
    assert not run_program("staging", {"dataCapturePercent": 0}).of_type(SCHEDULE)


def test_the_schedule_starts_the_monitor_command_hourly(graphs: dict[str, Graph]) -> None:
    graph = graphs["prod"]
    schedule = graph.one(SCHEDULE).inputs
    assert schedule["scheduleExpression"] == "rate(1 hour)"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    assert schedule["target"]["arn"] == CREATE_PROCESSING_JOB_TARGET
    request = _request(graph)
    assert request["AppSpecification"]["ContainerEntrypoint"] == ["monitor"]
    assert request["AppSpecification"]["ImageUri"] == graph.outputs["training_image_uri"]
    # Unique per invocation, and within ProcessingJobName's 63 characters for a UUID-long id.
    assert request["ProcessingJobName"] == f"sagestack-prod-monitor-{EXECUTION_ID}"
    assert len(monitor_job_prefix("sagestack", "prod")) + 1 + 36 <= 63
    assert len(monitor_job_prefix("a-very-long-project-name", "production")) + 1 + 36 <= 63
    environment = request["Environment"]
    assert environment["SAGESTACK_MONITOR_END"] == SCHEDULED_TIME
    assert environment["SAGESTACK_MONITOR_WINDOW_MINUTES"] == "60"
    assert environment["SAGESTACK_ENDPOINT_NAME"] == "sagestack-prod"
    assert environment["SAGESTACK_VARIANT_NAME"] == "primary"
    inputs = {i["InputName"]: i["S3Input"] for i in request["ProcessingInputs"]}
    capture_bucket = graph.outputs["capture_bucket"]
    assert inputs["capture"]["S3Uri"] == f"s3://{capture_bucket}/capture/sagestack-prod/primary/"
    assert inputs["model"]["S3Uri"] == graph.outputs["model_data_url"]
    assert "ground-truth" not in inputs
    output = request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    artifacts = graph.outputs["artifacts_bucket"]
    assert output["S3Uri"] == f"s3://{artifacts}/monitoring/sagestack-prod/{EXECUTION_ID}"
    # prod has its own key: the job's volume and its report are encrypted with it.
    key = graph.one("aws:kms/key:Key").outputs["arn"]
    assert request["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key
    assert request["ProcessingOutputConfig"]["KmsKeyId"] == key


def test_window_schedule_and_labels_come_from_config() -> None:
    graph = run_program(
        "staging",
        {
            "monitorSchedule": "cron(0 6 * * ? *)",
            "monitorWindowMinutes": 1440,
            "monitorGroundTruth": True,
        },
    )
    assert graph.one(SCHEDULE).inputs["scheduleExpression"] == "cron(0 6 * * ? *)"
    request = _request(graph)
    assert request["Environment"]["SAGESTACK_MONITOR_WINDOW_MINUTES"] == "1440"
    inputs = {i["InputName"]: i["S3Input"] for i in request["ProcessingInputs"]}
    assert inputs["ground-truth"]["LocalPath"] == "/opt/ml/processing/input/ground-truth"
    alarms = {a.name for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert "monitoring-live-quality" in alarms
    drift = graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", "monitoring-data-drift").inputs
    assert drift["period"] == 86400
    assert drift["alarmActions"] == [graph.outputs["alarm_topic_arn"]]


def test_the_scheduler_may_start_our_jobs_and_pass_the_job_role_only(
    graphs: dict[str, Graph],
) -> None:
    graph = graphs["staging"]
    document = _policy(graph, "model-monitor-start-jobs")
    assert _actions(document) == {"sagemaker:CreateProcessingJob", "iam:PassRole"}
    start, passing = document["Statement"]
    assert start["Resource"].endswith(":processing-job/sagestack-staging-monitor-*")
    job_role = graph.one("aws:iam/role:Role", "model-monitor-job-role").outputs["arn"]
    assert passing["Resource"] == job_role
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    assert _request(graph)["RoleArn"] == job_role
    trust = json.loads(
        graph.one("aws:iam/role:Role", "model-monitor-scheduler-role").inputs["assumeRolePolicy"]
    )
    assert trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}


def test_the_job_role_reads_capture_writes_monitoring_and_nothing_else() -> None:
    graph = run_program("staging", {"monitorGroundTruth": True})
    job_policies = {
        p.name.removeprefix("model-monitor-"): json.loads(p.inputs["policy"])
        for p in graph.of_type(ROLE_POLICY)
        if p.inputs["role"] == "model-monitor-job-role-id"
    }
    assert set(job_policies) == {
        "read-capture",
        "read-ground-truth",
        "read-model",
        "write-report",
        "pull-images",
        "job-logs",
        "metrics",
        "use-key",
    }
    capture = graph.outputs["capture_bucket"]
    artifacts = graph.outputs["artifacts_bucket"]
    read = job_policies["read-capture"]["Statement"]
    assert read[1]["Resource"] == f"arn:aws:s3:::{capture}/capture/sagestack-staging/primary/*"
    truth = job_policies["read-ground-truth"]["Statement"]
    assert truth[1]["Resource"] == f"arn:aws:s3:::{capture}/ground-truth/*"
    write = job_policies["write-report"]["Statement"][0]
    assert write["Resource"] == f"arn:aws:s3:::{artifacts}/monitoring/*"
    assert "s3:GetObject" not in write["Action"]
    model_key = graph.outputs["model_data_url"].removeprefix(f"s3://{artifacts}/")
    model = job_policies["read-model"]["Statement"]
    assert model[1]["Resource"] == f"arn:aws:s3:::{artifacts}/{model_key}"
    metrics = job_policies["metrics"]["Statement"][0]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": ["sagestack"]}}
    logs = job_policies["job-logs"]["Statement"][0]["Resource"]
    assert logs.endswith(":log-group:/aws/sagemaker/ProcessingJobs")
    pull = job_policies["pull-images"]["Statement"][0]["Resource"]
    assert len(pull) == 1
    assert "training" in pull[0]


def test_without_the_loop_the_alarm_says_what_to_run(graphs: dict[str, Graph]) -> None:
    graph = graphs["staging"]
    assert not graph.of_type("aws:cloudwatch/eventConnection:EventConnection")
    drift = graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", "monitoring-data-drift").inputs
    assert "gh workflow run retrain.yml -f stack=staging" in drift["alarmDescription"]


def test_the_loop_sends_drift_alarms_to_repository_dispatch() -> None:
    graph = run_program("prod", LOOP)
    connection = graph.one("aws:cloudwatch/eventConnection:EventConnection").inputs
    assert connection["authorizationType"] == "API_KEY"
    # The token read from the user's secret (the mocks answer "mock-github-token").
    assert connection["authParameters"]["apiKey"] == {
        "key": "Authorization",
        "value": "Bearer mock-github-token",
    }
    destination = graph.one("aws:cloudwatch/eventApiDestination:EventApiDestination")
    assert destination.inputs["invocationEndpoint"] == (
        "https://api.github.com/repos/octo-org/sagestack/dispatches"
    )
    assert destination.inputs["httpMethod"] == "POST"
    rule = graph.one("aws:cloudwatch/eventRule:EventRule", "model-monitor-retrain")
    pattern = json.loads(rule.inputs["eventPattern"])
    drift = graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", "monitoring-data-drift")
    assert pattern["resources"] == [drift.outputs["arn"]]
    assert pattern["detail"] == {"state": {"value": ["ALARM"]}}
    target = graph.one("aws:cloudwatch/eventTarget:EventTarget", "model-monitor-retrain-target")
    assert target.inputs["arn"] == destination.outputs["arn"]
    body = json.loads(target.inputs["inputTransformer"]["inputTemplate"])
    assert body["event_type"] == "sagestack-retrain"
    assert body["client_payload"]["stack"] == "prod"
    assert body["client_payload"]["alarm"] == "<alarm>"
    assert body["client_payload"]["report"] == (
        f"s3://{graph.outputs['artifacts_bucket']}/monitoring/sagestack-prod"
    )
    invoke = json.loads(graph.one(ROLE_POLICY, "model-monitor-invoke-dispatch").inputs["policy"])
    assert invoke["Statement"][0]["Resource"] == destination.outputs["arn"]


def test_the_loop_needs_its_token_secret() -> None:
    with pytest.raises(ConfigError, match="monitorGithubTokenSecret"):
        parse_config({"monitorGithubRepository": "octo-org/sagestack"})
    with pytest.raises(ConfigError, match="monitorGithubRepository"):
        parse_config({"monitorGithubRepository": "not a repository"})
    with pytest.raises(ConfigError, match="monitorSchedule"):
        parse_config({"monitorSchedule": "every hour"})


def test_drift_alarms_are_specs_like_the_others() -> None:
    config = parse_config({"endpointInstanceType": "ml.m5.large", "dataCapturePercent": "10"})
    specs = {s.key: s for s in alarm_specs(AlarmConfig.from_stack(config, "x"), "e", "primary")}
    assert [k for k, s in specs.items() if s.retrain] == ["data-drift"]
    assert specs["data-drift"].metric_name == "DatasetDrift"
    assert specs["monitor-silent"].treat_missing_data == "breaching"
    assert not specs["data-drift"].rollback


def test_the_names_shared_with_the_monitor_command_match_its_contract(
    graphs: dict[str, Graph],
) -> None:
    from inference.monitoring import contract
    from inference.monitoring.metrics import metric_values

    base = "/opt/ml/"
    assert base + str(contract.CAPTURE_INPUT) == model_monitor.CAPTURE_INPUT
    assert base + str(contract.MODEL_INPUT) == model_monitor.MODEL_INPUT
    assert base + str(contract.GROUND_TRUTH_INPUT) == model_monitor.GROUND_TRUTH_INPUT
    assert base + str(contract.OUTPUT) == model_monitor.OUTPUT
    # The variables the schedule sets are the ones the command reads.
    assert set(_request(graphs["prod"])["Environment"]) == {
        contract.END_ENV,
        contract.WINDOW_MINUTES_ENV,
        contract.ENDPOINT_NAME_ENV,
        contract.VARIANT_NAME_ENV,
    }
    assert NAMESPACE == "sagestack"
    # The metrics the alarms read are the ones a judged window with labels puts.
    window = {
        "rows": 600,
        "read": {"problems": {"corrupt": 0}},
        "verdict": "drift",
        "drifted_features": 2,
        "max_feature_psi": 0.4,
        "dataset_drift": True,
        "prediction_drift": {"js_distance": 0.2},
        "quality": {"status": "judged", "rows": 200, "failures": ["f1"], "metrics": {"f1": 0.5}},
    }
    values = metric_values(window)
    assert values[DATASET_DRIFT_METRIC] == 1
    assert values[QUALITY_BELOW_BAR_METRIC] == 1
    assert ROWS_MONITORED_METRIC in values


def test_no_volume_key_for_instances_with_local_storage() -> None:
    # AWS refuses VolumeKmsKeyId for instances with NVMe instance storage (it encrypts that).
    graph = run_program(
        "prod", {"monitorInstanceType": "ml.g4dn.xlarge", "trainingInstanceType": "ml.g5.xlarge"}
    )
    request = _request(graph)
    key = graph.one("aws:kms/key:Key").outputs["arn"]
    assert "VolumeKmsKeyId" not in request["ProcessingResources"]["ClusterConfig"]
    assert request["ProcessingOutputConfig"]["KmsKeyId"] == key  # the report is still encrypted
    job = graph.one("aws:sagemaker/trainingJob:TrainingJob").inputs
    assert "volumeKmsKeyId" not in job["resourceConfig"]
    assert job["outputDataConfig"]["kmsKeyId"] == key
