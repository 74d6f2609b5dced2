"""output/data/: the evaluation report and its plots, for people, pass or fail.

SageMaker uploads this folder as output.tar.gz beside the model, including when the quality
gate stops the job, so the plots show why a model was refused.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from contracts.artifact import EVALUATION_FILE
from training.artifact import write_file_atomically, write_json
from training.environment import (
    CONFUSION_MATRIX_FILE,
    FEATURE_IMPORTANCE_FILE,
    ROC_CURVE_FILE,
    TrainingPaths,
)
from training.evaluation import SplitEvaluation


def import_plotting_in_background() -> threading.Thread:
    """matplotlib takes 0.6 s to import; most of it overlaps reading the data, during which
    pandas' C parser leaves the interpreter free. An import error surfaces at plotting time."""

    def load() -> None:
        with contextlib.suppress(ImportError):
            import training.plots  # noqa: F401

    thread = threading.Thread(target=load, name="import-plotting", daemon=True)
    thread.start()
    return thread


def write_output_data(
    paths: TrainingPaths,
    report: dict[str, Any],
    test: SplitEvaluation,
    classes: list[Any],
    positive_class: Any,
) -> None:
    from training import plots

    directory = paths.output_data_dir
    write_file_atomically(directory / EVALUATION_FILE, write_json(report))
    write_file_atomically(
        directory / ROC_CURVE_FILE,
        lambda path: plots.plot_roc_curve(test, classes, positive_class, path),
    )
    write_file_atomically(
        directory / CONFUSION_MATRIX_FILE,
        lambda path: plots.plot_confusion_matrix(test, classes, path),
    )
    write_file_atomically(
        directory / FEATURE_IMPORTANCE_FILE,
        lambda path: plots.plot_feature_importance(report["explanations"], path),
    )
