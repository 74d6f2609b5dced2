"""`make prices`: refresh the committed price snapshot from the AWS Price List API.

Needs AWS credentials (any of boto3's usual sources) allowed `pricing:GetProducts`. Every
figure the API gives for the snapshot's regions replaces the snapshot's, marked as the API's
and dated today; figures the API path does not cover (see pricelist.py) are kept as they are.
Exit status 2, and nothing written, without credentials or when the API fails.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sagestack.cost import pricelist, prices
from sagestack.cost.prices import SNAPSHOT, PriceError, load_snapshot, snapshot_regions
from sagestack.cost.sources import _client

API_SOURCE = "price-list-api"
# Asked for in every region of the snapshot, so that the API can fill regions it lacks.
ALWAYS = (prices.hosting("ml.m5.large"), prices.training("ml.m5.large"), prices.S3_STANDARD)


def main(
    snapshot: Path = SNAPSHOT,
    client_factory: Callable[[], pricelist.PricingClient | None] = _client,
) -> int:
    client = client_factory()
    if client is None:
        sys.stderr.write("make prices: no AWS credentials (pricing:GetProducts is needed)\n")
        return 2
    today = datetime.now(UTC).date()
    document = json.loads(snapshot.read_text(encoding="utf-8"))
    import botocore.exceptions

    changed = 0
    for region in snapshot_regions(snapshot):
        known = [*load_snapshot(snapshot, region).prices, *ALWAYS]
        keys = sorted({k for k in known if pricelist.query_for(k, region)})
        try:
            found, notes = pricelist.fetch(client, region, keys, today)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            sys.stderr.write(f"make prices: the AWS Price List API failed: {error}\n")
            return 2
        except PriceError as error:
            sys.stderr.write(f"make prices: {error}\n")
            return 2
        for note in notes:
            sys.stderr.write(f"make prices: {note} (kept the snapshot's)\n")
        for key, price in found.items():
            document["regions"][region][key] = {
                "usd": price.usd,
                "unit": price.unit,
                "source": API_SOURCE,
                "status": "price-list-api",
            }
            changed += 1
    document["sources"][API_SOURCE] = f"{pricelist.SOURCE}, fetched {today.isoformat()}"
    document["as_of"] = today.isoformat()
    snapshot.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(f"make prices: {changed} figures from the Price List API in {snapshot}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
