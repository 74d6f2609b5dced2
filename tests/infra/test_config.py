"""Stack configuration: declared once, validated purely, every bad value named."""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from contracts.metrics import GATED_METRICS
from infra import config
from infra.config import (
    KEYS,
    AlarmThresholds,
    ConfigError,
    StackConfig,
    config_value,
    has_local_storage,
    ignored_settings,
    load_stack_config,
    parse_config,
    parse_engine_config,
)
from tests.conftest import REPO
from training.hyperparameters import parse_hyperparameters

STACKS = ("dev", "staging", "prod")


def test_project_runs_infra_with_the_repository_virtualenv() -> None:
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert project["name"] == "sagestack"
    assert project["main"] == "infra/"
    # Pulumi resolves a relative virtualenv against the project root, not `main`.
    assert project["runtime"]["options"]["virtualenv"] == ".venv"


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_is_valid(stack: str) -> None:
    config = load_stack_config(REPO, stack)
    assert isinstance(config, StackConfig)
    assert ignored_settings(config) == []
    # The training container accepts what the stack passes it.
    hyperparameters, _ = parse_hyperparameters(config.training.job_hyperparameters())
    assert hyperparameters.target == config.training.target


def test_stacks_differ_as_promised() -> None:
    dev, staging, prod = (load_stack_config(REPO, stack) for stack in STACKS)
    assert dev.serverless
    assert dev.storage.force_destroy
    assert not dev.storage.protect_data
    assert not staging.serverless
    assert not prod.serverless
    assert prod.endpoint.instance_count >= 2
    assert prod.storage.protect_data
    assert prod.storage.customer_managed_key
    assert not prod.storage.force_destroy
    assert prod.endpoint.data_capture_percent > 0
    bars = [config.training.quality_bars["f1"] for config in (prod, staging, dev)]
    assert bars == sorted(bars, reverse=True)


def test_defaults() -> None:
    config = parse_config({})
    assert config.training.data_path == "data/breast_cancer.csv"
    assert config.training.algorithm == "logistic_regression"
    assert config.serverless
    assert config.training.quality_bars == dict.fromkeys(
        ("accuracy", "precision", "recall", "f1", "roc_auc"), 0.0
    )
    assert config.training.job_hyperparameters() == {
        "target": "target",
        "algorithm": "logistic_regression",
    }


def test_training_hyperparameters_carry_bars_and_extras() -> None:
    config = parse_config({"minF1": "0.9", "hyperparameters": '{"C": 0.5, "id_columns": "id"}'})
    assert config.training.job_hyperparameters() == {
        "target": "target",
        "algorithm": "logistic_regression",
        "C": "0.5",
        "id_columns": "id",
        "min_f1": "0.9",
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"trainingInstanceType": "m5.large"},
            "sagestack:trainingInstanceType='m5.large' must be a SageMaker instance type",
        ),
        ({"autoscalingMaxInstances": 2}, "autoscalingMaxInstances=2 needs endpointInstanceType"),
        ({"serverlessMemoryMb": 1500}, "serverlessMemoryMb=1500 must be one of 1024, 2048"),
        ({"minF1": "1.5"}, "sagestack:minF1='1.5' must be a number from 0 to 1"),
        ({"minRocAuc": "high"}, "sagestack:minRocAuc='high' must be a number from 0 to 1"),
        ({"dataPath": "https://example.com/data.csv"}, "must be a local path or an s3:// URI"),
        ({"dataPath": "s3://bucket"}, "must be an s3://bucket/key URI"),
        ({"dataPath": "s3://my-bucket/data.csv"}, "dataVersion must be set"),
        ({"algorithm": "svm"}, "sagestack:algorithm='svm' must be one of: logistic_regression"),
        (
            {"trainingUseSpot": True, "trainingMaxWaitSeconds": 100},
            "must be at least trainingMaxRuntimeSeconds",
        ),
        ({"forceDestroyBuckets": True, "protectData": True}, "contradict each other"),
        ({"hyperparameters": "[1]"}, "must be a JSON object"),
        ({"hyperparameters": '{"min_f1": 0.9}'}, "must not set ['min_f1']"),
        ({"trainingVolumeGb": "ten"}, "trainingVolumeGb='ten' must be a whole number from 1"),
        ({"trainingUseSpot": "yes"}, "trainingUseSpot='yes' must be true or false"),
        (
            {"trainingImageUri": "python:3.11"},
            "sagestack:trainingImageUri='python:3.11' must be empty (build the image) or an ECR",
        ),
        ({"inferenceImageUri": "docker.io/me/serve:1"}, "inferenceImageUri='docker.io/me/serve:1'"),
        ({"dataCapturePercent": 20}, "serverless endpoints do not capture data"),
        ({"modelServerWorkers": -1}, "modelServerWorkers='-1' must be a whole number from 0"),
        ({"noncurrentVersionDays": 0}, "noncurrentVersionDays='0' must be a whole number from 1"),
        (
            {"endpointInstanceTyp": "ml.m5.large"},
            "sagestack:endpointInstanceTyp is not declared in Pulumi.yaml (did you mean "
            "endpointInstanceType or ",
        ),
    ],
)
def test_bad_values_name_key_value_and_what_is_allowed(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(values)
    assert message in str(raised.value)


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"minF1": "2", "algorithm": "svm"})
    assert "minF1" in str(raised.value)
    assert "algorithm" in str(raised.value)


