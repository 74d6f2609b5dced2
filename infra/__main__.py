"""The sagestack Pulumi program: from a dataset to a serving SageMaker endpoint.

Loads the stack's validated config, builds the components in order and exports the stack's
outputs. Stacks differ by config values only. `pulumi up` runs this file with `infra/` as the
working directory (Pulumi.yaml's `main`).
"""

from __future__ import annotations

import pulumi

from infra.account import lookup_account
from infra.alarm_specs import AlarmConfig
from infra.autoscaling import Autoscaling, AutoscalingArgs
from infra.config import load_from_pulumi
from infra.dataset import Dataset, DatasetArgs
from infra.encryption import Encryption, EncryptionArgs
from infra.iam import ExecutionRole, ExecutionRoleArgs
from infra.images import Images, ImagesArgs
from infra.model_monitor import ModelMonitor, ModelMonitorArgs
from infra.monitoring import EndpointAlarms, EndpointAlarmsArgs
from infra.naming import endpoint_name, resource_tags, sagemaker_prefix, training_job_prefix
from infra.notifications import Notifications, NotificationsArgs
from infra.outputs import invoke_command
from infra.serving import VARIANT_NAME, DeploymentPolicy, Serving, ServingArgs
from infra.storage import Storage, StorageArgs
from infra.training_job import TrainingJob, TrainingJobArgs

config = load_from_pulumi()
project, stack = pulumi.get_project(), pulumi.get_stack()
tags = resource_tags(project, stack)
account = lookup_account()
retain = not config.force_destroy_buckets
endpoint = endpoint_name(project, stack)

encryption = Encryption(
    "encryption",
    EncryptionArgs(
        account=account,
        customer_managed_key=config.customer_managed_key,
        retain_on_delete=retain,
        protect=config.protect_data,
        tags=tags,
    ),
)
storage = Storage(
    "storage",
    StorageArgs(
        name_prefix=sagemaker_prefix(project, stack),
        kms_key_arn=encryption.key_arn,
        force_destroy=config.force_destroy_buckets,
        protect_data=config.protect_data,
        noncurrent_version_days=config.noncurrent_version_days,
        capture_retention_days=config.capture_retention_days,
        tags=tags,
    ),
)
dataset = Dataset(
    "dataset",
    DatasetArgs(
        data_path=config.data_path,
        data_version=config.data_version,
        bucket=storage.data.name,
        bucket_arn=storage.data.arn,
        partition=account.partition,
        kms_key_arn=encryption.key_arn,
        retain_on_delete=retain,
        protect=config.protect_data,
        tags=tags,
    ),
)
images = Images(
    "images",
    ImagesArgs(
        account=account,
        training_image_uri=config.training_image_uri,
        inference_image_uri=config.inference_image_uri,
        kms_key_arn=encryption.key_arn,
        keep_images=config.ecr_keep_images,
        tags=tags,
    ),
)
role = ExecutionRole(
    "execution",
    ExecutionRoleArgs(
        account=account,
        data_bucket_arn=dataset.read_bucket_arn,
        data_prefix=dataset.read_prefix,
        artifacts_bucket_arn=storage.artifacts.arn,
        capture_bucket_arn=storage.capture.arn,
        repository_arns=images.repository_arns,
        kms_key_arn=encryption.key_arn,
        tags=tags,
    ),
)
training = TrainingJob(
    "training",
    TrainingJobArgs(
        project=project,
        stack=stack,
        role_arn=role.arn,
        image_uri=images.training_image_uri,
        channel_uri=dataset.channel_uri,
        data_version=dataset.version,
        artifacts_bucket=storage.artifacts.name,
        hyperparameters=config.training_hyperparameters(),
        instance_type=config.training_instance_type,
        volume_gb=config.training_volume_gb,
        max_runtime_seconds=config.training_max_runtime_seconds,
        use_spot=config.training_use_spot,
        max_wait_seconds=config.training_max_wait_seconds,
        kms_key_arn=encryption.key_arn,
        tags=tags,
    ),
)
notifications = Notifications(
    "monitoring",
    NotificationsArgs(
        account=account,
        training_job_prefix=training_job_prefix(project, stack),
        kms_key_arn=encryption.key_arn,
        emails=config.alarm_emails,
        https_url=config.alarm_https_url,
        training_log_group_retention_days=config.training_log_group_retention_days,
        tags=tags,
    ),
)
monitoring = EndpointAlarms(
    "monitoring",
    EndpointAlarmsArgs(
        account=account,
        endpoint_name=endpoint,
        variant_name=VARIANT_NAME,
        alarms=AlarmConfig.from_stack(config, stack),
        topic_arn=notifications.topic_arn,
        log_retention_days=config.log_retention_days,
        tags=tags,
    ),
)
serving = Serving(
    "serving",
    ServingArgs(
        endpoint_name=endpoint,
        role_arn=role.arn,
        image_uri=images.inference_image_uri,
        model_data_url=training.model_data_url,
        instance_type=config.endpoint_instance_type,
        instance_count=config.endpoint_instance_count,
        serverless_memory_mb=config.serverless_memory_mb,
        serverless_max_concurrency=config.serverless_max_concurrency,
        model_server_workers=config.model_server_workers,
        model_server_timeout_seconds=config.model_server_timeout_seconds,
        data_capture_percent=config.data_capture_percent,
        capture_bucket=storage.capture.name,
        kms_key_arn=encryption.key_arn,
        deployment=DeploymentPolicy(
            strategy=config.deployment_strategy,
            canary_percent=config.deployment_canary_percent,
            linear_step_percent=config.deployment_linear_step_percent,
            wait_seconds=config.deployment_wait_seconds,
            termination_wait_seconds=config.deployment_termination_wait_seconds,
        ),
        rollback_alarm_names=monitoring.rollback_alarm_names,
        endpoint_dependencies=[monitoring.endpoint_log_group],
        tags=tags,
    ),
)
if config.model_monitoring:
    ModelMonitor(
        "model-monitor",
        ModelMonitorArgs(
            account=account,
            project=project,
            stack=stack,
            endpoint_name=endpoint,
            variant_name=VARIANT_NAME,
            schedule=config.monitor_schedule,
            window_minutes=config.monitor_window_minutes,
            instance_type=config.monitor_instance_type,
            ground_truth=config.monitor_ground_truth,
            image_uri=images.training_image_uri,
            training_repository_arn=images.training_repository_arn,
            model_data_url=training.model_data_url,
            capture_bucket=storage.capture.name,
            capture_bucket_arn=storage.capture.arn,
            artifacts_bucket=storage.artifacts.name,
            artifacts_bucket_arn=storage.artifacts.arn,
            kms_key_arn=encryption.key_arn,
            retrain_alarm_arns=monitoring.retrain_alarm_arns,
            github_repository=config.monitor_github_repository,
            github_token_secret=config.monitor_github_token_secret,
            tags=tags,
        ),
    )
