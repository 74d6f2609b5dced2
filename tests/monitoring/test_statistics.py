"""Each drift statistic against an independent computation: scipy, or the definition on rows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp

from inference.monitoring.drift import (
    CategoricalBaseline,
    CategoricalCounts,
    NumericBaseline,
    NumericCounts,
    js_distance,
    judge_categorical,
    psi,
)
from training.schema import numeric_baseline

LIMITS = {
    "min_rows": 1,
    "psi_alert": 0.2,
    "psi_warn": 0.1,
    "js_alert": 0.1,
    "unseen_alert": 0.1,
    "missing_alert": 0.1,
    "ks_alert": None,
}


def _baseline(training: np.ndarray) -> NumericBaseline:
    raw = numeric_baseline(np.sort(training))
    return NumericBaseline(
        "x",
        raw["rows"],
        0.0,
        np.array(raw["psi_edges"]),
        np.array(raw["psi_shares"]),
        np.array(raw["cdf_points"]),
        np.array(raw["cdf"]),
    )


def _counts(baseline: NumericBaseline, live: np.ndarray, chunks: int = 1) -> NumericCounts:
    counts = NumericCounts(baseline)
    for part in np.array_split(live, chunks):
        counts.add(part)
    return counts


@pytest.mark.parametrize("shift", [0.0, 0.3, 1.0])
def test_psi_matches_its_definition_on_raw_rows(shift: float) -> None:
    rng = np.random.default_rng(1)
    training = rng.normal(size=20_000)
    live = rng.normal(loc=shift, size=5_000)
    baseline = _baseline(training)
    # Independent: training deciles by np.quantile, shares by np.histogram over them.
    edges = np.concatenate(([-np.inf], np.quantile(training, np.arange(1, 10) / 10), [np.inf]))
    expected = np.histogram(training, edges)[0] / training.size
    actual = np.histogram(live, edges)[0] / live.size
    e, a = np.maximum(expected, 1e-4), np.maximum(actual, 1e-4)
    assert psi(baseline.psi_shares, _counts(baseline, live, 7).shares()) == pytest.approx(
        float(np.sum((a - e) * np.log(a / e))), rel=1e-9, abs=1e-12
    )


@pytest.mark.parametrize(("shift", "scale"), [(0.0, 1.0), (0.2, 1.0), (0.0, 2.0), (3.0, 1.0)])
def test_ks_on_the_percentile_grid_is_within_a_step_of_scipy(shift: float, scale: float) -> None:
    rng = np.random.default_rng(2)
    training = rng.normal(size=50_000)
    live = rng.normal(loc=shift, scale=scale, size=20_000)
    baseline = _baseline(training)
    counts = _counts(baseline, live, 3)
    from inference.monitoring.drift import ks_on_grid

    ours = ks_on_grid(baseline.cdf, counts.live_cdf())
    exact = ks_2samp(training, live).statistic
    # Never above the exact statistic; below it by at most one percentile step of training.
    assert ours <= exact + 1e-12
    assert exact - ours <= 0.011


@given(
    st.lists(st.integers(0, 10**6), min_size=2, max_size=8).flatmap(
        lambda p: st.tuples(
            st.just(p), st.lists(st.integers(0, 10**6), min_size=len(p), max_size=len(p))
        )
    )
)
def test_js_distance_matches_scipy(pair: tuple[list[int], list[int]]) -> None:
    # What it is given: counts (or shares of counts) per bin.
    p, q = pair
    if sum(p) <= 0 or sum(q) <= 0:
        assert js_distance(p, q) == 0.0
        return
    assert js_distance(p, q) == pytest.approx(float(jensenshannon(p, q, base=2)), abs=1e-7)


def test_numeric_counts_are_the_same_in_any_chunking_and_keep_missing_apart() -> None:
    rng = np.random.default_rng(3)
    training = rng.exponential(size=1000)
    live = rng.exponential(size=3001)
    live[::10] = np.nan
    baseline = _baseline(training)
    one, many = _counts(baseline, live, 1), _counts(baseline, live, 13)
    assert np.array_equal(one.bins, many.bins)
    assert np.array_equal(one.grid, many.grid)
    assert one.missing == many.missing == int(np.isnan(live).sum())
    assert one.present == 3001 - one.missing
    assert one.total == pytest.approx(np.nansum(live))


def test_baseline_shares_are_exact_with_ties() -> None:
    training = np.array([1.0] * 50 + [2.0] * 30 + [3.0] * 20)
    raw = numeric_baseline(np.sort(training))
    cuts = [-np.inf, *raw["psi_edges"], np.inf]
    # Bins are (low, high]: a tie at an edge falls in the bin below it, counted exactly.
    expected = [
        float(np.mean((training > low) & (training <= high)))
        for low, high in itertools.pairwise(cuts)
    ]
    assert raw["psi_shares"] == pytest.approx(expected)
    assert sum(raw["psi_shares"]) == pytest.approx(1.0)
    for point, share in zip(raw["cdf_points"], raw["cdf"], strict=True):
        assert share == pytest.approx(float(np.mean(training <= point)))


def test_categorical_js_and_unseen_share_against_scipy() -> None:
    baseline = CategoricalBaseline("c", 100, 0.0, {"a": 0.5, "b": 0.3, "c": 0.2})
    counts = CategoricalCounts(baseline)
    values = np.array(["a"] * 40 + ["b"] * 30 + ["z"] * 30 + [None] * 10, dtype=object)
    counts.add(values)
    drift = judge_categorical(counts, LIMITS)
    assert drift.scores["unseen_share"] == pytest.approx(0.3)
    assert drift.scores["js"] == pytest.approx(
        float(jensenshannon([0.5, 0.3, 0.2, 0.0], [40, 30, 0, 30], base=2))
    )
    assert drift.missing_fraction == pytest.approx(10 / 110)
    assert {check.check_type for check in drift.checks} == {
        "baseline_drift_check",
        "categorical_values_check",
    }