def test_an_unknown_stack_lists_the_stacks() -> None:
    with pytest.raises(
        ConfigError, match=r"no stack file Pulumi\.qa\.yaml \(stacks: dev, prod, staging\)"
    ):
        load_stack_config(REPO, "qa")


def test_values_decide_not_presence() -> None:
    """Writing a default out changes nothing: the engine merges every default in anyway."""
    every_default = {key.name: key.default for key in KEYS}
    assert parse_config(every_default) == parse_config({})
    instances = {"endpointInstanceType": "ml.m5.large"}
    assert parse_config({**every_default, **instances}) == parse_config(instances)


@pytest.mark.parametrize(
    ("values", "ignored"),
    [
        (
            {"endpointInstanceCount": 3},
            "sagestack:endpointInstanceCount=3 is ignored: endpointInstanceType is empty, so the "
            "endpoint is serverless (default 1)",
        ),
        ({"alarmCpuUtilization": 90}, "sagestack:alarmCpuUtilization=90 is ignored"),
        (
            {"endpointInstanceType": "ml.m5.large", "serverlessMemoryMb": 4096},
            "sagestack:serverlessMemoryMb=4096 is ignored: endpointInstanceType=ml.m5.large "
            "makes an instance endpoint (default 2048)",
        ),
        (
            {"endpointInstanceType": "ml.m5.large", "serverlessMaxConcurrency": 20},
            "sagestack:serverlessMaxConcurrency=20 is ignored",
        ),
    ],
)
def test_a_setting_of_the_other_endpoint_shape_is_ignored_with_a_warning(
    values: dict[str, object], ignored: str
) -> None:
    (warning,) = ignored_settings(parse_config(values))
    assert warning.startswith(ignored)


def test_settings_of_the_chosen_shape_or_at_their_defaults_warn_of_nothing() -> None:
    assert ignored_settings(parse_config({"serverlessMemoryMb": 4096})) == []
    instance = {"endpointInstanceType": "ml.m5.large", "endpointInstanceCount": 3}
    assert ignored_settings(parse_config(instance)) == []
    assert ignored_settings(parse_config({"endpointInstanceCount": 1})) == []


def test_each_key_is_declared_once_by_one_unit_field() -> None:
    names = [key.name for key in KEYS]
    assert len(names) == len(set(names))
    config = parse_config({})
    for unit in fields(StackConfig):
        for member in fields(getattr(config, unit.name)):
            key = member.metadata["key"]
            assert config_value(config, key.name) == key.parse(key.default), key.name


def test_a_unit_built_in_code_defaults_to_the_declared_defaults() -> None:
    defaults = parse_config({})
    for unit in fields(StackConfig):
        assert getattr(defaults, unit.name) == type(getattr(defaults, unit.name))(), unit.name
    assert AlarmThresholds(errors_5xx=7) == dataclasses.replace(defaults.alarms, errors_5xx=7)


