"""The monthly estimate: one line per billable thing, each a formula over the stack config, the
traffic assumptions and a price table. Pure: no files, no network.

A line whose price is missing (or in a unit the formula does not take) is unpriced: it says
"no price for X in Y" and adds nothing to the total, and the estimate says it is incomplete.
Months are AWS's 730 hours; sizes are binary (1 GB = 1024**3 bytes), as AWS bills them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.config import StackConfig
from sagestack.cost import prices
from sagestack.cost.inventory import Inventory, inventory
from sagestack.cost.prices import Price, PriceTable

HOURS_PER_MONTH = 730
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
KB_PER_GB = 1024 * 1024
MB_PER_GB = 1024
# Assumed sizes the config does not say (stated in each line's formula).
RESPONSE_KB = 0.2  # one prediction as JSON
CAPTURE_RECORD_OVERHEAD_KB = 0.5  # a capture record's metadata around request and response
SUMMARY_LINE_BYTES = 700  # one inference summary line (inference/app.py), as logged
DEFAULT_WORKERS = 2  # modelServerWorkers 0 = one per vCPU; ml.m5.large has 2
# What a serverless stack is compared with: staging's single instance.
COMPARISON_INSTANCE = "ml.m5.large"


@dataclass(frozen=True)
class Assumptions:
    """Traffic and usage the stack config cannot say; each is a CLI option."""

    requests_per_day: float = 1000
    payload_kb: float = 2.0
    # Serverless: how long one request holds its memory (billed per millisecond).
    duration_ms: float = 100
    training_runs_per_month: float = 4
    training_minutes_per_run: float = 10
    artifact_mb: float = 1.0
    # Alarm notifications a month (each is one SNS publish and one delivery per subscriber).
    notifications_per_month: float = 20
    # For an s3:// dataPath (a local file is measured).
    dataset_gb: float | None = None

    def problems(self) -> list[str]:
        found = []
        for name, value in vars(self).items():
            if value is None:
                continue
            if not (0 <= value < float("inf")):
                found.append(f"{name}={value} must be a finite number >= 0")
            elif value > _MOST[name]:
                found.append(f"{name}={value} must be at most {_MOST[name]:g}")
        return found


# Upper bounds, so that no total overflows into inf or a meaningless figure: SageMaker's own
# limits where it has them (6 MB payloads, a 60 s invocation timeout, 5-day training jobs), and
# otherwise far beyond anything one endpoint serves (a million requests a second).
_MOST = {
    "requests_per_day": 86_400 * 1e6,
    "payload_kb": 6 * 1024,
    "duration_ms": 60_000,
    "training_runs_per_month": 10_000,
    "training_minutes_per_run": 432_000 / 60,
    "artifact_mb": 1e7,
    "notifications_per_month": 1e9,
    "dataset_gb": 1e7,
}


@dataclass(frozen=True)
class Line:
    key: str  # stable, for comparing two estimates line by line
    item: str
    quantity: float
    unit: str
    formula: str
    price_key: str
    price: Price | None
    monthly_usd: float | None
    # Autoscaling: the month at the maximum instance count (else the same as monthly_usd).
    max_monthly_usd: float | None
    problem: str = ""
    note: str = ""


@dataclass(frozen=True)
class Estimate:
    stack: str
    region: str
    prices: str
    assumptions: Assumptions
    inventory: Inventory
    lines: tuple[Line, ...]
    notes: tuple[str, ...] = field(default=())
    comparison: str = ""

    @property
    def unpriced(self) -> tuple[Line, ...]:
        return tuple(line for line in self.lines if line.monthly_usd is None)

    @property
    def complete(self) -> bool:
        return not self.unpriced

    @property
    def total_usd(self) -> float:
        return sum(line.monthly_usd or 0.0 for line in self.lines)

    @property
    def max_total_usd(self) -> float:
        return sum(line.max_monthly_usd or 0.0 for line in self.lines)


def _price(table: PriceTable, key: str) -> tuple[Price | None, str]:
    found = table.get(key)
    if found is None:
        return None, f"no price for {key} in {table.region} ({table.description})"
    expected = prices.UNITS[prices.base_key(key)]
    if found.unit != expected:
        return None, (
            f"the price for {key} in {table.region} is per {found.unit}, not per {expected}: "
            "not used"
        )
    return found, ""


def _line(
    table: PriceTable,
    key: str,
    item: str,
    quantity: float,
    unit: str,
    formula: str,
    price_key: str,
    max_quantity: float | None = None,
    note: str = "",
) -> Line:
    price, problem = _price(table, price_key)
    monthly = None if price is None else quantity * price.usd
    top = quantity if max_quantity is None else max_quantity
    return Line(
        key=key,
        item=item,
        quantity=quantity,
        unit=unit,
        formula=formula,
        price_key=price_key,
        price=price,
        monthly_usd=monthly,
        max_monthly_usd=None if price is None else top * price.usd,
        problem=problem,
        note=note,
    )


def _unknown_quantity(key: str, item: str, price_key: str, problem: str) -> Line:
    return Line(key, item, 0.0, "", "", price_key, None, None, None, problem=problem)


def estimate(
    stack: str,
    region: str,
    config: StackConfig,
    assumptions: Assumptions,
    table: PriceTable,
    dataset_bytes: int | None,
) -> Estimate:
    """The stack's month, line by line. `dataset_bytes`: the local data file's size, if local."""
    inv = inventory(config)
    a = assumptions
    requests_month = a.requests_per_day * DAYS_PER_MONTH
    lines: list[Line] = []

    if config.serverless:
        memory_gb = config.endpoint.serverless_memory_mb / 1024
        gb_seconds = requests_month * a.duration_ms / 1000 * memory_gb
        lines.append(
            _line(
                table,
                "endpoint-serverless",
                "serverless endpoint compute",
                gb_seconds,
                "GB-second",
                f"{a.requests_per_day:g} requests/day x {DAYS_PER_MONTH:.2f} days x "
                f"{a.duration_ms:g} ms x {memory_gb:g} GB",
                prices.SERVERLESS_GB_SECOND,
                note="nothing is billed while no request runs",
            )
        )
    else:
        hours = config.endpoint.instance_count * HOURS_PER_MONTH
        top = config.autoscaling.max_instances if config.autoscaling.enabled else None
        lines.append(
            _line(
                table,
                "endpoint-instances",
                f"endpoint instances ({config.endpoint.instance_type})",
                hours,
                "instance-hour",
                f"{config.endpoint.instance_count} x {HOURS_PER_MONTH} h"
                + (f" (autoscaling: up to {top} x {HOURS_PER_MONTH} h)" if top else ""),
                prices.hosting(config.endpoint.instance_type),
                max_quantity=None if top is None else top * HOURS_PER_MONTH,
                note="billed whether or not requests arrive",
            )
        )
    traffic_gb = requests_month * (a.payload_kb + RESPONSE_KB) / KB_PER_GB
    lines.append(
        _line(
            table,
            "endpoint-data",
            "endpoint data processed (in + out)",
            traffic_gb,
            "GB",
            f"{a.requests_per_day:g} requests/day x {DAYS_PER_MONTH:.2f} days x "
            f"({a.payload_kb:g} KB in + {RESPONSE_KB:g} KB out)",
            prices.DATA_PROCESSED,
        )
    )

    training_hours = a.training_runs_per_month * min(
        a.training_minutes_per_run / 60, config.training.max_runtime_seconds / 3600
    )
    lines.append(
        _line(
            table,
            "training",
            f"training jobs ({config.training.instance_type})",
            training_hours,
            "instance-hour",
            f"{a.training_runs_per_month:g} runs/month x {a.training_minutes_per_run:g} min "
            f"(at most trainingMaxRuntimeSeconds={config.training.max_runtime_seconds}) x 1 "
            "instance",
            prices.training(config.training.instance_type),
            note="priced on demand: managed spot training costs less, by an amount AWS "
            "does not fix in advance"
            if config.training.use_spot
            else "a run happens when the data or the training config changes",
        )
    )

    if config.training.data_in_s3 and a.dataset_gb is None:
        lines.append(
            _unknown_quantity(
                "s3-dataset",
                "S3 dataset",
                prices.S3_STANDARD,
                f"the size of {config.training.data_path} is not known here: give --dataset-gb",
            )
        )
    else:
        dataset_gb = a.dataset_gb if a.dataset_gb is not None else (dataset_bytes or 0) / 1024**3
        origin = "--dataset-gb" if a.dataset_gb is not None else config.training.data_path
        lines.append(
            _line(
                table,
                "s3-dataset",
                "S3 dataset",
                dataset_gb,
                "GB-month",
                f"{dataset_gb * 1024:.3f} MB ({origin})",
                prices.S3_STANDARD,
            )
        )
    artifacts_gb = a.training_runs_per_month * a.artifact_mb / MB_PER_GB
    lines.append(
        _line(
            table,
            "s3-artifacts",
            "S3 model artifacts",
            artifacts_gb,
            "GB-month",
            f"{a.training_runs_per_month:g} runs x {a.artifact_mb:g} MB",
            prices.S3_STANDARD,
            note="grows by this much each month: the program expires no artifacts",
        )
    )
    if config.endpoint.data_capture_percent:
        record_kb = a.payload_kb + RESPONSE_KB + CAPTURE_RECORD_OVERHEAD_KB
        capture_gb = (
            a.requests_per_day
            * config.endpoint.data_capture_percent
            / 100
            * record_kb
            * config.storage.capture_retention_days
            / KB_PER_GB
        )
        lines.append(
            _line(
                table,
                "s3-capture",
                "S3 captured traffic",
                capture_gb,
                "GB-month",
                f"{a.requests_per_day:g} requests/day x {config.endpoint.data_capture_percent}% x "
                f"{record_kb:g} KB x {config.storage.capture_retention_days} days kept",
                prices.S3_STANDARD,
            )
        )

    lines.append(
        _line(
            table,
            "kms-keys",
            "KMS keys",
            inv.kms_keys,
            "key-month",
            f"{inv.kms_keys} key"
            + (
                " (the stack's own)"
                if config.storage.customer_managed_key
                else " (alarm topic only)"
            ),
            prices.KMS_KEY,
            note="rotation adds a key-month per yearly rotation, for the first two",
        )
    )
    lines.append(
        _line(
            table,
            "alarms",
            "CloudWatch alarms",
            inv.alarm_metrics,
            "alarm-metric-month",
            f"{len(inv.alarms)} alarms reading {inv.alarm_metrics} metrics",
            prices.ALARM_METRIC,
        )
    )
    if inv.autoscaling_alarms:
        lines.append(
            _line(
                table,
                "autoscaling-alarms",
                "autoscaling's own alarms",
                inv.autoscaling_alarms,
                "alarm-metric-month",
                f"{inv.autoscaling_alarms} alarms target tracking creates",
                prices.ALARM_METRIC,
            )
        )
    lines.append(
        _line(
            table,
            "dashboards",
            "CloudWatch dashboard",
            inv.dashboards,
            "dashboard-month",
            f"{inv.dashboards} dashboard",
            prices.DASHBOARD,
            note="an account's first 3 dashboards are free",
        )
    )
    lines.append(
        _line(
            table,
            "custom-metrics",
            "CloudWatch custom metrics",
            inv.custom_metrics,
            "metric-month",
            f"{inv.custom_metrics} metrics from the endpoint's log filters",
            prices.CUSTOM_METRIC,
        )
    )
    workers = config.endpoint.model_server_workers or DEFAULT_WORKERS
    if config.serverless:
        # One summary line a minute while a container is warm: at most one per request.
        lines_per_day = min(1440.0, a.requests_per_day)
        log_formula = f"min(1440, {a.requests_per_day:g} requests)/day"
    else:
        lines_per_day = 1440.0 * workers * config.endpoint.instance_count
        log_formula = f"{config.endpoint.instance_count} instance(s) x {workers} workers x 1440/day"
    log_gb_day = lines_per_day * SUMMARY_LINE_BYTES / 1024**3
    lines.append(
        _line(
            table,
            "log-ingestion",
            "CloudWatch log ingestion",
            log_gb_day * DAYS_PER_MONTH,
            "GB",
            f"{log_formula} summary lines x {SUMMARY_LINE_BYTES} B x {DAYS_PER_MONTH:.2f} days",
            prices.LOG_INGESTION,
        )
    )
    lines.append(
        _line(
            table,
            "log-storage",
            "CloudWatch log storage",
            log_gb_day * config.logs.retention_days,
            "GB-month",
            f"a day's logs x {config.logs.retention_days} days kept (logRetentionDays)",
            prices.LOG_STORAGE,
        )
    )
    n = a.notifications_per_month
    lines.append(
        _line(
            table,
            "sns-publish",
            "SNS alarm notifications",
            n,
            "request",
            f"{n:g} notifications/month",
            prices.SNS_PUBLISH,
            note="an account's first million publishes a month are free",
        )
    )
    if inv.email_subscriptions:
        lines.append(
            _line(
                table,
                "sns-email",
                "SNS email deliveries",
                n * inv.email_subscriptions,
                "notification",
                f"{n:g} x {inv.email_subscriptions} addresses",
                prices.SNS_EMAIL,
            )
        )
    if inv.https_subscriptions:
        lines.append(
            _line(
                table,
                "sns-https",
                "SNS HTTPS deliveries",
                n,
                "notification",
                f"{n:g} x 1 URL",
                prices.SNS_HTTPS,
            )
        )

    notes = [
        "monitoring jobs: not priced yet (stacks that capture run one per monitorSchedule, "
        "on monitorInstanceType)",
        "not estimated: S3 and KMS requests, ECR image storage, data transfer out of AWS, "
        "free tiers, taxes",
    ]
    comparison = ""
    if config.serverless:
        instance, problem = _price(table, prices.hosting(COMPARISON_INSTANCE))
        serverless_usd = sum(
            line.monthly_usd or 0 for line in lines if line.key == "endpoint-serverless"
        )
        if instance is None:
            comparison = f"cannot compare with one {COMPARISON_INSTANCE}: {problem}"
        elif lines[0].monthly_usd is not None:
            instance_usd = instance.usd * HOURS_PER_MONTH
            per_request = serverless_usd / requests_month if requests_month else 0.0
            even = (
                f"; break-even near {instance_usd / per_request / DAYS_PER_MONTH:,.0f} requests/day"
                if per_request
                else ""
            )
            comparison = (
                f"serverless compute ${serverless_usd:,.2f} against one {COMPARISON_INSTANCE} "
                f"all month ${instance_usd:,.2f}: saves ${instance_usd - serverless_usd:,.2f} "
                f"a month at {a.requests_per_day:g} requests/day{even}"
            )
    return Estimate(
        stack=stack,
        region=region,
        prices=table.description,
        assumptions=assumptions,
        inventory=inv,
        lines=tuple(lines),
        notes=tuple(notes),
        comparison=comparison,
    )
