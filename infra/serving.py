"""Serving: the SageMaker model, its endpoint configuration and the endpoint.

A new model (new artifact or new image) is a new auto-named Model and so a new auto-named
endpoint configuration: Pulumi creates the replacement first, points the endpoint at it, and
only then deletes the old configuration. That is what makes a model change really reach the
endpoint, and why neither resource gets a fixed name (a fixed name would force delete-before-
replace and delete a configuration the endpoint is still using). The endpoint itself keeps a
stable name per stack, which clients, alarms and `verify` address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from contracts.container import (
    ENDPOINT_NAME_ENV,
    TIMEOUT_ENV,
    VARIANT_NAME_ENV,
    WORKERS_ENV,
)
from infra.config import DeploymentPolicy, EndpointConfig, has_local_storage
from infra.iam import CAPTURE_PREFIX

VARIANT_NAME = "primary"
# Content types the inference server answers; captured as text, not base64.
CAPTURE_CSV_TYPES = ["text/csv"]
CAPTURE_JSON_TYPES = ["application/json", "application/jsonlines"]


def traffic_routing(
    policy: DeploymentPolicy,
) -> aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationArgs:
    routing = (
        aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationArgs
    )
    canary_size = aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationCanarySizeArgs  # noqa: E501 (one generated name)
    step_size = aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationLinearStepSizeArgs  # noqa: E501 (one generated name)
    canary = linear = None
    if policy.strategy == "canary":
        canary = canary_size(type="CAPACITY_PERCENT", value=policy.canary_percent)
    elif policy.strategy == "linear":
        linear = step_size(type="CAPACITY_PERCENT", value=policy.linear_step_percent)
    return routing(
        type=policy.strategy.upper(),
        wait_interval_in_seconds=policy.wait_seconds,
        canary_size=canary,
        linear_step_size=linear,
    )


def server_environment(
    workers: int, timeout_seconds: int, endpoint_name: str, variant_name: str
) -> dict[str, str]:
    """The inference container's settings (see inference/environment.py). The endpoint and
    variant names go into its summary lines, as the log metric filters' dimensions."""
    environment = {
        TIMEOUT_ENV: str(timeout_seconds),
        ENDPOINT_NAME_ENV: endpoint_name,
        VARIANT_NAME_ENV: variant_name,
    }
    if workers:
        environment[WORKERS_ENV] = str(workers)
    return environment


@dataclass(frozen=True)
class ServingArgs:
    endpoint_name: str
    role_arn: pulumi.Output[str]
    image_uri: pulumi.Output[str]
    model_data_url: pulumi.Output[str]
    endpoint: EndpointConfig
    capture_bucket: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str] | None
    deployment: DeploymentPolicy
    rollback_alarm_names: pulumi.Output[list[str]]
    # Created before the endpoint, so that SageMaker does not create them first (log group).
    endpoint_dependencies: Sequence[pulumi.Resource]
    tags: dict[str, str]


class Serving(pulumi.ComponentResource):
    model_name: pulumi.Output[str]
    endpoint_config_name: pulumi.Output[str]
    endpoint_name: pulumi.Output[str]
    endpoint_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ServingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sagestack:serving:Serving", name, None, opts)
        serverless = args.endpoint.serverless
        model = aws.sagemaker.Model(
            f"{name}-model",
            aws.sagemaker.ModelArgs(
                execution_role_arn=args.role_arn,
                primary_container=aws.sagemaker.ModelPrimaryContainerArgs(
                    image=args.image_uri,
                    model_data_url=args.model_data_url,
                    environment=server_environment(
                        args.endpoint.model_server_workers,
                        args.endpoint.model_server_timeout_seconds,
                        args.endpoint_name,
                        VARIANT_NAME,
                    ),
                ),
                # The server needs no network; serverless endpoints do not offer isolation.
                enable_network_isolation=not serverless,
                tags=args.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        if serverless:
            variant = aws.sagemaker.EndpointConfigurationProductionVariantArgs(
                variant_name=VARIANT_NAME,
                model_name=model.name,
                serverless_config=aws.sagemaker.EndpointConfigurationProductionVariantServerlessConfigArgs(
                    memory_size_in_mb=args.endpoint.serverless_memory_mb,
                    max_concurrency=args.endpoint.serverless_max_concurrency,
                ),
            )
        else:
            variant = aws.sagemaker.EndpointConfigurationProductionVariantArgs(
                variant_name=VARIANT_NAME,
                model_name=model.name,
                instance_type=args.endpoint.instance_type,
                initial_instance_count=args.endpoint.instance_count,
                initial_variant_weight=1.0,
            )
        capture = None
        if args.endpoint.data_capture_percent > 0:
            capture = aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs(
                enable_capture=True,
                initial_sampling_percentage=args.endpoint.data_capture_percent,
                destination_s3_uri=pulumi.Output.concat(
                    "s3://", args.capture_bucket, f"/{CAPTURE_PREFIX}"
                ),
                kms_key_id=args.kms_key_arn,
                capture_options=[
                    aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureOptionArgs(
                        capture_mode=mode
                    )
                    for mode in ("Input", "Output")
                ],
                capture_content_type_header=aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureContentTypeHeaderArgs(
                    csv_content_types=CAPTURE_CSV_TYPES, json_content_types=CAPTURE_JSON_TYPES
                ),
            )
        storage_key = (
            args.kms_key_arn
            if not serverless and not has_local_storage(args.endpoint.instance_type)
            else None
        )
        endpoint_config = aws.sagemaker.EndpointConfiguration(
            f"{name}-config",
            aws.sagemaker.EndpointConfigurationArgs(
                production_variants=[variant],
                data_capture_config=capture,
                kms_key_arn=storage_key,
                tags=args.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            aws.sagemaker.EndpointArgs(
                name=args.endpoint_name,
                endpoint_config_name=endpoint_config.name,
                deployment_config=aws.sagemaker.EndpointDeploymentConfigArgs(
                    blue_green_update_policy=aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyArgs(
                        traffic_routing_configuration=traffic_routing(args.deployment),
                        termination_wait_in_seconds=args.deployment.termination_wait_seconds,
                    ),
                    # Any of these firing during the shift or the baking puts all traffic
                    # back on the old model; `verify` then sees the old configuration.
                    auto_rollback_configuration=aws.sagemaker.EndpointDeploymentConfigAutoRollbackConfigurationArgs(
                        alarms=args.rollback_alarm_names.apply(
                            lambda names: [
                                aws.sagemaker.EndpointDeploymentConfigAutoRollbackConfigurationAlarmArgs(
                                    alarm_name=name
                                )
                                for name in names
                            ]
                        )
                    ),
                ),
                tags=args.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.endpoint_dependencies)),
        )
        self.model_name = model.name
        self.endpoint_config_name = endpoint_config.name
        self.endpoint_name = endpoint.name
        self.endpoint_arn = endpoint.arn
        self.register_outputs(
            {
                "model_name": self.model_name,
                "endpoint_config_name": self.endpoint_config_name,
                "endpoint_name": self.endpoint_name,
                "endpoint_arn": self.endpoint_arn,
            }
        )
