"""`python -m sagestack cost --stack S`: the stack's monthly estimate.

Exit status: 0 the estimate was printed; 1 `--check-budget` and the estimate exceeds the stack's
monthlyBudgetUsd (or cannot be checked against it); 2 the input cannot be used (stack config,
price snapshot or cache, options, base estimate), with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

from infra.config import ConfigError
from sagestack.cost import prices, render
from sagestack.cost.estimate import Assumptions, estimate
from sagestack.cost.prices import PriceError
from sagestack.cost.sources import MODES, SourceError, price_table
from sagestack.cost.stack import Stack, read_stack

DEFAULTS = Assumptions()
# Each assumption's option and help text.
OPTIONS = (
    ("requests_per_day", "--requests-per-day", "endpoint requests a day"),
    ("payload_kb", "--payload-kb", "request body size, KB"),
    ("duration_ms", "--duration-ms", "serverless: time one request holds its memory, ms"),
    ("training_runs_per_month", "--training-runs", "training runs a month"),
    ("training_minutes_per_run", "--training-minutes", "minutes one training run takes"),
    ("artifact_mb", "--artifact-mb", "model artifact size, MB"),
    ("notifications_per_month", "--notifications", "alarm notifications a month"),
    ("dataset_gb", "--dataset-gb", "dataset size, GB (needed for an s3:// dataPath)"),
)
OPTION_OF = {name: option for name, option, _ in OPTIONS}
CACHE_DIR = Path(".sagestack") / "prices"


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sagestack cost",
        description="A stack's monthly AWS cost, line by line, before it is deployed.",
    )
    parser.add_argument("--stack", required=True, help="dev, staging, prod, ...")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the estimate as JSON")
    output.add_argument("--markdown", action="store_true", help="print a PR comment's section")
    parser.add_argument("--project-dir", type=Path, default=Path(), help="where Pulumi.yaml is")
    assumed = parser.add_argument_group("traffic and usage (defaults in brackets)")
    for name, option, help_ in OPTIONS:
        default = getattr(DEFAULTS, name)
        assumed.add_argument(
            option, dest=name, type=float, default=default, help=f"{help_} [{default}]"
        )
    parser.add_argument(
        "--prices",
        choices=MODES,
        default="auto",
        help="auto: the Price List API with AWS credentials, else the snapshot [auto]",
    )
    parser.add_argument("--snapshot", type=Path, default=prices.SNAPSHOT, help="price snapshot")
    parser.add_argument("--cache-dir", type=Path, default=None, help="[PROJECT/.sagestack/prices]")
    parser.add_argument("--base", type=Path, help="a `--json` estimate to compare with (main's)")
    parser.add_argument(
        "--check-budget",
        action="store_true",
        help="exit 1 when the estimate exceeds the stack's monthlyBudgetUsd",
    )
    return parser


def _fail(message: str) -> int:
    sys.stderr.write(f"sagestack cost: {message}\n")
    return 2


def main(argv: Sequence[str]) -> int:
    args = argument_parser().parse_args(argv)
    assumptions = Assumptions(**{f.name: getattr(args, f.name) for f in fields(Assumptions)})
    if problems := assumptions.problems():
        # Named as the user typed them: --payload-kb, not payload_kb.
        for name, option in OPTION_OF.items():
            problems = [problem.replace(f"{name}=", f"{option}=", 1) for problem in problems]
        return _fail("; ".join(problems))
    try:
        stack: Stack = read_stack(args.project_dir, args.stack)
        keys = [prices.training(stack.config.training.instance_type), prices.S3_STANDARD]
        if not stack.config.serverless:
            keys.append(prices.hosting(stack.config.endpoint.instance_type))
        table, notes = price_table(
            args.prices,
            stack.region,
            keys,
            args.snapshot,
            args.cache_dir or args.project_dir / CACHE_DIR,
            datetime.now(UTC).date(),
        )
        base = None
        if args.base is not None:
            try:
                base_text = args.base.read_text(encoding="utf-8")
            except OSError as error:
                return _fail(f"cannot read --base {args.base}: {error.strerror}")
            base = render.parse_base(base_text, str(args.base))
    except (ConfigError, PriceError, SourceError, render.BaseError) as error:
        return _fail(str(error))
    result = estimate(
        stack.name, stack.region, stack.config, assumptions, table, stack.dataset_bytes
    )
    if notes:
        result = type(result)(**{**vars(result), "notes": (*notes, *result.notes)})
    budget = stack.config.budget.monthly_usd
    if args.json:
        document = render.to_json(result)
        document["monthly_budget_usd"] = budget or None
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    elif args.markdown:
        sys.stdout.write(render.markdown(result, base, budget))
    else:
        sys.stdout.write(render.text(result))
    if args.check_budget and (problem := render.budget_problem(result, budget, base)):
        sys.stderr.write(f"sagestack cost: {problem}\n")
        return 1
    return 0
