"""Stack configuration: every key, its type, default and validation, in one place.

`Pulumi.yaml` declares the same keys (a test keeps the two identical); `Pulumi.<stack>.yaml`
holds values only. Values decide, never whether a key was written: the engine merges every
declared default into the stack's config before the program runs (infra/engine_config.py), so
the program cannot tell a default from a value written in the stack file, and must not try.
`parse_config` is pure: it takes the text values the engine hands the program and returns a
frozen StackConfig, or raises ConfigError naming every bad key with its value and what is
allowed. `load_from_pulumi` is the only caller of `pulumi.Config`; `load_stack_config` gives
local mode and the other tools the same config from the files, through the engine's own step.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from contracts.hyperparameters import ALGORITHMS
from contracts.metrics import GATED_METRICS
from infra.engine_config import (
    EngineConfigError,
    engine_config_values,
    go_json,
    namespace_values,
)
from infra.policies import is_ecr_image_uri

NAMESPACE = "sagestack"
# SageMaker serverless inference: memory sizes it offers, and its concurrency range.
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_MAX_CONCURRENCY = 200
DEPLOYMENT_STRATEGIES = ("all_at_once", "canary", "linear")
# The only retentions CloudWatch Logs takes (PutRetentionPolicy). tests/infra/test_aws_rules.py
# holds this to botocore's documentation of the member and checks every log group against it.
LOG_RETENTION_DAYS = (
    *(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731),
    *(1096, 1827, 2192, 2557, 2922, 3288, 3653),
)
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
# Instance families with local NVMe storage (m5d, c6id, g4dn, ...): AWS encrypts that storage
# itself and rejects an endpoint configuration KMS key for them.
_LOCAL_STORAGE_FAMILY = re.compile(r"^ml\.[a-z]+[0-9]+[a-z]*d[a-z]*\.")


def has_local_storage(instance_type: str) -> bool:
    return bool(_LOCAL_STORAGE_FAMILY.match(instance_type))


class ConfigError(ValueError):
    """One or more stack config values that cannot be used."""


@dataclass(frozen=True)
class StackConfig:
    data_path: str
    data_version: str
    target: str
    algorithm: str
    hyperparameters: Mapping[str, str]
    quality_bars: Mapping[str, float]
    training_instance_type: str
    training_volume_gb: int
    training_max_runtime_seconds: int
    training_use_spot: bool
    training_max_wait_seconds: int
    endpoint_instance_type: str
    endpoint_instance_count: int
    serverless_memory_mb: int
    serverless_max_concurrency: int
    data_capture_percent: int
    capture_retention_days: int
    force_destroy_buckets: bool
    protect_data: bool
    customer_managed_key: bool
    training_image_uri: str
    inference_image_uri: str
    ecr_keep_images: int
    log_retention_days: int
    model_server_workers: int
    model_server_timeout_seconds: int
    noncurrent_version_days: int
    alarm_emails: tuple[str, ...]
    alarm_https_url: str
    alarm_period_seconds: int
    alarm_evaluation_periods: int
    alarm_5xx_errors: int
    alarm_4xx_rate_percent: int
    alarm_model_latency_p99_ms: int
    alarm_overhead_latency_p99_ms: int
    alarm_cpu_utilization: int
    alarm_memory_percent: int
    alarm_disk_percent: int
    alarm_no_traffic_minutes: int
    alarm_schema_violations: int
    training_log_group_retention_days: int
    deployment_strategy: str
    deployment_canary_percent: int
    deployment_linear_step_percent: int
    deployment_wait_seconds: int
    deployment_termination_wait_seconds: int
    autoscaling_max_instances: int
    autoscaling_invocations_per_instance: int
    autoscaling_scale_in_cooldown_seconds: int
    autoscaling_scale_out_cooldown_seconds: int
    monthly_budget_usd: int
    monitor_schedule: str
    monitor_window_minutes: int
    monitor_instance_type: str
    monitor_ground_truth: bool
    monitor_github_repository: str
    monitor_github_token_secret: str

    @property
    def serverless(self) -> bool:
        return not self.endpoint_instance_type

    @property
    def autoscaling(self) -> bool:
        return self.autoscaling_max_instances > 0

    @property
    def model_monitoring(self) -> bool:
        """Captured traffic is judged on a schedule (only instance endpoints capture)."""
        return self.data_capture_percent > 0 and bool(self.monitor_schedule)

    @property
    def data_in_s3(self) -> bool:
        return self.data_path.startswith("s3://")

    def training_hyperparameters(self) -> dict[str, str]:
        """What the training job receives: every value as text, as SageMaker passes it."""
        values = {"target": self.target, "algorithm": self.algorithm, **self.hyperparameters}
        values.update(
            {f"min_{metric}": repr(bar) for metric, bar in self.quality_bars.items() if bar > 0}
        )
        return values


class _Invalid(ValueError):
    pass


@dataclass(frozen=True)
class Key:
    """A config key: its Pulumi name, Pulumi type, default (as text) and how to read it."""

    name: str
    kind: str  # Pulumi's project config types: string, integer, boolean
    default: str
    description: str
    parse: Callable[[str], Any]


def _text(value: str) -> str:
    return value.strip()


def _non_empty(value: str) -> str:
    if not value.strip():
        raise _Invalid("must not be empty")
    return value.strip()


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise _Invalid(f"must be a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise _Invalid(f"must be a whole number from {low} to {high}")
        return number

    return parse


def _boolean(value: str) -> bool:
    text = value.strip().lower()
    if text not in ("true", "false"):
        raise _Invalid("must be true or false")
    return text == "true"


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.strip() not in options:
            raise _Invalid(f"must be one of: {', '.join(options)}")
        return value.strip()

    return parse


_SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$")
_GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")


def _schedule(value: str) -> str:
    text = value.strip()
    if text and not _SCHEDULE.match(text):
        raise _Invalid("must be empty, rate(<n> minutes|hours|days) or cron(<fields>)")
    return text


def _github_repository(value: str) -> str:
    text = value.strip()
    if text and not _GITHUB_REPOSITORY.match(text):
        raise _Invalid("must be empty or a GitHub owner/name such as octo-org/sagestack")
    return text


def _bar(value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise _Invalid("must be a number from 0 to 1") from None
    if not (math.isfinite(number) and 0 <= number <= 1):
        raise _Invalid("must be a number from 0 to 1")
    return number


def _log_retention(allow_zero: bool) -> Callable[[str], int]:
    allowed = ((0,) if allow_zero else ()) + LOG_RETENTION_DAYS

    def parse(value: str) -> int:
        try:
            days = int(value.strip())
        except ValueError:
            days = -1
        if days not in allowed:
            raise _Invalid(
                "must be one of the retentions CloudWatch Logs takes: "
                + ", ".join(map(str, allowed))
            )
        return days

    return parse


def _instance_type(optional: bool) -> Callable[[str], str]:
    def parse(value: str) -> str:
        text = value.strip()
        if optional and not text:
            return ""
        if not _INSTANCE_TYPE.match(text):
            raise _Invalid("must be a SageMaker instance type such as ml.m5.large")
        return text

    return parse


def _data_path(value: str) -> str:
    text = value.strip()
    if not text:
        raise _Invalid("must be a local CSV/Parquet path or an s3:// URI")
    if text.startswith("s3://") and not re.match(
        r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+", text
    ):
        raise _Invalid("must be an s3://bucket/key URI")
    if "://" in text and not text.startswith("s3://"):
        raise _Invalid("must be a local path or an s3:// URI")
    return text


def _image_uri(value: str) -> str:
    text = value.strip()
    if text and not is_ecr_image_uri(text):
        raise _Invalid(
            "must be empty (build the image) or an ECR image URI such as "
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/sagestack-training@sha256:<digest>"
        )
    return text


_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


def _emails(value: str) -> tuple[str, ...]:
    addresses = tuple(part.strip() for part in value.split(",") if part.strip())
    bad = [address for address in addresses if not _EMAIL.match(address)]
    if bad:
        raise _Invalid(f"must be comma-separated email addresses ({bad} are not)")
    return addresses


def _https_url(value: str) -> str:
    text = value.strip()
    if text and not re.match(r"^https://[^\s/]+\S*$", text):
        raise _Invalid("must be empty or an https:// URL")
    return text


def _period(value: str) -> int:
    seconds = _integer(60, 86400)(value)
    if seconds % 60:
        raise _Invalid("must be a multiple of 60 seconds (CloudWatch's standard resolution)")
    return seconds


def _hyperparameters(value: str) -> dict[str, str]:
    """A JSON object of extra training hyperparameters; the training container validates them."""
    try:
        parsed = json.loads(value or "{}")
    except ValueError:
        raise _Invalid('must be a JSON object such as {"C": 0.5}') from None
    if not isinstance(parsed, dict) or not all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in parsed.values()
    ):
        raise _Invalid('must be a JSON object of names to numbers or text, such as {"C": 0.5}')
    reserved = {"target", "algorithm"} | {f"min_{metric}" for metric in GATED_METRICS}
    clashes = sorted(reserved & set(parsed))
    if clashes:
        raise _Invalid(f"must not set {clashes}: they have config keys of their own")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in parsed.items()}


KEYS: tuple[Key, ...] = (
    Key(
        "dataPath",
        "string",
        "data/breast_cancer.csv",
        "Training data: a CSV or Parquet file, relative to the repository root, or an s3:// URI.",
        _data_path,
    ),
    Key(
        "dataVersion",
        "string",
        "",
        "For an s3:// dataPath: a version key you change when the data changes (retrains).",
        _text,
    ),
    Key("target", "string", "target", "Name of the label column.", _non_empty),
    Key(
        "algorithm",
        "string",
        "logistic_regression",
        "logistic_regression, random_forest or hist_gradient_boosting.",
        _choice(ALGORITHMS),
    ),
    Key(
        "hyperparameters",
        "string",
        "{}",
        'Further training hyperparameters as a JSON object, e.g. {"C": 0.5}.',
        _hyperparameters,
    ),
    *(
        Key(
            f"min{''.join(p.capitalize() for p in metric.split('_'))}",
            "string",
            "0",
            f"Quality bar: the lowest test {metric} that may ship (0 to 1; 0 = none).",
            _bar,
        )
        for metric in GATED_METRICS
    ),
    Key(
        "trainingInstanceType",
        "string",
        "ml.m5.large",
        "Training instance type.",
        _instance_type(optional=False),
    ),
    Key("trainingVolumeGb", "integer", "10", "Training volume size in GB.", _integer(1, 16384)),
    Key(
        "trainingMaxRuntimeSeconds", "integer", "3600", "Training time limit.", _integer(60, 432000)
    ),
    Key(
        "trainingUseSpot", "boolean", "false", "Managed spot training, with checkpoints.", _boolean
    ),
    Key(
        "trainingMaxWaitSeconds",
        "integer",
        "7200",
        "Spot training: longest wait plus run time (at least trainingMaxRuntimeSeconds).",
        _integer(60, 432000),
    ),
    Key(
        "endpointInstanceType",
        "string",
        "",
        "Endpoint instance type; empty for a serverless endpoint.",
        _instance_type(optional=True),
    ),
    Key(
        "endpointInstanceCount",
        "integer",
        "1",
        "Endpoint instances (instance endpoints).",
        _integer(1, 100),
    ),
    Key(
        "serverlessMemoryMb",
        "integer",
        "2048",
        f"Serverless endpoint memory: one of {', '.join(map(str, SERVERLESS_MEMORY_MB))}.",
        _integer(1024, 6144),
    ),
    Key(
        "serverlessMaxConcurrency",
        "integer",
        "5",
        "Serverless endpoint concurrency (1-200).",
        _integer(1, SERVERLESS_MAX_CONCURRENCY),
    ),
    Key(
        "dataCapturePercent",
        "integer",
        "0",
        "Share of endpoint traffic captured to the capture bucket (0 = off).",
        _integer(0, 100),
    ),
    Key(
        "captureRetentionDays", "integer", "30", "Days captured traffic is kept.", _integer(1, 3650)
    ),
    Key(
        "forceDestroyBuckets",
        "boolean",
        "false",
        "`pulumi destroy` empties and deletes the buckets (dev).",
        _boolean,
    ),
    Key(
        "protectData",
        "boolean",
        "false",
        "Data and artifact buckets are protected and retained by `pulumi destroy` (prod).",
        _boolean,
    ),
    Key(
        "customerManagedKey",
        "boolean",
        "false",
        "A customer-managed KMS key with rotation instead of the AWS-managed one.",
        _boolean,
    ),
    Key(
        "trainingImageUri",
        "string",
        "",
        "A prebuilt training image in ECR (by digest is best); empty to build its Dockerfile.",
        _image_uri,
    ),
    Key(
        "inferenceImageUri",
        "string",
        "",
        "A prebuilt inference image in ECR (by digest is best); empty to build its Dockerfile.",
        _image_uri,
    ),
    Key("ecrKeepImages", "integer", "10", "Images each ECR repository keeps.", _integer(1, 1000)),
    Key(
        "logRetentionDays",
        "integer",
        "30",
        "CloudWatch log retention.",
        _log_retention(allow_zero=False),
    ),
    Key(
        "modelServerWorkers",
        "integer",
        "0",
        "Inference worker processes per instance; 0 = one per vCPU.",
        _integer(0, 64),
    ),
    Key(
        "modelServerTimeoutSeconds",
        "integer",
        "60",
        "Inference request timeout (SageMaker gives up on a request after 60 s).",
        _integer(1, 3600),
    ),
    Key(
        "noncurrentVersionDays",
        "integer",
        "30",
        "Days an overwritten or deleted object version is kept in the buckets.",
        _integer(1, 3650),
    ),
    Key(
        "alarmEmails",
        "string",
        "",
        "Comma-separated emails told of alarms and failed training (each confirms once).",
        _emails,
    ),
    Key(
        "alarmHttpsUrl",
        "string",
        "",
        "An https:// URL told of alarms and failed training (SNS subscription); empty for none.",
        _https_url,
    ),
    Key("alarmPeriodSeconds", "integer", "60", "Alarm period (a multiple of 60).", _period),
    Key(
        "alarmEvaluationPeriods",
        "integer",
        "3",
        "Periods an alarm's metric must breach in a row before it fires.",
        _integer(1, 100),
    ),
    Key(
        "alarm5xxErrors",
        "integer",
        "1",
        "5XX responses in one period that count as a breach.",
        _integer(1, 1000000),
    ),
    Key(
        "alarm4xxRatePercent",
        "integer",
        "10",
        "Share of invocations answered 4XX, in percent, that counts as a breach.",
        _integer(1, 100),
    ),
    Key(
        "alarmModelLatencyP99Ms",
        "integer",
        "500",
        "p99 ModelLatency, in milliseconds, that counts as a breach.",
        _integer(1, 600000),
    ),
    Key(
        "alarmOverheadLatencyP99Ms",
        "integer",
        "200",
        "p99 OverheadLatency (SageMaker's own), in milliseconds, that counts as a breach.",
        _integer(1, 600000),
    ),
    Key(
        "alarmCpuUtilization",
        "integer",
        "160",
        "Instance endpoints: CPUUtilization that counts as a breach (100 per vCPU; m5.large: 2).",
        _integer(1, 12800),
    ),
    Key(
        "alarmMemoryPercent",
        "integer",
        "85",
        "Instance endpoints: MemoryUtilization (percent) that counts as a breach.",
        _integer(1, 100),
    ),
    Key(
        "alarmDiskPercent",
        "integer",
        "85",
        "Instance endpoints: DiskUtilization (percent) that counts as a breach.",
        _integer(1, 100),
    ),
    Key(
        "alarmNoTrafficMinutes",
        "integer",
        "0",
        "Alarm when the endpoint gets no invocations for this many minutes (0 = off).",
        _integer(0, 1440),
    ),
    Key(
        "alarmSchemaViolations",
        "integer",
        "100",
        "Requests rejected by the schema in one period (summary lines) that count as a breach.",
        _integer(1, 1000000),
    ),
    Key(
        "trainingLogGroupRetentionDays",
        "integer",
        "0",
        "Retention of /aws/sagemaker/TrainingJobs, which the whole account shares: set it in one "
        "stack per account and region only (0 = leave it alone).",
        _log_retention(allow_zero=True),
    ),
    Key(
        "deploymentStrategy",
        "string",
        "all_at_once",
        "How a new model takes traffic: all_at_once, canary or linear (blue/green, rollback).",
        _choice(DEPLOYMENT_STRATEGIES),
    ),
    Key(
        "deploymentCanaryPercent",
        "integer",
        "10",
        "canary: the share of capacity that takes traffic first, in percent.",
        _integer(1, 99),
    ),
    Key(
        "deploymentLinearStepPercent",
        "integer",
        "25",
        "linear: the share of capacity moved at each step, in percent.",
        _integer(1, 99),
    ),
    Key(
        "deploymentWaitSeconds",
        "integer",
        "300",
        "Seconds between traffic shifts, watching the rollback alarms.",
        _integer(0, 3600),
    ),
    Key(
        "deploymentTerminationWaitSeconds",
        "integer",
        "300",
        "Seconds the old fleet is kept after the shift (baking), ready for a rollback.",
        _integer(0, 3600),
    ),
    Key(
        "autoscalingMaxInstances",
        "integer",
        "0",
        "Instance endpoints: scale from endpointInstanceCount up to this many instances (0 = off).",
        _integer(0, 100),
    ),
    Key(
        "autoscalingInvocationsPerInstance",
        "integer",
        "1000",
        "Target invocations per instance per minute for scaling.",
        _integer(1, 1000000),
    ),
    Key(
        "autoscalingScaleInCooldownSeconds",
        "integer",
        "300",
        "Seconds after a scale-in before another.",
        _integer(0, 3600),
    ),
    Key(
        "autoscalingScaleOutCooldownSeconds",
        "integer",
        "60",
        "Seconds after a scale-out before another.",
        _integer(0, 3600),
    ),
    Key(
        "monthlyBudgetUsd",
        "integer",
        "0",
        "A pull request's preview fails when `python -m sagestack cost` estimates more a month "
        "(USD; 0 = no budget).",
        _integer(0, 10_000_000),
    ),
    Key(
        "monitorSchedule",
        "string",
        "rate(1 hour)",
        "Stacks that capture: EventBridge Scheduler expression that runs the monitoring job "
        "(rate(...) or cron(...); empty = no monitoring job).",
        _schedule,
    ),
    Key(
        "monitorWindowMinutes",
        "integer",
        "60",
        "Minutes of captured traffic each monitoring job judges, ending at its scheduled time.",
        _integer(1, 1440),
    ),
    Key(
        "monitorInstanceType",
        "string",
        "ml.t3.medium",
        "Instance type of the monitoring Processing job.",
        _instance_type(False),
    ),
    Key(
        "monitorGroundTruth",
        "boolean",
        "false",
        "The monitoring job also reads labels under the capture bucket's ground-truth/ prefix "
        "and judges live quality (the prefix must hold at least one object).",
        _boolean,
    ),
    Key(
        "monitorGithubRepository",
        "string",
        "",
        "owner/name of the GitHub repository a drift or quality alarm sends repository_dispatch "
        "to (empty = off; needs monitorGithubTokenSecret).",
        _github_repository,
    ),
    Key(
        "monitorGithubTokenSecret",
        "string",
        "",
        "Name or ARN of the Secrets Manager secret (you create it) holding the GitHub token for "
        "repository_dispatch.",
        _text,
    ),
)
_BY_NAME = {key.name: key for key in KEYS}


def parse_config(values: Mapping[str, object]) -> StackConfig:
    """Validate the stack's text values; every problem at once.

    A key missing here takes its default, as the engine would have merged it in.
    """
    problems: list[str] = []
    for unknown in sorted(set(values) - set(_BY_NAME)):
        # Today's engine passes an undeclared key through (infra/engine_config.py): a typo
        # would otherwise be ignored and its default deployed.
        close = difflib.get_close_matches(unknown, _BY_NAME, n=1)
        problems.append(
            f"{NAMESPACE}:{unknown} is not declared in Pulumi.yaml"
            + (f" (did you mean {close[0]}?)" if close else "")
            + f"; declared keys: {', '.join(sorted(_BY_NAME))}"
        )
    parsed: dict[str, Any] = {}
    for key in KEYS:
        raw = values.get(key.name, key.default)
        text = as_config_text(raw)
        try:
            parsed[key.name] = key.parse(text)
        except _Invalid as invalid:
            problems.append(f"{NAMESPACE}:{key.name}={text!r} {invalid}")
    if not problems:
        problems.extend(_cross_checks(parsed))
    if problems:
        raise ConfigError("invalid stack config: " + "; ".join(problems))
    bars = {metric: parsed[_bar_key(metric)] for metric in GATED_METRICS}
    names = {field.name for field in fields(StackConfig)}
    simple = {_snake(name): value for name, value in parsed.items() if _snake(name) in names}
    return StackConfig(**simple, quality_bars=bars)


def _cross_checks(parsed: Mapping[str, Any]) -> list[str]:
    problems = []
    if parsed["serverlessMemoryMb"] not in SERVERLESS_MEMORY_MB:
        problems.append(
            f"{NAMESPACE}:serverlessMemoryMb={parsed['serverlessMemoryMb']} must be one of "
            f"{', '.join(map(str, SERVERLESS_MEMORY_MB))}"
        )
    if parsed["dataPath"].startswith("s3://") and not parsed["dataVersion"]:
        problems.append(
            f"{NAMESPACE}:dataVersion must be set for an s3:// dataPath: change it when the "
            "data changes, so that the model retrains"
        )
    if parsed["trainingUseSpot"] and (
        parsed["trainingMaxWaitSeconds"] < parsed["trainingMaxRuntimeSeconds"]
    ):
        problems.append(
            f"{NAMESPACE}:trainingMaxWaitSeconds={parsed['trainingMaxWaitSeconds']} must be at "
            f"least trainingMaxRuntimeSeconds={parsed['trainingMaxRuntimeSeconds']}"
        )
    if not parsed["endpointInstanceType"] and parsed["dataCapturePercent"] > 0:
        problems.append(
            f"{NAMESPACE}:dataCapturePercent={parsed['dataCapturePercent']} needs "
            "endpointInstanceType: SageMaker serverless endpoints do not capture data"
        )
    if parsed["autoscalingMaxInstances"]:
        if not parsed["endpointInstanceType"]:
            problems.append(
                f"{NAMESPACE}:autoscalingMaxInstances={parsed['autoscalingMaxInstances']} needs "
                "endpointInstanceType (serverless endpoints scale by themselves; 0 = off)"
            )
        elif parsed["autoscalingMaxInstances"] < parsed["endpointInstanceCount"]:
            problems.append(
                f"{NAMESPACE}:autoscalingMaxInstances={parsed['autoscalingMaxInstances']} must be "
                f"at least endpointInstanceCount={parsed['endpointInstanceCount']}"
            )
    if parsed["monitorGithubRepository"] and not parsed["monitorGithubTokenSecret"]:
        problems.append(
            f"{NAMESPACE}:monitorGithubRepository={parsed['monitorGithubRepository']} needs "
            "monitorGithubTokenSecret (the Secrets Manager secret holding the GitHub token)"
        )
    if parsed["forceDestroyBuckets"] and parsed["protectData"]:
        problems.append(
            f"{NAMESPACE}:forceDestroyBuckets and protectData contradict each other: choose one"
        )
    return problems


def _bar_key(metric: str) -> str:
    return f"min{''.join(part.capitalize() for part in metric.split('_'))}"


def _snake(name: str) -> str:
    # alarm5xxErrors -> alarm_5xx_errors; alarmModelLatencyP99Ms -> alarm_model_latency_p99_ms
    return re.sub(r"(?<=[a-z])(?=[0-9])|(?<!^)(?=[A-Z])", "_", name).lower()


# Settings that only one endpoint shape uses. The other shape ignores them; a value other than
# the default there is almost certainly a mistake, so it is named in a warning, not dropped
# silently. (Presence cannot be the signal: the engine merges every default in.)
INSTANCE_ONLY_KEYS = (
    "endpointInstanceCount",
    "alarmCpuUtilization",
    "alarmMemoryPercent",
    "alarmDiskPercent",
)
SERVERLESS_ONLY_KEYS = ("serverlessMemoryMb", "serverlessMaxConcurrency")


def ignored_settings(config: StackConfig) -> list[str]:
    """Warnings for settings of the other endpoint shape that are not at their defaults."""
    keys: tuple[str, ...]
    if config.serverless:
        keys, reason = (
            INSTANCE_ONLY_KEYS,
            "endpointInstanceType is empty, so the endpoint is serverless",
        )
    else:
        keys, reason = (
            SERVERLESS_ONLY_KEYS,
            f"endpointInstanceType={config.endpoint_instance_type} makes an instance endpoint",
        )
    warnings = []
    for name in keys:
        key = _BY_NAME[name]
        value = getattr(config, _snake(name))
        if value != key.parse(key.default):
            warnings.append(
                f"{NAMESPACE}:{name}={value} is ignored: {reason} (default {key.default})"
            )
    return warnings


def as_config_text(value: object) -> str:
    """A value given in Python (tests, overrides) as the engine would hand it over: text."""
    if isinstance(value, str):
        return value
    return go_json(value)


def load_from_pulumi() -> StackConfig:
    """The stack's config, from the Pulumi engine (the only caller of pulumi.Config).

    Every `sagestack:` key the engine handed over is read, not only the declared ones, so that
    an undeclared key (which today's engine passes through) fails instead of being ignored.
    The Python language host hands the whole RunRequest config to the program as the JSON
    object in PULUMI_CONFIG (pulumi/pulumi sdk/python/cmd/pulumi-language-python/main.go,
    `constructConfig`); the SDK reads it there, or from `set_all_config` (mocks, automation).
    """
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    config = pulumi.Config(NAMESPACE)
    given = namespace_values({**get_config_env(), **CONFIG.get()}, NAMESPACE)
    values = {name: value for name in given if (value := config.get(name)) is not None}
    stack_config = parse_config(values)
    for warning in ignored_settings(stack_config):
        pulumi.log.warn(warning)
    return stack_config


def load_stack_config(project_dir: Path, stack: str) -> StackConfig:
    """The config `pulumi up` would give the program of `project_dir` for `stack`."""
    try:
        values = engine_config_values(project_dir, stack)
    except EngineConfigError as error:
        raise ConfigError(str(error)) from None
    return parse_config(namespace_values(values, NAMESPACE))
