"""Drift of a window's traffic from the training baseline that schema.json holds.

Everything is accumulated chunk by chunk as counts over the baseline's fixed bins, so memory
stays flat whatever the window's size: numeric features count values per PSI bin (training
deciles) and per percentile interval (for KS), categorical ones count each category.

Definitions (tested against scipy in tests/monitoring/test_statistics.py):
- PSI = sum over bins of (live - training) * ln(live / training), shares floored at 1e-4 so
  that an empty bin counts as a large change instead of infinity (Evidently floors the same).
- KS distance = the largest gap between the live and training CDFs over the training
  percentiles: within one percentile step (about 0.01) of the exact two-sample statistic.
- Jensen-Shannon distance (base 2, in [0, 1]) between category shares, never-seen categories
  pooled in one extra bucket.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from contracts.artifact import CATEGORICAL
from inference.artifact import Schema

PSI_FLOOR = 1e-4
# A hostile stream of distinct texts must not grow memory without bound: past this many
# distinct values, a feature's further new values are counted together.
MAX_TRACKED_CATEGORIES = 10_000
OTHER = "(other values)"


class BaselineError(ValueError):
    """schema.json lacks the drift baseline (a model trained before `monitor` existed)."""


@dataclass(frozen=True)
class NumericBaseline:
    name: str
    rows: int
    missing_fraction: float
    psi_edges: NDArray[np.float64]
    psi_shares: NDArray[np.float64]
    cdf_points: NDArray[np.float64]
    cdf: NDArray[np.float64]


@dataclass(frozen=True)
class CategoricalBaseline:
    name: str
    rows: int
    missing_fraction: float
    shares: dict[str, float]


@dataclass(frozen=True)
class Baseline:
    numeric: tuple[NumericBaseline, ...]
    categorical: tuple[CategoricalBaseline, ...]
    prediction_shares: dict[str, float]
    held_out_rows: int

    @classmethod
    def from_schema(cls, schema: Schema) -> Baseline:
        numeric: list[NumericBaseline] = []
        categorical: list[CategoricalBaseline] = []
        try:
            for entry in schema.raw["features"]:
                base = entry["baseline"]
                if entry["kind"] == CATEGORICAL:
                    categorical.append(
                        CategoricalBaseline(
                            str(entry["name"]),
                            int(base["rows"]),
                            float(entry["missing_fraction"]),
                            {str(k): float(v) for k, v in base["shares"].items()},
                        )
                    )
                else:
                    numeric.append(
                        NumericBaseline(
                            str(entry["name"]),
                            int(base["rows"]),
                            float(entry["missing_fraction"]),
                            np.asarray(base["psi_edges"], dtype=np.float64),
                            np.asarray(base["psi_shares"], dtype=np.float64),
                            np.asarray(base["cdf_points"], dtype=np.float64),
                            np.asarray(base["cdf"], dtype=np.float64),
                        )
                    )
            held_out = schema.raw["held_out_predictions"]
            shares = {str(k): float(v) for k, v in held_out["class_shares"].items()}
            held_out_rows = int(held_out["rows"])
        except (KeyError, TypeError, ValueError) as error:
            raise BaselineError(
                f"schema.json has no drift baseline ({error!r} is missing or malformed): the "
                "model was trained before `monitor` existed; retrain it with this version"
            ) from None
        return cls(tuple(numeric), tuple(categorical), shares, held_out_rows)


# -- statistics on counts (pure functions; the tests compare them with scipy) ----------------


def psi(expected: NDArray[np.float64], actual: NDArray[np.float64]) -> float:
    """Population stability index of two share vectors over the same bins."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), PSI_FLOOR)
    a = np.maximum(np.asarray(actual, dtype=np.float64), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_on_grid(training_cdf: NDArray[np.float64], live_cdf: NDArray[np.float64]) -> float:
    """The largest CDF gap at the grid points (both CDFs evaluated at the same points)."""
    if not len(training_cdf):
        return 0.0
    return float(np.max(np.abs(np.asarray(live_cdf) - np.asarray(training_cdf))))


def js_distance(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen-Shannon distance, base 2: 0 for equal distributions, 1 for disjoint ones."""
    a = np.asarray(p, dtype=np.float64)
    b = np.asarray(q, dtype=np.float64)
    if a.sum() <= 0 or b.sum() <= 0:
        return 0.0
    a = a / a.sum()
    b = b / b.sum()
    m = (a + b) / 2

    def kl(x: NDArray[np.float64]) -> float:
        # m >= x / 2 > 0 wherever x > 0, except when a subnormal x underflows to m = 0.
        present = (x > 0) & (m > 0)
        return float(np.sum(x[present] * np.log2(x[present] / m[present])))

    divergence = (kl(a) + kl(b)) / 2
    return math.sqrt(max(divergence, 0.0))


# -- accumulators --------------------------------------------------------------------------


@dataclass
class NumericCounts:
    baseline: NumericBaseline
    present: int = 0
    missing: int = 0
    total: float = 0.0
    squares: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    bins: NDArray[np.int64] = field(init=False)
    grid: NDArray[np.int64] = field(init=False)

    def __post_init__(self) -> None:
        self.bins = np.zeros(len(self.baseline.psi_edges) + 1, dtype=np.int64)
        self.grid = np.zeros(len(self.baseline.cdf_points) + 1, dtype=np.int64)

    def add(self, column: NDArray[np.float64]) -> None:
        values = column[~np.isnan(column)]
        self.missing += int(column.size - values.size)
        if not values.size:
            return
        self.present += int(values.size)
        self.total += float(values.sum())
        self.squares += float(np.dot(values, values))
        self.low = min(self.low, float(values.min()))
        self.high = max(self.high, float(values.max()))
        # Index i = how many edges lie strictly below the value: bin (e_i, e_i+1].
        self.bins += np.bincount(
            np.searchsorted(self.baseline.psi_edges, values, side="left"),
            minlength=self.bins.size,
        )
        self.grid += np.bincount(
            np.searchsorted(self.baseline.cdf_points, values, side="left"),
            minlength=self.grid.size,
        )

    @property
    def rows(self) -> int:
        return self.present + self.missing

    def shares(self) -> NDArray[np.float64]:
        return self.bins / self.present if self.present else np.zeros(self.bins.size)

    def live_cdf(self) -> NDArray[np.float64]:
        """The live CDF at each grid point: values <= point i are those in intervals 0..i."""
        if not self.present:
            return np.zeros(self.grid.size - 1)
        return np.asarray(np.cumsum(self.grid)[:-1] / self.present, dtype=np.float64)


@dataclass
class CategoricalCounts:
    baseline: CategoricalBaseline
    missing: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, column: NDArray[np.object_]) -> None:
        present = [value for value in column.tolist() if value is not None]
        self.missing += len(column) - len(present)
        counts = self.counts
        for value in present:
            if value in counts:
                counts[value] += 1
            elif len(counts) < MAX_TRACKED_CATEGORIES:
                counts[value] = 1
            else:
                counts[OTHER] = counts.get(OTHER, 0) + 1

    @property
    def present(self) -> int:
        return sum(self.counts.values())

    @property
    def rows(self) -> int:
        return self.present + self.missing


# -- verdicts ------------------------------------------------------------------------------

OK = "ok"
WARN = "warn"
DRIFT = "drift"
INSUFFICIENT = "insufficient data"


@dataclass(frozen=True)
class Check:
    """One violated constraint, shaped like a Model Monitor violation."""

    check_type: str  # baseline_drift_check, completeness_check, categorical_values_check
    description: str


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    kind: str
    status: str
    rows: int
    present: int
    missing_fraction: float
    training_missing_fraction: float
    # numeric: psi and ks; categorical: js and unseen share.
    scores: dict[str, float]
    checks: tuple[Check, ...]
    # For the report and the plots: bin labels with training and live shares.
    bins: tuple[tuple[str, float, float], ...]
    statistics: dict[str, Any]

    @property
    def drifted(self) -> bool:
        return self.status == DRIFT

    @property
    def severity(self) -> float:
        return self.scores.get("psi", self.scores.get("js", 0.0))


def judge_numeric(counts: NumericCounts, limits: Mapping[str, float | None]) -> FeatureDrift:
    base = counts.baseline
    missing_fraction = counts.missing / counts.rows if counts.rows else 0.0
    shares = counts.shares()
    scores = {
        "psi": psi(base.psi_shares, shares),
        "ks": ks_on_grid(base.cdf, counts.live_cdf()),
    }
    checks: list[Check] = []
    status = _status_for(counts.rows, limits)
    # A feature mostly missing still gets its completeness check; its distribution needs rows.
    distribution = _status_for(counts.present, limits) != INSUFFICIENT
    if status != INSUFFICIENT:
        psi_alert = _limit(limits, "psi_alert")
        ks_alert = limits.get("ks_alert")
        if distribution and scores["psi"] > psi_alert:
            checks.append(
                Check(
                    "baseline_drift_check",
                    f"PSI {scores['psi']:.3f} over the training deciles exceeds {psi_alert:g}",
                )
            )
        if distribution and ks_alert is not None and scores["ks"] > ks_alert:
            checks.append(
                Check(
                    "baseline_drift_check", f"KS distance {scores['ks']:.3f} exceeds {ks_alert:g}"
                )
            )
        checks.extend(_missing_check(missing_fraction, base.missing_fraction, limits))
        if checks:
            status = DRIFT
        elif distribution and scores["psi"] > _limit(limits, "psi_warn"):
            status = WARN
    labels = _bin_labels(base.psi_edges)
    mean = counts.total / counts.present if counts.present else math.nan
    variance = counts.squares / counts.present - mean * mean if counts.present else math.nan
    statistics = {
        "common": {"num_present": counts.present, "num_missing": counts.missing},
        "mean": _finite(mean),
        "sum": counts.total,
        "std_dev": _finite(math.sqrt(max(variance, 0.0)) if counts.present else math.nan),
        "min": _finite(counts.low),
        "max": _finite(counts.high),
        "distribution": {
            "bins": [
                {
                    "lower_bound": _finite(low),
                    "upper_bound": _finite(high),
                    "count": int(count),
                    "training_share": float(expected),
                }
                for (low, high), count, expected in zip(
                    _bounds(base.psi_edges), counts.bins, base.psi_shares, strict=True
                )
            ]
        },
    }
    return FeatureDrift(
        name=base.name,
        kind="numeric",
        status=status,
        rows=counts.rows,
        present=counts.present,
        missing_fraction=missing_fraction,
        training_missing_fraction=base.missing_fraction,
        scores=scores,
        checks=tuple(checks),
        bins=tuple(
            (label, float(e), float(a))
            for label, e, a in zip(labels, base.psi_shares, shares, strict=True)
        ),
        statistics=statistics,
    )


def judge_categorical(
    counts: CategoricalCounts, limits: Mapping[str, float | None]
) -> FeatureDrift:
    base = counts.baseline
    present = counts.present
    missing_fraction = counts.missing / counts.rows if counts.rows else 0.0
    known = list(base.shares)
    live = [counts.counts.get(category, 0) for category in known]
    unseen = present - sum(live)
    unseen_share = unseen / present if present else 0.0
    training = [*base.shares.values(), max(0.0, 1.0 - sum(base.shares.values()))]
    scores = {"js": js_distance(training, [*live, unseen]), "unseen_share": unseen_share}
    checks: list[Check] = []
    status = _status_for(counts.rows, limits)
    distribution = _status_for(present, limits) != INSUFFICIENT
    if status != INSUFFICIENT:
        js_alert = _limit(limits, "js_alert")
        if distribution and scores["js"] > js_alert:
            checks.append(
                Check(
                    "baseline_drift_check",
                    f"Jensen-Shannon distance {scores['js']:.3f} exceeds {js_alert:g}",
                )
            )
        unseen_alert = _limit(limits, "unseen_alert")
        if distribution and unseen_share > unseen_alert:
            checks.append(
                Check(
                    "categorical_values_check",
                    f"{unseen_share:.1%} of values are categories never seen in training "
                    f"(limit {unseen_alert:.0%})",
                )
            )
        checks.extend(_missing_check(missing_fraction, base.missing_fraction, limits))
        status = DRIFT if checks else OK
    shown = sorted(known, key=lambda category: -base.shares[category])[:20]
    bins = [
        (
            category,
            base.shares[category],
            counts.counts.get(category, 0) / present if present else 0.0,
        )
        for category in shown
    ]
    bins.append(("(never seen in training)", training[-1], unseen_share))
    statistics = {
        "common": {"num_present": present, "num_missing": counts.missing},
        "distinct_count": len(counts.counts),
        "distribution": {
            "categorical": {
                "buckets": [
                    {"value": value, "count": count}
                    for value, count in sorted(counts.counts.items(), key=lambda item: -item[1])[
                        :100
                    ]
                ]
            }
        },
    }
    return FeatureDrift(
        name=base.name,
        kind="categorical",
        status=status,
        rows=counts.rows,
        present=present,
        missing_fraction=missing_fraction,
        training_missing_fraction=base.missing_fraction,
        scores=scores,
        checks=tuple(checks),
        bins=tuple(bins),
        statistics=statistics,
    )


def prediction_drift(
    baseline: Baseline, predicted: Mapping[str, int], limits: Mapping[str, float | None]
) -> dict[str, Any]:
    """Predicted class shares in the window against the held-out rows' (JS distance)."""
    classes = list(baseline.prediction_shares)
    total = sum(predicted.values())
    live = [predicted.get(label, 0) for label in classes]
    other = total - sum(live)
    distance = js_distance([*baseline.prediction_shares.values(), 0.0], [*live, other])
    status = _status_for(total, limits)
    if status != INSUFFICIENT:
        status = DRIFT if distance > _limit(limits, "prediction_alert") else OK
    return {
        "status": status,
        "rows": total,
        "js_distance": distance if total else None,
        "class_shares": {
            label: (count / total if total else 0.0)
            for label, count in zip(classes, live, strict=True)
        },
        "held_out_class_shares": dict(baseline.prediction_shares),
        "held_out_rows": baseline.held_out_rows,
    }


def _status_for(rows: int, limits: Mapping[str, float | None]) -> str:
    return INSUFFICIENT if rows < _limit(limits, "min_rows") else OK


def _missing_check(live: float, training: float, limits: Mapping[str, float | None]) -> list[Check]:
    limit = _limit(limits, "missing_alert")
    if live - training > limit:
        return [
            Check(
                "completeness_check",
                f"missing rate {live:.1%} against {training:.1%} in training "
                f"(a rise of more than {limit:.0%})",
            )
        ]
    return []


def _limit(limits: Mapping[str, float | None], name: str) -> float:
    value = limits.get(name)
    if value is None:
        raise KeyError(f"threshold {name} has no value")
    return value


def _bounds(edges: NDArray[np.float64]) -> list[tuple[float, float]]:
    cuts = [-math.inf, *edges.tolist(), math.inf]
    return list(itertools.pairwise(cuts))


def _bin_labels(edges: NDArray[np.float64]) -> list[str]:
    labels = []
    for low, high in _bounds(edges):
        if math.isinf(low):
            labels.append(f"<= {high:.4g}")
        elif math.isinf(high):
            labels.append(f"> {low:.4g}")
        else:
            labels.append(f"{low:.4g} to {high:.4g}")
    return labels


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