def test_every_gated_metric_has_its_quality_bar_key() -> None:
    config = parse_config({"minRocAuc": "0.9", "minAccuracy": "0.8"})
    assert set(config.training.quality_bars) == set(GATED_METRICS)
    assert config.training.quality_bars["roc_auc"] == 0.9
    assert config.training.quality_bars["accuracy"] == 0.8


def test_each_unit_holds_its_own_keys() -> None:
    config = parse_config(
        {
            "endpointInstanceType": "ml.m5.large",
            "alarm5xxErrors": "7",
            "deploymentStrategy": "canary",
            "autoscalingMaxInstances": "3",
            "monitorWindowMinutes": "30",
            "alarmEmails": "a@example.com, b@example.com",
        }
    )
    assert config.endpoint.instance_type == "ml.m5.large"
    assert not config.serverless
    assert config.alarms.errors_5xx == 7
    assert config.deployment.strategy == "canary"
    assert config.autoscaling.enabled
    assert config.autoscaling.max_instances == 3
    assert config.monitor.window_minutes == 30
    assert config.notifications.emails == ("a@example.com", "b@example.com")


def _problems(values: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_config(values)
    return str(raised.value)


def test_cross_checks_run_beside_per_key_problems() -> None:
    message = _problems(
        {"trainingVolumeGb": "0", "dataCapturePercent": "5", "serverlessMemoryMb": "1025"}
    )
    assert "trainingVolumeGb='0'" in message
    assert "dataCapturePercent=5 needs endpointInstanceType" in message
    assert "serverlessMemoryMb=1025 must be one of" in message


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_non_finite_value_is_a_config_error_naming_the_key(value: float) -> None:
    assert "sagestack:minF1=" in _problems({"minF1": value})


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"logRetentionDays": "1_4"}, "logRetentionDays"),
        ({"logRetentionDays": "١٤"}, "logRetentionDays"),
        ({"trainingVolumeGb": "1_0"}, "trainingVolumeGb"),
        ({"minF1": "0_1"}, "minF1"),
        ({"minF1": "\uff10.\uff19"}, "minF1"),  # full-width digits
        ({"minF1": "0.9e99999"}, "minF1"),
        ({"trainingVolumeGb": "9" * 5000}, "trainingVolumeGb"),
        ({"logRetentionDays": "9" * 5000}, "logRetentionDays"),
    ],
)
def test_numbers_are_ascii_digits_as_the_engine_reads_them(
    values: dict[str, object], key: str
) -> None:
    message = _problems(values)
    assert f"sagestack:{key}=" in message
    assert len(message) < 1000  # a 5000-digit value is shown cut short


def test_numbers_still_parse_with_ascii_digits() -> None:
    config = parse_config({"logRetentionDays": " 14", "minF1": "+0.5", "trainingVolumeGb": "020"})
    assert config.logs.retention_days == 14
    assert config.training.min_f1 == 0.5
    assert config.training.volume_gb == 20


@pytest.mark.parametrize(
    ("hyperparameters", "shown"),
    [
        ('{"C": NaN}', '"C" must be a finite number'),
        ('{"C": Infinity}', '"C" must be a finite number'),
        ('{"C": -Infinity}', '"C" must be a finite number'),
        ('{"C": 1e400}', '"C" must be a finite number'),
        ('{"C": 1' + "0" * 5000 + "}", '"C" must be a finite number'),
        ('{"C": 0.5, "C": 2}', "must not repeat a key ('C' repeated)"),
        ("[" * 100000, "not valid JSON (nested too deeply)"),
        ('{"C": "' + "[" * 100000 + '"}', "at most 2500 characters"),
        ('{"C": {"a": 1}}', "'C' must be a number, text, a list of those, or null"),
        ('{"C": true}', "'C' must be a number, text, a list of those, or null"),
        ('{"id_columns": [["a"]]}', "'id_columns' must be a number, text"),
        ('{"C": "a\\nb"}', "on one line"),
        ('{"' + "k" * 257 + '": 1}', "must be at most 256 characters"),
        ('{"C": 0.5', "is not valid JSON"),
    ],
)
def test_hyperparameters_training_or_sagemaker_would_refuse_are_named(
    hyperparameters: str, shown: str
) -> None:
    message = _problems({"hyperparameters": hyperparameters})
    assert "sagestack:hyperparameters" in message
    assert shown.replace("'", '"') in message.replace("'", '"')
    assert len(message) < 2000


