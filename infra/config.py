"""Stack configuration: every key, its type, default and validation, in one place.

Each key is declared once, as the metadata of the field it sets in its unit's frozen dataclass
(TrainingConfig, EndpointConfig, AlarmThresholds, ...); StackConfig holds the units, and each
component receives its unit whole. `Pulumi.yaml`'s config block and docs/configuration.md are
generated from the declarations (infra/config_docs.py, `make docs`); `Pulumi.<stack>.yaml`
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
import functools
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

from contracts.hyperparameters import ALGORITHMS
from contracts.json_text import MAX_INTEGER_DIGITS
from contracts.metrics import GATED_METRICS, bar_key
from contracts.validation import Invalid, number_between, one_of, validate, whole_number
from infra.engine_config import (
    EngineConfigError,
    config_text,
    engine_config_values,
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
# Instance families with local NVMe instance storage. AWS encrypts that storage itself and
# refuses a KMS key for it: CreateEndpointConfig's KmsKeyId, CreateTrainingJob's and
# CreateProcessingJob's VolumeKmsKeyId ("You can't request a VolumeKmsKeyId when using an
# instance type with local storage", botocore's sagemaker model, ResourceConfig). The `d`
# families (m5d, c6gd, g4dn, p3dn, p4d, p4de, ...) and, from the same model's VolumeSizeInGB
# ("ML instance families with the NVMe-type instance storage include ml.p4d, ml.g4dn, and
# ml.g5") and EC2's instance store list (docs.aws.amazon.com/ec2/latest/instancetypes/ac.html,
# "Instance store specifications"), the accelerated families without a `d`. inf1 and inf2 are
# EBS-only there.
_LOCAL_STORAGE_D_FAMILY = re.compile(r"^ml\.[a-z]+[0-9]+[a-z]*d[a-z]*\.")
_LOCAL_STORAGE_FAMILIES = frozenset(
    {"dl1", "g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"}
    | {"p6-b200", "p6-b300", "p6e-gb200"}
)


def has_local_storage(instance_type: str) -> bool:
    family = instance_type.split(".")[1] if instance_type.count(".") == 2 else ""
    return bool(_LOCAL_STORAGE_D_FAMILY.match(instance_type)) or family in _LOCAL_STORAGE_FAMILIES


class ConfigError(ValueError):
    """One or more stack config values that cannot be used."""


# Longest value (as its repr) a message repeats: a 10 MB value is named, not echoed.
_SHOWN_CHARS = 200


def _shown(value: object) -> str:
    text = repr(value)
    if len(text) <= _SHOWN_CHARS:
        return text
    return f"{text[: _SHOWN_CHARS - 20]}...{text[-12:]} ({len(str(value))} characters)"


# Validators: text in (as the engine hands it over), a typed value out, or Invalid saying
# what is allowed. contracts/validation.py holds the ones training's hyperparameters share.
def _text(value: str) -> str:
    return value.strip()


def _non_empty(value: str) -> str:
    if not value.strip():
        raise Invalid("must not be empty")
    return value.strip()


def _boolean(value: str) -> bool:
    text = value.strip().lower()
    if text not in ("true", "false"):
        raise Invalid("must be true or false")
    return text == "true"


# EventBridge Scheduler's expressions (CreateSchedule's ScheduleExpression: "a rate expression
# consists of a value as a positive integer, and a unit"; "a cron expression consists of six
# fields"). EventBridge's rate reference (docs.aws.amazon.com/eventbridge/latest/userguide/
# eb-rate-expressions.html): "If the value is equal to 1, then the unit must be singular. If
# the value is greater than 1, the unit must be plural"; its cron reference: day-of-month and
# day-of-week cannot both be given, "if you use [*] in one, you must use ? in the other".
# ASCII digits only: `\d` would also take other scripts' digits.
_RATE = re.compile(r"rate\(([0-9]+) (minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\(([^()]+)\)")
_CRON_FIELD = re.compile(r"[0-9A-Za-z*?,/#L W-]+")
# Owner: letters, digits and single hyphens, not first or last, up to 39 characters. Repository:
# letters, digits, `.`, `_`, `-`, up to 100, and not `.` or `..` (GitHub refuses both names).
_GITHUB_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
_GITHUB_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")


def _schedule(value: str) -> str:
    text = value.strip()
    if not text:
        return text
    allowed = (
        "must be empty, rate(<n> minute|minutes|hour|hours|day|days) with n >= 1 (singular "
        "for 1) or cron(<six fields>)"
    )
    rate, cron = _RATE.fullmatch(text), _CRON.fullmatch(text)
    if rate:
        try:
            number = whole_number(1, 10**20 - 1)(rate[1])
        except Invalid:
            raise Invalid(allowed) from None
        if (number == 1) == rate[2].endswith("s"):
            raise Invalid(allowed)
    elif cron:
        fields_ = cron[1].split()
        if len(fields_) != 6 or not all(_CRON_FIELD.fullmatch(part) for part in fields_):
            raise Invalid(allowed)
        if "?" not in (fields_[2], fields_[4]):
            raise Invalid(f"{allowed}; cron needs ? in day-of-month or day-of-week")
    else:
        raise Invalid(allowed)
    return text


def _github_repository(value: str) -> str:
    text = value.strip()
    if not text:
        return text
    owner, _, name = text.partition("/")
    if (
        not _GITHUB_OWNER.fullmatch(owner)
        or not _GITHUB_NAME.fullmatch(name)
        or name in (".", "..")
    ):
        raise Invalid("must be empty or a GitHub owner/name such as octo-org/sagestack")
    return text


def _log_retention(allow_zero: bool) -> Callable[[str], int]:
    allowed = ((0,) if allow_zero else ()) + LOG_RETENTION_DAYS

    def parse(value: str) -> int:
        try:
            days: int | None = whole_number(0)(value)
        except Invalid:
            days = None
        if days not in allowed:
            raise Invalid(
                "must be one of the retentions CloudWatch Logs takes: "
                + ", ".join(map(str, allowed))
            )
        return days

    return parse


@functools.cache
def _sagemaker_model() -> Any:
    """botocore's SageMaker service model, read once (0.2 s): every instance-type key uses it."""
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


