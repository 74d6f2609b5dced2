"""The Price List path: real botocore (serialization, JSON 1.1 protocol, parsing) against the
recorded-shape GetProducts endpoint on 127.0.0.1 (moto has no `pricing` service)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest

from sagestack.cost import pricelist, prices
from sagestack.cost.prices import SNAPSHOT, PriceError
from sagestack.cost.sources import SourceError, price_table
from tests.sagestack.cost.pricing_server import RECORDED, PricingEndpoint, pricing_endpoint

TODAY = date(2026, 12, 2)
KEYS = [prices.hosting("ml.m5.large"), prices.training("ml.m5.large"), prices.S3_STANDARD]


def _client(url: str) -> Any:
    return boto3.client(
        "pricing",
        region_name=pricelist.PRICING_REGION,
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def endpoint() -> Iterator[PricingEndpoint]:
    with pricing_endpoint() as served:
        yield served


def test_moto_has_no_pricing_service() -> None:
    # Why the endpoint above exists; if moto gains one, test against it instead.
    from moto.backend_index import backend_url_patterns

    assert not [name for name, _ in backend_url_patterns if "pricing" in name]


def test_prices_come_from_the_answer_with_the_filters_sent(endpoint: PricingEndpoint) -> None:
    found, notes = pricelist.fetch(_client(endpoint.url), "us-east-1", KEYS, TODAY)
    assert notes == []
    assert found[prices.hosting("ml.m5.large")].usd == pytest.approx(0.115)
    assert found[prices.hosting("ml.m5.large")].unit == "instance-hour"
    assert found[prices.training("ml.m5.large")].usd == pytest.approx(0.115)
    # Of S3's three tiers, the first.
    assert found[prices.S3_STANDARD].usd == pytest.approx(0.023)
    assert found[prices.S3_STANDARD].unit == "GB-month"
    assert {p.status for p in found.values()} == {"price-list-api"}
    first = endpoint.requests[0]
    assert first["target"] == "AWSPriceListService.GetProducts"
    assert first["body"]["ServiceCode"] == "AmazonSageMaker"
    assert {(f["Field"], f["Value"]) for f in first["body"]["Filters"]} == {
        ("productFamily", "ML Instance"),
        ("regionCode", "us-east-1"),
        ("instanceName", "ml.m5.large"),
        ("component", "Hosting"),
    }


def test_an_unknown_instance_or_region_is_no_price_not_zero(endpoint: PricingEndpoint) -> None:
    client = _client(endpoint.url)
    price, why = pricelist.fetch_price(client, prices.hosting("ml.zz9.huge"), "us-east-1", TODAY)
    assert price is None
    assert (
        why == "the Price List API has no on-demand price for sagemaker.hosting:ml.zz9.huge in "
        "us-east-1"
    )
    price, why = pricelist.fetch_price(client, prices.S3_STANDARD, "xx-nowhere-1", TODAY)
    assert price is None
    assert "xx-nowhere-1" in why


def _products() -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = json.loads(RECORDED.read_text())["products"]
    return products


def test_pages_are_followed_and_differing_prices_are_refused() -> None:
    products = _products()
    twin = copy.deepcopy(products[0])
    products.append(twin)
    with pricing_endpoint(products) as served:
        price, _ = pricelist.fetch_price(_client(served.url), KEYS[0], "us-east-1", TODAY)
        assert price is not None
        assert [r["body"].get("NextToken") for r in served.requests] == [None, "1"]
    dimension = next(
        iter(next(iter(twin["terms"]["OnDemand"].values()))["priceDimensions"].values())
    )
    dimension["pricePerUnit"]["USD"] = "0.2"
    with pricing_endpoint(products) as served:
        price, why = pricelist.fetch_price(_client(served.url), KEYS[0], "us-east-1", TODAY)
    assert price is None
    assert "2 different prices" in why


def test_a_unit_the_estimate_does_not_take_is_refused() -> None:
    products = _products()
    dimension = next(
        iter(next(iter(products[0]["terms"]["OnDemand"].values()))["priceDimensions"].values())
    )
    dimension["unit"] = "Quantity"
    with pricing_endpoint(products) as served:
        price, why = pricelist.fetch_price(_client(served.url), KEYS[0], "us-east-1", TODAY)
    assert price is None
    assert "'Quantity'" in why


def test_the_first_paid_tier_skips_free_ones() -> None:
    item = json.dumps(
        {
            "terms": {
                "OnDemand": {
                    "t": {
                        "priceDimensions": {
                            "b": {
                                "unit": "Metrics",
                                "beginRange": "10",
                                "pricePerUnit": {"USD": "0.30"},
                            },
                            "a": {
                                "unit": "Metrics",
                                "beginRange": "0",
                                "pricePerUnit": {"USD": "0"},
                            },
                        }
                    }
                }
            }
        }
    )
    assert pricelist.first_paid_tier(item) == ("Metrics", 0.3)


@pytest.mark.parametrize(
    "item",
    [
        "not json",
        "[]",
        json.dumps({"terms": {}}),
        json.dumps({"terms": {"OnDemand": {"t": {"priceDimensions": {"a": {"unit": "Hrs"}}}}}}),
        json.dumps(
            {
                "terms": {
                    "OnDemand": {
                        "t": {
                            "priceDimensions": {
                                "a": {"unit": "Hrs", "pricePerUnit": {"USD": "cheap"}}
                            }
                        }
                    }
                }
            }
        ),
        json.dumps(
            {
                "terms": {
                    "OnDemand": {
                        "t": {
                            "priceDimensions": {"a": {"unit": "Hrs", "pricePerUnit": {"USD": "-1"}}}
                        }
                    }
                }
            }
        ),
    ],
)
def test_a_malformed_entry_is_a_price_error(item: str) -> None:
    with pytest.raises(PriceError, match=r"PriceList entry|number"):
        pricelist.first_paid_tier(item)


def test_answers_are_cached_with_their_date_and_reused(
    endpoint: PricingEndpoint, tmp_path: Path
) -> None:
    def table(day: date) -> Any:
        return price_table(
            "api", "us-east-1", KEYS, SNAPSHOT, tmp_path, day, lambda: _client(endpoint.url)
        )

    first, notes = table(TODAY)
    assert notes == []
    assert "AWS Price List API (3 prices, fetched 2026-12-02)" in first.description
    cache = json.loads(pricelist.cache_path(tmp_path, "us-east-1").read_text())
    assert cache["fetched"] == "2026-12-02"
    asked = len(endpoint.requests)
    again, _ = table(date(2026, 12, 5))
    assert len(endpoint.requests) == asked  # from the cache
    assert again.get(KEYS[0]) == first.get(KEYS[0])
    table(date(2026, 12, 20))  # stale: asked again
    assert len(endpoint.requests) > asked
    # What the API does not price (serverless, CloudWatch, ...) is the snapshot's.
    assert again.get(prices.DASHBOARD) is not None
    assert again.get(prices.DASHBOARD).status != "price-list-api"


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        '{"format": 1, "region": "us-east-1", "fetched": "yesterday", "prices": {}}',
        '{"format": 1, "region": "us-east-1", "fetched": "2026-12-01", '
        '"prices": {"s3.standard": {"usd": "x"}}}',
    ],
)
def test_a_malformed_cache_is_said_and_replaced(
    endpoint: PricingEndpoint, tmp_path: Path, text: str
) -> None:
    path = pricelist.cache_path(tmp_path, "us-east-1")
    path.write_text(text)
    table, notes = price_table(
        "auto", "us-east-1", KEYS, SNAPSHOT, tmp_path, TODAY, lambda: _client(endpoint.url)
    )
    assert any("ignored, asking the API again" in note for note in notes), notes
    assert table.get(KEYS[0]).status == "price-list-api"  # type: ignore[union-attr]
    assert json.loads(path.read_text())["fetched"] == "2026-12-02"


def test_an_api_failure_falls_back_to_the_snapshot_and_says_so(
    endpoint: PricingEndpoint, tmp_path: Path
) -> None:
    endpoint.fail_with = "AccessDeniedException"
    table, notes = price_table(
        "auto", "us-east-1", KEYS, SNAPSHOT, tmp_path, TODAY, lambda: _client(endpoint.url)
    )
    assert table.description.startswith("snapshot prices.json of ")
    assert any("AccessDeniedException" in note and "snapshot" in note for note in notes)
    with pytest.raises(SourceError, match="AccessDeniedException"):
        price_table(
            "api", "us-east-1", KEYS, SNAPSHOT, tmp_path, TODAY, lambda: _client(endpoint.url)
        )


def test_without_credentials_auto_uses_the_snapshot_and_api_refuses(tmp_path: Path) -> None:
    table, notes = price_table("auto", "us-east-1", KEYS, SNAPSHOT, tmp_path, TODAY, lambda: None)
    assert notes == ["no AWS credentials: every price is from the " + table.description]
    with pytest.raises(SourceError, match="needs AWS credentials"):
        price_table("api", "us-east-1", KEYS, SNAPSHOT, tmp_path, TODAY, lambda: None)


def test_make_prices_refreshes_the_snapshot_from_the_api(
    endpoint: PricingEndpoint, tmp_path: Path
) -> None:
    from sagestack.cost import refresh

    copy_ = tmp_path / "prices.json"
    copy_.write_text(SNAPSHOT.read_text())
    assert refresh.main(copy_, lambda: _client(endpoint.url)) == 0
    table = prices.load_snapshot(copy_, "us-east-1")
    assert table.get(KEYS[0]).status == "price-list-api"  # type: ignore[union-attr]
    assert table.get(prices.DASHBOARD).status == "secondary"  # type: ignore[union-attr]
    assert refresh.main(copy_, lambda: None) == 2