def test_the_whole_job_map_keeps_sagemakers_entry_limit() -> None:
    extras = {f"k{n}": n for n in range(94)}  # + target, algorithm and 5 bars = 101
    bars = {key.name: "0.5" for key in KEYS if key.name.startswith("min")}
    message = _problems({"hyperparameters": json.dumps(extras), **bars})
    assert "would get 101 hyperparameters" in message
    assert "at most 100" in message
    extras.pop("k0")
    parse_config({"hyperparameters": json.dumps(extras), **bars})


def test_lists_and_null_pass_as_the_json_training_reads() -> None:
    config = parse_config(
        {"hyperparameters": '{"id_columns": ["a", "b"], "max_depth": null, "C": 0.5}'}
    )
    job = config.training.job_hyperparameters()
    assert job["id_columns"] == '["a", "b"]'
    assert job["max_depth"] == "null"
    hyperparameters, _ = parse_hyperparameters(job)
    assert hyperparameters.id_columns == ("a", "b")
    assert hyperparameters.max_depth is None


@pytest.mark.parametrize("namespace", ["sagestak", "Sagestack", "SAGESTACK", "sage-stack"])
def test_a_namespace_close_to_ours_is_an_error(tmp_path: Path, namespace: str) -> None:
    project = tmp_path / "p"
    project.mkdir()
    shutil.copy(REPO / "Pulumi.yaml", project)
    (project / "Pulumi.qa.yaml").write_text(f"config:\n  {namespace}:minF1: '0.99'\n")
    with pytest.raises(ConfigError) as raised:
        load_stack_config(project, "qa")
    assert f"namespace {namespace}: is not sagestack: (did you mean sagestack:?)" in str(
        raised.value
    )


def test_other_namespaces_are_not_typos() -> None:
    config = parse_engine_config(
        {"aws:region": "us-east-1", "pulumi:tags": "{}", "sagestack:minF1": "0.5"}
    )
    assert config.training.min_f1 == 0.5