@functools.cache
def _instance_types(shape: str) -> tuple[str, ...]:
    """The instance types a SageMaker API takes: the enum of `shape` in botocore's model."""
    return tuple(_sagemaker_model().shape_for(shape).enum)


def _instance_type(shape: str, optional: bool = False) -> Callable[[str], str]:
    """An instance type the API whose member is the botocore shape `shape` takes."""

    def parse(value: str) -> str:
        text = value.strip()
        if optional and not text:
            return ""
        known = _instance_types(shape)
        if text not in known:
            close = difflib.get_close_matches(text, known, n=3)
            raise Invalid(
                "must be a SageMaker instance type such as ml.m5.large that "
                f"{shape} lists" + (f" (did you mean {' or '.join(close)}?)" if close else "")
            )
        return text

    return parse


def _data_path(value: str) -> str:
    text = value.strip()
    if not text:
        raise Invalid("must be a local CSV/Parquet path or an s3:// URI")
    if text.startswith("s3://") and not re.match(
        r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+", text
    ):
        raise Invalid("must be an s3://bucket/key URI")
    if "://" in text and not text.startswith("s3://"):
        raise Invalid("must be a local path or an s3:// URI")
    return text


def _image_uri(value: str) -> str:
    text = value.strip()
    if text and not is_ecr_image_uri(text):
        raise Invalid(
            "must be empty (build the image) or an ECR image URI such as "
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/sagestack-training@sha256:<digest>"
        )
    return text


# A plain addr-spec (local@domain), as SNS's email protocol takes it: no display name, no
# quoted local part, a domain of dot-separated labels with a letter TLD and no trailing dot.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def _emails(value: str) -> tuple[str, ...]:
    addresses = tuple(part.strip() for part in value.split(",") if part.strip())
    bad = [address for address in addresses if not _EMAIL.fullmatch(address)]
    if bad:
        raise Invalid(
            f"must be comma-separated plain email addresses such as ml@example.com "
            f"({_shown(bad)} are not)"
        )
    counts = Counter(address.lower() for address in addresses)
    twice = sorted({a for a in addresses if counts[a.lower()] > 1})
    if twice:
        raise Invalid(f"must not repeat an address ({_shown(twice)} repeated)")
    return addresses


# https://host[:port][/path...]: a host name of dot-separated labels that SNS can reach on the
# internet (not "https://a", not "https://:@"), no user info.
_HTTPS_URL = re.compile(
    r"https://(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
    r"(?::[0-9]{1,5})?(?:[/?#]\S*)?"
)


def _https_url(value: str) -> str:
    text = value.strip()
    if text and not _HTTPS_URL.fullmatch(text):
        raise Invalid("must be empty or an https:// URL with a host name")
    return text


def _period(value: str) -> int:
    seconds = whole_number(60, 86400)(value)
    if seconds % 60:
        raise Invalid("must be a multiple of 60 seconds (CloudWatch's standard resolution)")
    return seconds


# CreateTrainingJob's HyperParameters (botocore's sagemaker model: the map and its key and value
# shapes): at most 100 entries, keys up to 256 characters, values up to 2500, both matching
# `.*`, which (a Java pattern) matches no line terminator. tests/infra/test_config.py holds
# these to botocore's model.
HYPERPARAMETERS_MAX_ENTRIES = 100
HYPERPARAMETER_KEY_MAX = 256
HYPERPARAMETER_VALUE_MAX = 2500
_LINE_TERMINATORS = re.compile("[\n\r\u0085\u2028\u2029]")
_JSON_HINT = 'must be a JSON object such as {"C": 0.5}'


class _NotFinite(float):
    """A JSON number float() cannot hold (NaN, Infinity, 1e400): kept to be named, then refused."""


def _json_float(text: str) -> float:
    number = float(text)
    return number if math.isfinite(number) else _NotFinite(number)


def _json_int(text: str) -> int | float:
    # Python's int() refuses more than MAX_INTEGER_DIGITS digits with a plain ValueError.
    return int(text) if len(text.lstrip("-")) <= MAX_INTEGER_DIGITS else _NotFinite(math.inf)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    counts = Counter(key for key, _ in pairs)
    twice = sorted(key for key, count in counts.items() if count > 1)
    if twice:
        # json.loads would keep the last value silently.
        raise Invalid(f"must not repeat a key ({', '.join(map(_shown, twice))} repeated)")
    return dict(pairs)


