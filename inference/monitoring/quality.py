"""Live model quality: ground-truth labels joined to captured predictions by event id.

Ground truth is JSON lines, one event a line: {"eventId": "...", "label": 1} (a list of labels
for a request of several rows). Model Monitor's own shape, {"groundTruthData": {"data": "1",
"encoding": "CSV"}, "eventMetadata": {"eventId": "..."}}, is read too. The metrics follow
the training gate's conventions (training/evaluation.py): binary precision, recall and F1 are
about the positive class, multi-class ones are macro averages, ROC AUC is one-vs-rest.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from inference.artifact import Schema
from inference.monitoring.capture import Predictions, Problems, _label_text


@dataclass
class GroundTruth:
    labels: dict[str, list[str]] = field(default_factory=dict)
    files: int = 0
    problems: Problems = field(default_factory=Problems)


def read_ground_truth(directory: Path) -> GroundTruth:
    truth = GroundTruth()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        truth.files += 1
        try:
            lines = path.read_bytes().split(b"\n")
        except OSError as error:
            truth.problems.add("unreadable_file", str(path), str(error))
            continue
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                event_id, labels = _entry(json.loads(line))
            except (ValueError, KeyError, TypeError, RecursionError):
                truth.problems.add("corrupt_ground_truth", where)
                continue
            truth.labels[event_id] = labels
    return truth


def _entry(entry: Any) -> tuple[str, list[str]]:
    if "groundTruthData" in entry:
        data = entry["groundTruthData"]["data"]
        event_id = entry["eventMetadata"]["eventId"]
        label: Any = data.split(",") if isinstance(data, str) and "," in data else data
    else:
        event_id = entry["eventId"]
        label = entry["label"]
    if not isinstance(event_id, str) or label is None:
        raise ValueError("eventId must be text and label present")
    labels = label if isinstance(label, list) else [label]
    return event_id, [_label_text(value) for value in labels]


@dataclass
class LabelledRows:
    truth: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)
    probabilities: list[NDArray[np.float64] | None] = field(default_factory=list)
    events: int = 0

    def add(self, truth: list[str], answer: Predictions) -> None:
        self.events += 1
        self.truth.extend(truth)
        self.predicted.extend(answer.labels)
        if answer.probabilities is None:
            self.probabilities.extend([None] * len(truth))
        else:
            self.probabilities.extend(answer.probabilities)


def live_quality(
    rows: LabelledRows, schema: Schema, bars: dict[str, float], min_rows: int
) -> dict[str, Any]:
    classes = [str(label) for label in schema.classes]
    known = [i for i, label in enumerate(rows.truth) if label in classes]
    result: dict[str, Any] = {
        "events": rows.events,
        "rows": len(known),
        "unknown_labels": len(rows.truth) - len(known),
        "metrics": {},
        "bars": bars,
        "failures": [],
    }
    if len(known) < min_rows:
        result["status"] = "insufficient data"
        return result
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score

    truth = np.array([rows.truth[i] for i in known], dtype=object)
    predicted = np.array([rows.predicted[i] for i in known], dtype=object)
    positive = schema.raw.get("positive_class")
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    pos_label = str(positive) if binary and positive is not None else classes[-1]
    precision, recall, f1, _ = precision_recall_fscore_support(
        truth,
        predicted,
        average=average,
        pos_label=pos_label if binary else 1,
        zero_division=0,
    )
    metrics = {
        "accuracy": float(accuracy_score(truth, predicted)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": math.nan,
    }
    scored = [rows.probabilities[i] for i in known]
    if all(p is not None for p in scored) and len(set(truth.tolist())) > 1:
        matrix = np.vstack([p for p in scored if p is not None])
        if binary:
            column = classes.index(pos_label)
            metrics["roc_auc"] = float(roc_auc_score(truth == pos_label, matrix[:, column]))
        elif len(set(truth.tolist())) == len(classes):
            metrics["roc_auc"] = float(
                roc_auc_score(truth, matrix, multi_class="ovr", average="macro", labels=classes)
            )
    result["metrics"] = {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}
    failures = []
    for metric, bar in bars.items():
        value = metrics.get(metric, math.nan)
        if bar > 0 and (math.isnan(value) or value < bar):
            failures.append(f"live {metric} {value:.4f} < bar {bar:.4f}")
    result["failures"] = failures
    result["status"] = "below bar" if failures else "ok"
    return result
