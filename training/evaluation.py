"""Evaluation: the metrics of a fitted pipeline on one split, and the quality gate.

Binary targets: precision, recall and F1 are about the positive class. Multi-class targets:
their macro average, and ROC AUC one-vs-rest. A metric that cannot be computed (ROC AUC when a
split holds a single class) is NaN, and a bar on a NaN metric fails.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline

METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")


@dataclass(frozen=True)
class SplitEvaluation:
    split: str
    rows: int
    metrics: dict[str, float]
    confusion_matrix: list[list[int]]
    class_counts: dict[str, int]
    # Kept for the plots; not serialized.
    labels: np.ndarray
    probabilities: np.ndarray

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "metrics": {name: _json_number(value) for name, value in self.metrics.items()},
            "confusion_matrix": self.confusion_matrix,
            "class_counts": self.class_counts,
        }


def evaluate(
    pipeline: Pipeline,
    features: pd.DataFrame,
    labels: pd.Series,
    classes: list[Any],
    positive_class: Any,
    split: str,
) -> SplitEvaluation:
    truth = labels.to_numpy()
    probabilities = pipeline.predict_proba(features)
    # The predicted label is the most probable class: one model pass instead of two.
    predicted = np.asarray(classes, dtype=object)[np.argmax(probabilities, axis=1)]
    predicted = predicted.astype(truth.dtype, copy=False)
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    pos_label = positive_class if binary else 1
    with warnings.catch_warnings():
        # Undefined precision (no positive prediction) is reported as 0, on purpose.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        metrics = {
            "accuracy": float(accuracy_score(truth, predicted)),
            "precision": float(
                precision_score(
                    truth, predicted, average=average, pos_label=pos_label, zero_division=0
                )
            ),
            "recall": float(
                recall_score(
                    truth, predicted, average=average, pos_label=pos_label, zero_division=0
                )
            ),
            "f1": float(
                f1_score(truth, predicted, average=average, pos_label=pos_label, zero_division=0)
            ),
            "roc_auc": _roc_auc(truth, probabilities, classes, positive_class),
            "log_loss": float(log_loss(truth, probabilities, labels=classes)),
        }
    matrix = confusion_matrix(truth, predicted, labels=classes)
    counts = pd.Series(truth).value_counts()
    return SplitEvaluation(
        split=split,
        rows=len(truth),
        metrics=metrics,
        confusion_matrix=matrix.astype(int).tolist(),
        class_counts={str(label): int(counts.get(label, 0)) for label in classes},
        labels=truth,
        probabilities=probabilities,
    )


def _roc_auc(
    truth: np.ndarray, probabilities: np.ndarray, classes: list[Any], positive_class: Any
) -> float:
    present = set(np.unique(truth).tolist())
    if len(present) < 2:
        return math.nan
    if len(classes) == 2:
        column = classes.index(positive_class)
        return float(roc_auc_score(truth == positive_class, probabilities[:, column]))
    if len(present) < len(classes):
        # One-vs-rest needs every class on both sides; score the classes that are present.
        keep = [index for index, label in enumerate(classes) if label in present]
        scores = [roc_auc_score(truth == classes[index], probabilities[:, index]) for index in keep]
        return float(np.mean(scores))
    return float(
        roc_auc_score(truth, probabilities, multi_class="ovr", average="macro", labels=classes)
    )


def quality_failures(evaluation: SplitEvaluation, bars: dict[str, float]) -> list[str]:
    """Every metric under its bar, as `test f1 0.7100 < min_f1 0.8000`; empty when it may ship."""
    failures = []
    for metric, bar in bars.items():
        value = evaluation.metrics[metric]
        if math.isnan(value) or value < bar:
            failures.append(f"{evaluation.split} {metric} {value:.4f} < min_{metric} {bar:.4f}")
    return failures


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None
