"""The scheduled monitoring job, and (optionally) the loop from its alarms back to GitHub.

On stacks that capture traffic (instance endpoints: serverless ones cannot capture), an
EventBridge Scheduler schedule calls SageMaker's CreateProcessingJob as a universal target
(docs: "Using universal targets", "Adding context attributes"): the training image's `monitor`
command over the variant's captured traffic, with a job name made unique by the scheduler's
<aws.scheduler.execution-id> and the window ending at <aws.scheduler.scheduled-time>. The job's
interface (paths under /opt/ml/processing, the environment) is the `monitor` command's
(inference/monitoring/contract.py); the names it shares with us are declared below and a test
holds them equal. Two roles: the scheduler's may start our jobs and pass the job's role only;
the job's reads capture/ and ground-truth/ and the model, writes monitoring/, puts metrics in
our namespace and writes its logs, nothing else.

With `monitorGithubRepository`, an EventBridge rule sends the drift and quality alarms' ALARM
transitions to an API destination calling GitHub's repository_dispatch, which starts
.github/workflows/retrain.yml.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from contracts.cloudwatch import NAMESPACE as CUSTOM_NAMESPACE
from contracts.container import (
    ENDPOINT_NAME_ENV,
    MONITOR_END_ENV,
    MONITOR_WINDOW_MINUTES_ENV,
    VARIANT_NAME_ENV,
)
from infra.account import AwsAccount
from infra.config import MonitorConfig, has_local_storage
from infra.iam import CAPTURE_PREFIX
from infra.policies import (
    Document,
    ecr_pull_policy,
    invoke_api_destination_policy,
    kms_use_policy,
    logs_policy,
    metrics_policy,
    s3_location,
    s3_read_object_policy,
    s3_read_policy,
    s3_write_policy,
    service_trust_policy,
    start_processing_job_policy,
)

# EventBridge Scheduler's universal target for SageMaker's CreateProcessingJob.
CREATE_PROCESSING_JOB_TARGET = "arn:aws:scheduler:::aws-sdk:sagemaker:createProcessingJob"
# Context attributes the scheduler replaces in the target's input, per invocation.
EXECUTION_ID = "<aws.scheduler.execution-id>"
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
# AWS documents no length for the execution id (its example has 16 characters); room is kept
# for a 36-character UUID, so that a name never exceeds ProcessingJobName's 63.
EXECUTION_ID_ROOM = 36
PROCESSING_JOB_NAME_MAX = 63
GROUND_TRUTH_PREFIX = "ground-truth"
MONITORING_PREFIX = "monitoring"
MONITOR_VOLUME_GB = 10
MONITOR_MAX_RUNTIME_SECONDS = 3600

# The `monitor` command's interface (inference/monitoring/contract.py): its entrypoint and the
# Processing paths (the variable names are contracts/container.py's).
# tests/infra/test_model_monitor.py holds these equal to the contract module.
MONITOR_ENTRYPOINT = ["monitor"]
CAPTURE_INPUT = "/opt/ml/processing/input/capture"
MODEL_INPUT = "/opt/ml/processing/input/model"
GROUND_TRUTH_INPUT = "/opt/ml/processing/input/ground-truth"
OUTPUT = "/opt/ml/processing/output"

# repository_dispatch (docs.github.com, "Create a repository dispatch event").
GITHUB_API = "https://api.github.com"
RETRAIN_EVENT_TYPE = "sagestack-retrain"


def monitor_job_prefix(project: str, stack: str) -> str:
    """The monitoring jobs' name prefix: short enough for any execution id after it."""
    room = PROCESSING_JOB_NAME_MAX - EXECUTION_ID_ROOM - 1
    return f"{project}-{stack}-monitor"[:room].rstrip("-")


def monitoring_uri(artifacts_bucket: str, endpoint_name: str) -> str:
    """Where every monitoring job of the endpoint writes its report (one folder per run)."""
    return f"s3://{artifacts_bucket}/{MONITORING_PREFIX}/{endpoint_name}"


def _s3_input(name: str, uri: str, local_path: str) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