def _hyperparameter_value(value: Any) -> str | None:
    """The text the training job receives for `value`, or None when it cannot take it.

    Numbers and lists travel as JSON text and null as `null`, which training reads back with
    its strict JSON reader (training/hyperparameters.py: `_unwrapped`, `_text_list`).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool | dict):
        return None
    if isinstance(value, list):
        if not all(
            isinstance(item, str | int | float) and not isinstance(item, bool) for item in value
        ):
            return None
        return json.dumps(value, ensure_ascii=False)
    if value is None or isinstance(value, int | float):
        return json.dumps(value)
    return None


def _hyperparameters(value: str) -> dict[str, str]:
    """A JSON object of extra training hyperparameters; the training container validates their
    names and values, this their form: what JSON, SageMaker's API and training can carry."""
    try:
        parsed = json.loads(
            value or "{}",
            object_pairs_hook=_unique_pairs,
            parse_float=_json_float,
            parse_int=_json_int,
            parse_constant=_json_float,
        )
    except RecursionError:
        raise Invalid(f"is not valid JSON (nested too deeply); {_JSON_HINT}") from None
    except Invalid:
        raise
    except ValueError:
        raise Invalid(f"is not valid JSON; {_JSON_HINT}") from None
    if not isinstance(parsed, dict):
        raise Invalid(_JSON_HINT)
    problems = []
    texts: dict[str, str] = {}
    for key, inner in parsed.items():
        if isinstance(inner, _NotFinite) or (
            isinstance(inner, list) and any(isinstance(item, _NotFinite) for item in inner)
        ):
            problems.append(
                f"{_shown(key)} must be a finite number (not NaN, Infinity or beyond a "
                "float64, such as 1e400)"
            )
            continue
        text = _hyperparameter_value(inner)
        if text is None:
            problems.append(
                f"{_shown(key)} must be a number, text, a list of those, or null "
                f"(not {_shown(inner)})"
            )
            continue
        texts[key] = text
    if problems:
        raise Invalid("has values training cannot take: " + "; ".join(problems))
    reserved = {"target", "algorithm"} | {bar_key(metric) for metric in GATED_METRICS}
    clashes = sorted(reserved & set(parsed))
    if clashes:
        raise Invalid(f"must not set {clashes}: they have config keys of their own")
    return texts


def _job_hyperparameter_problems(hyperparameters: Mapping[str, str]) -> list[str]:
    """What CreateTrainingJob would refuse in the whole map the training job gets."""
    problems = []
    if len(hyperparameters) > HYPERPARAMETERS_MAX_ENTRIES:
        problems.append(
            f"the training job would get {len(hyperparameters)} hyperparameters (with target, "
            f"algorithm and the quality bars); SageMaker takes at most "
            f"{HYPERPARAMETERS_MAX_ENTRIES}"
        )
    for key, value in hyperparameters.items():
        if len(key) > HYPERPARAMETER_KEY_MAX or _LINE_TERMINATORS.search(key):
            problems.append(
                f"hyperparameter name {_shown(key)} must be at most "
                f"{HYPERPARAMETER_KEY_MAX} characters on one line (SageMaker's limit)"
            )
        if len(value) > HYPERPARAMETER_VALUE_MAX or _LINE_TERMINATORS.search(value):
            problems.append(
                f"hyperparameter {_shown(key)}={_shown(value)} must be at most "
                f"{HYPERPARAMETER_VALUE_MAX} characters on one line (SageMaker's limit)"
            )
    return problems


@dataclass(frozen=True)
class Key:
    """A config key: its Pulumi name, Pulumi type, default (as text), meaning and validator."""

    name: str
    kind: str  # Pulumi's project config types: string, integer, boolean
    default: str
    description: str
    parse: Callable[[str], Any]


def _key(name: str, kind: str, default: str, description: str, parse: Callable[[str], Any]) -> Any:
    """A unit config field, declared with the stack config key that sets it (its metadata).

    The field defaults to the key's default, parsed: a unit built in code (tests, tools) with
    only the values it cares about is what the engine's defaults would give.
    """
    return field(
        default_factory=lambda: parse(default),
        metadata={"key": Key(name, kind, default, description, parse)},
    )


def _quality_bar(name: str, metric: str) -> Any:
    return _key(
        name,
        "string",
        "0",
        f"Quality bar: the lowest test {metric} that may ship (0 to 1; 0 = none).",
        number_between(0, 1),
    )


