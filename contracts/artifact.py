"""The model artifact: the files training writes into model/ and inference reads, and their shapes.

The TypedDicts describe the JSON documents as training writes them; inference reads them
back from disk and validates them before it trusts a key.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

# The fitted scikit-learn pipeline, for people and tools: the server never unpickles it.
MODEL_FILE = "model.joblib"
SCHEMA_FILE = "schema.json"
PARAMETERS_FILE = "predictor.json"
# Tree estimators converted for onnxruntime (training/onnx_export.py).
TREES_FILE = "model.onnx"
# Per-row explanation parameters; an artifact without it serves predictions, no explanations.
EXPLAINER_FILE = "explainer.json"
EVALUATION_FILE = "evaluation.json"
# What SageMaker uploads from model/: `<output path>/<job name>/output/model.tar.gz`.
MODEL_ARCHIVE = "model.tar.gz"

# The kinds of feature in schema.json.
NUMERIC = "numeric"
CATEGORICAL = "categorical"

# schema.json's format_version. 2: trees are served from model.onnx; 1 needed scikit-learn.
SCHEMA_FORMAT_VERSION = 2
# predictor.json's version. 2: trees run from model.onnx ("tree_ensemble"); 1 used scikit-learn.
PARAMETERS_VERSION = 2


class SchemaSample(TypedDict):
    rows: list[list[Any]]
    predictions: list[Any]
    probabilities: list[list[float]]


class PredictionShares(TypedDict):
    rows: int
    class_shares: dict[str, float]


class SchemaDocument(TypedDict):
    """schema.json: what a request row is, what training saw, what the model answers."""

    format_version: int
    sklearn_version: str
    python_version: str
    target: str
    classes: list[Any]
    positive_class: Any
    # One description per feature: name, kind, and the kind's statistics and drift baseline.
    features: list[dict[str, Any]]
    sample: SchemaSample
    held_out_predictions: PredictionShares


class NumericParameters(TypedDict):
    columns: list[str]
    medians: list[float]
    means: list[float]
    scales: list[float]


class CategoricalParameters(TypedDict):
    columns: list[str]
    fill: list[str]
    categories: list[list[str]]


class LinearEstimator(TypedDict):
    kind: Literal["logistic_regression"]
    classes: list[Any]
    coef: list[list[float]]
    intercept: list[float]


# "class" is a keyword: the functional form is the only way to name that key.
TreeEstimator = TypedDict(
    "TreeEstimator",
    {
        "kind": Literal["tree_ensemble"],
        "class": str,
        "classes": list[Any],
        "file": str,
        "runtime": str,
        "precision": str,
        "max_probability_difference": float,
        "label_tie_tolerance": float,
    },
)


class PredictorParameters(TypedDict):
    """predictor.json: the fitted pipeline's numbers, for a server without scikit-learn."""

    version: int
    numeric: NumericParameters | None
    categorical: CategoricalParameters | None
    estimator: LinearEstimator | TreeEstimator
