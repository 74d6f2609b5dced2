"""Price tables: what one unit of something costs in one region, and where that figure comes from.

A price key names a billable thing: `sagemaker.hosting:ml.m5.large` (per instance-hour),
`s3.standard` (per GB-month), ... A table holds the figures one source gives for one region; a
key it lacks is a missing price, never a zero. The committed snapshot (`prices.json`) is checked
here field by field, so that a malformed file is a clear PriceError, not a crash or a guess.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).with_name("prices.json")
SNAPSHOT_FORMAT = 1
# How sure we are of a figure: read on an AWS page; read on a dated third-party page that quotes
# AWS's; or not found in any source we could read (kept, marked, never shown as confirmed).
STATUSES = ("confirmed", "secondary", "unconfirmed", "price-list-api")

# The things the estimate prices. Instance-typed keys take a suffix (`:ml.m5.large`).
HOSTING = "sagemaker.hosting"  # USD per instance-hour, real-time endpoint
TRAINING = "sagemaker.training"  # USD per instance-hour, training job
SERVERLESS_GB_SECOND = "sagemaker.serverless.gb-second"  # USD per GB of memory per second
DATA_PROCESSED = "sagemaker.data-processed"  # USD per GB in plus out of an endpoint
S3_STANDARD = "s3.standard"  # USD per GB-month
KMS_KEY = "kms.key"  # USD per key-month
ALARM_METRIC = "cloudwatch.alarm-metric"  # USD per standard-resolution alarm metric-month
DASHBOARD = "cloudwatch.dashboard"  # USD per dashboard-month
CUSTOM_METRIC = "cloudwatch.custom-metric"  # USD per metric-month (first tier)
LOG_INGESTION = "cloudwatch.log-ingestion"  # USD per GB ingested
LOG_STORAGE = "cloudwatch.log-storage"  # USD per GB-month stored
SNS_PUBLISH = "sns.publish"  # USD per request
SNS_EMAIL = "sns.email"  # USD per email notification
SNS_HTTPS = "sns.https"  # USD per HTTP/S notification
# The unit each key is priced in: a figure in another unit is unusable, not converted by guess.
UNITS = {
    HOSTING: "instance-hour",
    TRAINING: "instance-hour",
    SERVERLESS_GB_SECOND: "GB-second",
    DATA_PROCESSED: "GB",
    S3_STANDARD: "GB-month",
    KMS_KEY: "key-month",
    ALARM_METRIC: "alarm-metric-month",
    DASHBOARD: "dashboard-month",
    CUSTOM_METRIC: "metric-month",
    LOG_INGESTION: "GB",
    LOG_STORAGE: "GB-month",
    SNS_PUBLISH: "request",
    SNS_EMAIL: "notification",
    SNS_HTTPS: "notification",
}


def base_key(key: str) -> str:
    return key.split(":", 1)[0]


def hosting(instance_type: str) -> str:
    return f"{HOSTING}:{instance_type}"


def training(instance_type: str) -> str:
    return f"{TRAINING}:{instance_type}"


class PriceError(ValueError):
    """A price file (snapshot or cache) that cannot be used: the message says which and why."""


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    # Where the figure comes from (a URL or "AWS Price List API") and how sure it is.
    source: str
    status: str
    as_of: str


@dataclass(frozen=True)
class PriceTable:
    region: str
    # What the table as a whole is, for the output's header: "snapshot of 2026-12-02 (...)".
    description: str
    prices: Mapping[str, Price]

    def get(self, key: str) -> Price | None:
        return self.prices.get(key)


def parse_price(entry: object, where: str, as_of: str, sources: Mapping[str, str]) -> Price:
    if not isinstance(entry, dict):
        raise PriceError(f"{where} must be an object with usd, unit, source and status")
    usd = entry.get("usd")
    if isinstance(usd, bool) or not isinstance(usd, int | float):
        raise PriceError(f"{where}.usd must be a number, not {usd!r}")
    if not math.isfinite(usd) or usd < 0:
        raise PriceError(f"{where}.usd must be a finite number >= 0, not {usd!r}")
    unit, source, status = entry.get("unit"), entry.get("source"), entry.get("status")
    if not isinstance(unit, str) or not unit:
        raise PriceError(f"{where}.unit must be a non-empty string, not {unit!r}")
    if status not in STATUSES:
        raise PriceError(f"{where}.status must be one of {', '.join(STATUSES)}, not {status!r}")
    if not isinstance(source, str) or source not in sources:
        raise PriceError(f"{where}.source must name one of the file's sources, not {source!r}")
    return Price(float(usd), unit, sources[source], str(status), as_of)


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PriceError(f"{where} must be an object")
    return value


def load_snapshot(path: Path, region: str) -> PriceTable:
    """The snapshot's prices for `region` (an empty table for a region it does not name)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PriceError(f"cannot read the price snapshot {path}: {error.strerror}") from None
    except ValueError as error:
        raise PriceError(f"the price snapshot {path} is not JSON ({error})") from None
    top = _object(document, f"{path.name}")
    if top.get("format") != SNAPSHOT_FORMAT:
        raise PriceError(
            f"{path.name}: format must be {SNAPSHOT_FORMAT}, not {top.get('format')!r}"
        )
    as_of = top.get("as_of")
    if not isinstance(as_of, str) or not as_of:
        raise PriceError(f"{path.name}: as_of must be the date the figures were read")
    sources = _object(top.get("sources"), f"{path.name}: sources")
    if not all(isinstance(v, str) for v in sources.values()):
        raise PriceError(f"{path.name}: every source must be a URL or a description")
    regions = _object(top.get("regions"), f"{path.name}: regions")
    entries = _object(regions.get(region, {}), f"{path.name}: regions.{region}")
    prices = {
        key: parse_price(entry, f"{path.name}: regions.{region}.{key}", as_of, sources)
        for key, entry in entries.items()
    }
    return PriceTable(region, f"snapshot {path.name} of {as_of}", prices)


def snapshot_regions(path: Path) -> list[str]:
    document = json.loads(path.read_text(encoding="utf-8"))
    return sorted(document["regions"])
