"""The manual's cost row in "What each stack deploys", from the tool on the committed snapshot.

    python -m sagestack.cost.readme          # print the row
    python -m sagestack.cost.readme --write  # put it in docs/deploy.md

tests/sagestack/cost/test_readme.py keeps the committed row equal to this output.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sagestack.cost.estimate import Assumptions, Estimate, estimate
from sagestack.cost.prices import SNAPSHOT, load_snapshot
from sagestack.cost.render import money
from sagestack.cost.stack import read_stack

STACKS = ("dev", "staging", "prod")
ROW_PREFIX = "| monthly cost"
PAGE = "docs/deploy.md"


def _estimate(project_dir: Path, name: str, assumptions: Assumptions) -> Estimate:
    stack = read_stack(project_dir, name)
    table = load_snapshot(SNAPSHOT, stack.region)
    return estimate(name, stack.region, stack.config, assumptions, table, stack.dataset_bytes)


def _cell(project_dir: Path, name: str) -> str:
    usual = _estimate(project_dir, name, Assumptions())
    idle = _estimate(project_dir, name, Assumptions(requests_per_day=0))
    if not (usual.complete and idle.complete):
        return "unpriced lines: see `python -m sagestack cost`"
    cell = f"{money(usual.total_usd)}, idle {money(idle.total_usd)}"
    if usual.max_total_usd - usual.total_usd > 0.005:
        cell += f" (autoscaled: up to {money(usual.max_total_usd)})"
    return cell


def cost_row(project_dir: Path) -> str:
    default = Assumptions().requests_per_day
    cells = " | ".join(_cell(project_dir, name) for name in STACKS)
    return (
        f"{ROW_PREFIX} (`python -m sagestack cost`, snapshot prices, "
        f"{default:,.0f} requests/day) | {cells} |"
    )


def write(project_dir: Path) -> None:
    path = project_dir / PAGE
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith(ROW_PREFIX))
    lines[index] = cost_row(project_dir) + "\n"
    path.write_text("".join(lines), encoding="utf-8")


if __name__ == "__main__":
    project = Path()
    if sys.argv[1:] == ["--write"]:
        write(project)
    else:
        sys.stdout.write(cost_row(project) + "\n")
