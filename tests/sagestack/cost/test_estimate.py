"""Every line's formula, on round prices (1 USD per unit) so that each figure reads as its
quantity; and what happens to lines whose price is missing."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest

from infra.config import StackConfig, parse_config
from sagestack.cost import prices
from sagestack.cost.estimate import (
    DAYS_PER_MONTH,
    HOURS_PER_MONTH,
    Assumptions,
    Estimate,
    estimate,
)
from sagestack.cost.prices import Price, PriceTable

INSTANCE = "ml.m5.large"


def _table(usd: float = 1.0, skip: tuple[str, ...] = ()) -> PriceTable:
    keys = [
        prices.hosting(INSTANCE),
        prices.training(INSTANCE),
        *[k for k in prices.UNITS if k not in (prices.HOSTING, prices.TRAINING)],
    ]
    return PriceTable(
        "us-east-1",
        "test prices",
        {
            key: Price(usd, prices.UNITS[prices.base_key(key)], "test", "confirmed", "2026-12-02")
            for key in keys
            if key not in skip
        },
    )


def _config(**values: object) -> StackConfig:
    return parse_config(values)


def _run(config: StackConfig, table: PriceTable | None = None, **assumed: float) -> Estimate:
    return estimate("s", "us-east-1", config, Assumptions(**assumed), table or _table(), 1024**3)


def _usd(result: Estimate) -> Mapping[str, float | None]:
    return {line.key: line.monthly_usd for line in result.lines}


INSTANCES = {"endpointInstanceType": INSTANCE, "endpointInstanceCount": 2}


def test_instances_are_billed_all_month_with_the_autoscaling_range() -> None:
    result = _run(_config(**INSTANCES, autoscalingMaxInstances=5))
    line = result.lines[0]
    assert line.key == "endpoint-instances"
    assert line.monthly_usd == 2 * HOURS_PER_MONTH
    assert line.max_monthly_usd == 5 * HOURS_PER_MONTH
    assert "up to 5 x 730 h" in line.formula
    assert result.max_total_usd - result.total_usd == pytest.approx(3 * HOURS_PER_MONTH)
    # Traffic does not change it.
    assert _run(_config(**INSTANCES), requests_per_day=0).lines[0].monthly_usd == 2 * 730


def test_serverless_is_memory_times_duration_times_requests() -> None:
    result = _run(_config(serverlessMemoryMb=3072), requests_per_day=500, duration_ms=200)
    line = result.lines[0]
    assert line.key == "endpoint-serverless"
    assert line.monthly_usd == pytest.approx(500 * DAYS_PER_MONTH * 0.2 * 3)
    assert _run(_config(), requests_per_day=0).lines[0].monthly_usd == 0


def test_data_processed_is_requests_times_payload_and_response() -> None:
    usd = _usd(_run(_config(), requests_per_day=1024, payload_kb=9.8))
    assert usd["endpoint-data"] == pytest.approx(1024 * DAYS_PER_MONTH * 10 / 1024**2)


def test_training_is_runs_times_duration_capped_by_the_time_limit() -> None:
    assert _usd(_run(_config(), training_runs_per_month=3, training_minutes_per_run=30))[
        "training"
    ] == pytest.approx(1.5)
    capped = _run(
        _config(trainingMaxRuntimeSeconds=600),
        training_runs_per_month=2,
        training_minutes_per_run=60,
    )
    assert _usd(capped)["training"] == pytest.approx(2 * 600 / 3600)


def test_spot_training_says_it_is_priced_on_demand() -> None:
    line = next(
        line for line in _run(_config(trainingUseSpot=True)).lines if line.key == "training"
    )
    assert "on demand" in line.note


def test_storage_dataset_artifacts_and_capture() -> None:
    result = _run(
        _config(**INSTANCES, dataCapturePercent=50, captureRetentionDays=10),
        requests_per_day=1000,
        payload_kb=1.3,
        training_runs_per_month=2,
        artifact_mb=512,
    )
    usd = _usd(result)
    assert usd["s3-dataset"] == pytest.approx(1.0)  # the measured 1 GiB file
    assert usd["s3-artifacts"] == pytest.approx(1.0)
    # requests x share x (payload + 0.2 KB response + 0.5 KB metadata) x days kept
    assert usd["s3-capture"] == pytest.approx(1000 * 0.5 * 2.0 * 10 / 1024**2)
    assert "s3-capture" not in _usd(_run(_config(**INSTANCES)))


def test_an_s3_dataset_needs_its_size_given() -> None:
    s3 = {"dataPath": "s3://bucket/data.csv", "dataVersion": "v1"}
    line = next(line for line in _run(_config(**s3)).lines if line.key == "s3-dataset")
    assert line.monthly_usd is None
    assert "--dataset-gb" in line.problem
    given = _run(_config(**s3), dataset_gb=4)
    assert _usd(given)["s3-dataset"] == 4


def test_alarms_dashboards_metrics_keys_and_notifications() -> None:
    serverless = _usd(_run(_config(), notifications_per_month=40))
    assert serverless["alarms"] == 7  # 6 alarms, the 4XX rate reading two metrics
    assert serverless["dashboards"] == 1
    assert serverless["custom-metrics"] == 2
    assert serverless["kms-keys"] == 1
    assert serverless["sns-publish"] == 40
    assert "sns-email" not in serverless
    instances = _usd(
        _run(
            _config(
                **INSTANCES,
                autoscalingMaxInstances=3,
                alarmNoTrafficMinutes=30,
                alarmEmails="a@example.com,b@example.com",
                alarmHttpsUrl="https://example.com/hook",
            ),
            notifications_per_month=40,
        )
    )
    assert instances["alarms"] == 11  # + CPU, memory, disk, no traffic
    assert instances["autoscaling-alarms"] == 2
    assert instances["sns-email"] == 80
    assert instances["sns-https"] == 40


def test_logs_are_summary_lines_ingested_and_kept() -> None:
    result = _run(_config(**INSTANCES, modelServerWorkers=3, logRetentionDays=60))
    usd = _usd(result)
    per_day = 2 * 3 * 1440 * 700 / 1024**3
    assert usd["log-ingestion"] == pytest.approx(per_day * DAYS_PER_MONTH)
    assert usd["log-storage"] == pytest.approx(per_day * 60)


def test_a_missing_price_is_an_unpriced_line_and_no_total() -> None:
    result = _run(_config(**INSTANCES), _table(skip=(prices.hosting(INSTANCE),)))
    line = result.lines[0]
    assert line.monthly_usd is None
    assert line.problem == "no price for sagemaker.hosting:ml.m5.large in us-east-1 (test prices)"
    assert not result.complete
    assert result.unpriced == (line,)


def test_a_price_in_another_unit_is_not_used() -> None:
    table = _table()
    wrong = dict(table.prices)
    wrong[prices.S3_STANDARD] = Price(0.023, "GB-hour", "test", "confirmed", "2026-12-02")
    result = _run(_config(), PriceTable("us-east-1", "test", wrong))
    line = next(line for line in result.lines if line.key == "s3-dataset")
    assert line.monthly_usd is None
    assert "per GB-hour, not per GB-month" in line.problem


def test_serverless_is_compared_with_one_instance() -> None:
    result = _run(_config(), _table(usd=0.5), requests_per_day=0)
    assert result.comparison.startswith(
        f"serverless compute $0.00 against one {INSTANCE} all month ${0.5 * 730:,.2f}: saves"
    )
    assert _run(_config(**INSTANCES)).comparison == ""


def test_monitoring_jobs_are_said_to_be_absent() -> None:
    assert any("monitoring jobs" in note for note in _run(_config()).notes)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0])
def test_assumptions_must_be_finite_and_not_negative(value: float) -> None:
    assert Assumptions(requests_per_day=value).problems() == [
        f"requests_per_day={value} must be a finite number >= 0"
    ]


@pytest.mark.parametrize(
    ("field", "value"), [("requests_per_day", 1e308), ("payload_kb", 7000.0), ("duration_ms", 1e9)]
)
def test_assumptions_are_bounded_so_no_total_overflows(field: str, value: float) -> None:
    problems = Assumptions(**{field: value}).problems()
    assert len(problems) == 1
    assert problems[0].startswith(f"{field}={value} must be at most")


def test_the_largest_assumptions_still_give_a_finite_total() -> None:
    most = Assumptions(
        requests_per_day=86_400 * 1e6,
        payload_kb=6144,
        duration_ms=60_000,
        training_runs_per_month=10_000,
        training_minutes_per_run=7200,
        artifact_mb=1e7,
        notifications_per_month=1e9,
        dataset_gb=1e7,
    )
    assert most.problems() == []
    for config in (_config(), _config(**INSTANCES)):
        result = _run(config, **{k: v for k, v in vars(most).items() if v is not None})
        assert math.isfinite(result.total_usd)
        assert math.isfinite(result.max_total_usd)
