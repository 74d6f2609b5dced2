"""The schema written beside the model: the contract with the inference container.

It tells the server what a request row is (ordered feature names and kinds), what the model
saw in training (ranges, statistics, categories), what it answers (classes, target, positive
class), and holds a few sample rows with their expected predictions for post-deploy checks.
Bump SCHEMA_FORMAT_VERSION (contracts/artifact.py) on any change that an older server could misread.
"""

from __future__ import annotations

import math
import platform
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.pipeline import Pipeline

from contracts.artifact import NUMERIC, SCHEMA_FORMAT_VERSION, PredictionShares, SchemaDocument
from contracts.json_values import plain
from training.cleaning import FeatureSpec
from training.splits import sample_positions

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
SAMPLE_ROWS = 5
# mean, std and quantiles come from at most this many rows: as good for drift checks, and it
# keeps the schema's cost flat on large data. min, max and the missing fraction use every row.
STATISTICS_SAMPLE = 100_000
# Beyond this many categories the schema keeps the most frequent ones only.
MAX_LISTED_CATEGORIES = 1000
# The drift baseline `monitor` compares captured traffic with: PSI over the training deciles
# (the usual ten bins), and the training CDF at every percentile, so the KS distance is within
# one percentile step of the exact two-sample statistic without shipping the training rows.
PSI_QUANTILES = tuple(q / 10 for q in range(1, 10))
CDF_QUANTILES = tuple(q / 100 for q in range(1, 100))


def build_schema(
    pipeline: Pipeline,
    spec: FeatureSpec,
    features: pd.DataFrame,
    target: str,
    classes: list[Any],
    positive_class: Any,
    sample: pd.DataFrame,
    held_out_probabilities: np.ndarray | None = None,
) -> SchemaDocument:
    sample_probabilities = pipeline.predict_proba(sample)
    sample_rows = sample_positions(len(features), STATISTICS_SAMPLE, seed=0)
    sample_labels = [classes[index] for index in np.argmax(sample_probabilities, axis=1)]
    return {
        "format_version": SCHEMA_FORMAT_VERSION,
        "sklearn_version": sklearn.__version__,
        "python_version": platform.python_version(),
        "target": target,
        "classes": [plain(label) for label in classes],
        "positive_class": plain(positive_class) if len(classes) == 2 else None,
        "features": [_describe(name, spec, features[name], sample_rows) for name in spec.names],
        "sample": {
            "rows": [[plain(value) for value in row] for row in sample.itertuples(index=False)],
            "predictions": [plain(label) for label in sample_labels],
            "probabilities": [[float(p) for p in row] for row in sample_probabilities],
        },
        "held_out_predictions": _prediction_shares(held_out_probabilities, classes),
    }


def _prediction_shares(probabilities: np.ndarray | None, classes: list[Any]) -> PredictionShares:
    """What the model predicted on the held-out rows: `monitor`'s prediction-drift baseline."""
    if probabilities is None or not len(probabilities):
        return {"rows": 0, "class_shares": {}}
    counts = np.bincount(np.argmax(probabilities, axis=1), minlength=len(classes))
    return {
        "rows": len(probabilities),
        "class_shares": {
            str(plain(label)): float(count / len(probabilities))
            for label, count in zip(classes, counts, strict=True)
        },
    }


def _describe(
    name: str, spec: FeatureSpec, column: pd.Series, sample_rows: np.ndarray | None
) -> dict[str, Any]:
    description: dict[str, Any] = {"name": name, "kind": spec.kind(name)}
    if spec.kind(name) == NUMERIC:
        values = column.to_numpy(dtype=float)
        missing = int(np.count_nonzero(np.isnan(values)))
        sampled = values if sample_rows is None else values[sample_rows]
        sampled = sampled[~np.isnan(sampled)]
        present = values.size > missing
        description.update(
            missing_fraction=missing / values.size if values.size else 0.0,
            # fmin/fmax skip NaN without allocating: exact over every value, at no cost.
            min=_number(float(np.fmin.reduce(values)) if present else math.nan),
            max=_number(float(np.fmax.reduce(values)) if present else math.nan),
            mean=_number(float(sampled.mean()) if sampled.size else math.nan),
            std=_number(float(sampled.std()) if sampled.size else math.nan),
            quantiles={
                str(q): _number(float(v))
                for q, v in zip(
                    QUANTILES,
                    np.quantile(sampled, QUANTILES)
                    if sampled.size
                    else [math.nan] * len(QUANTILES),
                    strict=True,
                )
            },
            baseline=numeric_baseline(np.sort(sampled)),
        )
    else:
        counts = column.value_counts()
        description["missing_fraction"] = float(column.isna().mean()) if len(column) else 0.0
        description["categories"] = sorted(str(v) for v in counts.index[:MAX_LISTED_CATEGORIES])
        description["category_count"] = len(counts)
        counted = int(counts.sum())
        listed = counts.iloc[:MAX_LISTED_CATEGORIES]
        description["baseline"] = {
            "rows": counted,
            # Categories beyond the listed ones share the rest (1 - the sum).
            "shares": {str(k): float(v / counted) for k, v in listed.items()} if counted else {},
        }
    return description


def numeric_baseline(ordered: np.ndarray) -> dict[str, Any]:
    """Bin edges at training quantiles, with the exact share of training values in each bin
    ((-inf, e1], (e1, e2], ..., (ek, inf)), and the exact training CDF at each percentile."""
    if not ordered.size:
        return {"rows": 0, "psi_edges": [], "psi_shares": [], "cdf_points": [], "cdf": []}
    edges = np.unique(np.quantile(ordered, PSI_QUANTILES))
    below = np.searchsorted(ordered, edges, side="right")
    shares = np.diff(np.concatenate(([0], below, [ordered.size]))) / ordered.size
    points = np.unique(np.quantile(ordered, CDF_QUANTILES))
    cdf = np.searchsorted(ordered, points, side="right") / ordered.size
    return {
        "rows": int(ordered.size),
        "psi_edges": [float(v) for v in edges],
        "psi_shares": [float(v) for v in shares],
        "cdf_points": [float(v) for v in points],
        "cdf": [float(v) for v in cdf],
    }


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
