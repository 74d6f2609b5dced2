"""predictor.json carries the fitted pipeline's own numbers, exactly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tests.training.support import mixed_frame
from training.cleaning import clean_training_frame
from training.export import predictor_parameters
from training.hyperparameters import Hyperparameters
from training.model import fit


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


def test_numeric_only_pipeline_and_other_estimators() -> None:
    frame = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 7, "y": [0, 1] * 20})
    data, spec, _ = clean_training_frame(frame, "y", ())
    hp = Hyperparameters(target="y", algorithm="random_forest", n_estimators=5)
    pipeline, _ = fit(hp, spec, data.features, data.labels)
    parameters = predictor_parameters(pipeline, spec)
    assert parameters["categorical"] is None
    assert parameters["numeric"]["columns"] == ["a", "b"]
    assert parameters["estimator"] == {
        "kind": "other",
        "class": "RandomForestClassifier",
        "classes": [0, 1],
    }