# The units, one per component (or family of components) that reads them. Each field declares
# its key once; Pulumi.yaml's config block and docs/configuration.md are generated from these
# declarations (infra/config_docs.py, `make docs`), in this order.
@dataclass(frozen=True)
class TrainingConfig:
    """The data, the estimator, its quality bars and the training job's resources."""

    data_path: str = _key(
        "dataPath",
        "string",
        "data/breast_cancer.csv",
        "Training data: a CSV or Parquet file, relative to the repository root, or an s3:// URI.",
        _data_path,
    )
    data_version: str = _key(
        "dataVersion",
        "string",
        "",
        "For an s3:// dataPath: a version key you change when the data changes (retrains).",
        _text,
    )
    target: str = _key("target", "string", "target", "Name of the label column.", _non_empty)
    algorithm: str = _key(
        "algorithm",
        "string",
        "logistic_regression",
        "logistic_regression, random_forest or hist_gradient_boosting.",
        one_of(ALGORITHMS),
    )
    hyperparameters: Mapping[str, str] = _key(
        "hyperparameters",
        "string",
        "{}",
        'Further training hyperparameters as a JSON object, e.g. {"C": 0.5}.',
        _hyperparameters,
    )
    # One per GATED_METRICS entry, named min_<metric> as the training container's keys are.
    min_accuracy: float = _quality_bar("minAccuracy", "accuracy")
    min_precision: float = _quality_bar("minPrecision", "precision")
    min_recall: float = _quality_bar("minRecall", "recall")
    min_f1: float = _quality_bar("minF1", "f1")
    min_roc_auc: float = _quality_bar("minRocAuc", "roc_auc")
    instance_type: str = _key(
        "trainingInstanceType",
        "string",
        "ml.m5.large",
        "Training instance type.",
        _instance_type("TrainingInstanceType"),
    )
    volume_gb: int = _key(
        "trainingVolumeGb", "integer", "10", "Training volume size in GB.", whole_number(1, 16384)
    )
    max_runtime_seconds: int = _key(
        "trainingMaxRuntimeSeconds",
        "integer",
        "3600",
        "Training time limit.",
        whole_number(60, 432000),
    )
    use_spot: bool = _key(
        "trainingUseSpot", "boolean", "false", "Managed spot training, with checkpoints.", _boolean
    )
    max_wait_seconds: int = _key(
        "trainingMaxWaitSeconds",
        "integer",
        "7200",
        "Spot training: longest wait plus run time (at least trainingMaxRuntimeSeconds).",
        whole_number(60, 432000),
    )

    @property
    def data_in_s3(self) -> bool:
        return self.data_path.startswith("s3://")

    @property
    def quality_bars(self) -> dict[str, float]:
        return {metric: float(getattr(self, f"min_{metric}")) for metric in GATED_METRICS}

    def job_hyperparameters(self) -> dict[str, str]:
        """What the training job receives: every value as text, as SageMaker passes it."""
        values = {"target": self.target, "algorithm": self.algorithm, **self.hyperparameters}
        values.update(
            {bar_key(metric): repr(bar) for metric, bar in self.quality_bars.items() if bar > 0}
        )
        return values


@dataclass(frozen=True)
class EndpointConfig:
    """The endpoint's shape (instances, or serverless when no instance type), its capture and
    its model server."""

    instance_type: str = _key(
        "endpointInstanceType",
        "string",
        "",
        "Endpoint instance type; empty for a serverless endpoint.",
        _instance_type("ProductionVariantInstanceType", optional=True),
    )
    instance_count: int = _key(
        "endpointInstanceCount",
        "integer",
        "1",
        "Endpoint instances (instance endpoints).",
        whole_number(1, 100),
    )
    serverless_memory_mb: int = _key(
        "serverlessMemoryMb",
        "integer",
        "2048",
        f"Serverless endpoint memory: one of {', '.join(map(str, SERVERLESS_MEMORY_MB))}.",
        whole_number(1024, 6144),
    )
    serverless_max_concurrency: int = _key(
        "serverlessMaxConcurrency",
        "integer",
        "5",
        "Serverless endpoint concurrency (1-200).",
        whole_number(1, SERVERLESS_MAX_CONCURRENCY),
    )
    data_capture_percent: int = _key(
        "dataCapturePercent",
        "integer",
        "0",
        "Share of endpoint traffic captured to the capture bucket (0 = off).",
        whole_number(0, 100),
    )
    model_server_workers: int = _key(
        "modelServerWorkers",
        "integer",
        "0",
        "Inference worker processes per instance; 0 = one per vCPU.",
        whole_number(0, 64),
    )
    model_server_timeout_seconds: int = _key(
        "modelServerTimeoutSeconds",
        "integer",
        "60",
        "Inference request timeout (SageMaker gives up on a request after 60 s).",
        whole_number(1, 3600),
    )

    @property
    def serverless(self) -> bool:
        return not self.instance_type


@dataclass(frozen=True)
class StorageConfig:
    """The buckets, their key and how `pulumi destroy` treats them."""

    capture_retention_days: int = _key(
        "captureRetentionDays",
        "integer",
        "30",
        "Days captured traffic is kept.",
        whole_number(1, 3650),
    )
    force_destroy: bool = _key(
        "forceDestroyBuckets",
        "boolean",
        "false",
        "`pulumi destroy` empties and deletes the buckets (dev).",
        _boolean,
    )
    protect_data: bool = _key(
        "protectData",
        "boolean",
        "false",
        "Data and artifact buckets are protected and retained by `pulumi destroy` (prod).",
        _boolean,
    )
    customer_managed_key: bool = _key(
        "customerManagedKey",
        "boolean",
        "false",
        "A customer-managed KMS key with rotation instead of the AWS-managed one.",
        _boolean,
    )
    noncurrent_version_days: int = _key(
        "noncurrentVersionDays",
        "integer",
        "30",
        "Days an overwritten or deleted object version is kept in the buckets.",
        whole_number(1, 3650),
    )