if config.autoscaling:
    Autoscaling(
        "autoscaling",
        AutoscalingArgs(
            endpoint_name=serving.endpoint_name,
            variant_name=VARIANT_NAME,
            min_instances=config.endpoint_instance_count,
            max_instances=config.autoscaling_max_instances,
            invocations_per_instance=config.autoscaling_invocations_per_instance,
            scale_in_cooldown_seconds=config.autoscaling_scale_in_cooldown_seconds,
            scale_out_cooldown_seconds=config.autoscaling_scale_out_cooldown_seconds,
            tags=tags,
        ),
    )

pulumi.export("endpoint_name", serving.endpoint_name)
pulumi.export("endpoint_arn", serving.endpoint_arn)
pulumi.export("model_data_url", training.model_data_url)
pulumi.export("training_job_name", training.job_name)
pulumi.export("data_bucket", storage.data.name)
pulumi.export("artifacts_bucket", storage.artifacts.name)
pulumi.export("capture_bucket", storage.capture.name)
pulumi.export("execution_role_arn", role.arn)
pulumi.export("training_image_uri", images.training_image_uri)
pulumi.export("inference_image_uri", images.inference_image_uri)
pulumi.export("region", account.region)
pulumi.export("endpoint_config_name", serving.endpoint_config_name)
pulumi.export("alarm_topic_arn", notifications.topic_arn)
pulumi.export("dashboard_url", monitoring.dashboard_url)
pulumi.export(
    "invoke_command",
    pulumi.Output.all(serving.endpoint_name, account.region).apply(
        lambda values: invoke_command(values[0], values[1])
    ),
)
