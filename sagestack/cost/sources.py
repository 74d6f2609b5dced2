"""Which prices an estimate uses: the committed snapshot, or the AWS Price List API when AWS
credentials are present (cached on disk by date), with the snapshot for what it does not price.

`auto` (the default) says in the estimate's notes why it fell back to the snapshot; `api` fails
instead. Nothing falls back silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from sagestack.cost import pricelist
from sagestack.cost.prices import PriceError, PriceTable, load_snapshot

MODES = ("auto", "snapshot", "api")


class SourceError(RuntimeError):
    """The prices asked for cannot be had (no credentials, the API failed, `--prices api`)."""


def _client() -> pricelist.PricingClient | None:
    """A Price List client, or None without credentials (boto3 finds them the usual ways, and
    its endpoint from AWS_ENDPOINT_URL_PRICING / AWS_ENDPOINT_URL)."""
    import boto3

    session = boto3.Session()
    if session.get_credentials() is None:
        return None
    client: pricelist.PricingClient = session.client(
        "pricing", region_name=pricelist.PRICING_REGION
    )
    return client


def price_table(
    mode: str,
    region: str,
    keys: Iterable[str],
    snapshot: Path,
    cache_dir: Path,
    today: date,
    client_factory: Callable[[], pricelist.PricingClient | None] = _client,
) -> tuple[PriceTable, list[str]]:
    """The table for `region` and notes on where its prices came from. Raises PriceError for a
    malformed snapshot, SourceError when `api` prices cannot be had."""
    if mode not in MODES:
        raise SourceError(f"--prices={mode!r} must be one of {', '.join(MODES)}")
    base = load_snapshot(snapshot, region)
    if mode == "snapshot":
        return base, []
    wanted = [key for key in keys if pricelist.query_for(key, region) is not None]
    client = client_factory()
    if client is None:
        if mode == "api":
            raise SourceError("--prices api needs AWS credentials (none found)")
        return base, [f"no AWS credentials: every price is from the {base.description}"]
    notes: list[str] = []
    path = pricelist.cache_path(cache_dir, region)
    try:
        cached = pricelist.read_cache(path, region, today) or {}
    except PriceError as error:
        notes.append(f"{error}: ignored, asking the API again")
        cached = {}
    missing = [key for key in wanted if key not in cached]
    found = dict(cached)
    if missing:
        import botocore.exceptions

        try:
            fetched, why = pricelist.fetch(client, region, missing, today)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            if mode == "api":
                raise SourceError(f"the AWS Price List API failed: {error}") from None
            notes.append(f"the AWS Price List API failed ({error}): the {base.description} is used")
            fetched, why = {}, []
        except PriceError as error:
            if mode == "api":
                raise SourceError(str(error)) from None
            notes.append(f"{error}: the {base.description} is used")
            fetched, why = {}, []
        notes += why
        if fetched:
            found.update(fetched)
            pricelist.write_cache(path, region, found, today)
    fetched_on = sorted({price.as_of for price in found.values()})
    description = (
        f"AWS Price List API ({len(found)} prices, fetched {', '.join(fetched_on)}), "
        f"the {base.description} for the rest"
        if found
        else base.description
    )
    return PriceTable(region, description, {**base.prices, **found}), notes
