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
from infra.serving import VARIANT_NAME, Serving, ServingArgs
from infra.storage import Storage, StorageArgs
from infra.training_job import TrainingJob, TrainingJobArgs

config = load_from_pulumi()
project, stack = pulumi.get_project(), pulumi.get_stack()
tags = resource_tags(project, stack)
account = lookup_account()
endpoint = endpoint_name(project, stack)

encryption = Encryption(
    "encryption",
    EncryptionArgs(
        account=account,
        storage=config.storage,
        tags=tags,
    ),
)
storage = Storage(
    "storage",
    StorageArgs(
        name_prefix=sagemaker_prefix(project, stack),
        kms_key_arn=encryption.key_arn,
        storage=config.storage,
        tags=tags,
    ),
)
dataset = Dataset(
    "dataset",
    DatasetArgs(
        training=config.training,
        storage=config.storage,
        bucket=storage.data.name,
        bucket_arn=storage.data.arn,
        partition=account.partition,
        kms_key_arn=encryption.key_arn,
        tags=tags,
    ),
)
images = Images(
    "images",
    ImagesArgs(
        account=account,
        images=config.images,
        kms_key_arn=encryption.key_arn,
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
        training=config.training,
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
        notifications=config.notifications,
        training_log_group_retention_days=config.logs.training_log_group_retention_days,
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
        log_retention_days=config.logs.retention_days,
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
        endpoint=config.endpoint,
        capture_bucket=storage.capture.name,
        kms_key_arn=encryption.key_arn,
        deployment=config.deployment,
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
            monitor=config.monitor,
            image_uri=images.training_image_uri,
            training_repository_arn=images.training_repository_arn,
            model_data_url=training.model_data_url,
            capture_bucket=storage.capture.name,
            capture_bucket_arn=storage.capture.arn,
            artifacts_bucket=storage.artifacts.name,
            artifacts_bucket_arn=storage.artifacts.arn,
            kms_key_arn=encryption.key_arn,
            retrain_alarm_arns=monitoring.retrain_alarm_arns,
            tags=tags,
        ),
    )
if config.autoscaling.enabled:
    Autoscaling(
        "autoscaling",
        AutoscalingArgs(
            endpoint_name=serving.endpoint_name,
            variant_name=VARIANT_NAME,
            min_instances=config.endpoint.instance_count,
            autoscaling=config.autoscaling,
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
