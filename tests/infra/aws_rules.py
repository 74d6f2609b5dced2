"""AWS's own rules for every input the program sends, read from botocore's service models.

The provider (terraform-provider-aws, through pulumi-aws) turns each resource's inputs into API
calls. `RESOURCES` is the one table of those calls: for every resource type the program
declares, which operations the provider makes and which API member each Pulumi input (camelCase
path, `[]` for list items) becomes, which members the provider fills itself (auto-names, ids,
constants), and which inputs have no API counterpart at all, each with its reason. An input
that is neither mapped nor listed is a violation, so nothing is skipped silently.

Each call is rebuilt as the request the provider would send and checked against the
operation's input shape in botocore's model: required members, enums, lengths, numeric ranges
and `pattern` regexes (botocore's client enforces only required members, types and minimums;
`botocore.validate.ParamValidator` runs too, as a second opinion on the request's shape).

Patterns. The models' patterns are written for Java's `java.util.regex` (they use `\\p{L}`,
`\\p{Print}`, surrogate pairs such as `\\uD800\\uDC00`), which Python's `re` cannot compile. They
are compiled with the `regex` module, which knows the Unicode properties (`\\p{L}`, `\\p{N}`,
`\\p{Z}` mean what they mean in Java), after `java_pattern` translates the two Java features it
lacks: POSIX classes (`\\p{Print}`, `\\p{Alnum}`, ..., US-ASCII only in Java) and surrogate pairs
(one supplementary code point in Java). A value must match the whole pattern, as AWS's
validation does: DynamoDB rejected the table name `"smart-dcb-messages"` (quotes included)
against the unanchored `[a-zA-Z0-9_.-]+` (aws/aws-cli#790), which a search would accept. The
models' patterns are often unanchored (`[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`); a full match is
also the stricter reading, so a value passing it passes a search too.

Values. Recorded inputs of an `up` run under the mocks are all known: the mocks answer every
output with a realistic value (auto-names `<logical name>-<7 characters>` as Pulumi makes them,
ARNs in AWS's format for roles, keys, buckets, repositories, topics and endpoints; alarms and
event rules are the exceptions test_iam_lint lists), and those values are checked like any
other. A value still unknown (a preview) cannot be checked and is reported as
such, never passed. Members the provider sends from its own schema defaults (a KMS key's
KeyUsage, an endpoint's absent RetainAllVariantProperties) are not inputs and are not checked.
"""

from __future__ import annotations

import itertools
import json
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pulumi
import regex
from botocore.validate import ParamValidator

from infra.config import LOG_RETENTION_DAYS
from tests.conftest import REPO
from tests.infra.program import Graph, Registration

# terraform-plugin-sdk `id.PrefixedUniqueId(prefix)`: prefix + an 18-digit UTC timestamp + an
# 8-hex-digit counter (26 characters). The provider names buckets and aliases from a prefix so.
UNIQUE_SUFFIX = "20261202184500000000000001"
# The engine's marker for a value that is not known yet (pulumi.runtime.rpc.UNKNOWN).
_UNKNOWN_TEXT = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass(frozen=True)
class Filled:
    """A member the provider fills itself, from the resource's state or a constant."""

    read: Callable[[Registration], Any]
    why: str


def from_state(key: str, why: str = "Pulumi's auto-name, as the mocks give it") -> Filled:
    # A preview may not know the state yet: then the member is unknown, and reported so.
    return Filled(lambda resource: resource.outputs.get(key, _UNKNOWN_TEXT), why)


def constant(value: Any, why: str) -> Filled:
    return Filled(lambda _resource: value, why)


def prefixed(key: str) -> Filled:
    return Filled(
        lambda resource: resource.inputs[key] + UNIQUE_SUFFIX,
        f"`{key}` plus the provider's 26-character unique suffix",
    )


@dataclass(frozen=True)
class Call:
    """One API operation the provider makes for a resource."""

    service: str
    operation: str
    # Pulumi input path -> API member path (`[]` takes the next list index, `[0]` is fixed).
    inputs: Mapping[str, str] = field(default_factory=dict)
    filled: Mapping[str, Filled] = field(default_factory=dict)
    # Pulumi input path -> how the provider turns the value into the member's.
    convert: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Resource:
    calls: tuple[Call, ...]
    # Pulumi input path -> why no API member takes it.
    provider_only: Mapping[str, str] = field(default_factory=dict)


def _url_encoded_tags(tags: Mapping[str, str]) -> str:
    return urllib.parse.urlencode(tags)


def _file_bytes(asset: pulumi.FileAsset) -> bytes:
    # FileAsset paths are relative to infra/, the program's working directory.
    return (REPO / "infra" / Path(asset.path)).read_bytes()


_NAME = from_state("name")
_TAGS = "Tags"  # a map in Pulumi; a list of {Key, Value} (or the service's names) in the API
_ARN_INPUT = "the ARN of the resource it names (mocks: AWS's ARN format)"

