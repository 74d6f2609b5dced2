"""The metric line is a contract with the Pulumi program's metric definitions."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.metrics import format_metric_line, metric_regex
from tests.conftest import EXAMPLE_METRIC_LINE


def test_the_documented_example() -> None:
    assert format_metric_line("test", "f1", 0.973118) == EXAMPLE_METRIC_LINE
    match = re.search(metric_regex("test", "f1"), EXAMPLE_METRIC_LINE)
    assert match is not None
    assert match.group(1) == "0.973118"


def test_regex_has_one_capture_group_and_fits_sagemakers_length_limit() -> None:
    pattern = metric_regex("validation", "roc_auc")
    assert re.compile(pattern).groups == 1
    assert len(pattern) <= 500


def test_regex_does_not_match_another_split_or_metric() -> None:
    log = "\n".join(
        [
            format_metric_line("train", "f1", 0.99),
            format_metric_line("test", "f1_macro", 0.5),
            format_metric_line("test", "log_loss", 0.1),
        ]
    )
    assert re.findall(metric_regex("test", "f1"), log) == []


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_every_finite_value_round_trips(value: float) -> None:
    line = format_metric_line("test", "log_loss", value)
    found = re.findall(metric_regex("test", "log_loss"), line)
    assert found
    assert float(found[0]) == pytest.approx(value, abs=1e-6)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_values_are_printed_but_not_captured(value: float) -> None:
    line = format_metric_line("test", "roc_auc", value)
    assert line.startswith("metric test:roc_auc=")
    assert re.search(metric_regex("test", "roc_auc"), line) is None
