"""Stack configuration: declared once, validated purely, every bad value named."""

from __future__ import annotations

import pytest
import yaml

from infra.config import KEYS, ConfigError, StackConfig, parse_config, stack_values
from tests.conftest import REPO
from training.hyperparameters import parse_hyperparameters

STACKS = ("dev", "staging", "prod")


def test_pulumi_yaml_declares_exactly_the_validated_keys() -> None:
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    declared = project["config"]
    assert list(declared) == [key.name for key in KEYS]
    for key in KEYS:
        entry = declared[key.name]
        assert entry["type"] == key.kind, key.name
        assert entry["description"] == key.description, key.name
        default: object = key.default
        if key.kind == "integer":
            default = int(key.default)
        elif key.kind == "boolean":
            default = key.default == "true"
        assert entry["default"] == default, key.name


def test_project_runs_infra_with_the_repository_virtualenv() -> None:
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert project["name"] == "sagestack"
    assert project["main"] == "infra/"
    # Pulumi resolves a relative virtualenv against the project root, not `main`.
    assert project["runtime"]["options"]["virtualenv"] == ".venv"


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_is_valid(stack: str) -> None:
    config = parse_config(stack_values(REPO, stack))
    assert isinstance(config, StackConfig)
    # The training container accepts what the stack passes it.
    hyperparameters, _ = parse_hyperparameters(config.training_hyperparameters())
    assert hyperparameters.target == config.target


def test_stacks_differ_as_promised() -> None:
    dev, staging, prod = (parse_config(stack_values(REPO, stack)) for stack in STACKS)
    assert dev.serverless
    assert dev.force_destroy_buckets
    assert not dev.protect_data
    assert not staging.serverless
    assert not prod.serverless
    assert prod.endpoint_instance_count >= 2
    assert prod.protect_data
    assert prod.customer_managed_key
    assert not prod.force_destroy_buckets
    assert prod.data_capture_percent > 0
    assert prod.quality_bars["f1"] >= staging.quality_bars["f1"] >= dev.quality_bars["f1"]


def test_defaults() -> None:
    config = parse_config({})
    assert config.data_path == "data/breast_cancer.csv"
    assert config.algorithm == "logistic_regression"
    assert config.serverless
    assert config.quality_bars == dict.fromkeys(
        ("accuracy", "precision", "recall", "f1", "roc_auc"), 0.0
    )
    assert config.training_hyperparameters() == {
        "target": "target",
        "algorithm": "logistic_regression",
    }


def test_training_hyperparameters_carry_bars_and_extras() -> None:
    config = parse_config({"minF1": "0.9", "hyperparameters": '{"C": 0.5, "id_columns": "id"}'})
    assert config.training_hyperparameters() == {
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
        ({"endpointInstanceType": "ml.m5.large", "serverlessMemoryMb": 2048}, "are exclusive"),
        ({"endpointInstanceCount": 2}, "endpointInstanceCount needs endpointInstanceType"),
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
            "unknown keys ['endpointInstanceTyp'] (known keys:",
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
        stack_values(REPO, "qa")