@dataclass(frozen=True)
class ImagesConfig:
    """The two container images: prebuilt ones, or built here into repositories that keep a
    few."""

    training_image_uri: str = _key(
        "trainingImageUri",
        "string",
        "",
        "A prebuilt training image in ECR (by digest is best); empty to build its Dockerfile.",
        _image_uri,
    )
    inference_image_uri: str = _key(
        "inferenceImageUri",
        "string",
        "",
        "A prebuilt inference image in ECR (by digest is best); empty to build its Dockerfile.",
        _image_uri,
    )
    keep_images: int = _key(
        "ecrKeepImages",
        "integer",
        "10",
        "Images each ECR repository keeps.",
        whole_number(1, 1000),
    )


@dataclass(frozen=True)
class LogsConfig:
    """How long CloudWatch keeps the logs."""

    retention_days: int = _key(
        "logRetentionDays",
        "integer",
        "30",
        "CloudWatch log retention.",
        _log_retention(allow_zero=False),
    )
    training_log_group_retention_days: int = _key(
        "trainingLogGroupRetentionDays",
        "integer",
        "0",
        "Retention of /aws/sagemaker/TrainingJobs, which the whole account shares: set it in one "
        "stack per account and region only (0 = leave it alone).",
        _log_retention(allow_zero=True),
    )


@dataclass(frozen=True)
class NotificationsConfig:
    """Who the alarm topic tells."""

    emails: tuple[str, ...] = _key(
        "alarmEmails",
        "string",
        "",
        "Comma-separated emails told of alarms and failed training (each confirms once).",
        _emails,
    )
    https_url: str = _key(
        "alarmHttpsUrl",
        "string",
        "",
        "An https:// URL told of alarms and failed training (SNS subscription); empty for none.",
        _https_url,
    )


@dataclass(frozen=True)
class AlarmThresholds:
    """When the endpoint's alarms fire (infra/alarm_specs.py)."""

    period_seconds: int = _key(
        "alarmPeriodSeconds", "integer", "60", "Alarm period (a multiple of 60).", _period
    )
    evaluation_periods: int = _key(
        "alarmEvaluationPeriods",
        "integer",
        "3",
        "Periods an alarm's metric must breach in a row before it fires.",
        whole_number(1, 100),
    )
    errors_5xx: int = _key(
        "alarm5xxErrors",
        "integer",
        "1",
        "5XX responses in one period that count as a breach.",
        whole_number(1, 1000000),
    )
    rate_4xx_percent: int = _key(
        "alarm4xxRatePercent",
        "integer",
        "10",
        "Share of invocations answered 4XX, in percent, that counts as a breach.",
        whole_number(1, 100),
    )
    model_latency_p99_ms: int = _key(
        "alarmModelLatencyP99Ms",
        "integer",
        "500",
        "p99 ModelLatency, in milliseconds, that counts as a breach.",
        whole_number(1, 600000),
    )
    overhead_latency_p99_ms: int = _key(
        "alarmOverheadLatencyP99Ms",
        "integer",
        "200",
        "p99 OverheadLatency (SageMaker's own), in milliseconds, that counts as a breach.",
        whole_number(1, 600000),
    )
    cpu_utilization: int = _key(
        "alarmCpuUtilization",
        "integer",
        "160",
        "Instance endpoints: CPUUtilization that counts as a breach (100 per vCPU; m5.large: 2).",
        whole_number(1, 12800),
    )
    memory_percent: int = _key(
        "alarmMemoryPercent",
        "integer",
        "85",
        "Instance endpoints: MemoryUtilization (percent) that counts as a breach.",
        whole_number(1, 100),
    )
    disk_percent: int = _key(
        "alarmDiskPercent",
        "integer",
        "85",
        "Instance endpoints: DiskUtilization (percent) that counts as a breach.",
        whole_number(1, 100),
    )
    no_traffic_minutes: int = _key(
        "alarmNoTrafficMinutes",
        "integer",
        "0",
        "Alarm when the endpoint gets no invocations for this many minutes (0 = off).",
        whole_number(0, 1440),
    )
    schema_violations: int = _key(
        "alarmSchemaViolations",
        "integer",
        "100",
        "Requests rejected by the schema in one period (summary lines) that count as a breach.",
        whole_number(1, 1000000),
    )


