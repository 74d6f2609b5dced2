"""Prices from the AWS Price List API (boto3 `pricing`, GetProducts), cached on disk by date.

What we rely on in a GetProducts answer (botocore's pricing 2017-10-15 model: `PriceList` is a
list of strings, each one product as JSON, shaped like AWS's documented example):

    {"product": {"productFamily": "ML Instance",
                 "attributes": {"regionCode": "us-east-1", "instanceName": "ml.m5.large",
                                "component": "Hosting", ...}},
     "terms": {"OnDemand": {"<sku>.<offer>": {"priceDimensions": {"<sku>.<offer>.<rate>": {
         "unit": "Hrs", "beginRange": "0", "pricePerUnit": {"USD": "0.1150000000"}}}}}}}

Only on-demand terms are read; of a product's tiers, the first that is not free (the estimate
leaves free tiers out). The filter attributes for SageMaker (productFamily "ML Instance",
component, instanceName, regionCode) are the ones AWS's own tooling queries (awslabs/llmeter's
SageMaker pricing client); those for S3 follow the S3 offer file's storage products. The rest of
the price table (serverless, CloudWatch, KMS, SNS) comes from the snapshot: their Price List
attributes could not be checked from here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from sagestack.cost import prices
from sagestack.cost.prices import Price, PriceError

# The Price List API answers in us-east-1 and ap-south-1 only, for every region's prices.
PRICING_REGION = "us-east-1"
SOURCE = "AWS Price List API (GetProducts)"
CACHE_FORMAT = 1
CACHE_MAX_AGE_DAYS = 7


class PricingClient(Protocol):
    def get_products(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Query:
    service_code: str
    filters: tuple[tuple[str, str], ...]
    # The API's unit names this key may come in, as the unit the estimate takes.
    units: Mapping[str, str]


_HOURS = {"Hrs": "instance-hour", "Hours": "instance-hour", "Hour": "instance-hour"}


def query_for(key: str, region: str) -> Query | None:
    """The GetProducts query that prices `key` in `region`, or None (snapshot only)."""
    base, _, instance = key.partition(":")
    if base in (prices.HOSTING, prices.TRAINING):
        component = "Hosting" if base == prices.HOSTING else "Training"
        return Query(
            "AmazonSageMaker",
            (
                ("productFamily", "ML Instance"),
                ("regionCode", region),
                ("instanceName", instance),
                ("component", component),
            ),
            _HOURS,
        )
    if base == prices.S3_STANDARD:
        return Query(
            "AmazonS3",
            (("productFamily", "Storage"), ("regionCode", region), ("volumeType", "Standard")),
            {"GB-Mo": "GB-month"},
        )
    return None


def _number(text: object, where: str) -> float:
    try:
        value = float(str(text))
    except ValueError:
        raise PriceError(f"{where} is not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise PriceError(f"{where} must be a finite number >= 0: {text!r}")
    return value


def first_paid_tier(item: str) -> tuple[str, float] | None:
    """One PriceList entry's on-demand (unit, USD) of its first tier that is not free."""
    try:
        product = json.loads(item)
        dimensions = [
            dimension
            for term in product["terms"]["OnDemand"].values()
            for dimension in term["priceDimensions"].values()
        ]
        tiers = sorted(
            (
                _number(d.get("beginRange", "0"), "beginRange"),
                str(d["unit"]),
                _number(d["pricePerUnit"]["USD"], "pricePerUnit.USD"),
            )
            for d in dimensions
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise PriceError(f"a PriceList entry is not shaped as documented ({error!r})") from None
    paid = [(unit, usd) for _, unit, usd in tiers if usd > 0]
    return paid[0] if paid else None


def fetch_price(
    client: PricingClient, key: str, region: str, today: date
) -> tuple[Price | None, str]:
    """The price of `key` in `region` from the API, or None and why."""
    query = query_for(key, region)
    if query is None:
        return None, ""
    found: set[tuple[str, float]] = set()
    token = None
    while True:
        request: dict[str, Any] = {
            "ServiceCode": query.service_code,
            "Filters": [
                {"Type": "TERM_MATCH", "Field": field, "Value": value}
                for field, value in query.filters
            ],
            "FormatVersion": "aws_v1",
        }
        if token:
            request["NextToken"] = token
        answer = client.get_products(**request)
        for item in answer.get("PriceList", []):
            tier = first_paid_tier(item)
            if tier is not None:
                found.add(tier)
        token = answer.get("NextToken")
        if not token:
            break
    if not found:
        return None, f"the Price List API has no on-demand price for {key} in {region}"
    if len(found) > 1:
        return None, f"the Price List API has {len(found)} different prices for {key} in {region}"
    ((unit, usd),) = found
    if unit not in query.units:
        return (
            None,
            f"the Price List API prices {key} per {unit!r}, which the estimate does not take",
        )
    return Price(usd, query.units[unit], SOURCE, "price-list-api", today.isoformat()), ""


def fetch(
    client: PricingClient, region: str, keys: Iterable[str], today: date
) -> tuple[dict[str, Price], list[str]]:
    found: dict[str, Price] = {}
    notes: list[str] = []
    for key in keys:
        price, why = fetch_price(client, key, region, today)
        if price is not None:
            found[key] = price
        elif why:
            notes.append(why)
    return found, notes


def cache_path(cache_dir: Path, region: str) -> Path:
    return cache_dir / f"pricelist-{region}.json"


def read_cache(path: Path, region: str, today: date) -> dict[str, Price] | None:
    """The cached prices if fresh; None if absent or stale. Raises PriceError if malformed."""
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != CACHE_FORMAT or document.get("region") != region:
            raise PriceError(
                f"the price cache {path} is not a format {CACHE_FORMAT} cache for {region}"
            )
        fetched = date.fromisoformat(document["fetched"])
        entries = document["prices"]
        if not isinstance(entries, dict):
            raise PriceError(f"the price cache {path}: prices must be an object")
        cached = {
            key: prices.parse_price(
                {**entry, "source": "api"},
                f"{path.name}: {key}",
                fetched.isoformat(),
                {"api": SOURCE},
            )
            for key, entry in entries.items()
        }
    except PriceError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise PriceError(f"the price cache {path} is malformed ({error!r})") from None
    if (today - fetched).days > CACHE_MAX_AGE_DAYS or fetched > today:
        return None
    return cached


def write_cache(path: Path, region: str, found: Mapping[str, Price], today: date) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = {
        key: {k: v for k, v in asdict(price).items() if k in ("usd", "unit", "status")}
        for key, price in found.items()
    }
    document = {
        "format": CACHE_FORMAT,
        "region": region,
        "fetched": today.isoformat(),
        "prices": entries,
    }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    temporary.replace(path)
