"""Training: the SageMaker training job that turns the dataset into a model artifact.

(The module is not called `training.py`: the engine runs this program with `infra/` first on
`sys.path`, where that name would hide the training container's package.)

The job's name is `<project>-<stack>-<hash>` of everything that should retrain: the training
image digest, the data version, the hyperparameters and the instance settings. Same inputs,
same name, no new job; new data, code or hyperparameters, a new job and a new model. The
provider waits for the job to finish, and a job that fails (a missed quality bar included)
fails `pulumi up` with SageMaker's failure reason, before anything is served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from contracts.artifact import MODEL_ARCHIVE
from contracts.container import TRAIN_CHANNEL
from contracts.metrics import METRIC_NAMES, METRIC_SPLITS, metric_regex
from infra.config import TrainingConfig, has_local_storage
from infra.iam import CHECKPOINTS_PREFIX, TRAINING_OUTPUT_PREFIX
from infra.naming import training_job_name

# Instance provisioning and image download come on top of the job's own time limit.
CREATE_TIMEOUT_MARGIN_MINUTES = 30


def metric_definitions() -> list[dict[str, str]]:
    """One per metric line the training entrypoint prints (contracts/metrics.py)."""
    return [
        {"name": f"{split}:{name}", "regex": metric_regex(split, name)}
        for split in METRIC_SPLITS
        for name in METRIC_NAMES
    ]


def create_timeout_minutes(max_runtime_seconds: int, max_wait_seconds: int | None) -> int:
    """Longer than the longest the job may take (spot jobs may wait as well as run)."""
    longest = max(max_runtime_seconds, max_wait_seconds or 0)
    return -(-longest // 60) + CREATE_TIMEOUT_MARGIN_MINUTES


def model_artifact_url(output_path: str, job_name: str) -> str:
    """Where SageMaker writes the model: `<output path>/<job name>/output/model.tar.gz`."""
    return f"{output_path.rstrip('/')}/{job_name}/output/{MODEL_ARCHIVE}"


@dataclass(frozen=True)
class TrainingJobArgs:
    project: str
    stack: str
    role_arn: pulumi.Output[str]
    image_uri: pulumi.Output[str]
    channel_uri: pulumi.Output[str]
    data_version: str
    artifacts_bucket: pulumi.Output[str]
    training: TrainingConfig
    kms_key_arn: pulumi.Output[str] | None
    tags: dict[str, str]


class TrainingJob(pulumi.ComponentResource):
    job_name: pulumi.Output[str]
    model_data_url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: TrainingJobArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sagestack:training:TrainingJob", name, None, opts)
        hyperparameters = args.training.job_hyperparameters()
        retrain_inputs: dict[str, Any] = {
            "data_version": args.data_version,
            "hyperparameters": hyperparameters,
            "instance_type": args.training.instance_type,
            "volume_gb": args.training.volume_gb,
            "max_runtime_seconds": args.training.max_runtime_seconds,
            "use_spot": args.training.use_spot,
        }
        self.job_name = args.image_uri.apply(
            lambda image: training_job_name(
                args.project, args.stack, {**retrain_inputs, "image": image}
            )
        )
        output_path = pulumi.Output.concat(
            "s3://", args.artifacts_bucket, f"/{TRAINING_OUTPUT_PREFIX}"
        )
        max_wait = args.training.max_wait_seconds if args.training.use_spot else None
        timeout = f"{create_timeout_minutes(args.training.max_runtime_seconds, max_wait)}m"
        job = aws.sagemaker.TrainingJob(
            f"{name}-job",
            aws.sagemaker.TrainingJobArgs(
                training_job_name=self.job_name,
                role_arn=args.role_arn,
                algorithm_specification=aws.sagemaker.TrainingJobAlgorithmSpecificationArgs(
                    training_image=args.image_uri,
                    training_input_mode="File",
                    metric_definitions=[
                        aws.sagemaker.TrainingJobAlgorithmSpecificationMetricDefinitionArgs(
                            name=definition["name"], regex=definition["regex"]
                        )
                        for definition in metric_definitions()
                    ],
                ),
                hyper_parameters=hyperparameters,
                input_data_configs=[
                    aws.sagemaker.TrainingJobInputDataConfigArgs(
                        channel_name=TRAIN_CHANNEL,
                        input_mode="File",
                        data_source=aws.sagemaker.TrainingJobInputDataConfigDataSourceArgs(
                            s3_data_source=aws.sagemaker.TrainingJobInputDataConfigDataSourceS3DataSourceArgs(
                                s3_data_type="S3Prefix",
                                s3_uri=args.channel_uri,
                                s3_data_distribution_type="FullyReplicated",
                            )
                        ),
                    )
                ],
                output_data_config=aws.sagemaker.TrainingJobOutputDataConfigArgs(
                    s3_output_path=output_path, kms_key_id=args.kms_key_arn
                ),
                resource_config=aws.sagemaker.TrainingJobResourceConfigArgs(
                    instance_type=args.training.instance_type,
                    # The training container fits one model on one machine.
                    instance_count=1,
                    volume_size_in_gb=args.training.volume_gb,
                    # AWS encrypts local NVMe storage itself and refuses a key for it.
                    volume_kms_key_id=(
                        None if has_local_storage(args.training.instance_type) else args.kms_key_arn
                    ),
                ),
                stopping_condition=aws.sagemaker.TrainingJobStoppingConditionArgs(
                    max_runtime_in_seconds=args.training.max_runtime_seconds,
                    max_wait_time_in_seconds=max_wait,
                ),
                enable_managed_spot_training=args.training.use_spot,
                checkpoint_config=(
                    aws.sagemaker.TrainingJobCheckpointConfigArgs(
                        s3_uri=pulumi.Output.concat(
                            "s3://",
                            args.artifacts_bucket,
                            f"/{CHECKPOINTS_PREFIX}/",
                            self.job_name,
                        ),
                        local_path="/opt/ml/checkpoints",
                    )
                    if args.training.use_spot
                    else None
                ),
                # The container needs no network: data comes in, the model goes out, via S3.
                enable_network_isolation=True,
                timeouts=aws.sagemaker.TrainingJobTimeoutsArgs(create=timeout),
                tags=args.tags,
            ),
            opts=pulumi.ResourceOptions(
                parent=self, custom_timeouts=pulumi.CustomTimeouts(create=timeout)
            ),
        )
        # Read from the job, so that everything using the artifact waits for the job to end.
        self.model_data_url = pulumi.Output.all(output_path, job.training_job_name).apply(
            lambda values: model_artifact_url(values[0], values[1])
        )
        self.register_outputs({"job_name": self.job_name, "model_data_url": self.model_data_url})
