"""Global explanations: permutation importance and standardized coefficients, as written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from tests.training.support import mixed_frame, multiclass_frame
from training.cleaning import FeatureSpec, LabelledData, clean_training_frame
from training.explain import (
    BACKGROUND_ROWS,
    IMPORTANCE_REPEATS,
    explainer_parameters,
    global_explanations,
)
from training.hyperparameters import Hyperparameters
from training.model import fit


def _fitted(
    frame: pd.DataFrame, target: str, algorithm: str = "logistic_regression"
) -> tuple[Pipeline, FeatureSpec, LabelledData]:
    ids = ("customer_id",) if "customer_id" in frame else ()
    data, spec, _ = clean_training_frame(frame, target, ids)
    hp = Hyperparameters(target=target, algorithm=algorithm, n_estimators=20)
    pipeline, _ = fit(hp, spec, data.features, data.labels)
    return pipeline, spec, data


def test_importance_is_scikit_learns_seeded_and_ranks_what_the_label_depends_on() -> None:
    pipeline, spec, data = _fitted(mixed_frame(1500, seed=3), "label")
    classes = sorted(pd.unique(data.labels).tolist())
    report = json.loads(
        json.dumps(global_explanations(pipeline, spec, data.features, data.labels, classes, 7))
    )
    importance = report["permutation_importance"]
    assert importance["rows"] == 1500
    assert importance["repeats"] == IMPORTANCE_REPEATS
    by_name = {entry["feature"]: entry for entry in importance["features"]}
    assert set(by_name) == {"x1", "x2", "colour", "flag"}
    assert by_name["colour"]["kind"] == "categorical"
    # x1 (weight 1.5 on unit variance) and x2 (0.8 on variance 4) drive the label most.
    assert set(report["top_features"][:2]) == {"x1", "x2"}
    means = [entry["mean"] for entry in importance["features"]]
    assert means == sorted(means, reverse=True)

    # The same numbers as calling scikit-learn directly with the same seed.
    direct = permutation_importance(
        pipeline,
        data.features,
        data.labels,
        scoring="neg_log_loss",
        n_repeats=IMPORTANCE_REPEATS,
        random_state=7,
    )
    for name, mean in zip(data.features.columns, direct.importances_mean, strict=True):
        assert by_name[name]["mean"] == float(mean)

    coefficients = report["standardized_coefficients"]
    assert coefficients["classes"] == ["yes"]
    columns = {entry["column"]: entry["coefficients"] for entry in coefficients["columns"]}
    model = pipeline.named_steps["model"]
    # Numeric columns are standardized by the pipeline: their coefficients as fitted.
    # (x1 is the first column; its standardized training values have std 1.)
    assert np.isclose(columns["x1"][0], model.coef_[0, 0], rtol=1e-9)
    assert {"colour_red", "colour_blue", "colour_green"} <= columns.keys()


def test_multiclass_and_tree_models() -> None:
    pipeline, spec, data = _fitted(multiclass_frame(600), "species")
    classes = sorted(pd.unique(data.labels).tolist())
    report = global_explanations(pipeline, spec, data.features, data.labels, classes, 0)
    assert len(report["standardized_coefficients"]["classes"]) == 3
    assert len(report["standardized_coefficients"]["columns"][0]["coefficients"]) == 3

    forest, spec, data = _fitted(multiclass_frame(300), "species", "random_forest")
    report = global_explanations(forest, spec, data.features, data.labels, classes, 0)
    assert report["standardized_coefficients"] is None
    assert len(report["top_features"]) == 5


def test_a_test_split_missing_a_class_is_still_scored() -> None:
    pipeline, spec, data = _fitted(multiclass_frame(600), "species")
    classes = sorted(pd.unique(data.labels).tolist())
    keep = (data.labels != classes[0]).to_numpy()
    report = global_explanations(pipeline, spec, data.features[keep], data.labels[keep], classes, 0)
    assert np.isfinite([e["mean"] for e in report["permutation_importance"]["features"]]).all()


def test_explainer_parameters_are_preprocessed_training_means_and_background() -> None:
    pipeline, _, data = _fitted(mixed_frame(500, seed=1), "label")
    parameters = explainer_parameters(pipeline, data.features, 0)
    matrix = pipeline.named_steps["preprocess"].transform(data.features)
    np.testing.assert_allclose(parameters["column_means"], matrix.mean(axis=0), atol=1e-12)
    background = np.asarray(parameters["background"])
    assert background.shape == (BACKGROUND_ROWS, matrix.shape[1])
    # Every background row is a real preprocessed training row.
    for row in background:
        assert np.isclose(matrix, row, atol=1e-12).all(axis=1).any()