@dataclass(frozen=True)
class DeploymentPolicy:
    """How a new endpoint configuration takes traffic (SageMaker's blue/green update)."""

    strategy: str = _key(
        "deploymentStrategy",
        "string",
        "all_at_once",
        "How a new model takes traffic: all_at_once, canary or linear (blue/green, rollback).",
        one_of(DEPLOYMENT_STRATEGIES),
    )
    canary_percent: int = _key(
        "deploymentCanaryPercent",
        "integer",
        "10",
        "canary: the share of capacity that takes traffic first, in percent.",
        whole_number(1, 99),
    )
    linear_step_percent: int = _key(
        "deploymentLinearStepPercent",
        "integer",
        "25",
        "linear: the share of capacity moved at each step, in percent.",
        whole_number(1, 99),
    )
    wait_seconds: int = _key(
        "deploymentWaitSeconds",
        "integer",
        "300",
        "Seconds between traffic shifts, watching the rollback alarms.",
        whole_number(0, 3600),
    )
    termination_wait_seconds: int = _key(
        "deploymentTerminationWaitSeconds",
        "integer",
        "300",
        "Seconds the old fleet is kept after the shift (baking), ready for a rollback.",
        whole_number(0, 3600),
    )


@dataclass(frozen=True)
class AutoscalingConfig:
    """Target tracking on invocations per instance (instance endpoints only)."""

    max_instances: int = _key(
        "autoscalingMaxInstances",
        "integer",
        "0",
        "Instance endpoints: scale from endpointInstanceCount up to this many instances (0 = off).",
        whole_number(0, 100),
    )
    invocations_per_instance: int = _key(
        "autoscalingInvocationsPerInstance",
        "integer",
        "1000",
        "Target invocations per instance per minute for scaling.",
        whole_number(1, 1000000),
    )
    scale_in_cooldown_seconds: int = _key(
        "autoscalingScaleInCooldownSeconds",
        "integer",
        "300",
        "Seconds after a scale-in before another.",
        whole_number(0, 3600),
    )
    scale_out_cooldown_seconds: int = _key(
        "autoscalingScaleOutCooldownSeconds",
        "integer",
        "60",
        "Seconds after a scale-out before another.",
        whole_number(0, 3600),
    )

    @property
    def enabled(self) -> bool:
        return self.max_instances > 0


@dataclass(frozen=True)
class BudgetConfig:
    """What a pull request's preview may cost (`python -m sagestack cost`)."""

    monthly_usd: int = _key(
        "monthlyBudgetUsd",
        "integer",
        "0",
        "A pull request's preview fails when `python -m sagestack cost` estimates more a month "
        "(USD; 0 = no budget).",
        whole_number(0, 10_000_000),
    )


@dataclass(frozen=True)
class MonitorConfig:
    """The scheduled job that judges captured traffic, and the loop back to training."""

    schedule: str = _key(
        "monitorSchedule",
        "string",
        "rate(1 hour)",
        "Stacks that capture: EventBridge Scheduler expression that runs the monitoring job "
        "(rate(...) or cron(...); empty = no monitoring job).",
        _schedule,
    )
    window_minutes: int = _key(
        "monitorWindowMinutes",
        "integer",
        "60",
        "Minutes of captured traffic each monitoring job judges, ending at its scheduled time.",
        whole_number(1, 1440),
    )
    instance_type: str = _key(
        "monitorInstanceType",
        "string",
        "ml.t3.medium",
        "Instance type of the monitoring Processing job.",
        _instance_type("ProcessingInstanceType"),
    )
    ground_truth: bool = _key(
        "monitorGroundTruth",
        "boolean",
        "false",
        "The monitoring job also reads labels under the capture bucket's ground-truth/ prefix "
        "and judges live quality (the prefix must hold at least one object).",
        _boolean,
    )
    github_repository: str = _key(
        "monitorGithubRepository",
        "string",
        "",
        "owner/name of the GitHub repository a drift or quality alarm sends repository_dispatch "
        "to (empty = off; needs monitorGithubTokenSecret).",
        _github_repository,
    )
    github_token_secret: str = _key(
        "monitorGithubTokenSecret",
        "string",
        "",
        "Name or ARN of the Secrets Manager secret (you create it) holding the GitHub token for "
        "repository_dispatch.",
        _text,
    )


@dataclass(frozen=True)
class StackConfig:
    """The whole stack config: one unit per component, each passed to it whole."""

    training: TrainingConfig
    endpoint: EndpointConfig
    storage: StorageConfig
    images: ImagesConfig
    logs: LogsConfig
    notifications: NotificationsConfig
    alarms: AlarmThresholds
    deployment: DeploymentPolicy
    autoscaling: AutoscalingConfig
    budget: BudgetConfig
    monitor: MonitorConfig

    @property
    def serverless(self) -> bool:
        return self.endpoint.serverless

    @property
    def model_monitoring(self) -> bool:
        """Captured traffic is judged on a schedule (only instance endpoints capture)."""
        return self.endpoint.data_capture_percent > 0 and bool(self.monitor.schedule)


@dataclass(frozen=True)
class _Place:
    """Where a key's value lives in StackConfig: unit attribute, then field attribute."""

    unit: str
    field: str
    key: Key


# The unit classes by StackConfig attribute, in declaration order (the keys' order).
_UNITS: dict[str, type[Any]] = get_type_hints(StackConfig)
_PLACES = tuple(
    _Place(unit, member.name, member.metadata["key"])
    for unit, unit_type in _UNITS.items()
    for member in fields(unit_type)
)
KEYS: tuple[Key, ...] = tuple(place.key for place in _PLACES)
_BY_NAME = {key.name: key for key in KEYS}
_PLACE_OF = {place.key.name: place for place in _PLACES}