SAGEMAKER_ENDPOINT_INPUTS = {
    "name": "EndpointName",
    "endpointConfigName": "EndpointConfigName",
    "deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.type": (
        "DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.Type"
    ),
    "deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.waitIntervalInSeconds": (
        "DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.WaitIntervalInSeconds"
    ),
    "deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.canarySize.type": (
        "DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.CanarySize.Type"
    ),
    "deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.canarySize.value": (
        "DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.CanarySize.Value"
    ),
    "deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.linearStepSize.type": (
        "DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.LinearStepSize.Type"
    ),
    "deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.linearStepSize.value": (
        "DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.LinearStepSize.Value"
    ),
    "deploymentConfig.blueGreenUpdatePolicy.terminationWaitInSeconds": (
        "DeploymentConfig.BlueGreenUpdatePolicy.TerminationWaitInSeconds"
    ),
    "deploymentConfig.autoRollbackConfiguration.alarms[].alarmName": (
        "DeploymentConfig.AutoRollbackConfiguration.Alarms[].AlarmName"
    ),
}

# Every resource type the program declares -> the calls the provider makes for it.
RESOURCES: dict[str, Resource] = {
    # --- SageMaker ------------------------------------------------------------------------
    "aws:sagemaker/trainingJob:TrainingJob": Resource(
        calls=(
            Call(
                "sagemaker",
                "CreateTrainingJob",
                inputs={
                    "trainingJobName": "TrainingJobName",
                    "roleArn": "RoleArn",
                    "algorithmSpecification.trainingImage": "AlgorithmSpecification.TrainingImage",
                    "algorithmSpecification.trainingInputMode": (
                        "AlgorithmSpecification.TrainingInputMode"
                    ),
                    "algorithmSpecification.metricDefinitions[].name": (
                        "AlgorithmSpecification.MetricDefinitions[].Name"
                    ),
                    "algorithmSpecification.metricDefinitions[].regex": (
                        "AlgorithmSpecification.MetricDefinitions[].Regex"
                    ),
                    "hyperParameters": "HyperParameters",
                    "inputDataConfigs[].channelName": "InputDataConfig[].ChannelName",
                    "inputDataConfigs[].inputMode": "InputDataConfig[].InputMode",
                    "inputDataConfigs[].dataSource.s3DataSource.s3DataType": (
                        "InputDataConfig[].DataSource.S3DataSource.S3DataType"
                    ),
                    "inputDataConfigs[].dataSource.s3DataSource.s3Uri": (
                        "InputDataConfig[].DataSource.S3DataSource.S3Uri"
                    ),
                    "inputDataConfigs[].dataSource.s3DataSource.s3DataDistributionType": (
                        "InputDataConfig[].DataSource.S3DataSource.S3DataDistributionType"
                    ),
                    "outputDataConfig.s3OutputPath": "OutputDataConfig.S3OutputPath",
                    "outputDataConfig.kmsKeyId": "OutputDataConfig.KmsKeyId",
                    "resourceConfig.instanceType": "ResourceConfig.InstanceType",
                    "resourceConfig.instanceCount": "ResourceConfig.InstanceCount",
                    "resourceConfig.volumeSizeInGb": "ResourceConfig.VolumeSizeInGB",
                    "resourceConfig.volumeKmsKeyId": "ResourceConfig.VolumeKmsKeyId",
                    "stoppingCondition.maxRuntimeInSeconds": (
                        "StoppingCondition.MaxRuntimeInSeconds"
                    ),
                    "stoppingCondition.maxWaitTimeInSeconds": (
                        "StoppingCondition.MaxWaitTimeInSeconds"
                    ),
                    "enableManagedSpotTraining": "EnableManagedSpotTraining",
                    "enableNetworkIsolation": "EnableNetworkIsolation",
                    "checkpointConfig.s3Uri": "CheckpointConfig.S3Uri",
                    "checkpointConfig.localPath": "CheckpointConfig.LocalPath",
                    "tags": _TAGS,
                },
            ),
        ),
        provider_only={
            "timeouts": "how long the provider waits for Completed or Stopped; not sent",
        },
    ),
    "aws:sagemaker/model:Model": Resource(
        calls=(
            Call(
                "sagemaker",
                "CreateModel",
                inputs={
                    "executionRoleArn": "ExecutionRoleArn",
                    "primaryContainer.image": "PrimaryContainer.Image",
                    "primaryContainer.modelDataUrl": "PrimaryContainer.ModelDataUrl",
                    "primaryContainer.environment": "PrimaryContainer.Environment",
                    "enableNetworkIsolation": "EnableNetworkIsolation",
                    "tags": _TAGS,
                },
                filled={"ModelName": _NAME},
            ),
        ),
    ),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": Resource(
        calls=(
            Call(
                "sagemaker",
                "CreateEndpointConfig",
                inputs={
                    "productionVariants[].variantName": "ProductionVariants[].VariantName",
                    "productionVariants[].modelName": "ProductionVariants[].ModelName",
                    "productionVariants[].instanceType": "ProductionVariants[].InstanceType",
                    "productionVariants[].initialInstanceCount": (
                        "ProductionVariants[].InitialInstanceCount"
                    ),
                    "productionVariants[].initialVariantWeight": (
                        "ProductionVariants[].InitialVariantWeight"
                    ),
                    "productionVariants[].serverlessConfig.memorySizeInMb": (
                        "ProductionVariants[].ServerlessConfig.MemorySizeInMB"
                    ),
                    "productionVariants[].serverlessConfig.maxConcurrency": (
                        "ProductionVariants[].ServerlessConfig.MaxConcurrency"
                    ),
                    "dataCaptureConfig.enableCapture": "DataCaptureConfig.EnableCapture",
                    "dataCaptureConfig.initialSamplingPercentage": (
                        "DataCaptureConfig.InitialSamplingPercentage"
                    ),
                    "dataCaptureConfig.destinationS3Uri": "DataCaptureConfig.DestinationS3Uri",
                    "dataCaptureConfig.kmsKeyId": "DataCaptureConfig.KmsKeyId",
                    "dataCaptureConfig.captureOptions[].captureMode": (
                        "DataCaptureConfig.CaptureOptions[].CaptureMode"
                    ),
                    "dataCaptureConfig.captureContentTypeHeader.csvContentTypes": (
                        "DataCaptureConfig.CaptureContentTypeHeader.CsvContentTypes"
                    ),
                    "dataCaptureConfig.captureContentTypeHeader.jsonContentTypes": (
                        "DataCaptureConfig.CaptureContentTypeHeader.JsonContentTypes"
                    ),
                    "kmsKeyArn": "KmsKeyId",
                    "tags": _TAGS,
                },
                filled={"EndpointConfigName": _NAME},
            ),
        ),
    ),
    "aws:sagemaker/endpoint:Endpoint": Resource(
        calls=(
            Call(
                "sagemaker",
                "CreateEndpoint",
                inputs={**SAGEMAKER_ENDPOINT_INPUTS, "tags": _TAGS},
            ),
            # A new endpoint configuration: the same members, and nothing else (no
            # RetainAllVariantProperties: terraform-provider-aws #48990).
            Call("sagemaker", "UpdateEndpoint", inputs=SAGEMAKER_ENDPOINT_INPUTS),
        ),
    ),
    # --- CloudWatch, CloudWatch Logs, EventBridge -------------------------------------------
    "aws:cloudwatch/metricAlarm:MetricAlarm": Resource(
        calls=(
            Call(
                "cloudwatch",
                "PutMetricAlarm",
                inputs={
                    "alarmDescription": "AlarmDescription",
                    "alarmActions": "AlarmActions",
                    "okActions": "OKActions",
                    "comparisonOperator": "ComparisonOperator",
                    "dimensions": "Dimensions",
                    "evaluationPeriods": "EvaluationPeriods",
                    "extendedStatistic": "ExtendedStatistic",
                    "metricName": "MetricName",
                    "namespace": "Namespace",
                    "period": "Period",
                    "statistic": "Statistic",
                    "threshold": "Threshold",
                    "treatMissingData": "TreatMissingData",
                    "metricQueries[].id": "Metrics[].Id",
                    "metricQueries[].expression": "Metrics[].Expression",
                    "metricQueries[].label": "Metrics[].Label",
                    "metricQueries[].returnData": "Metrics[].ReturnData",
                    "metricQueries[].metric.namespace": "Metrics[].MetricStat.Metric.Namespace",
                    "metricQueries[].metric.metricName": "Metrics[].MetricStat.Metric.MetricName",
                    "metricQueries[].metric.dimensions": "Metrics[].MetricStat.Metric.Dimensions",
                    "metricQueries[].metric.period": "Metrics[].MetricStat.Period",
                    "metricQueries[].metric.stat": "Metrics[].MetricStat.Stat",
                    "tags": _TAGS,
                },
                filled={"AlarmName": _NAME},
            ),
        ),
    ),
    "aws:cloudwatch/dashboard:Dashboard": Resource(
        calls=(
            Call(
                "cloudwatch",
                "PutDashboard",
                inputs={"dashboardName": "DashboardName", "dashboardBody": "DashboardBody"},
            ),
        ),
    ),
    "aws:cloudwatch/eventRule:EventRule": Resource(
        calls=(
            Call(
                "events",
                "PutRule",
                inputs={
                    "description": "Description",
                    "eventPattern": "EventPattern",
                    "tags": _TAGS,
                },
                filled={"Name": _NAME},
            ),
        ),
    ),
    "aws:cloudwatch/eventTarget:EventTarget": Resource(
        calls=(
            Call(
                "events",
                "PutTargets",
                inputs={
                    "rule": "Rule",
                    "arn": "Targets[0].Arn",
                    "inputTransformer.inputPaths": "Targets[0].InputTransformer.InputPathsMap",
                    "inputTransformer.inputTemplate": "Targets[0].InputTransformer.InputTemplate",
                    # The loop to GitHub: an API destination target, through the events role.
                    "roleArn": "Targets[0].RoleArn",
                    "httpTarget.headerParameters": "Targets[0].HttpParameters.HeaderParameters",
                },
                filled={
                    "Targets[0].Id": constant(
                        "terraform-" + UNIQUE_SUFFIX,
                        "no targetId given: the provider generates `id.UniqueId()`",
                    )
                },
            ),
        ),
    ),
    "aws:cloudwatch/eventConnection:EventConnection": Resource(
        calls=(
            Call(
                "events",
                "CreateConnection",
                inputs={
                    "description": "Description",
                    "authorizationType": "AuthorizationType",
                    "authParameters.apiKey.key": "AuthParameters.ApiKeyAuthParameters.ApiKeyName",
                    "authParameters.apiKey.value": (
                        "AuthParameters.ApiKeyAuthParameters.ApiKeyValue"
                    ),
                },
                filled={"Name": _NAME},
            ),
        ),
    ),
    "aws:cloudwatch/eventApiDestination:EventApiDestination": Resource(
        calls=(
            Call(
                "events",
                "CreateApiDestination",
                inputs={
                    "description": "Description",
                    "connectionArn": "ConnectionArn",
                    "invocationEndpoint": "InvocationEndpoint",
                    "httpMethod": "HttpMethod",
                    "invocationRateLimitPerSecond": "InvocationRateLimitPerSecond",
                },
                filled={"Name": _NAME},
            ),
        ),
    ),
    "aws:scheduler/schedule:Schedule": Resource(
        calls=(
            Call(
                "scheduler",
                "CreateSchedule",
                inputs={
                    "description": "Description",
                    "scheduleExpression": "ScheduleExpression",
                    "flexibleTimeWindow.mode": "FlexibleTimeWindow.Mode",
                    "target.arn": "Target.Arn",
                    "target.roleArn": "Target.RoleArn",
                    # A JSON blob no provider validates: test_aws_rules checks it against
                    # SageMaker's CreateProcessingJob too (processing_job_violations).
                    "target.input": "Target.Input",
                },
                filled={"Name": _NAME},
            ),
        ),
    ),
    "aws:cloudwatch/logGroup:LogGroup": Resource(
        calls=(
            Call("logs", "CreateLogGroup", inputs={"name": "logGroupName", "tags": "tags"}),
            Call(
                "logs",
                "PutRetentionPolicy",
                inputs={"name": "logGroupName", "retentionInDays": "retentionInDays"},
            ),
        ),
        provider_only={
            "skipDestroy": "the provider forgets the group on destroy instead of deleting it",
        },
    ),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": Resource(
        calls=(
            Call(
                "logs",
                "PutMetricFilter",
                inputs={
                    "logGroupName": "logGroupName",
                    "pattern": "filterPattern",
                    "metricTransformation.name": "metricTransformations[0].metricName",
                    "metricTransformation.namespace": "metricTransformations[0].metricNamespace",
                    "metricTransformation.value": "metricTransformations[0].metricValue",
                    "metricTransformation.unit": "metricTransformations[0].unit",
                    "metricTransformation.dimensions": "metricTransformations[0].dimensions",
                },
                filled={"filterName": _NAME},
            ),
        ),
    ),
    # --- SNS ----------------------------------------------------------------------------------
    "aws:sns/topic:Topic": Resource(
        calls=(
            Call(
                "sns",
                "CreateTopic",
                inputs={"kmsMasterKeyId": "Attributes.KmsMasterKeyId", "tags": _TAGS},
                filled={"Name": _NAME},
            ),
        ),
    ),
    "aws:sns/topicPolicy:TopicPolicy": Resource(
        calls=(
            Call(
                "sns",
                "SetTopicAttributes",
                inputs={"arn": "TopicArn", "policy": "AttributeValue"},
                filled={"AttributeName": constant("Policy", "the attribute this resource owns")},
            ),
        ),
    ),
    "aws:sns/topicSubscription:TopicSubscription": Resource(
        calls=(
            Call(
                "sns",
                "Subscribe",
                inputs={"topic": "TopicArn", "protocol": "Protocol", "endpoint": "Endpoint"},
            ),
        ),
    ),
    # --- Application Auto Scaling --------------------------------------------------------------
    "aws:appautoscaling/target:Target": Resource(
        calls=(
            Call(
                "application-autoscaling",
                "RegisterScalableTarget",
                inputs={
                    "serviceNamespace": "ServiceNamespace",
                    "resourceId": "ResourceId",
                    "scalableDimension": "ScalableDimension",
                    "minCapacity": "MinCapacity",
                    "maxCapacity": "MaxCapacity",
                    "tags": "Tags",
                },
            ),
        ),
    ),
    "aws:appautoscaling/policy:Policy": Resource(
        calls=(
            Call(
                "application-autoscaling",
                "PutScalingPolicy",
                inputs={
                    "policyType": "PolicyType",
                    "serviceNamespace": "ServiceNamespace",
                    "resourceId": "ResourceId",
                    "scalableDimension": "ScalableDimension",
                    "targetTrackingScalingPolicyConfiguration.targetValue": (
                        "TargetTrackingScalingPolicyConfiguration.TargetValue"
                    ),
                    "targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification"
                    ".predefinedMetricType": (
                        "TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification"
                        ".PredefinedMetricType"
                    ),
                    "targetTrackingScalingPolicyConfiguration.scaleInCooldown": (
                        "TargetTrackingScalingPolicyConfiguration.ScaleInCooldown"
                    ),
                    "targetTrackingScalingPolicyConfiguration.scaleOutCooldown": (
                        "TargetTrackingScalingPolicyConfiguration.ScaleOutCooldown"
                    ),
                },
                filled={"PolicyName": _NAME},
            ),
        ),
    ),
    # --- KMS ------------------------------------------------------------------------------------
    "aws:kms/key:Key": Resource(
        calls=(
            Call(
                "kms",
                "CreateKey",
                inputs={"description": "Description", "policy": "Policy", "tags": _TAGS},
            ),
            Call("kms", "EnableKeyRotation", filled={"KeyId": from_state("keyId", "the key")}),
            # On destroy (or replacement): the waiting period before the key is deleted.
            Call(
                "kms",
                "ScheduleKeyDeletion",
                inputs={"deletionWindowInDays": "PendingWindowInDays"},
                filled={"KeyId": from_state("keyId", "the key")},
            ),
        ),
        provider_only={
            "enableKeyRotation": "a switch: true makes the provider call EnableKeyRotation "
            "(checked above); no member carries it",
        },
    ),
    "aws:kms/alias:Alias": Resource(
        calls=(
            Call(
                "kms",
                "CreateAlias",
                inputs={"targetKeyId": "TargetKeyId"},
                filled={"AliasName": prefixed("namePrefix")},
            ),
        ),
        provider_only={"namePrefix": "becomes AliasName with the provider's suffix (checked)"},
    ),
    # --- ECR ------------------------------------------------------------------------------------
    "aws:ecr/repository:Repository": Resource(
        calls=(
            Call(
                "ecr",
                "CreateRepository",
                inputs={
                    "imageTagMutability": "imageTagMutability",
                    "imageScanningConfiguration.scanOnPush": (
                        "imageScanningConfiguration.scanOnPush"
                    ),
                    # A list of at most one in the provider's schema, one structure in the API.
                    "encryptionConfigurations[].encryptionType": (
                        "encryptionConfiguration.encryptionType"
                    ),
                    "encryptionConfigurations[].kmsKey": "encryptionConfiguration.kmsKey",
                    "tags": "tags",
                },
                filled={"repositoryName": _NAME},
            ),
            Call(
                "ecr",
                "DeleteRepository",
                inputs={"forceDelete": "force"},
                filled={"repositoryName": _NAME},
            ),
        ),
    ),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": Resource(
        calls=(
            Call(
                "ecr",
                "PutLifecyclePolicy",
                inputs={"repository": "repositoryName", "policy": "lifecyclePolicyText"},
            ),
        ),
    ),
    # --- S3 -------------------------------------------------------------------------------------
    "aws:s3/bucket:Bucket": Resource(
        calls=(
            Call("s3", "CreateBucket", filled={"Bucket": prefixed("bucketPrefix")}),
            Call(
                "s3",
                "PutBucketTagging",
                inputs={"tags": "Tagging.TagSet"},
                filled={"Bucket": prefixed("bucketPrefix")},
            ),
        ),
        provider_only={
            "bucketPrefix": "becomes Bucket with the provider's suffix (checked)",
            "forceDestroy": "the provider empties the bucket before DeleteBucket; not sent",
        },
    ),
    "aws:s3/bucketObjectv2:BucketObjectv2": Resource(
        calls=(
            Call(
                "s3",
                "PutObject",
                inputs={
                    "bucket": "Bucket",
                    "key": "Key",
                    "source": "Body",
                    "serverSideEncryption": "ServerSideEncryption",
                    "kmsKeyId": "SSEKMSKeyId",
                    "bucketKeyEnabled": "BucketKeyEnabled",
                    "tags": "Tagging",
                },
                convert={"tags": _url_encoded_tags, "source": _file_bytes},
            ),
        ),
    ),
    "aws:s3/bucketPolicy:BucketPolicy": Resource(
        calls=(Call("s3", "PutBucketPolicy", inputs={"bucket": "Bucket", "policy": "Policy"}),),
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": Resource(
        calls=(
            Call(
                "s3",
                "PutPublicAccessBlock",
                inputs={
                    "bucket": "Bucket",
                    "blockPublicAcls": "PublicAccessBlockConfiguration.BlockPublicAcls",
                    "blockPublicPolicy": "PublicAccessBlockConfiguration.BlockPublicPolicy",
                    "ignorePublicAcls": "PublicAccessBlockConfiguration.IgnorePublicAcls",
                    "restrictPublicBuckets": "PublicAccessBlockConfiguration.RestrictPublicBuckets",
                },
            ),
        ),
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": Resource(
        calls=(
            Call(
                "s3",
                "PutBucketOwnershipControls",
                inputs={
                    "bucket": "Bucket",
                    "rule.objectOwnership": "OwnershipControls.Rules[0].ObjectOwnership",
                },
            ),
        ),
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        Resource(
            calls=(
                Call(
                    "s3",
                    "PutBucketEncryption",
                    inputs={
                        "bucket": "Bucket",
                        "rules[].applyServerSideEncryptionByDefault.sseAlgorithm": (
                            "ServerSideEncryptionConfiguration.Rules[]"
                            ".ApplyServerSideEncryptionByDefault.SSEAlgorithm"
                        ),
                        "rules[].applyServerSideEncryptionByDefault.kmsMasterKeyId": (
                            "ServerSideEncryptionConfiguration.Rules[]"
                            ".ApplyServerSideEncryptionByDefault.KMSMasterKeyID"
                        ),
                        "rules[].bucketKeyEnabled": (
                            "ServerSideEncryptionConfiguration.Rules[].BucketKeyEnabled"
                        ),
                    },
                ),
            ),
        )
    ),
    "aws:s3/bucketVersioning:BucketVersioning": Resource(
        calls=(
            Call(
                "s3",
                "PutBucketVersioning",
                inputs={
                    "bucket": "Bucket",
                    "versioningConfiguration.status": "VersioningConfiguration.Status",
                },
            ),
        ),
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": Resource(
        calls=(
            Call(
                "s3",
                "PutBucketLifecycleConfiguration",
                inputs={
                    "bucket": "Bucket",
                    "rules[].id": "LifecycleConfiguration.Rules[].ID",
                    "rules[].status": "LifecycleConfiguration.Rules[].Status",
                    "rules[].filter.prefix": "LifecycleConfiguration.Rules[].Filter.Prefix",
                    "rules[].expiration.days": "LifecycleConfiguration.Rules[].Expiration.Days",
                    "rules[].expiration.expiredObjectDeleteMarker": (
                        "LifecycleConfiguration.Rules[].Expiration.ExpiredObjectDeleteMarker"
                    ),
                    "rules[].noncurrentVersionExpiration.noncurrentDays": (
                        "LifecycleConfiguration.Rules[].NoncurrentVersionExpiration.NoncurrentDays"
                    ),
                    "rules[].abortIncompleteMultipartUpload.daysAfterInitiation": (
                        "LifecycleConfiguration.Rules[].AbortIncompleteMultipartUpload"
                        ".DaysAfterInitiation"
                    ),
                },
            ),
        ),
    ),
    # --- IAM ------------------------------------------------------------------------------------
    "aws:iam/role:Role": Resource(
        calls=(
            Call(
                "iam",
                "CreateRole",
                inputs={
                    "assumeRolePolicy": "AssumeRolePolicyDocument",
                    "description": "Description",
                    "tags": _TAGS,
                },
                filled={"RoleName": _NAME},
            ),
        ),
    ),
    "aws:iam/rolePolicy:RolePolicy": Resource(
        calls=(
            Call(
                "iam",
                "PutRolePolicy",
                # `role` is the role's id, which the provider sets to its name. (The mocks
                # answer ids as `<logical name>-id`, a valid role name too.)
                inputs={"role": "RoleName", "policy": "PolicyDocument"},
                filled={"PolicyName": _NAME},
            ),
        ),
    ),
}

