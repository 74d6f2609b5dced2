"""Metrics computed from the confusion matrix equal scikit-learn's own scores."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
)

from training.evaluation import counting_metrics


def _sklearn(truth: list[str], predicted: list[str], classes: list[str]) -> dict[str, float]:
    binary = len(classes) == 2
    options = {
        "average": "binary" if binary else "macro",
        "pos_label": classes[-1] if binary else 1,
        "zero_division": 0,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return {
            "accuracy": accuracy_score(truth, predicted),
            "precision": precision_score(truth, predicted, **options),
            "recall": recall_score(truth, predicted, **options),
            "f1": f1_score(truth, predicted, **options),
        }


@given(
    st.integers(min_value=2, max_value=4).flatmap(
        lambda k: st.lists(
            st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), min_size=1, max_size=60
        ).map(lambda pairs: (k, pairs))
    )
)
def test_counting_metrics_equal_sklearn(case: tuple[int, list[tuple[int, int]]]) -> None:
    k, pairs = case
    classes = [f"c{i}" for i in range(k)]
    truth = [classes[t] for t, _ in pairs]
    predicted = [classes[p] for _, p in pairs]
    matrix = confusion_matrix(truth, predicted, labels=classes)
    ours = counting_metrics(matrix, classes, classes[-1])
    theirs = _sklearn(truth, predicted, classes)
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(value, abs=1e-12), name


def test_binary_metrics_are_about_the_positive_class() -> None:
    matrix = np.array([[5, 1], [2, 8]])  # rows: truth no, yes; columns: predicted no, yes
    metrics = counting_metrics(matrix, ["no", "yes"], "yes")
    assert metrics["precision"] == pytest.approx(8 / 9)
    assert metrics["recall"] == pytest.approx(8 / 10)
    metrics = counting_metrics(matrix, ["no", "yes"], "no")
    assert metrics["precision"] == pytest.approx(5 / 7)