def test_an_unknown_key_lists_only_the_closest_names() -> None:
    message = _problems({"minF": "0.5"})
    assert "did you mean minF1" in message
    assert "autoscalingScaleInCooldownSeconds" not in message
    message = _problems({"x" * 10_000: "1"})
    assert "docs/configuration.md lists the keys" in message
    assert len(message) < 500


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        ({"alarmPeriodSeconds": 1800, "alarmEvaluationPeriods": 100}, "must be at most 86400 s"),
        ({"alarmPeriodSeconds": 86400, "alarmEvaluationPeriods": 8}, "must be at most 604800 s"),
        ({"monitorSchedule": "rate(0 minutes)"}, "monitorSchedule='rate(0 minutes)'"),
        ({"monitorSchedule": "rate(1 minutes)"}, "monitorSchedule='rate(1 minutes)'"),
        ({"monitorSchedule": "rate(5 minute)"}, "monitorSchedule='rate(5 minute)'"),
        ({"monitorSchedule": "rate(\u0661 hour)"}, "monitorSchedule="),
        ({"monitorSchedule": "rate(" + "9" * 5000 + " days)"}, "monitorSchedule="),
        ({"monitorSchedule": "cron(x)"}, "monitorSchedule='cron(x)'"),
        ({"monitorSchedule": "cron(* * * * * *)"}, "cron needs ? in day-of-month"),
        ({"trainingInstanceType": "ml.foo.bar"}, "trainingInstanceType='ml.foo.bar' must be"),
        ({"trainingInstanceType": "ml.m5.lrage"}, "did you mean ml.m5.large"),
        ({"endpointInstanceType": "ml.m5.lrage"}, "did you mean ml.m5.large"),
        ({"monitorInstanceType": "ml.t3.mediun"}, "did you mean ml.t3.medium"),
        ({"monitorGithubRepository": "-/.."}, "monitorGithubRepository='-/..'"),
        ({"monitorGithubRepository": "octo/.."}, "monitorGithubRepository='octo/..'"),
        ({"monitorGithubRepository": "octo/."}, "monitorGithubRepository='octo/.'"),
        ({"monitorGithubRepository": "a--b/c"}, "monitorGithubRepository='a--b/c'"),
        ({"monitorGithubRepository": "-ab/c"}, "monitorGithubRepository='-ab/c'"),
        ({"alarmEmails": "<a@b.c>"}, "alarmEmails='<a@b.c>'"),
        ({"alarmEmails": "a@b.c."}, "alarmEmails='a@b.c.'"),
        ({"alarmEmails": '"a"@b.c'}, "alarmEmails="),
        ({"alarmEmails": "a@b.co,A@b.co"}, "must not repeat an address"),
        ({"alarmHttpsUrl": "https://:@"}, "alarmHttpsUrl='https://:@'"),
        ({"alarmHttpsUrl": "https://a"}, "alarmHttpsUrl='https://a'"),
    ],
)
def test_values_aws_would_refuse_are_named(values: dict[str, object], shown: str) -> None:
    message = _problems(values)
    assert shown in message
    assert len(message) < 2000


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("monitorSchedule", "rate(1 minute)"),
        ("monitorSchedule", "rate(5 minutes)"),
        ("monitorSchedule", "cron(0 6 * * ? *)"),
        ("monitorSchedule", "cron(0/15 8-17 ? * MON-FRI *)"),
        ("monitorGithubRepository", "octo-org/sage.stack_x-1"),
        ("monitorGithubRepository", "octo/.github"),
        ("alarmEmails", "ml@example.com, on.call+x@team.example.co.uk"),
        ("alarmHttpsUrl", "https://hooks.example.com:8443/sagestack?x=1"),
        ("trainingInstanceType", "ml.g5.xlarge"),
        ("monitorInstanceType", "ml.m7i-flex.large"),
        ("endpointInstanceType", "ml.p6-b200.48xlarge"),
    ],
)
def test_values_aws_takes_still_pass(key: str, value: str) -> None:
    secret = {"monitorGithubTokenSecret": "gh"} if key == "monitorGithubRepository" else {}
    assert config_value(parse_config({key: value, **secret}), key) is not None


def test_alarm_window_limits_are_inclusive() -> None:
    parse_config({"alarmPeriodSeconds": 1800, "alarmEvaluationPeriods": 48})
    parse_config({"alarmPeriodSeconds": 86400, "alarmEvaluationPeriods": 7})


@pytest.mark.parametrize(
    ("instance_type", "local"),
    [
        ("ml.m5.large", False),
        ("ml.m5d.large", True),
        ("ml.g4dn.xlarge", True),
        ("ml.g5.xlarge", True),
        ("ml.g6.xlarge", True),
        ("ml.g6e.xlarge", True),
        ("ml.p4d.24xlarge", True),
        ("ml.p5.48xlarge", True),
        ("ml.trn1.32xlarge", True),
        ("ml.inf2.xlarge", False),
        ("ml.m7i-flex.large", False),
        ("ml.p6-b200.48xlarge", True),
        ("ml.t3.medium", False),
    ],
)
def test_local_storage_covers_the_nvme_families(instance_type: str, local: bool) -> None:
    assert has_local_storage(instance_type) is local


def test_sagemaker_limits_match_botocore() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateTrainingJob").input_shape.members["HyperParameters"]
    assert shape.metadata["max"] == config.HYPERPARAMETERS_MAX_ENTRIES
    assert shape.key.metadata["max"] == config.HYPERPARAMETER_KEY_MAX
    assert shape.value.metadata["max"] == config.HYPERPARAMETER_VALUE_MAX
    assert shape.key.metadata["pattern"] == shape.value.metadata["pattern"] == ".*"
