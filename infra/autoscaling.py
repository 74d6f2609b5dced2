"""Autoscaling: instance endpoints scale with traffic, between their configured bounds.

Target tracking on SageMakerVariantInvocationsPerInstance, with cooldowns. Serverless
endpoints scale by themselves and get none of this.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import AutoscalingConfig


def scalable_resource_id(endpoint_name: str, variant_name: str) -> str:
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


@dataclass(frozen=True)
class AutoscalingArgs:
    endpoint_name: pulumi.Output[str]
    variant_name: str
    min_instances: int
    autoscaling: AutoscalingConfig
    tags: dict[str, str]


class Autoscaling(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: AutoscalingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sagestack:autoscaling:Autoscaling", name, None, opts)
        # Read from the endpoint, so that the target waits for the endpoint to exist.
        resource_id = args.endpoint_name.apply(
            lambda endpoint: scalable_resource_id(endpoint, args.variant_name)
        )
        target = aws.appautoscaling.Target(
            f"{name}-target",
            aws.appautoscaling.TargetArgs(
                service_namespace="sagemaker",
                scalable_dimension="sagemaker:variant:DesiredInstanceCount",
                resource_id=resource_id,
                min_capacity=args.min_instances,
                max_capacity=args.autoscaling.max_instances,
                tags=args.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.appautoscaling.Policy(
            f"{name}-invocations",
            aws.appautoscaling.PolicyArgs(
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                    target_value=float(args.autoscaling.invocations_per_instance),
                    predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type="SageMakerVariantInvocationsPerInstance"
                    ),
                    scale_in_cooldown=args.autoscaling.scale_in_cooldown_seconds,
                    scale_out_cooldown=args.autoscaling.scale_out_cooldown_seconds,
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
