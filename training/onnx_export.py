"""model.onnx: a tree estimator converted for onnxruntime, and its measured difference.

The inference image serves trees without scikit-learn: the preprocessing is compiled from
predictor.json (exactly, in float64) and the estimator runs in onnxruntime, converted here by
skl2onnx. onnxruntime's tree operator takes float32 input and float32 thresholds and leaf
values, so its probabilities differ a little from scikit-learn's. That difference is measured
here on the held-out rows, with the runtime the server uses, and recorded in predictor.json:
the server's start-up self-check holds the sample rows to it. A model that does not convert,
or whose labels change on any held-out row, fails the job.

Only the estimator is converted. skl2onnx cannot convert our categorical imputer (its
missing values are NaN, not a string), and preprocessing in float32 moves scaled values
across split thresholds: on the sample data that changed a random forest's label.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline

from training.errors import ConversionError
from training.model import MODEL_STEP, PREPROCESS_STEP

# The graph's one input and the output the server reads.
INPUT_NAME = "X"
PROBABILITIES_OUTPUT = "probabilities"
# Both are in onnxruntime 1.20 and later, the versions the inference image allows.
TARGET_OPSET = {"": 21, "ai.onnx.ml": 3}
RUNTIME = "onnxruntime"
PRECISION = "float32"
# Classes whose probabilities are this close count as tied; the first of them is the label.
# A random forest often ties exactly (50 of 100 trees each way): scikit-learn then answers
# the first class, while float32 sums put either class a few 1e-7 ahead. The server reads
# this number from predictor.json; the check below applies the same rule.
LABEL_TIE_TOLERANCE = 1e-5

TREE_ESTIMATORS = (RandomForestClassifier, HistGradientBoostingClassifier)

Converter = Callable[[Any, int], bytes]


@dataclass(frozen=True)
class TreeExport:
    model: bytes
    # Goes into evaluation.json and, as the self-check's bound, into predictor.json.
    report: dict[str, Any]

    @property
    def passed(self) -> bool:
        return int(self.report["labels_changed"]) == 0


def convert_estimator(estimator: Any, width: int) -> bytes:
    """skl2onnx's conversion of a fitted tree classifier taking `width` float32 columns."""
    # skl2onnx imports in about a second; only tree models need it.
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    with warnings.catch_warnings():
        # skl2onnx 1.20 writes numpy bools into integer attributes of the hist gradient
        # boosting node; protobuf 6 warns once per tree (protobuf 7 refuses them, hence the
        # pin in pyproject.toml). The values are 0 and 1 either way.
        warnings.filterwarnings(
            "ignore", "Field onnx.AttributeProto.ints: Expected an int, got a boolean"
        )
        model = convert_sklearn(
            estimator,
            initial_types=[(INPUT_NAME, FloatTensorType([None, width]))],
            # Plain probability columns in class order, not a list of {class: probability}.
            options={id(estimator): {"zipmap": False}},
            target_opset=TARGET_OPSET,
        )
    serialized: bytes = model.SerializeToString()
    return serialized


def run_converted(model: bytes, matrix: np.ndarray) -> np.ndarray:
    """Probabilities from onnxruntime, run as the inference server runs it (one thread)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        model, sess_options=options, providers=["CPUExecutionProvider"]
    )
    (probabilities,) = session.run(
        [PROBABILITIES_OUTPUT], {INPUT_NAME: np.asarray(matrix, dtype=np.float32)}
    )
    return normalized(probabilities)


def normalized(probabilities: np.ndarray) -> np.ndarray:
    """float32 probabilities in float64, each row divided by its sum. float32 rows sum to 1
    only within about 1e-7; the server answers rows that sum to 1 (inference/predictor.py
    does the same division, so what was measured here is what it answers)."""
    rows = np.asarray(probabilities, dtype=np.float64)
    rows /= rows.sum(axis=1, keepdims=True)
    return rows


def tied_first_labels(probabilities: np.ndarray, tolerance: float) -> np.ndarray:
    """Per row, the index of the first class within `tolerance` of the row's largest."""
    near_top = probabilities >= probabilities.max(axis=1, keepdims=True) - tolerance
    chosen: np.ndarray = np.argmax(near_top, axis=1)
    return chosen


def export_trees(
    pipeline: Pipeline,
    held_out: pd.DataFrame,
    reference: np.ndarray,
    converter: Converter = convert_estimator,
) -> TreeExport | None:
    """Convert the pipeline's tree estimator and measure it on the held-out rows against
    scikit-learn's probabilities for them (`reference`). None for estimators the server
    compiles itself (logistic regression)."""
    estimator = pipeline.named_steps[MODEL_STEP]
    if not isinstance(estimator, TREE_ESTIMATORS):
        return None
    matrix = pipeline.named_steps[PREPROCESS_STEP].transform(held_out)
    width = int(matrix.shape[1])
    try:
        model = converter(estimator, width)
        probabilities = run_converted(model, matrix)
    except Exception as error:
        # skl2onnx and onnxruntime fail in many ways (an unsupported option, a protobuf
        # version); each means the same thing: this model cannot be served.
        raise ConversionError(
            f"the {type(estimator).__name__} could not be converted to ONNX for the inference "
            f"server ({type(error).__name__}: {error})"
        ) from error
    if probabilities.shape != reference.shape:
        raise ConversionError(
            f"the converted {type(estimator).__name__} answers {probabilities.shape[1:]} "
            f"probabilities per row where scikit-learn answers {reference.shape[1:]}"
        )
    served = tied_first_labels(probabilities, LABEL_TIE_TOLERANCE)
    changed = np.flatnonzero(served != np.argmax(reference, axis=1))
    difference = float(np.max(np.abs(probabilities - reference))) if reference.size else 0.0
    report = {
        "runtime": RUNTIME,
        "precision": PRECISION,
        "rows": int(reference.shape[0]),
        "labels_changed": int(changed.size),
        "first_changed_rows": [int(row) + 1 for row in changed[:10]],
        "max_probability_difference": difference,
        "label_tie_tolerance": LABEL_TIE_TOLERANCE,
    }
    return TreeExport(model, report)


def label_change_error(export: TreeExport, estimator: str) -> ConversionError:
    report = export.report
    return ConversionError(
        f"the {estimator} converted to ONNX ({report['precision']}) changes the label of "
        f"{report['labels_changed']} of {report['rows']} held-out rows (rows "
        f"{report['first_changed_rows']}; max probability difference "
        f"{report['max_probability_difference']:.3g}); no model was written. The inference "
        "server would answer differently from the model that was evaluated: retrain with other "
        "hyperparameters or use algorithm=logistic_regression, which is served exactly."
    )
