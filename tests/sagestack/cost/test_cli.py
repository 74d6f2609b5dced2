"""`python -m sagestack cost` as a process: all three stacks, text and JSON, bad input, the
comparison with a base estimate, the budget, and the Price List path through the environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.sagestack.cost.pricing_server import pricing_endpoint

STACKS = ("dev", "staging", "prod")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # No credentials from a profile or instance role either: the snapshot path.
    env |= {"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"}
    env |= {"AWS_EC2_METADATA_DISABLED": "true", **extra}
    return env


def cost(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sagestack", "cost", *args],
        cwd=cwd,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _json(*args: str, **kwargs: Any) -> dict[str, Any]:
    result = cost(*args, "--json", **kwargs)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_prints_its_lines_with_formula_and_unit_price(stack: str) -> None:
    result = cost("--stack", stack)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"sagestack {stack} (us-east-1): monthly estimate\n")
    assert "prices: snapshot prices.json of " in out
    assert "no AWS credentials" in out
    for item in ("training jobs", "S3 dataset", "KMS keys", "CloudWatch alarms", "SNS"):
        assert item in out
    assert " x $0.115/instance-hour" in out
    assert "\ntotal: $" in out
    assert "monitoring jobs: not priced yet" in out


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_as_json(stack: str) -> None:
    document = _json("--stack", stack)
    assert document["stack"] == stack
    assert document["complete"] is True
    assert document["total_usd"] == pytest.approx(
        sum(line["monthly_usd"] for line in document["lines"])
    )
    for line in document["lines"]:
        assert line["price"]["usd"] >= 0
        assert line["formula"]
    kinds = {line["key"] for line in document["lines"]}
    assert ("endpoint-serverless" in kinds) == (stack == "dev")
    assert ("s3-capture" in kinds) == (stack != "dev")


def test_dev_idle_shows_what_serverless_saves_against_staging_single_instance() -> None:
    dev = _json("--stack", "dev", "--requests-per-day", "0")
    staging = _json("--stack", "staging", "--requests-per-day", "0")
    instance = next(line for line in staging["lines"] if line["key"] == "endpoint-instances")
    serverless = next(line for line in dev["lines"] if line["key"] == "endpoint-serverless")
    assert serverless["monthly_usd"] == 0
    assert instance["monthly_usd"] == pytest.approx(730 * 0.115)
    assert dev["comparison"].startswith(
        f"serverless compute $0.00 against one ml.m5.large all month ${730 * 0.115:,.2f}: saves"
    )
    assert staging["total_usd"] - dev["total_usd"] > 80


def test_traffic_options_change_the_lines_they_drive() -> None:
    low = _json("--stack", "dev", "--requests-per-day", "100")
    high = _json("--stack", "dev", "--requests-per-day", "100000", "--payload-kb", "8")

    def by_key(document: dict[str, Any]) -> dict[str, float]:
        return {line["key"]: line["monthly_usd"] for line in document["lines"]}

    assert by_key(high)["endpoint-serverless"] == pytest.approx(
        1000 * by_key(low)["endpoint-serverless"]
    )
    assert by_key(high)["kms-keys"] == by_key(low)["kms-keys"]
    assert high["assumptions"]["payload_kb"] == 8


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "qa"], "no stack file Pulumi.qa.yaml (stacks: dev, prod, staging)"),
        (
            ["--stack", "dev", "--requests-per-day", "nan"],
            "--requests-per-day=nan must be a finite",
        ),
        (["--stack", "dev", "--payload-kb", "-2"], "--payload-kb=-2.0 must be a finite"),
        (["--stack", "dev", "--base", "/nonexistent.json"], "cannot read --base"),
        (["--stack", "dev", "--snapshot", "/nonexistent.json"], "cannot read the price snapshot"),
        (["--stack", "dev", "--prices", "api"], "--prices api needs AWS credentials"),
    ],
)
def test_bad_input_is_a_clear_error(args: list[str], message: str) -> None:
    result = cost(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_malformed_snapshot_or_base_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "prices.json"
    bad.write_text(
        '{"format": 1, "as_of": "2026-12-02", "sources": {}, '
        '"regions": {"us-east-1": {"kms.key": 3}}}'
    )
    result = cost("--stack", "dev", "--snapshot", str(bad))
    assert result.returncode == 2
    assert "regions.us-east-1.kms.key must be an object" in result.stderr
    base = tmp_path / "base.json"
    base.write_text('{"format": 1, "lines": [{"key": "x", "monthly_usd": "a lot"}]}')
    result = cost("--stack", "dev", "--base", str(base))
    assert result.returncode == 2
    assert "lines[0].monthly_usd must be a number or null" in result.stderr


def _project(tmp_path: Path, stack_file: str) -> Path:
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "data").mkdir()
    shutil.copy(REPO / "data" / "breast_cancer.csv", tmp_path / "data")
    (tmp_path / "Pulumi.qa.yaml").write_text(stack_file)
    return tmp_path


def test_an_unknown_instance_type_is_an_unpriced_line_and_no_total(tmp_path: Path) -> None:
    # A type SageMaker takes (the config refuses any other) that the snapshot does not price.
    project = _project(
        tmp_path,
        "config:\n  aws:region: us-east-1\n  sagestack:endpointInstanceType: ml.m4.xlarge\n",
    )
    result = cost("--stack", "qa", "--project-dir", str(project))
    assert result.returncode == 0, result.stderr
    assert "no price for sagemaker.hosting:ml.m4.xlarge in us-east-1" in result.stdout
    assert "total: unknown: 1 line(s) unpriced" in result.stdout
    document = _json("--stack", "qa", "--project-dir", str(project))
    assert document["total_usd"] is None
    assert document["complete"] is False


def test_an_unknown_region_prices_nothing_it_cannot(tmp_path: Path) -> None:
    project = _project(tmp_path, "config:\n  aws:region: xx-nowhere-1\n")
    document = _json("--stack", "qa", "--project-dir", str(project))
    assert document["total_usd"] is None
    assert all(
        line["problem"].startswith("no price for ") and "in xx-nowhere-1" in line["problem"]
        for line in document["lines"]
    )


def test_a_stack_without_a_region_or_with_a_bad_value_says_which(tmp_path: Path) -> None:
    project = _project(tmp_path, "config:\n  sagestack:endpointInstanceCount: 0\n")
    result = cost("--stack", "qa", "--project-dir", str(project))
    assert result.returncode == 2
    assert "sagestack:endpointInstanceCount='0'" in result.stderr
    (project / "Pulumi.qa.yaml").write_text("config: {}\n")
    result = cost("--stack", "qa", "--project-dir", str(project))
    assert result.returncode == 2
    assert "Pulumi.qa.yaml sets no aws:region" in result.stderr


def test_the_budget_fails_listing_the_lines_that_grew(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    base.write_text(cost("--stack", "staging", "--json").stdout)
    (tmp_path / "p").mkdir()
    project = _project(
        tmp_path / "p",
        "config:\n  aws:region: us-east-1\n  sagestack:endpointInstanceType: ml.m5.large\n"
        "  sagestack:endpointInstanceCount: 3\n  sagestack:dataCapturePercent: 20\n"
        "  sagestack:customerManagedKey: true\n  sagestack:monthlyBudgetUsd: 150\n",
    )
    args = ("--stack", "qa", "--project-dir", str(project), "--base", str(base))
    result = cost(*args, "--check-budget")
    assert result.returncode == 1
    assert "exceeds monthlyBudgetUsd=150" in result.stderr
    assert "endpoint instances (ml.m5.large): +$167.90" in result.stderr
    markdown = cost(*args, "--markdown").stdout
    assert "| endpoint instances (ml.m5.large) |" in markdown
    assert "+$167.90 |" in markdown
    assert "**Budget:** over:" in markdown
    assert cost(*args).returncode == 0  # without --check-budget it only prints
    within = cost("--stack", "staging", "--base", str(base), "--check-budget", "--markdown")
    assert within.returncode == 0
    assert "$0.00 |" in within.stdout


def test_with_credentials_the_price_list_api_prices_and_is_cached(tmp_path: Path) -> None:
    with pricing_endpoint() as served:
        env = _env(
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            AWS_ENDPOINT_URL_PRICING=served.url,
        )
        document = _json("--stack", "staging", "--cache-dir", str(tmp_path), env=env)
        assert served.requests
    instance = next(line for line in document["lines"] if line["key"] == "endpoint-instances")
    assert instance["price"]["status"] == "price-list-api"
    assert instance["price"]["source"] == "AWS Price List API (GetProducts)"
    assert document["prices"].startswith("AWS Price List API (3 prices, fetched ")
    dashboard = next(line for line in document["lines"] if line["key"] == "dashboards")
    assert dashboard["price"]["status"] == "secondary"  # the snapshot's
    assert (tmp_path / "pricelist-us-east-1.json").is_file()


def test_a_stack_new_on_this_branch_is_compared_with_nothing(tmp_path: Path) -> None:
    # What the preview workflow writes when the base branch cannot estimate the stack.
    base = tmp_path / "base.json"
    base.write_text('{"format": 1, "lines": []}')
    result = cost("--stack", "prod", "--base", str(base), "--markdown")
    assert result.returncode == 0, result.stderr
    assert "The base branch has no estimate for this stack: every line is new." in result.stdout
    assert "| endpoint instances (ml.m5.large) |" in result.stdout
    assert "+$167.90 |" in result.stdout


_BOMB = "config:\n  sagestack:l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  sagestack:l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]\n" for n in range(1, 9)
)


@pytest.mark.parametrize(
    ("stack_file", "message"),
    [
        (_BOMB.encode(), "Pulumi.qa.yaml: document contains excessive aliasing"),
        (b"config:\n  sagestack:target: \xff\n", "Pulumi.qa.yaml: not UTF-8"),
        (f"config:\n  sagestack:trainingVolumeGb: {'9' * 5000}\n".encode(), "'trainingVolumeGb'"),
        (
            b"config:\n  sagestack:hyperparameters: '" + b"[" * 5000 + b"'\n",
            "sagestack:hyperparameters=",
        ),
    ],
    ids=["alias-bomb", "not-utf8", "5000-digits", "deep-json"],
)
def test_a_hostile_stack_file_is_a_quick_clear_error(
    tmp_path: Path, stack_file: bytes, message: str
) -> None:
    project = _project(tmp_path, "")
    (project / "Pulumi.qa.yaml").write_bytes(stack_file)
    started = time.monotonic()
    result = cost("--stack", "qa", "--project-dir", str(project))
    assert time.monotonic() - started < 10  # the interpreter's start included
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr) < 2000
