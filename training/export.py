"""predictor.json: the fitted pipeline's numbers, for a server that needs no scikit-learn.

Importing scikit-learn to unpickle a pipeline costs the inference server most of its cold
start. The pipeline this container builds has a known shape, so its parameters are written
out as plain JSON (floats round-trip exactly): imputation values, scaling, categories and,
for a logistic regression, the coefficients. A tree estimator is described here and runs
from model.onnx (training/onnx_export.py), with the difference from scikit-learn that
training measured: the server's self-check holds its sample rows to that bound.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from contracts.artifact import (
    PARAMETERS_VERSION,
    TREES_FILE,
    CategoricalParameters,
    LinearEstimator,
    NumericParameters,
    PredictorParameters,
    TreeEstimator,
)
from contracts.json_values import plain
from training.cleaning import FeatureSpec
from training.model import MODEL_STEP, PREPROCESS_STEP
from training.onnx_export import TreeExport


def predictor_parameters(
    pipeline: Pipeline, spec: FeatureSpec, trees: TreeExport | None = None
) -> PredictorParameters:
    preprocess = pipeline.named_steps[PREPROCESS_STEP]
    estimator = pipeline.named_steps[MODEL_STEP]
    parts: dict[str, Pipeline] = {}
    if isinstance(preprocess, ColumnTransformer):
        parts = {
            name: transformer
            for name, transformer, _ in preprocess.transformers_
            if name in ("numeric", "categorical")
        }
    else:
        parts = {"numeric": preprocess}
    numeric: NumericParameters | None = None
    if "numeric" in parts:
        impute, scale = (parts["numeric"].named_steps[key] for key in ("impute", "scale"))
        numeric = {
            "columns": list(spec.numeric),
            "medians": _floats(impute.statistics_),
            "means": _floats(scale.mean_),
            "scales": _floats(scale.scale_),
        }
    categorical: CategoricalParameters | None = None
    if "categorical" in parts:
        impute, encode = (parts["categorical"].named_steps[key] for key in ("impute", "encode"))
        categorical = {
            "columns": list(spec.categorical),
            "fill": [str(value) for value in impute.statistics_],
            "categories": [[str(c) for c in categories] for categories in encode.categories_],
        }
    return {
        "version": PARAMETERS_VERSION,
        "numeric": numeric,
        "categorical": categorical,
        "estimator": _estimator(estimator, trees),
    }


def _estimator(estimator: Any, trees: TreeExport | None) -> LinearEstimator | TreeEstimator:
    classes = [plain(c) for c in estimator.classes_]
    if isinstance(estimator, LogisticRegression):
        return {
            "kind": "logistic_regression",
            "classes": classes,
            "coef": [_floats(row) for row in estimator.coef_],
            "intercept": _floats(estimator.intercept_),
        }
    if trees is None:
        raise ValueError(f"a {type(estimator).__name__} needs its ONNX conversion to be served")
    return {
        "kind": "tree_ensemble",
        "class": type(estimator).__name__,
        "classes": classes,
        "file": TREES_FILE,
        "runtime": trees.report["runtime"],
        "precision": trees.report["precision"],
        "max_probability_difference": trees.report["max_probability_difference"],
        "label_tie_tolerance": trees.report["label_tie_tolerance"],
    }


def _floats(values: Any) -> list[float]:
    return [float(value) for value in np.asarray(values, dtype=np.float64)]
