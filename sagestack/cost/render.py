"""An estimate as text (each line's formula and unit price), JSON, or a PR comment's Markdown;
and its comparison with another estimate (the base branch's) and with the stack's budget."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from sagestack.cost.estimate import Estimate, Line
from sagestack.cost.prices import Price

JSON_FORMAT = 1
# A change smaller than this is rounding, not growth.
CENT = 0.005


class BaseError(ValueError):
    """The base estimate to compare with cannot be used."""


def money(usd: float | None) -> str:
    if usd is None:
        return "unpriced"
    if 0 < abs(usd) < 0.01:
        return "<$0.01" if usd > 0 else "-<$0.01"
    return f"-${-usd:,.2f}" if usd < 0 else f"${usd:,.2f}"


def unit_price(price: Price | None) -> str:
    if price is None:
        return "-"
    mark = "" if price.status in ("confirmed", "price-list-api") else f" ({price.status})"
    return f"${price.usd:.6g}/{price.unit}{mark}"


def _range(line: Line) -> str:
    if line.max_monthly_usd is not None and line.max_monthly_usd - (line.monthly_usd or 0) > CENT:
        return f"{money(line.monthly_usd)} to {money(line.max_monthly_usd)}"
    return money(line.monthly_usd)


def total_text(estimate: Estimate) -> str:
    if not estimate.complete:
        return (
            f"unknown: {len(estimate.unpriced)} line(s) unpriced "
            f"(the priced lines come to {money(estimate.total_usd)})"
        )
    if estimate.max_total_usd - estimate.total_usd > CENT:
        return (
            f"{money(estimate.total_usd)} a month "
            f"(up to {money(estimate.max_total_usd)} at the autoscaling maximum)"
        )
    return f"{money(estimate.total_usd)} a month"


def text(estimate: Estimate) -> str:
    a = estimate.assumptions
    serverless = estimate.lines[0].key == "endpoint-serverless"
    out = [
        f"sagestack {estimate.stack} ({estimate.region}): monthly estimate",
        f"prices: {estimate.prices}",
        f"assumed: {a.requests_per_day:g} requests/day of {a.payload_kb:g} KB"
        + (f", {a.duration_ms:g} ms each" if serverless else "")
        + f"; {a.training_runs_per_month:g} training runs/month"
        f" of {a.training_minutes_per_run:g} min;"
        f" {a.notifications_per_month:g} alarm notifications/month",
        "",
    ]
    width = max(len(line.item) for line in estimate.lines)
    for line in estimate.lines:
        out.append(f"  {line.item:<{width}}  {_range(line):>22}")
        if line.problem:
            out.append(f"  {'':<{width}}    {line.problem}")
            continue
        out.append(
            f"  {'':<{width}}    = {line.formula} = {line.quantity:,.6g} {line.unit}"
            f" x {unit_price(line.price)}"
        )
        if line.note:
            out.append(f"  {'':<{width}}    ({line.note})")
    out += ["", f"total: {total_text(estimate)}"]
    if estimate.comparison:
        out.append(estimate.comparison)
    sources = sorted({line.price.source for line in estimate.lines if line.price})
    out += ["", "price sources:", *(f"  {source}" for source in sources)]
    out += ["", *(f"note: {note}" for note in estimate.notes)]
    return "\n".join(out) + "\n"


def to_json(estimate: Estimate) -> dict[str, Any]:
    def line(item: Line) -> dict[str, Any]:
        return {
            "key": item.key,
            "item": item.item,
            "quantity": item.quantity,
            "unit": item.unit,
            "formula": item.formula,
            "price": None if item.price is None else asdict(item.price),
            "monthly_usd": item.monthly_usd,
            "max_monthly_usd": item.max_monthly_usd,
            "problem": item.problem,
            "note": item.note,
        }

    return {
        "format": JSON_FORMAT,
        "stack": estimate.stack,
        "region": estimate.region,
        "prices": estimate.prices,
        "assumptions": asdict(estimate.assumptions),
        "complete": estimate.complete,
        # No total when a line is unpriced: a partial sum is not the stack's cost.
        "total_usd": estimate.total_usd if estimate.complete else None,
        "max_total_usd": estimate.max_total_usd if estimate.complete else None,
        "priced_lines_usd": estimate.total_usd,
        "lines": [line(item) for item in estimate.lines],
        "comparison": estimate.comparison,
        "notes": list(estimate.notes),
    }


def parse_base(text_: str, source: str) -> dict[str, float | None]:
    """A base estimate's (`--json` output's) monthly cost per line key, checked."""
    try:
        document = json.loads(text_)
    except ValueError as error:
        raise BaseError(f"{source} is not JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != JSON_FORMAT:
        raise BaseError(f"{source} is not a `cost --json` estimate of format {JSON_FORMAT}")
    lines = document.get("lines")
    if not isinstance(lines, list):
        raise BaseError(f"{source}: lines must be a list")
    costs: dict[str, float | None] = {}
    for index, entry in enumerate(lines):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise BaseError(f"{source}: lines[{index}] has no key")
        usd = entry.get("monthly_usd")
        if usd is not None and (
            isinstance(usd, bool) or not isinstance(usd, int | float) or not math.isfinite(usd)
        ):
            raise BaseError(f"{source}: lines[{index}].monthly_usd must be a number or null")
        costs[entry["key"]] = None if usd is None else float(usd)
    return costs


def changes(
    estimate: Estimate, base: Mapping[str, float | None]
) -> list[tuple[Line | None, str, float | None]]:
    """Per line key: (the line now or None if gone, key, change in USD or None if unknown)."""
    now = {line.key: line for line in estimate.lines}
    result: list[tuple[Line | None, str, float | None]] = []
    for key in [*now, *(k for k in base if k not in now)]:
        line = now.get(key)
        before = base.get(key, 0.0)
        after = 0.0 if line is None else line.monthly_usd
        delta = None if before is None or after is None else after - before
        result.append((line, key, delta))
    return result


def grown(estimate: Estimate, base: Mapping[str, float | None] | None) -> list[str]:
    """The lines that cost more than in the base (all costing lines without a base)."""
    if base is None:
        return [
            f"{line.item}: {money(line.monthly_usd)}"
            for line in estimate.lines
            if (line.monthly_usd or 0) > CENT
        ]
    return [
        f"{line.item if line else key}: +{money(delta)}"
        for line, key, delta in changes(estimate, base)
        if delta is not None and delta > CENT
    ]


def budget_problem(
    estimate: Estimate, budget_usd: int, base: Mapping[str, float | None] | None
) -> str:
    """Empty when within the stack's monthlyBudgetUsd (0 = none); else why not."""
    if not budget_usd:
        return ""
    if not estimate.complete:
        return f"monthlyBudgetUsd={budget_usd} cannot be checked: " + "; ".join(
            line.problem for line in estimate.unpriced
        )
    if estimate.total_usd <= budget_usd:
        return ""
    lines = grown(estimate, base)
    return f"the estimate {money(estimate.total_usd)} exceeds monthlyBudgetUsd={budget_usd}; " + (
        "lines that grew: " + "; ".join(lines) if lines else "no line grew against the base"
    )


