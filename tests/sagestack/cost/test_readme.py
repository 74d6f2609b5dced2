"""The manual's cost row (docs/deploy.md) is the tool's output on the committed snapshot."""

from __future__ import annotations

from sagestack.cost.readme import PAGE, ROW_PREFIX, cost_row
from tests.conftest import REPO


def test_the_committed_cost_row_is_the_tools_output() -> None:
    page = (REPO / PAGE).read_text(encoding="utf-8")
    committed = [line for line in page.splitlines() if line.startswith(ROW_PREFIX)]
    assert committed == [cost_row(REPO)], "run: python -m sagestack.cost.readme --write"


def test_the_row_is_in_the_table_of_what_each_stack_deploys() -> None:
    page = (REPO / PAGE).read_text(encoding="utf-8")
    table = page.split("## What each stack deploys", 1)[1].split("\n\n")[1]
    assert any(line.startswith(ROW_PREFIX) for line in table.splitlines())
