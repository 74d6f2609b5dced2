"""The monitoring runbook's threshold table is the contract's: every threshold, its real default."""

from __future__ import annotations

import re

from inference.monitoring.contract import THRESHOLDS
from tests.conftest import REPO


def test_every_threshold_is_documented_with_its_default() -> None:
    runbook = (REPO / "docs" / "monitoring.md").read_text()
    section = runbook.split("## Monitoring the model", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", section, re.MULTILINE))
    assert sorted(rows) == sorted(t.name for t in THRESHOLDS)
    for threshold in THRESHOLDS:
        documented = rows[threshold.name]
        assert documented == ("off" if threshold.default is None else f"{threshold.default:g}")
