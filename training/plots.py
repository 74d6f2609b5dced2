"""PNG plots of an evaluation: the ROC curve(s), the confusion matrix, feature importance.

Figures are built with matplotlib's object API (no pyplot), so no display or global state is
involved and a headless container needs nothing more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from training.evaluation import SplitEvaluation
from training.explain import PLOTTED_FEATURES

_DPI = 100


def plot_roc_curve(
    evaluation: SplitEvaluation, classes: list[Any], positive_class: Any, path: Path
) -> None:
    figure = Figure(figsize=(5, 5), dpi=_DPI)
    axes = figure.add_subplot()
    # Binary: the positive class only; multi-class: one curve per class against the rest.
    shown = [positive_class] if len(classes) == 2 else classes
    for label in shown:
        truth = evaluation.labels == label
        if truth.all() or not truth.any():
            continue
        scores = evaluation.probabilities[:, classes.index(label)]
        false_positive, true_positive, _ = roc_curve(truth, scores)
        axes.plot(false_positive, true_positive, label=f"class {label}")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    auc = evaluation.metrics["roc_auc"]
    axes.set(
        title=f"ROC curve ({evaluation.split}, AUC {auc:.4f})",
        xlabel="False positive rate",
        ylabel="True positive rate",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    axes.legend(loc="lower right")
    _save(figure, path)


def plot_confusion_matrix(evaluation: SplitEvaluation, classes: list[Any], path: Path) -> None:
    matrix = np.asarray(evaluation.confusion_matrix)
    size = max(4.0, 0.6 * len(classes) + 2)
    figure = Figure(figsize=(size, size), dpi=_DPI)
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    ticks = range(len(classes))
    names = [str(label) for label in classes]
    axes.set(
        xticks=ticks,
        yticks=ticks,
        xticklabels=names,
        yticklabels=names,
        xlabel="Predicted",
        ylabel="True",
        title=f"Confusion matrix ({evaluation.split})",
    )
    threshold = matrix.max() / 2 if matrix.size else 0
    for row in ticks:
        for column in ticks:
            value = matrix[row, column]
            colour = "white" if value > threshold else "black"
            axes.text(column, row, str(value), ha="center", va="center", color=colour)
    _save(figure, path)


def plot_feature_importance(explanations: dict[str, Any], path: Path) -> None:
    """The most important features by permutation importance, largest on top, with the
    spread over the repeats as error bars."""
    importance = explanations["permutation_importance"]
    shown = importance["features"][:PLOTTED_FEATURES][::-1]
    figure = Figure(figsize=(6, max(2.5, 0.3 * len(shown) + 1.2)), dpi=_DPI)
    axes = figure.add_subplot()
    positions = range(len(shown))
    axes.barh(
        positions,
        [entry["mean"] for entry in shown],
        xerr=[entry["std"] for entry in shown],
        color="tab:blue",
    )
    axes.axvline(0, color="grey", linewidth=1)
    axes.set(
        yticks=positions,
        yticklabels=[entry["feature"] for entry in shown],
        xlabel="Increase in log loss when shuffled",
        title=f"Permutation importance ({importance['split']}, {importance['rows']} rows)",
    )
    _save(figure, path)


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, format="png")
