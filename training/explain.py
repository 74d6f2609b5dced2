"""Explanations computed at training time: what the model relies on, overall and per row.

Global: scikit-learn's `permutation_importance` on the test split (per input feature, so a
categorical feature is permuted as one column), scored by log loss as the evaluation and the
search score it, seeded; for a logistic regression also its standardized coefficients.

Per row (served by inference/explain.py): explainer.json holds what the server needs and
predictor.json does not, in the preprocessed space the server computes: the training means of
the preprocessed columns (a linear model's exact contributions are coef * (x - mean)) and a
small seeded background sample of preprocessed training rows (the model-agnostic sampling
Shapley values of other estimators are measured against it).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, make_scorer
from sklearn.pipeline import Pipeline

from contracts.json_values import plain
from training.cleaning import FeatureSpec
from training.model import MODEL_STEP, PREPROCESS_STEP
from training.splits import sample_positions

EXPLAINER_VERSION = 1
# Permutation importance predicts the test rows n_repeats x features times. 10,000 rows keep
# that under a few seconds at 30 features whatever the data size (at 1M rows the test split
# is 200,000); the spread over the repeats (importances_std) is reported beside each mean, so
# a reader sees whether the sample was large enough to rank two features.
IMPORTANCE_ROWS = 10_000
IMPORTANCE_REPEATS = 5
# How many features the report's ranking, the plot and local mode show.
TOP_FEATURES = 5
PLOTTED_FEATURES = 20
# Preprocessed training rows the server's model-agnostic explanations integrate over (each
# sampled permutation is paired with one of them, so their number does not change a row's
# cost; see inference/explain.py). The base value is their mean prediction: 16 rows keep
# explainer.json small while covering the training distribution coarsely.
BACKGROUND_ROWS = 16
# The column means come from at most this many rows, like the schema's statistics.
MEANS_ROWS = 100_000


def global_explanations(
    pipeline: Pipeline,
    spec: FeatureSpec,
    features: pd.DataFrame,
    labels: pd.Series,
    classes: list[Any],
    seed: int,
) -> dict[str, Any]:
    """The `explanations` section of evaluation.json."""
    started = time.monotonic()
    rows = sample_positions(len(labels), IMPORTANCE_ROWS, seed)
    sampled_features = features if rows is None else features.iloc[rows]
    sampled_labels = labels if rows is None else labels.iloc[rows]
    # The evaluation's log loss, with every training class named: a test split that lacks one
    # must still be scored (scikit-learn's "neg_log_loss" would raise on it).
    scorer = make_scorer(
        log_loss, greater_is_better=False, response_method="predict_proba", labels=classes
    )
    result = permutation_importance(
        pipeline,
        sampled_features,
        sampled_labels,
        scoring=scorer,
        n_repeats=IMPORTANCE_REPEATS,
        random_state=seed,
    )
    names = list(features.columns)
    importance: list[dict[str, Any]] = [
        {
            "feature": name,
            "kind": spec.kind(name),
            "mean": float(mean),
            "std": float(std),
        }
        for name, mean, std in zip(
            names, result.importances_mean, result.importances_std, strict=True
        )
    ]
    importance.sort(key=lambda entry: -float(entry["mean"]))
    report: dict[str, Any] = {
        "permutation_importance": {
            "split": "test",
            "scoring": "log_loss increase when the feature is shuffled",
            "rows": len(sampled_labels),
            "repeats": IMPORTANCE_REPEATS,
            "seed": seed,
            "features": importance,
        },
        "top_features": [entry["feature"] for entry in importance[:TOP_FEATURES]],
        "standardized_coefficients": standardized_coefficients(pipeline, features, seed),
    }
    report["seconds"] = round(time.monotonic() - started, 3)  # the entrypoint adds its part
    return report


def standardized_coefficients(
    pipeline: Pipeline, features: pd.DataFrame, seed: int
) -> dict[str, Any] | None:
    """A logistic regression's coefficients per unit of each preprocessed column's standard
    deviation (None for other estimators). Numeric columns are standardized by the pipeline,
    so theirs are the coefficients themselves; a one-hot column's is scaled by its std."""
    estimator = pipeline.named_steps[MODEL_STEP]
    if not isinstance(estimator, LogisticRegression):
        return None
    preprocess = pipeline.named_steps[PREPROCESS_STEP]
    matrix = _preprocessed(preprocess, features, MEANS_ROWS, seed)
    stds = matrix.std(axis=0)
    columns = [str(name) for name in preprocess.get_feature_names_out()]
    coef = np.asarray(estimator.coef_, dtype=np.float64)
    per_column = coef * stds
    # Binary: one row of coefficients (towards the second class); multinomial: one per class.
    return {
        "classes": [plain(c) for c in estimator.classes_[-coef.shape[0] :]],
        "columns": [
            {"column": name, "coefficients": [float(v) for v in per_column[:, index]]}
            for index, name in enumerate(columns)
        ],
    }


def explainer_parameters(pipeline: Pipeline, features: pd.DataFrame, seed: int) -> dict[str, Any]:
    """explainer.json: the preprocessed columns' training means and a background sample."""
    preprocess = pipeline.named_steps[PREPROCESS_STEP]
    means = _preprocessed(preprocess, features, MEANS_ROWS, seed).mean(axis=0)
    background = _preprocessed(preprocess, features, BACKGROUND_ROWS, seed)
    return {
        "version": EXPLAINER_VERSION,
        "column_means": [float(v) for v in means],
        "background": [[float(v) for v in row] for row in background],
    }


def top_features(report: dict[str, Any], count: int = TOP_FEATURES) -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = report["permutation_importance"]["features"]
    return features[:count]


def _preprocessed(preprocess: Any, features: pd.DataFrame, limit: int, seed: int) -> np.ndarray:
    rows = sample_positions(len(features), limit, seed)
    chosen = features if rows is None else features.iloc[rows]
    return np.asarray(preprocess.transform(chosen), dtype=np.float64)
