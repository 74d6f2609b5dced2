"""predictor.json carries the fitted pipeline's own numbers, exactly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.training.support import mixed_frame
from training.cleaning import clean_training_frame
from training.export import predictor_parameters
from training.hyperparameters import Hyperparameters
from training.model import fit
from training.onnx_export import export_trees


def test_parameters_are_the_fitted_values_and_survive_json() -> None:
    frame = mixed_frame(300, seed=9)
    data, spec, _ = clean_training_frame(frame, "label", ("customer_id",))
    pipeline, _ = fit(Hyperparameters(target="label"), spec, data.features, data.labels)
    parameters = json.loads(json.dumps(predictor_parameters(pipeline, spec)))

    numeric = pipeline.named_steps["preprocess"].named_transformers_["numeric"]
    categorical = pipeline.named_steps["preprocess"].named_transformers_["categorical"]
    model = pipeline.named_steps["model"]
    assert parameters["numeric"]["columns"] == ["x1", "x2"]
    assert parameters["numeric"]["medians"] == numeric.named_steps["impute"].statistics_.tolist()
    assert parameters["numeric"]["scales"] == numeric.named_steps["scale"].scale_.tolist()
    assert parameters["categorical"]["categories"] == [
        list(c) for c in categorical.named_steps["encode"].categories_
    ]
    assert parameters["estimator"]["kind"] == "logistic_regression"
    assert parameters["estimator"]["classes"] == ["no", "yes"]
    np.testing.assert_array_equal(parameters["estimator"]["coef"], model.coef_)


def test_numeric_only_pipeline_and_trees() -> None:
    frame = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 7, "y": [0, 1] * 20})
    data, spec, _ = clean_training_frame(frame, "y", ())
    hp = Hyperparameters(target="y", algorithm="random_forest", n_estimators=5)
    pipeline, _ = fit(hp, spec, data.features, data.labels)
    trees = export_trees(pipeline, data.features, pipeline.predict_proba(data.features))
    assert trees is not None
    parameters = predictor_parameters(pipeline, spec, trees)
    assert parameters["categorical"] is None
    numeric = parameters["numeric"]
    assert numeric is not None
    assert numeric["columns"] == ["a", "b"]
    assert parameters["estimator"] == {
        "kind": "tree_ensemble",
        "class": "RandomForestClassifier",
        "classes": [0, 1],
        "file": "model.onnx",
        "runtime": "onnxruntime",
        "precision": "float32",
        "max_probability_difference": trees.report["max_probability_difference"],
        "label_tie_tolerance": 1e-5,
    }


def test_trees_without_their_conversion_are_refused() -> None:
    frame = pd.DataFrame({"a": np.arange(40.0), "y": [0, 1] * 20})
    data, spec, _ = clean_training_frame(frame, "y", ())
    hp = Hyperparameters(target="y", algorithm="hist_gradient_boosting", max_iter=3)
    pipeline, _ = fit(hp, spec, data.features, data.labels)
    with pytest.raises(ValueError, match="needs its ONNX conversion"):
        predictor_parameters(pipeline, spec)