def parse_config(values: Mapping[str, object]) -> StackConfig:
    """Validate the stack's text values; every problem at once.

    A key missing here takes its default, as the engine would have merged it in. The checks
    across keys run on every key that parsed, so one run names every problem.
    """
    problems: list[str] = []
    for unknown in sorted(set(values) - set(_BY_NAME)):
        # Today's engine passes an undeclared key through (infra/engine_config.py): a typo
        # would otherwise be ignored and its default deployed.
        close = difflib.get_close_matches(unknown, _BY_NAME, n=3)
        problems.append(
            f"{NAMESPACE}:{_shown(unknown)[1:-1]} is not declared in Pulumi.yaml"
            + (
                f" (did you mean {' or '.join(close)}?)"
                if close
                else " (docs/configuration.md lists the keys)"
            )
        )
    texts: dict[str, str] = {}
    for key in KEYS:
        try:
            texts[key.name] = config_text(values.get(key.name, key.default))
        except EngineConfigError as error:
            problems.append(f"{NAMESPACE}:{key.name}={_shown(values[key.name])} {error}")
    parsed, invalid = validate(
        {key.name: key.parse for key in KEYS},
        texts,
        lambda name, text: f"{NAMESPACE}:{name}={_shown(text)}",
    )
    problems.extend(invalid)
    problems.extend(_cross_checks(parsed))
    if problems:
        raise ConfigError("invalid stack config: " + "; ".join(problems))
    members: dict[str, dict[str, Any]] = {unit: {} for unit in _UNITS}
    for place in _PLACES:
        members[place.unit][place.field] = parsed[place.key.name]
    return StackConfig(**{unit: _UNITS[unit](**members[unit]) for unit in _UNITS})


def parse_engine_config(values: Mapping[str, str]) -> StackConfig:
    """The StackConfig of everything the engine hands the program ("namespace:key" -> text).

    Other namespaces pass, but one that looks like a misspelt `sagestack` is an error: its keys
    would be ignored and their defaults deployed (`sagestak:minF1: 0.99` turns no gate on).
    """
    typos = sorted({key.split(":", 1)[0] for key in values if _looks_like_ours(key)})
    try:
        config = parse_config(namespace_values(values, NAMESPACE))
    except ConfigError as error:
        if not typos:
            raise
        raise ConfigError(f"{error}; {_typo_message(typos)}") from None
    if typos:
        raise ConfigError(f"invalid stack config: {_typo_message(typos)}")
    return config


def _typo_message(namespaces: list[str]) -> str:
    return "; ".join(
        f"namespace {_shown(namespace)[1:-1]}: is not {NAMESPACE}: (did you mean {NAMESPACE}:?)"
        for namespace in namespaces
    )