@dataclass(frozen=True)
class JobSettings:
    """Plain values the Processing job request is built from."""

    job_prefix: str
    role_arn: str
    image_uri: str
    instance_type: str
    endpoint_name: str
    variant_name: str
    capture_bucket: str
    artifacts_bucket: str
    model_data_url: str
    window_minutes: int
    ground_truth: bool
    kms_key_arn: str | None


def processing_job_request(job: JobSettings) -> dict[str, Any]:
    """CreateProcessingJob's request, as the schedule sends it (context attributes unresolved).

    The capture input is the variant's whole capture folder: the scheduled time cannot be
    turned into the yyyy/mm/dd/hh folders here, so the job filters by inferenceTime itself
    (the capture bucket's retention bounds what it downloads).
    """
    capture = f"s3://{job.capture_bucket}/{CAPTURE_PREFIX}/{job.endpoint_name}/{job.variant_name}/"
    inputs = [
        _s3_input("capture", capture, CAPTURE_INPUT),
        _s3_input("model", job.model_data_url, MODEL_INPUT),
    ]
    if job.ground_truth:
        inputs.append(
            _s3_input(
                "ground-truth",
                f"s3://{job.capture_bucket}/{GROUND_TRUTH_PREFIX}/",
                GROUND_TRUTH_INPUT,
            )
        )
    cluster: dict[str, Any] = {
        "InstanceCount": 1,
        "InstanceType": job.instance_type,
        "VolumeSizeInGB": MONITOR_VOLUME_GB,
    }
    outputs: dict[str, Any] = {
        "Outputs": [
            {
                "OutputName": "report",
                "S3Output": {
                    "S3Uri": f"{monitoring_uri(job.artifacts_bucket, job.endpoint_name)}/"
                    f"{EXECUTION_ID}",
                    "LocalPath": OUTPUT,
                    "S3UploadMode": "EndOfJob",
                },
            }
        ]
    }
    if job.kms_key_arn:
        # AWS encrypts local NVMe storage itself and refuses a volume key for it.
        if not has_local_storage(job.instance_type):
            cluster["VolumeKmsKeyId"] = job.kms_key_arn
        outputs["KmsKeyId"] = job.kms_key_arn
    return {
        "ProcessingJobName": f"{job.job_prefix}-{EXECUTION_ID}",
        "RoleArn": job.role_arn,
        "AppSpecification": {"ImageUri": job.image_uri, "ContainerEntrypoint": MONITOR_ENTRYPOINT},
        "ProcessingResources": {"ClusterConfig": cluster},
        "StoppingCondition": {"MaxRuntimeInSeconds": MONITOR_MAX_RUNTIME_SECONDS},
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": outputs,
        "Environment": {
            MONITOR_END_ENV: SCHEDULED_TIME,
            MONITOR_WINDOW_MINUTES_ENV: str(job.window_minutes),
            ENDPOINT_NAME_ENV: job.endpoint_name,
            VARIANT_NAME_ENV: job.variant_name,
        },
    }


def alarm_state_pattern(alarm_arns: Sequence[str]) -> dict[str, Any]:
    """These alarms going into ALARM (not back to OK)."""
    return {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "resources": sorted(alarm_arns),
        "detail": {"state": {"value": ["ALARM"]}},
    }


def dispatch_template(stack: str, report_uri: str) -> str:
    """repository_dispatch's body, as an EventBridge input template (<alarm>, <reason> filled)."""
    body = {
        "event_type": RETRAIN_EVENT_TYPE,
        "client_payload": {
            "stack": stack,
            "alarm": "<alarm>",
            "reason": "<reason>",
            "report": report_uri,
        },
    }
    return json.dumps(body)


@dataclass(frozen=True)
class ModelMonitorArgs:
    account: AwsAccount
    project: str
    stack: str
    endpoint_name: str
    variant_name: str
    monitor: MonitorConfig
    image_uri: pulumi.Output[str]
    training_repository_arn: pulumi.Output[str]
    model_data_url: pulumi.Output[str]
    capture_bucket: pulumi.Output[str]
    capture_bucket_arn: pulumi.Output[str]
    artifacts_bucket: pulumi.Output[str]
    artifacts_bucket_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str] | None
    # The drift and quality alarms (EndpointAlarms.retrain_alarm_arns).
    retrain_alarm_arns: pulumi.Output[list[str]]
    tags: dict[str, str]


