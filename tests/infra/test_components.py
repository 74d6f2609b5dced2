"""Each component under the recording mocks: types, logical names and the inputs that matter."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from contracts.metrics import METRIC_NAMES, METRIC_SPLITS, format_metric_line, metric_regex
from infra.dataset import file_version
from infra.images import image_sources, source_tag
from infra.outputs import OUTPUT_NAMES
from infra.training_job import (
    create_timeout_minutes,
    metric_definitions,
    model_artifact_url,
)
from tests.conftest import EXAMPLE_METRIC_LINE, REPO, SAMPLE_DATASET
from tests.infra.program import ACCOUNT_ID, Graph, Registration, run_program

BUCKET = "aws:s3/bucket:Bucket"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
JOB = "aws:sagemaker/trainingJob:TrainingJob"
MODEL = "aws:sagemaker/model:Model"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
IMAGE = "docker-build:index:Image"
REPOSITORY = "aws:ecr/repository:Repository"


def _statements(graph: Graph, name: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = json.loads(graph.one(ROLE_POLICY, name).inputs["policy"])[
        "Statement"
    ]
    return statements


# --- the program is run the way the engine runs it --------------------------------------------


def test_infra_modules_do_not_hide_other_modules() -> None:
    # With infra/ first on sys.path, a module named like a package the program (or anything it
    # imports) needs would be imported in its place.
    stems = {path.stem for path in (REPO / "infra").glob("*.py")} - {"__init__", "__main__"}
    taken = set(sys.stdlib_module_names) | {"training", "inference", "sagestack", "infra"}
    taken |= {"pulumi", "pulumi_aws", "pulumi_docker_build", "yaml", "boto3", "grpc"}
    assert not stems & taken


def test_paths_given_to_pulumi_resolve_from_infra(graphs: dict[str, Graph]) -> None:
    infra = REPO / "infra"
    for image in graphs["dev"].of_type(IMAGE):
        assert (infra / image.inputs["context"]["location"]).resolve() == REPO
        assert (infra / image.inputs["dockerfile"]["location"]).resolve().is_file()
    asset = graphs["dev"].one("aws:s3/bucketObjectv2:BucketObjectv2").inputs["source"]
    assert not Path(asset.path).is_absolute()
    assert (infra / asset.path).resolve() == SAMPLE_DATASET


def test_outputs_are_the_documented_contract(graphs: dict[str, Graph]) -> None:
    for graph in graphs.values():
        assert tuple(graph.outputs) == OUTPUT_NAMES
        outputs = graph.outputs
        assert outputs["endpoint_name"] == f"sagestack-{graph.stack}"
        assert outputs["model_data_url"] == (
            f"s3://{outputs['artifacts_bucket']}/training/{outputs['training_job_name']}"
            "/output/model.tar.gz"
        )
        assert outputs["region"] == "us-east-1"
        assert f"--endpoint-name sagestack-{graph.stack}" in outputs["invoke_command"]


# --- storage ----------------------------------------------------------------------------------


def test_three_buckets_named_by_stack_and_role(graphs: dict[str, Graph]) -> None:
    for stack, graph in graphs.items():
        prefixes = sorted(b.inputs["bucketPrefix"] for b in graph.of_type(BUCKET))
        assert prefixes == [
            f"sagestack-{stack}-{role}-" for role in ("artifacts", "capture", "data")
        ]


def test_capture_expires_after_its_retention(graphs: dict[str, Graph]) -> None:
    lifecycle = graphs["prod"].one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "storage-capture-lifecycle",
    )
    rules = {rule["id"]: rule for rule in lifecycle.inputs["rules"]}
    assert rules["expire-objects"]["expiration"] == {"days": 90}
    assert rules["expire-old-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    data_rules = (
        graphs["prod"]
        .one(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            "storage-data-lifecycle",
        )
        .inputs["rules"]
    )
    assert [rule["id"] for rule in data_rules] == ["expire-old-versions"]


def test_dev_uses_aws_managed_keys_and_prod_its_own(graphs: dict[str, Graph]) -> None:
    # dev's only key is the notification topic's (see test_monitoring).
    assert [k.name for k in graphs["dev"].of_type("aws:kms/key:Key")] == ["monitoring-topic-key"]
    key = graphs["prod"].one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    sse = graphs["prod"].one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "storage-data-encryption",
    )
    default = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default["kmsMasterKeyId"].startswith(f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/")
    dev_default = (
        graphs["dev"]
        .one(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "storage-data-encryption",
        )
        .inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    )
    assert dev_default == {"sseAlgorithm": "aws:kms"}


# --- dataset ----------------------------------------------------------------------------------


def test_local_dataset_is_uploaded_under_its_content_hash(graphs: dict[str, Graph]) -> None:
    upload = graphs["dev"].one("aws:s3/bucketObjectv2:BucketObjectv2")
    version = file_version(SAMPLE_DATASET)
    assert upload.inputs["key"] == f"datasets/{version}/breast_cancer.csv"
    assert upload.inputs["serverSideEncryption"] == "aws:kms"
    channel = graphs["dev"].one(JOB).inputs["inputDataConfigs"][0]
    assert channel["channelName"] == "train"
    assert channel["inputMode"] == "File"
    source = channel["dataSource"]["s3DataSource"]
    assert source["s3Uri"] == f"s3://{graphs['dev'].outputs['data_bucket']}/datasets/{version}/"
    assert source["s3DataType"] == "S3Prefix"


def test_s3_dataset_is_read_in_place() -> None:
    graph = run_program(
        "dev", {"dataPath": "s3://their-data/churn/2026/", "dataVersion": "2026-11"}
    )
    assert not graph.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    source = graph.one(JOB).inputs["inputDataConfigs"][0]["dataSource"]["s3DataSource"]
    assert source["s3Uri"] == "s3://their-data/churn/2026/"
    listing, reading = _statements(graph, "execution-read-data")
    assert listing["Resource"] == "arn:aws:s3:::their-data"
    assert reading["Resource"] == "arn:aws:s3:::their-data/churn/2026/*"


def test_missing_local_dataset_names_the_key() -> None:
    with pytest.raises(ValueError, match=r"sagestack:dataPath='data/nope.csv': no such file"):
        run_program("dev", {"dataPath": "data/nope.csv"})


# --- execution role ---------------------------------------------------------------------------


def test_role_has_one_scoped_policy_per_purpose(graphs: dict[str, Graph]) -> None:
    dev_names = sorted(p.name for p in graphs["dev"].of_type(ROLE_POLICY))
    assert dev_names == [
        f"execution-{purpose}"
        for purpose in sorted(
            ["read-data", "training-output", "capture", "pull-images", "logs", "metrics"]
        )
    ]
    prod = graphs["prod"]
    assert "execution-use-key" in {p.name for p in prod.of_type(ROLE_POLICY)}
    use, _ = _statements(prod, "execution-use-key")
    assert use["Resource"] == prod.one(JOB).inputs["outputDataConfig"]["kmsKeyId"]
    pull, _ = _statements(prod, "execution-pull-images")
    assert [arn.split(":repository/")[1].rsplit("-", 1)[0] for arn in pull["Resource"]] == [
        "images-inference-repository",
        "images-training-repository",
    ]


def test_role_trusts_sagemaker_for_this_account(graphs: dict[str, Graph]) -> None:
    trust = json.loads(graphs["dev"].one("aws:iam/role:Role").inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    assert not graphs["dev"].one("aws:iam/role:Role").inputs.get("managedPolicyArns")


# --- images -----------------------------------------------------------------------------------


def test_images_are_built_for_amd64_and_pushed_by_source_tag(graphs: dict[str, Graph]) -> None:
    graph = graphs["dev"]
    for role in ("training", "inference"):
        image = graph.one(IMAGE, f"images-{role}-image")
        assert image.inputs["platforms"] == ["linux/amd64"]
        assert image.inputs["push"] is True
        assert image.inputs["buildOnPreview"] is False
        (tag,) = image.inputs["tags"]
        assert tag.endswith(":" + source_tag(image_sources(role)))
        assert image.inputs["dockerfile"]["location"] == f"../{role}/Dockerfile"
        repository = graph.one(REPOSITORY, f"images-{role}-repository")
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository.inputs["encryptionConfigurations"][0]["encryptionType"] == "KMS"
        uri = graph.outputs[f"{role}_image_uri"]
        assert re.fullmatch(
            r"[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/\S+@sha256:[0-9a-f]{64}", uri
        )
    lifecycle = graph.one("aws:ecr/lifecyclePolicy:LifecyclePolicy", "images-training-lifecycle")
    assert json.loads(lifecycle.inputs["policy"])["rules"][0]["selection"]["countNumber"] == 10


def test_source_tag_follows_the_sources(tmp_path: Path) -> None:
    (tmp_path / "training").mkdir()
    (tmp_path / "requirements").mkdir()
    (tmp_path / "training" / "a.py").write_text("x = 1\n")
    (tmp_path / "training" / "__pycache__").mkdir()
    (tmp_path / "training" / "__pycache__" / "a.pyc").write_bytes(b"cache")
    (tmp_path / "requirements" / "training.txt").write_text("numpy==2\n")
    files = image_sources("training", tmp_path)
    assert [f.name for f in files] == ["a.py", "training.txt"]
    before = source_tag(files, tmp_path)
    assert source_tag(files, tmp_path) == before
    (tmp_path / "training" / "a.py").write_text("x = 2\n")
    assert source_tag(files, tmp_path) != before


def test_prebuilt_images_build_nothing() -> None:
    training = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/train@sha256:" + "1" * 64
    inference = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/serve@sha256:" + "2" * 64
    graph = run_program("dev", {"trainingImageUri": training, "inferenceImageUri": inference})
    assert not graph.of_type(IMAGE)
    assert not graph.of_type(REPOSITORY)
    assert graph.one(JOB).inputs["algorithmSpecification"]["trainingImage"] == training
    assert graph.one(MODEL).inputs["primaryContainer"]["image"] == inference
    pull, _ = _statements(graph, "execution-pull-images")
    assert pull["Resource"] == [
        "arn:aws:ecr:us-east-1:123456789012:repository/team/serve",
        "arn:aws:ecr:us-east-1:123456789012:repository/team/train",
    ]


# --- training ---------------------------------------------------------------------------------


def test_metric_definitions_read_the_training_entrypoints_lines() -> None:
    # One example line, both sides: the entrypoint writes it, the job's regex reads it.
    assert format_metric_line("test", "f1", 0.973118) == EXAMPLE_METRIC_LINE
    match = re.search(metric_regex("test", "f1"), EXAMPLE_METRIC_LINE)
    assert match is not None
    assert float(match.group(1)) == 0.973118
    definitions = metric_definitions()
    assert len(definitions) <= 40  # SageMaker's limit
    assert len(definitions) == len(METRIC_SPLITS) * len(METRIC_NAMES)
    assert {"name": "test:f1", "regex": metric_regex("test", "f1")} in definitions


def test_training_job_inputs(graphs: dict[str, Graph]) -> None:
    graph = graphs["prod"]
    job = graph.one(JOB).inputs
    assert job["trainingJobName"] == graph.outputs["training_job_name"]
    assert job["enableNetworkIsolation"] is True
    assert job["algorithmSpecification"]["trainingInputMode"] == "File"
    assert job["algorithmSpecification"]["trainingImage"] == graph.outputs["training_image_uri"]
    assert len(job["algorithmSpecification"]["metricDefinitions"]) == 18
    assert job["hyperParameters"] == {
        "target": "target",
        "algorithm": "logistic_regression",
        "min_recall": "0.95",
        "min_f1": "0.95",
        "min_roc_auc": "0.98",
    }
    key = graph.one("aws:kms/key:Key")
    assert job["outputDataConfig"]["s3OutputPath"] == (
        f"s3://{graph.outputs['artifacts_bucket']}/training"
    )
    assert job["outputDataConfig"]["kmsKeyId"] == job["resourceConfig"]["volumeKmsKeyId"]
    assert key.name == "encryption-key"
    assert job["resourceConfig"] == {
        "instanceType": "ml.m5.large",
        "instanceCount": 1,
        "volumeSizeInGb": 10,
        "volumeKmsKeyId": job["outputDataConfig"]["kmsKeyId"],
    }
    assert job["stoppingCondition"] == {"maxRuntimeInSeconds": 3600}
    assert job["enableManagedSpotTraining"] is False
    assert "checkpointConfig" not in job
    # The provider waits for the job to end: its create timeout outlasts the job's limit.
    assert job["timeouts"] == {"create": "90m"}
    assert graph.one(JOB).custom_timeouts == {"create": "90m"}


def test_spot_training_checkpoints_and_waits_longer() -> None:
    graph = run_program("dev", {"trainingUseSpot": True, "trainingMaxWaitSeconds": 10800})
    job = graph.one(JOB).inputs
    assert job["enableManagedSpotTraining"] is True
    assert job["stoppingCondition"] == {"maxRuntimeInSeconds": 3600, "maxWaitTimeInSeconds": 10800}
    name = graph.outputs["training_job_name"]
    assert job["checkpointConfig"] == {
        "s3Uri": f"s3://{graph.outputs['artifacts_bucket']}/checkpoints/{name}",
        "localPath": "/opt/ml/checkpoints",
    }
    assert job["timeouts"] == {"create": f"{180 + 30}m"}


def test_timeout_and_artifact_helpers() -> None:
    assert create_timeout_minutes(3600, None) == 90
    assert create_timeout_minutes(61, None) == 32
    assert create_timeout_minutes(3600, 7200) == 150
    assert model_artifact_url("s3://b/training/", "job-1") == (
        "s3://b/training/job-1/output/model.tar.gz"
    )


# --- serving ----------------------------------------------------------------------------------


def _variant(graph: Graph) -> dict[str, object]:
    variant: dict[str, object] = dict(graph.one(ENDPOINT_CONFIG).inputs["productionVariants"][0])
    return variant


def test_dev_serves_serverless_without_capture(graphs: dict[str, Graph]) -> None:
    graph = graphs["dev"]
    variant = _variant(graph)
    assert str(variant.pop("modelName")).startswith("serving-model-")
    assert variant == {
        "variantName": "primary",
        "serverlessConfig": {"memorySizeInMb": 2048, "maxConcurrency": 5},
    }
    config = graph.one(ENDPOINT_CONFIG).inputs
    assert "dataCaptureConfig" not in config
    assert "kmsKeyArn" not in config
    # SageMaker serverless endpoints offer no network isolation.
    assert graph.one(MODEL).inputs["enableNetworkIsolation"] is False


def test_prod_serves_on_instances_with_capture_and_its_key(graphs: dict[str, Graph]) -> None:
    graph = graphs["prod"]
    variant = _variant(graph)
    assert variant["instanceType"] == "ml.m5.large"
    assert variant["initialInstanceCount"] == 2
    config = graph.one(ENDPOINT_CONFIG).inputs
    key_arn = graph.one(JOB).inputs["outputDataConfig"]["kmsKeyId"]
    assert config["kmsKeyArn"] == key_arn
    capture = config["dataCaptureConfig"]
    assert capture["initialSamplingPercentage"] == 20
    assert capture["destinationS3Uri"] == f"s3://{graph.outputs['capture_bucket']}/capture"
    assert capture["kmsKeyId"] == key_arn
    assert [o["captureMode"] for o in capture["captureOptions"]] == ["Input", "Output"]
    assert capture["captureContentTypeHeader"]["csvContentTypes"] == ["text/csv"]
    model = graph.one(MODEL).inputs
    assert model["enableNetworkIsolation"] is True
    assert model["executionRoleArn"] == graph.outputs["execution_role_arn"]
    assert model["primaryContainer"] == {
        "image": graph.outputs["inference_image_uri"],
        "modelDataUrl": graph.outputs["model_data_url"],
        "environment": {
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": "60",
            "SAGESTACK_ENDPOINT_NAME": "sagestack-prod",
            "SAGESTACK_VARIANT_NAME": "primary",
        },
    }


def test_local_storage_instances_get_no_endpoint_key() -> None:
    graph = run_program("prod", {"endpointInstanceType": "ml.m5d.large", "modelServerWorkers": 2})
    assert "kmsKeyArn" not in graph.one(ENDPOINT_CONFIG).inputs
    environment = graph.one(MODEL).inputs["primaryContainer"]["environment"]
    assert environment["SAGEMAKER_MODEL_SERVER_WORKERS"] == "2"


def test_a_new_model_reaches_the_endpoint(graphs: dict[str, Graph]) -> None:
    for graph in graphs.values():
        model, config, endpoint = (graph.one(t) for t in (MODEL, ENDPOINT_CONFIG, ENDPOINT))
        # Auto-named, replaced create-before-delete: the endpoint moves to the new
        # configuration before the old one is deleted.
        for replaced in (model, config):
            assert "name" not in replaced.inputs, replaced.urn
            assert not replaced.delete_before_replace, replaced.urn
        assert model.urn in config.dependencies
        assert config.urn in endpoint.dependencies
        assert endpoint.inputs["name"] == f"sagestack-{graph.stack}"


def _dependency_names(resource: Registration) -> set[str]:
    return {urn.rsplit("::", 1)[1] for urn in resource.dependencies}


def test_model_and_job_wait_for_every_role_policy(graphs: dict[str, Graph]) -> None:
    graph = graphs["prod"]
    # The execution role's policies (the monitoring job's role is another role).
    policies = {p.name for p in graph.of_type(ROLE_POLICY) if p.name.startswith("execution-")}
    assert policies
    for resource in (graph.one(JOB), graph.one(MODEL)):
        assert policies <= _dependency_names(resource), resource.urn
    assert "training-job" in _dependency_names(graph.one(MODEL))
