"""The endpoint's alarm rules as plain data: no Pulumi, no mocks."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from infra.alarm_specs import AlarmConfig, AlarmSpec, alarm_specs
from infra.config import load_stack_config, parse_config
from tests.conftest import REPO

DEFAULTS = AlarmConfig.from_stack(parse_config({}))
ENDPOINT, VARIANT = "sagestack-x", "primary"


def _with(config: AlarmConfig, serverless: bool | None = None, **thresholds: int) -> AlarmConfig:
    """`config` with another endpoint shape or other thresholds."""
    return dataclasses.replace(
        config,
        serverless=config.serverless if serverless is None else serverless,
        thresholds=dataclasses.replace(config.thresholds, **thresholds),
    )


INSTANCE = _with(DEFAULTS, serverless=False)


def _specs(config: AlarmConfig) -> dict[str, AlarmSpec]:
    return {spec.key: spec for spec in alarm_specs(config, ENDPOINT, VARIANT)}


def test_the_module_runs_without_pulumi() -> None:
    # What the cost estimator relies on: importing the rules loads no Pulumi SDK.
    code = "import sys, infra.alarm_specs; print(any(m.startswith('pulumi') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_instance_alarms_only_on_instance_endpoints() -> None:
    serverless = _with(DEFAULTS, serverless=True, no_traffic_minutes=0)
    instances = _with(serverless, serverless=False)
    assert {"cpu", "memory", "disk"} & set(_specs(serverless)) == set()
    assert set(_specs(instances)) - set(_specs(serverless)) == {"cpu", "memory", "disk"}


@pytest.mark.parametrize("minutes", [0, 15])
def test_no_traffic_only_when_configured(minutes: int) -> None:
    specs = _specs(_with(DEFAULTS, no_traffic_minutes=minutes))
    assert ("no-traffic" in specs) == bool(minutes)
    if minutes:
        spec = specs["no-traffic"]
        assert (spec.period, spec.evaluation_periods) == (60, minutes)
        assert spec.treat_missing_data == "breaching"


def test_every_alarm_watches_the_variant() -> None:
    dimensions = {"EndpointName": ENDPOINT, "VariantName": VARIANT}
    specs = alarm_specs(_with(INSTANCE, no_traffic_minutes=5), ENDPOINT, VARIANT)
    assert len({s.key for s in specs}) == len(specs)
    for spec in specs:
        assert spec.description.startswith(f"{ENDPOINT}/{VARIANT}: "), spec.key
        if spec.queries:
            # Metric math: the alarm has no metric of its own; every metric read is the variant's.
            assert (spec.metric_name, spec.period, spec.dimensions) == ("", 0, {}), spec.key
            reads = [q for q in spec.queries if q.metric_name]
            assert reads, spec.key
            assert all(q.dimensions == dimensions for q in reads), spec.key
            assert [q.id for q in spec.queries if q.return_data] == ["rate"], spec.key
        else:
            assert spec.dimensions == dimensions, spec.key
            assert spec.period > 0, spec.key
            assert spec.metric_name, spec.key
            assert bool(spec.statistic) != bool(spec.extended_statistic), spec.key


def test_thresholds_follow_the_config() -> None:
    config = _with(
        INSTANCE,
        errors_5xx=7,
        model_latency_p99_ms=250,
        overhead_latency_p99_ms=40,
        cpu_utilization=150,
        period_seconds=300,
        evaluation_periods=2,
    )
    specs = _specs(config)
    assert specs["errors-5xx"].threshold == 7
    assert specs["model-latency-p99"].threshold == 250_000  # microseconds, as SageMaker reports
    assert specs["overhead-latency-p99"].threshold == 40_000
    assert specs["cpu"].threshold == 150
    assert {(s.period, s.evaluation_periods) for s in specs.values() if not s.queries} == {(300, 2)}


def test_rollback_alarms_and_metrics_read() -> None:
    specs = alarm_specs(INSTANCE, ENDPOINT, VARIANT)
    assert [s.key for s in specs if s.rollback] == [
        "errors-5xx",
        "error-rate-4xx",
        "model-latency-p99",
        "server-errors",
    ]
    assert {s.key: s.metrics_read for s in specs if s.metrics_read != 1} == {"error-rate-4xx": 2}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_each_stack_file_gives_the_alarms_its_graph_has(stack: str) -> None:
    # The graph side of this is tests/infra/test_monitoring.py::test_alarms_per_stack.
    keys = {
        s.key for s in alarm_specs(AlarmConfig.from_stack(load_stack_config(REPO, stack)), "e", "v")
    }
    instance = {"cpu", "memory", "disk"}
    assert (instance <= keys) == (stack != "dev")
    assert ("no-traffic" in keys) == (stack == "prod")