class ModelMonitor(pulumi.ComponentResource):
    schedule_name: pulumi.Output[str]
    report_uri: pulumi.Output[str]

    def __init__(
        self, name: str, args: ModelMonitorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sagestack:model_monitor:ModelMonitor", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = args.account

        def role(purpose: str, service: str, description: str) -> aws.iam.Role:
            return aws.iam.Role(
                f"{name}-{purpose}-role",
                aws.iam.RoleArgs(
                    description=f"sagestack {args.stack}: {description}",
                    assume_role_policy=account.account_id.apply(
                        lambda account_id: json.dumps(service_trust_policy(service, account_id))
                    ),
                    tags=args.tags,
                ),
                opts=child,
            )

        def inline(
            role_: aws.iam.Role, purpose: str, build: Callable[..., Document], *values: Any
        ) -> aws.iam.RolePolicy:
            return aws.iam.RolePolicy(
                f"{name}-{purpose}",
                aws.iam.RolePolicyArgs(
                    role=role_.id,
                    policy=pulumi.Output.all(*values).apply(
                        lambda resolved: json.dumps(build(*resolved))
                    ),
                ),
                opts=child,
            )

        job_role = aws.iam.Role(
            f"{name}-job-role",
            aws.iam.RoleArgs(
                description=f"sagestack {args.stack}: the scheduled monitoring Processing job",
                assume_role_policy=account.account_id.apply(
                    lambda account_id: json.dumps(
                        service_trust_policy("sagemaker.amazonaws.com", account_id)
                    )
                ),
                tags=args.tags,
            ),
            opts=child,
        )
        variant_capture = f"{CAPTURE_PREFIX}/{args.endpoint_name}/{args.variant_name}"
        job_policies = [
            inline(
                job_role, "read-capture", s3_read_policy, args.capture_bucket_arn, variant_capture
            ),
            inline(
                job_role,
                "read-model",
                s3_read_object_policy,
                args.artifacts_bucket_arn,
                args.model_data_url.apply(lambda url: s3_location(url)[1]),
            ),
            inline(
                job_role,
                "write-report",
                s3_write_policy,
                args.artifacts_bucket_arn,
                MONITORING_PREFIX,
            ),
            inline(
                job_role,
                "pull-images",
                ecr_pull_policy,
                args.training_repository_arn.apply(lambda a: [a]),
            ),
            inline(
                job_role,
                "job-logs",
                logs_policy,
                account.partition,
                account.region,
                account.account_id,
                "ProcessingJobs",
            ),
            inline(job_role, "metrics", metrics_policy, [CUSTOM_NAMESPACE]),
        ]
        if args.monitor.ground_truth:
            job_policies.append(
                inline(
                    job_role,
                    "read-ground-truth",
                    s3_read_policy,
                    args.capture_bucket_arn,
                    GROUND_TRUTH_PREFIX,
                )
            )
        if args.kms_key_arn is not None:
            job_policies.append(inline(job_role, "use-key", kms_use_policy, args.kms_key_arn))
        # The job's role "once its policies are attached", as infra/iam.py does.
        job_role_arn = pulumi.Output.all(job_role.arn, *(p.id for p in job_policies)).apply(
            lambda values: str(values[0])
        )

        prefix = monitor_job_prefix(args.project, args.stack)
        scheduler_role = role("scheduler", "scheduler.amazonaws.com", "starts monitoring jobs")
        start_jobs = inline(
            scheduler_role,
            "start-jobs",
            start_processing_job_policy,
            pulumi.Output.all(account.partition, account.region, account.account_id).apply(
                lambda v: f"arn:{v[0]}:sagemaker:{v[1]}:{v[2]}:processing-job/{prefix}-*"
            ),
            job_role.arn,
        )
        request = pulumi.Output.all(
            job_role_arn,
            args.image_uri,
            args.capture_bucket,
            args.artifacts_bucket,
            args.model_data_url,
            args.kms_key_arn,
        ).apply(
            lambda v: json.dumps(
                processing_job_request(
                    JobSettings(
                        job_prefix=prefix,
                        role_arn=v[0],
                        image_uri=v[1],
                        instance_type=args.monitor.instance_type,
                        endpoint_name=args.endpoint_name,
                        variant_name=args.variant_name,
                        capture_bucket=v[2],
                        artifacts_bucket=v[3],
                        model_data_url=v[4],
                        window_minutes=args.monitor.window_minutes,
                        ground_truth=args.monitor.ground_truth,
                        kms_key_arn=v[5],
                    )
                )
            )
        )
        schedule = aws.scheduler.Schedule(
            f"{name}-schedule",
            aws.scheduler.ScheduleArgs(
                description=f"sagestack {args.stack}: judge captured traffic for drift",
                schedule_expression=args.monitor.schedule,
                flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
                target=aws.scheduler.ScheduleTargetArgs(
                    arn=CREATE_PROCESSING_JOB_TARGET, role_arn=scheduler_role.arn, input=request
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[start_jobs]),
        )
        self.report_uri = pulumi.Output.all(args.artifacts_bucket).apply(
            lambda v: monitoring_uri(v[0], args.endpoint_name)
        )
        if args.monitor.github_repository:
            self._github_loop(name, args, role, inline)
        self.schedule_name = schedule.name
        self.register_outputs({"schedule_name": self.schedule_name, "report_uri": self.report_uri})

    def _github_loop(
        self,
        name: str,
        args: ModelMonitorArgs,
        role: Callable[[str, str, str], aws.iam.Role],
        inline: Callable[..., aws.iam.RolePolicy],
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        # The provider has no way to point a connection at an existing secret: it takes the
        # value, and EventBridge stores it in a secret of its own. So the token is read from
        # the user's secret here (the provider marks it secret; the state keeps it encrypted).
        token = aws.secretsmanager.get_secret_version_output(
            secret_id=args.monitor.github_token_secret, opts=pulumi.InvokeOutputOptions(parent=self)
        ).secret_string
        connection = aws.cloudwatch.EventConnection(
            f"{name}-github",
            aws.cloudwatch.EventConnectionArgs(
                description=f"sagestack {args.stack}: GitHub token for repository_dispatch",
                authorization_type="API_KEY",
                auth_parameters=aws.cloudwatch.EventConnectionAuthParametersArgs(
                    api_key=aws.cloudwatch.EventConnectionAuthParametersApiKeyArgs(
                        key="Authorization",
                        value=pulumi.Output.secret(pulumi.Output.concat("Bearer ", token)),
                    )
                ),
            ),
            opts=child,
        )
        destination = aws.cloudwatch.EventApiDestination(
            f"{name}-dispatch",
            aws.cloudwatch.EventApiDestinationArgs(
                description=f"sagestack {args.stack}: repository_dispatch to retrain",
                invocation_endpoint=f"{GITHUB_API}/repos/{args.monitor.github_repository}/dispatches",
                http_method="POST",
                connection_arn=connection.arn,
                invocation_rate_limit_per_second=1,
            ),
            opts=child,
        )
        events_role = role("dispatch", "events.amazonaws.com", "sends retrain dispatches")
        invoke = inline(
            events_role, "invoke-dispatch", invoke_api_destination_policy, destination.arn
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-retrain",
            aws.cloudwatch.EventRuleArgs(
                description=f"sagestack {args.stack}: drift or quality alarm: retrain",
                event_pattern=args.retrain_alarm_arns.apply(
                    lambda arns: json.dumps(alarm_state_pattern(arns))
                ),
                tags=args.tags,
            ),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-retrain-target",
            aws.cloudwatch.EventTargetArgs(
                rule=rule.name,
                arn=destination.arn,
                role_arn=events_role.arn,
                http_target=aws.cloudwatch.EventTargetHttpTargetArgs(
                    header_parameters={
                        "Accept": "application/vnd.github+json",
                        "X-GitHub-Api-Version": "2022-11-28",
                    }
                ),
                input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
                    input_paths={
                        "alarm": "$.detail.alarmName",
                        "reason": "$.detail.state.reason",
                    },
                    input_template=self.report_uri.apply(
                        lambda uri: dispatch_template(args.stack, uri)
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[invoke]),
        )
