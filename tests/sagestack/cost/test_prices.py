"""The committed snapshot: complete for the stacks' region, every figure sourced and dated, and
a malformed file a clear PriceError."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagestack.cost import prices
from sagestack.cost.prices import SNAPSHOT, PriceError, load_snapshot, snapshot_regions
from tests.conftest import REPO


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SNAPSHOT.read_text())
    return document


def test_the_snapshot_prices_every_key_in_the_stacks_regions() -> None:
    regions = {
        yaml.safe_load(path.read_text())["config"]["aws:region"]
        for path in REPO.glob("Pulumi.*.yaml")
    }
    assert regions == {"us-east-1"}
    table = load_snapshot(SNAPSHOT, "us-east-1")
    bases = {prices.base_key(key) for key in table.prices}
    assert bases == set(prices.UNITS)
    assert len(snapshot_regions(SNAPSHOT)) > 1


def test_every_figure_is_sourced_dated_and_marked() -> None:
    document = _document()
    table = load_snapshot(SNAPSHOT, "us-east-1")
    for key, price in table.prices.items():
        assert price.as_of == document["as_of"]
        assert price.status in ("confirmed", "secondary", "unconfirmed"), key
        assert price.unit == prices.UNITS[prices.base_key(key)], key
        if price.status != "unconfirmed":
            assert price.source.startswith("https://"), key


def test_a_region_it_does_not_name_is_an_empty_table() -> None:
    assert load_snapshot(SNAPSHOT, "xx-nowhere-1").prices == {}


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def _broken(change: str) -> object:
    document = _document()
    entry = document["regions"]["us-east-1"]["kms.key"]
    if change == "text":
        return "{not json"
    if change == "format":
        document["format"] = 2
    elif change == "usd":
        entry["usd"] = "one"
    elif change == "negative":
        entry["usd"] = -1
    elif change == "status":
        entry["status"] = "guessed"
    elif change == "source":
        entry["source"] = "nowhere"
    elif change == "regions":
        document["regions"] = []
    elif change == "as_of":
        del document["as_of"]
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("text", "is not JSON"),
        ("format", "format must be 1"),
        ("usd", r"regions.us-east-1.kms.key.usd must be a number, not 'one'"),
        ("negative", "finite number >= 0"),
        ("status", "status must be one of"),
        ("source", "source must name one of the file's sources"),
        ("regions", "regions must be an object"),
        ("as_of", "as_of must be the date"),
    ],
)
def test_a_malformed_snapshot_says_what_is_wrong(tmp_path: Path, change: str, message: str) -> None:
    with pytest.raises(PriceError, match=message):
        load_snapshot(_write(tmp_path, _broken(change)), "us-east-1")


def test_a_missing_snapshot_says_so(tmp_path: Path) -> None:
    with pytest.raises(PriceError, match="cannot read the price snapshot"):
        load_snapshot(tmp_path / "none.json", "us-east-1")