def markdown(estimate: Estimate, base: Mapping[str, float | None] | None, budget_usd: int) -> str:
    vs = base is not None
    out = [
        f"#### Cost estimate: {estimate.stack} ({estimate.region})",
        "",
        "| item | formula | unit price | monthly |" + (" vs main |" if vs else ""),
        "| --- | --- | --- | ---: |" + (" ---: |" if vs else ""),
    ]
    deltas = {key: delta for _, key, delta in changes(estimate, base or {})}
    for line in estimate.lines:
        formula = line.problem or line.formula
        row = f"| {line.item} | {formula} | {unit_price(line.price)} | {_range(line)} |"
        if vs:
            delta = deltas.get(line.key)
            row += f" {'?' if delta is None else ('+' if delta > CENT else '') + money(delta)} |"
        out.append(row)
    out += ["", f"**Total:** {total_text(estimate)}"]
    if vs and not base:
        out += ["", "The base branch has no estimate for this stack: every line is new."]
    elif vs and estimate.complete:
        known = [d for d in deltas.values() if d is not None]
        out[-1] += f" ({'+' if sum(known) > CENT else ''}{money(sum(known))} against main)"
    if estimate.comparison:
        out += ["", estimate.comparison]
    problem = budget_problem(estimate, budget_usd, base)
    if budget_usd:
        out += ["", f"**Budget:** {'over: ' + problem if problem else f'within ${budget_usd:,}'}"]
    out += ["", f"Prices: {estimate.prices}. " + " ".join(f"{n}." for n in estimate.notes)]
    return "\n".join(out) + "\n"