def _looks_like_ours(key: str) -> bool:
    namespace = key.split(":", 1)[0] if ":" in key else ""
    if not namespace or namespace == NAMESPACE:
        return False
    return _edit_distance(namespace.lower(), NAMESPACE, limit=2) <= 2


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, or limit + 1 once it is certainly above `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def _cross_checks(parsed: Mapping[str, Any]) -> list[str]:
    """The rules across keys, each run when every key it reads has parsed."""
    problems: list[str] = []
    for needs, check in _CROSS_CHECKS:
        if all(name in parsed for name in needs):
            problems.extend(check(parsed))
    return problems


def _serverless_memory(parsed: Mapping[str, Any]) -> list[str]:
    if parsed["serverlessMemoryMb"] in SERVERLESS_MEMORY_MB:
        return []
    return [
        f"{NAMESPACE}:serverlessMemoryMb={parsed['serverlessMemoryMb']} must be one of "
        f"{', '.join(map(str, SERVERLESS_MEMORY_MB))}"
    ]


def _data_version(parsed: Mapping[str, Any]) -> list[str]:
    if parsed["dataPath"].startswith("s3://") and not parsed["dataVersion"]:
        return [
            f"{NAMESPACE}:dataVersion must be set for an s3:// dataPath: change it when the "
            "data changes, so that the model retrains"
        ]
    return []


def _spot_wait(parsed: Mapping[str, Any]) -> list[str]:
    if parsed["trainingUseSpot"] and (
        parsed["trainingMaxWaitSeconds"] < parsed["trainingMaxRuntimeSeconds"]
    ):
        return [
            f"{NAMESPACE}:trainingMaxWaitSeconds={parsed['trainingMaxWaitSeconds']} must be at "
            f"least trainingMaxRuntimeSeconds={parsed['trainingMaxRuntimeSeconds']}"
        ]
    return []


def _capture(parsed: Mapping[str, Any]) -> list[str]:
    if not parsed["endpointInstanceType"] and parsed["dataCapturePercent"] > 0:
        return [
            f"{NAMESPACE}:dataCapturePercent={parsed['dataCapturePercent']} needs "
            "endpointInstanceType: SageMaker serverless endpoints do not capture data"
        ]
    return []


def _autoscaling(parsed: Mapping[str, Any]) -> list[str]:
    if not parsed["autoscalingMaxInstances"]:
        return []
    if not parsed["endpointInstanceType"]:
        return [
            f"{NAMESPACE}:autoscalingMaxInstances={parsed['autoscalingMaxInstances']} needs "
            "endpointInstanceType (serverless endpoints scale by themselves; 0 = off)"
        ]
    if parsed["autoscalingMaxInstances"] < parsed["endpointInstanceCount"]:
        return [
            f"{NAMESPACE}:autoscalingMaxInstances={parsed['autoscalingMaxInstances']} must be "
            f"at least endpointInstanceCount={parsed['endpointInstanceCount']}"
        ]
    return []


def _github(parsed: Mapping[str, Any]) -> list[str]:
    if parsed["monitorGithubRepository"] and not parsed["monitorGithubTokenSecret"]:
        return [
            f"{NAMESPACE}:monitorGithubRepository={parsed['monitorGithubRepository']} needs "
            "monitorGithubTokenSecret (the Secrets Manager secret holding the GitHub token)"
        ]
    return []


def _buckets(parsed: Mapping[str, Any]) -> list[str]:
    if parsed["forceDestroyBuckets"] and parsed["protectData"]:
        return [
            f"{NAMESPACE}:forceDestroyBuckets and protectData contradict each other: choose one"
        ]
    return []


# CloudWatch PutMetricAlarm (botocore's cloudwatch model, `Period`): "Period multiplied by
# EvaluationPeriods can't be more than 604,800 seconds. For alarms with a period of less than
# one hour (3,600 seconds), the total evaluation period can't be longer than one day (86,400
# seconds)."
def _alarm_window(parsed: Mapping[str, Any]) -> list[str]:
    period, periods = parsed["alarmPeriodSeconds"], parsed["alarmEvaluationPeriods"]
    limit = 86400 if period < 3600 else 604800
    if period * periods <= limit:
        return []
    return [
        f"{NAMESPACE}:alarmPeriodSeconds={period} x alarmEvaluationPeriods={periods} = "
        f"{period * periods} s must be at most {limit} s (CloudWatch: one day for periods under "
        "an hour, seven days otherwise)"
    ]


def _job_hyperparameters(parsed: Mapping[str, Any]) -> list[str]:
    training = {name: parsed[name] for name in _TRAINING_JOB_KEYS}
    values = TrainingConfig(
        **{_PLACE_OF[name].field: value for name, value in training.items()}
    ).job_hyperparameters()
    return [
        f"{NAMESPACE}:hyperparameters: {problem}"
        for problem in _job_hyperparameter_problems(values)
    ]


# The keys TrainingConfig.job_hyperparameters reads.
_TRAINING_JOB_KEYS = tuple(
    place.key.name
    for place in _PLACES
    if place.unit == "training"
    and (
        place.field in ("target", "algorithm", "hyperparameters") or place.field.startswith("min_")
    )
)
_CROSS_CHECKS: tuple[tuple[tuple[str, ...], Callable[[Mapping[str, Any]], list[str]]], ...] = (
    (("serverlessMemoryMb",), _serverless_memory),
    (("dataPath", "dataVersion"), _data_version),
    (("trainingUseSpot", "trainingMaxWaitSeconds", "trainingMaxRuntimeSeconds"), _spot_wait),
    (("endpointInstanceType", "dataCapturePercent"), _capture),
    (("autoscalingMaxInstances", "endpointInstanceType", "endpointInstanceCount"), _autoscaling),
    (("monitorGithubRepository", "monitorGithubTokenSecret"), _github),
    (("forceDestroyBuckets", "protectData"), _buckets),
    (("alarmPeriodSeconds", "alarmEvaluationPeriods"), _alarm_window),
    (_TRAINING_JOB_KEYS, _job_hyperparameters),
)


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
            f"endpointInstanceType={config.endpoint.instance_type} makes an instance endpoint",
        )
    warnings = []
    for name in keys:
        key = _BY_NAME[name]
        value = config_value(config, name)
        if value != key.parse(key.default):
            warnings.append(
                f"{NAMESPACE}:{name}={value} is ignored: {reason} (default {key.default})"
            )
    return warnings


def config_value(config: StackConfig, name: str) -> Any:
    """The value of the key called `name` (e.g. endpointInstanceCount) in `config`."""
    place = _PLACE_OF[name]
    return getattr(getattr(config, place.unit), place.field)


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
    everything = {**get_config_env(), **CONFIG.get()}
    given = namespace_values(everything, NAMESPACE)
    values = {name: value for name in given if (value := config.get(name)) is not None}
    others = {
        key: str(value) for key, value in everything.items() if not key.startswith(f"{NAMESPACE}:")
    }
    stack_config = parse_engine_config(
        {**others, **{f"{NAMESPACE}:{k}": v for k, v in values.items()}}
    )
    for warning in ignored_settings(stack_config):
        pulumi.log.warn(warning)
    return stack_config


def load_stack_config(project_dir: Path, stack: str) -> StackConfig:
    """The config `pulumi up` would give the program of `project_dir` for `stack`."""
    try:
        values = engine_config_values(project_dir, stack)
    except EngineConfigError as error:
        raise ConfigError(str(error)) from None
    return parse_engine_config(values)
