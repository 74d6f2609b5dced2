"""The model: preprocessing and estimator in one scikit-learn pipeline, optionally searched.

The preprocessing travels with the model, so the inference server feeds raw feature values to
the pipeline and nothing else has to agree on how they are imputed, scaled or encoded.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from contracts.json_values import plain
from training.cleaning import FeatureSpec
from training.errors import HyperparameterError, shown
from training.hyperparameters import Hyperparameters

log = logging.getLogger(__name__)

PREPROCESS_STEP = "preprocess"
MODEL_STEP = "model"
# A proper scoring rule that works for binary and multi-class targets alike.
SEARCH_SCORING = "neg_log_loss"

_DEFAULT_MAX_ITER = {"logistic_regression": 1000, "hist_gradient_boosting": 100}
_DEFAULT_MIN_SAMPLES_LEAF = {"random_forest": 1, "hist_gradient_boosting": 20}

_GRIDS: dict[str, dict[str, list[Any]]] = {
    "logistic_regression": {"C": [0.01, 0.1, 1.0, 10.0, 100.0]},
    "random_forest": {
        "n_estimators": [100, 300],
        "max_depth": [None, 8, 16],
        "min_samples_leaf": [1, 5],
    },
    "hist_gradient_boosting": {
        "learning_rate": [0.03, 0.1, 0.3],
        "max_depth": [None, 4, 8],
        "min_samples_leaf": [10, 20, 50],
    },
}


def _distributions(algorithm: str) -> dict[str, Any]:
    # scipy.stats takes a second to import; only a random search needs it.
    from scipy.stats import loguniform, randint

    return {
        "logistic_regression": {"C": loguniform(1e-3, 1e3)},
        "random_forest": {
            "n_estimators": randint(50, 500),
            "max_depth": [None, 4, 6, 8, 12, 16, 24, 32],
            "min_samples_leaf": randint(1, 20),
        },
        "hist_gradient_boosting": {
            "learning_rate": loguniform(0.01, 0.5),
            "max_depth": [None, 3, 4, 6, 8, 12],
            "min_samples_leaf": randint(5, 100),
        },
    }[algorithm]


def build_estimator(hp: Hyperparameters) -> ClassifierMixin:
    class_weight = None if hp.class_weight == "none" else hp.class_weight
    if hp.algorithm == "logistic_regression":
        return LogisticRegression(
            C=hp.C,
            max_iter=hp.max_iter or _DEFAULT_MAX_ITER[hp.algorithm],
            class_weight=class_weight,
            random_state=hp.seed,
        )
    if hp.algorithm == "random_forest":
        return RandomForestClassifier(
            n_estimators=hp.n_estimators,
            max_depth=hp.max_depth,
            min_samples_leaf=hp.min_samples_leaf or _DEFAULT_MIN_SAMPLES_LEAF[hp.algorithm],
            class_weight=class_weight,
            random_state=hp.seed,
            n_jobs=-1,
        )
    if hp.algorithm == "hist_gradient_boosting":
        return HistGradientBoostingClassifier(
            learning_rate=hp.learning_rate,
            max_iter=hp.max_iter or _DEFAULT_MAX_ITER[hp.algorithm],
            max_depth=hp.max_depth,
            min_samples_leaf=hp.min_samples_leaf or _DEFAULT_MIN_SAMPLES_LEAF[hp.algorithm],
            class_weight=class_weight,
            random_state=hp.seed,
        )
    raise AssertionError(f"algorithm {hp.algorithm!r} passed validation but has no estimator")


def build_preprocessor(spec: FeatureSpec) -> ColumnTransformer | Pipeline:
    """Numeric features: median-imputed and scaled; categorical: most-frequent and one-hot.

    With numeric features only, the numeric pipeline is the whole preprocessing: a
    ColumnTransformer around it would copy the training matrix twice more (select, stack).
    """
    numeric = Pipeline(
        [
            # The same medians as strategy="median", three times faster: that one sorts a
            # masked copy of every column (8 s for 800k rows x 30 here). numpy.median
            # pickles as a reference, so the inference image needs nothing more.
            ("impute", SimpleImputer(strategy=np.median)),
            # The imputer hands over a fresh array, so scaling it in place is safe.
            ("scale", StandardScaler(copy=False)),
        ]
    )
    if not spec.categorical:
        return numeric
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    transformers: list[tuple[str, Pipeline, list[str]]] = []
    if spec.numeric:
        transformers.append(("numeric", numeric, list(spec.numeric)))
    transformers.append(("categorical", categorical, list(spec.categorical)))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def build_pipeline(hp: Hyperparameters, spec: FeatureSpec) -> Pipeline:
    return Pipeline(
        [(PREPROCESS_STEP, build_preprocessor(spec)), (MODEL_STEP, build_estimator(hp))]
    )


def fit(
    hp: Hyperparameters, spec: FeatureSpec, features: pd.DataFrame, labels: pd.Series
) -> tuple[Pipeline, dict[str, Any] | None]:
    """Fit the pipeline; with a search, refit the best candidate on all rows and describe it."""
    pipeline = build_pipeline(hp, spec)
    if hp.search == "none":
        pipeline.fit(features, labels)
        return pipeline, None

    _require_rows_for_folds(hp.search_folds, labels)
    folds = StratifiedKFold(n_splits=hp.search_folds, shuffle=True, random_state=hp.seed)
    prefixed = f"{MODEL_STEP}__"
    search: GridSearchCV | RandomizedSearchCV
    if hp.search == "grid":
        grid = {prefixed + key: values for key, values in _GRIDS[hp.algorithm].items()}
        search = GridSearchCV(pipeline, grid, scoring=SEARCH_SCORING, cv=folds, refit=True)
    else:
        space = {prefixed + key: values for key, values in _distributions(hp.algorithm).items()}
        search = RandomizedSearchCV(
            pipeline,
            space,
            n_iter=hp.search_iterations,
            scoring=SEARCH_SCORING,
            cv=folds,
            refit=True,
            random_state=hp.seed,
        )
    log.info("searching %s hyperparameters (%s, %d folds)", hp.algorithm, hp.search, folds.n_splits)
    search.fit(features, labels)
    best = {key.removeprefix(prefixed): plain(value) for key, value in search.best_params_.items()}
    log.info("best candidate: %s (cv %s %.6f)", best, SEARCH_SCORING, search.best_score_)
    report = {
        "mode": hp.search,
        "folds": hp.search_folds,
        "scoring": SEARCH_SCORING,
        "candidates": len(search.cv_results_["params"]),
        "best_params": best,
        "best_score": float(search.best_score_),
    }
    return search.best_estimator_, report


def _require_rows_for_folds(folds: int, labels: pd.Series) -> None:
    """Stratified folds need a row of every class in each fold: scikit-learn refuses fewer
    rows than folds, and only warns about a class with fewer rows than folds."""
    counts = labels.value_counts()
    if folds > counts.min():
        raise HyperparameterError(
            f"search_folds={folds} is more than the {counts.min()} training rows of the "
            f"smallest class ({shown(counts.idxmin())}): each fold needs a row of every class; "
            "lower search_folds or add rows"
        )