# Resource types the program declares that no AWS API takes.
NOT_AWS = {
    "docker-build:index:Image": "pulumi-docker-build builds and pushes with BuildKit; ECR sees "
    "only a registry push (its repository's rules are checked above)",
}


# --- Java patterns ------------------------------------------------------------------------------

# java.util.regex.Pattern's POSIX classes: US-ASCII only (without UNICODE_CHARACTER_CLASS).
_JAVA_POSIX = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7F",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1F\\x7F",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0B\\f\\r",
}
_JAVA_SURROGATE_PAIR = regex.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", regex.I)


def java_pattern(pattern: str) -> str:
    """A java.util.regex pattern as the `regex` module reads it (see the module docstring)."""

    def code_point(match: regex.Match[str]) -> str:
        high, low = int(match[1], 16), int(match[2], 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"

    pattern = _JAVA_SURROGATE_PAIR.sub(code_point, pattern)
    out, in_class, i = [], False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            posix = regex.match(r"\\p\{(\w+)\}", pattern[i:])
            if posix and posix[1] in _JAVA_POSIX:
                ranges = _JAVA_POSIX[posix[1]]
                out.append(ranges if in_class else f"[{ranges}]")
                i += len(posix[0])
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class and out and out[-1] != "[":
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


@cache
def compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(java_pattern(pattern))


# --- requests and their checks ------------------------------------------------------------------


@cache
def input_shape(service: str, operation: str) -> Any:
    model = botocore.session.get_session().get_service_model(service)
    return model.operation_model(operation).input_shape


def is_unknown(value: Any) -> bool:
    return value == _UNKNOWN_TEXT or type(value).__name__ == "Unknown"


def known_paths(resource: Resource) -> set[str]:
    paths = set(resource.provider_only)
    for call in resource.calls:
        paths |= set(call.inputs)
    return paths


_UNCHECKED = "unknown until deployment, so not checked"


def _opens_into_known(pattern: str, known: set[str]) -> bool:
    return any(path.startswith((f"{pattern}.", f"{pattern}[]")) for path in known)


def leaves(value: Any, known: set[str], path: str = "") -> Iterator[tuple[str, tuple[int, ...]]]:
    """Every input path the table must account for: `(pattern, list indices)`. A path the table
    names is taken whole (a map of tags, a list of ARNs); others are opened."""
    if path in known:
        yield path, ()
    elif isinstance(value, dict) and value:
        for key, item in value.items():
            yield from leaves(item, known, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            for pattern, indices in leaves(item, known, f"{path}[]"):
                yield pattern, (index, *indices)
    else:
        yield path, ()


def _get(value: Any, pattern: str, indices: tuple[int, ...]) -> Any:
    remaining = list(indices)
    for part in pattern.split("."):
        name, lists = part.split("[")[0], part.count("[]")
        value = value[name]
        for _ in range(lists):
            value = value[remaining.pop(0)]
    return value


def _set(request: dict[str, Any], api_path: str, indices: tuple[int, ...], value: Any) -> None:
    remaining = list(indices)
    steps: list[str | int] = []
    for part in api_path.split("."):
        name, _, rest = part.partition("[")
        steps.append(name)
        if rest:
            index = rest.rstrip("]")
            steps.append(int(index) if index else (remaining.pop(0) if remaining else 0))
    node: Any = request
    for step, following in itertools.pairwise(steps):
        if isinstance(step, int):
            while len(node) <= step:
                node.append({} if isinstance(following, str) else [])
            node = node[step]
        else:
            node = node.setdefault(step, [] if isinstance(following, int) else {})
    last = steps[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value


def requests(resource: Registration, rules: Resource) -> Iterator[tuple[Call, dict[str, Any]]]:
    """Each call the provider makes for `resource`, with the request it would send."""
    known = known_paths(rules)
    found = [leaf for leaf in leaves(resource.inputs, known) if leaf[0] in known]
    for call in rules.calls:
        request: dict[str, Any] = {}
        for pattern, indices in found:
            if pattern in call.inputs:
                value = _get(resource.inputs, pattern, indices)
                if pattern in call.convert and not is_unknown(value):
                    value = call.convert[pattern](value)
                _set(request, call.inputs[pattern], indices, value)
        for api_path, filled in call.filled.items():
            _set(request, api_path, (), filled.read(resource))
        yield call, request


def conform(shape: Any, value: Any) -> Any:
    """The value as the provider sends it: Pulumi maps become the API's lists of key/value
    structures (tags, dimensions), and whole numbers (the wire carries doubles) integers."""
    kind = shape.type_name
    if is_unknown(value):
        return value
    if kind == "structure" and isinstance(value, dict):
        return {
            key: conform(shape.members[key], item) if key in shape.members else item
            for key, item in value.items()
        }
    if kind == "list":
        member = shape.member
        if isinstance(value, dict) and member.type_name == "structure":
            key_name, value_name = list(member.members)[:2]
            value = [{key_name: k, value_name: v} for k, v in value.items()]
        if isinstance(value, list):
            return [conform(member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: conform(shape.value, v) for k, v in value.items()}
    if kind in ("integer", "long") and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Rules AWS documents that botocore's model leaves out, applied like the model's own, by
# (service, shape name). S3's general purpose bucket naming rules (S3 User Guide, "Bucket naming
# rules"): botocore's BucketName has neither length nor pattern, and its client checks only
# `[a-zA-Z0-9.\-_]{1,255}`. The other two are stated in botocore's own documentation of the
# member but not encoded as rules (test_aws_rules holds them to that text).
DOCUMENTED: dict[tuple[str, str], dict[str, Any]] = {
    ("s3", "BucketName"): {"min": 3, "max": 63, "pattern": "[a-z0-9][a-z0-9.-]*[a-z0-9]"},
    # logs PutRetentionPolicy retentionInDays: "Possible values are: 1, 3, 5, ..."
    ("logs", "Days"): {"enum": LOG_RETENTION_DAYS},
    # kms ScheduleKeyDeletion PendingWindowInDays: "it must be between 7 and 30, inclusive"
    ("kms", "PendingWindowInDaysType"): {"min": 7, "max": 30},
}


def _rules(shape: Any, service: str) -> dict[str, Any]:
    return {**shape.metadata, **DOCUMENTED.get((service, shape.name), {})}


def _limits(shape: Any, size: float, what: str, service: str) -> Iterator[str]:
    low, high = _rules(shape, service).get("min"), _rules(shape, service).get("max")
    if low is not None and size < low:
        yield f"{what} {size:g} is below the minimum {low:g}"
    if high is not None and size > high:
        yield f"{what} {size:g} is above the maximum {high:g}"


def check(shape: Any, value: Any, path: str, service: str) -> Iterator[tuple[str, str]]:
    """(member path, broken rule) for everything in `value` that `shape` does not allow."""
    kind = shape.type_name
    if is_unknown(value):
        yield path, _UNCHECKED
        return
    if kind == "structure":
        if not isinstance(value, dict):
            yield path, f"a {type(value).__name__} where a structure ({shape.name}) belongs"
            return
        for required in shape.required_members:
            if value.get(required) is None:
                yield f"{path}.{required}".lstrip("."), "required member missing"
        for key, item in value.items():
            member_path = f"{path}.{key}".lstrip(".")
            if key not in shape.members:
                yield member_path, f"no such member in {shape.name}"
            elif item is not None:
                yield from check(shape.members[key], item, member_path, service)
    elif kind == "list":
        if not isinstance(value, list):
            yield path, f"a {type(value).__name__} where a list belongs"
            return
        yield from ((path, rule) for rule in _limits(shape, len(value), "count", service))
        for index, item in enumerate(value):
            yield from check(shape.member, item, f"{path}[{index}]", service)
    elif kind == "map":
        if not isinstance(value, dict):
            yield path, f"a {type(value).__name__} where a map belongs"
            return
        yield from ((path, rule) for rule in _limits(shape, len(value), "entries", service))
        for key, item in value.items():
            yield from (
                (f"{path} key {key!r}", rule) for _, rule in check(shape.key, key, path, service)
            )
            yield from check(shape.value, item, f"{path}.{key}", service)
    elif kind == "string":
        if not isinstance(value, str):
            yield path, f"a {type(value).__name__} where a string belongs"
            return
        if shape.enum and value not in shape.enum:
            yield path, f"{value!r} is not one of the enum {shape.name} {sorted(shape.enum)}"
        yield from ((path, rule) for rule in _limits(shape, len(value), "length", service))
        pattern = _rules(shape, service).get("pattern")
        if pattern and not compiled(pattern).fullmatch(value):
            yield path, f"{value[:80]!r} does not match the pattern {pattern!r}"
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            yield path, f"{value!r} is not an integer"
            return
        enum = _rules(shape, service).get("enum")
        if enum and value not in enum:
            yield path, f"{value} is not one of {list(enum)}"
        yield from ((path, rule) for rule in _limits(shape, value, "value", service))
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            yield path, f"{value!r} is not a number"
            return
        yield from ((path, rule) for rule in _limits(shape, value, "value", service))
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield path, f"{value!r} is not a boolean"
    elif kind == "blob":
        if not isinstance(value, bytes | str):
            yield path, f"a {type(value).__name__} where bytes belong"
        else:
            yield from ((path, rule) for rule in _limits(shape, len(value), "size", service))


def _has_unknown(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return is_unknown(value)


def violations(graph: Graph) -> list[str]:
    """Every input of every resource in `graph` that AWS's rules (or the table) reject, each
    named by the resource's URN, the operation, the member path and the rule."""
    found = []
    for resource in graph.resources:
        if not resource.custom or resource.type in NOT_AWS:
            continue
        rules = RESOURCES.get(resource.type)
        if rules is None:
            found.append(
                f"{resource.urn}: resource type {resource.type} is not in the table "
                "(tests/infra/aws_rules.py RESOURCES): map its inputs to the API calls"
            )
            continue
        known = known_paths(rules)
        for pattern, indices in leaves(resource.inputs, known):
            if pattern in known:
                continue
            if _opens_into_known(pattern, known):
                # A preview can leave a whole list or object unknown (the rollback alarms'
                # names): the mapped members inside it cannot be checked yet, only reported.
                # An empty one holds nothing to check.
                if is_unknown(_get(resource.inputs, pattern, indices)):
                    found.append(f"{resource.urn}: input {pattern!r} {_UNCHECKED}")
            else:
                found.append(
                    f"{resource.urn}: input {pattern!r} is neither mapped to an API member nor "
                    "listed as provider-only"
                )
        for call, request in requests(resource, rules):
            shape = input_shape(call.service, call.operation)
            sent = conform(shape, request)
            where = f"{resource.urn}: {call.service} {call.operation}"
            found += [
                f"{where} {path}: {rule}" for path, rule in check(shape, sent, "", call.service)
            ]
            if not _has_unknown(sent):
                report = ParamValidator().validate(sent, shape)
                if report.has_errors():
                    found.append(f"{where}: botocore's validator: {report.generate_report()}")
        found += universal_target_violations(resource)
    return found


# Universal targets (arn:aws:scheduler:::aws-sdk:<service>:<apiAction>) send their Input as the
# API request. The context attributes are replaced per invocation; these stand-ins are the
# longest plausible values (AWS documents no length for the execution id: a UUID is assumed).
UNIVERSAL_TARGET = regex.compile(
    r"^arn:aws:scheduler:::aws-sdk:(?P<service>[a-z0-9]+):(?P<action>\w+)$"
)
CONTEXT_ATTRIBUTES = {
    "<aws.scheduler.execution-id>": "0123abcd-4567-89ef-0123-456789abcdef",
    "<aws.scheduler.scheduled-time>": "2026-12-02T19:00:00Z",
    "<aws.scheduler.schedule-arn>": "arn:aws:scheduler:us-east-1:123456789012:schedule/default/x",
    "<aws.scheduler.attempt-number>": "1",
}


def universal_target_violations(resource: Registration) -> list[str]:
    """A schedule's universal-target Input, checked as the API request it is."""
    target = resource.inputs.get("target") or {}
    match = UNIVERSAL_TARGET.match(str(target.get("arn", "")))
    text = target.get("input")
    if match is None or text is None:
        return []
    if is_unknown(text):
        return [f"{resource.urn}: target input: unknown until deployment, so not checked"]
    for attribute, value in CONTEXT_ATTRIBUTES.items():
        text = text.replace(attribute, value)
    action = match["action"]
    operation = action[0].upper() + action[1:]
    shape = input_shape(match["service"], operation)
    request = json.loads(text)
    where = f"{resource.urn}: target input as {match['service']} {operation}"
    found = [
        f"{where} {path}: {rule}" for path, rule in check(shape, request, "", match["service"])
    ]
    report = ParamValidator().validate(request, shape)
    if report.has_errors():
        found.append(f"{where}: botocore's validator: {report.generate_report()}")
    return found


def describe(resource: Registration) -> str:
    """The resource's inputs, for a failure message."""
    return json.dumps(resource.inputs, default=str, sort_keys=True)[:2000]
