"""Per-row explanations: additivity, and the linear ones against the fitted pipeline itself
(its answers on the held-out rows, recorded in the fixtures; on random rows, against fresh
models: tests/training/test_served_predictions.py)."""

from __future__ import annotations

import itertools
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from inference.artifact import ArtifactError, load_artifact
from inference.codecs import Decoder
from inference.explain import PROBABILITY, Explainer, load_explainer, sampling_shapley
from inference.predictor import Predictor, compile_predictor
from tests.inference.agreement import assert_linear_explanations_agree, random_rows, request_rows
from tests.inference.conftest import TrainedModel

LINEAR = ["binary", "multiclass", "mixed"]
OTHERS = ["forest", "boosting"]


def _explainer(model: TrainedModel) -> tuple[Predictor, Explainer, Decoder]:
    artifact = load_artifact(model.model_dir)
    predictor = compile_predictor(artifact)
    explainer = load_explainer(artifact, predictor.head)
    assert explainer is not None
    return predictor, explainer, Decoder(artifact.schema)


def _explain(model: TrainedModel, frame: pd.DataFrame) -> tuple[Any, np.ndarray, np.ndarray]:
    predictor, explainer, decoder = _explainer(model)
    batch = decoder.decode_rows(request_rows(frame))
    probabilities = predictor.predict_proba(batch)
    explanations = explainer.explain(predictor.transform(batch), probabilities)
    return explanations, probabilities, predictor.labels(probabilities)


@pytest.mark.parametrize("name", LINEAR)
def test_linear_contributions_are_the_pipelines_own_on_held_out_rows(
    models: dict[str, TrainedModel], name: str
) -> None:
    model = models[name]
    assert_linear_explanations_agree(model.model_dir, model.features, model.expected())


@pytest.mark.parametrize("name", OTHERS)
def test_sampled_contributions_add_up_to_the_served_probability(
    models: dict[str, TrainedModel], name: str
) -> None:
    model = models[name]

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(random_rows(model.schema()))
    def check(frame: pd.DataFrame) -> None:
        explanations, probabilities, _ = _explain(model, frame)
        assert explanations.space == PROBABILITY
        positive = model.schema()["classes"].index(model.schema()["positive_class"])
        np.testing.assert_allclose(explanations.scores, probabilities[:, positive], atol=1e-12)
        totals = explanations.base_values + explanations.contributions.sum(axis=1)
        np.testing.assert_allclose(totals, explanations.scores, rtol=0, atol=1e-12)

    check()


def test_the_same_row_is_explained_the_same_way_every_time(
    models: dict[str, TrainedModel],
) -> None:
    model = models["forest"]
    first, _, _ = _explain(model, model.features.head(3))
    again, _, _ = _explain(model, model.features.head(3).iloc[::-1])
    np.testing.assert_array_equal(first.contributions, again.contributions[::-1])


def _exact_shapley(
    x: np.ndarray, f: Any, background: np.ndarray, groups: np.ndarray, features: int
) -> np.ndarray:
    """Interventional Shapley values by enumerating every coalition (small feature counts)."""
    values = np.zeros(features)
    for b in background:
        for j in range(features):
            others = [g for g in range(features) if g != j]
            for size in range(features):
                weight = (
                    math.factorial(size) * math.factorial(features - size - 1)
                ) / math.factorial(features)
                for subset in itertools.combinations(others, size):
                    without = np.where(np.isin(groups, subset), x, b)
                    with_j = np.where(np.isin(groups, (*subset, j)), x, b)
                    values[j] += weight * (f(with_j[None])[0] - f(without[None])[0])
    return values / len(background)


@settings(max_examples=30, deadline=None)
@given(
    arrays(np.float64, 5, elements=st.floats(-3, 3)),
    arrays(np.float64, (4, 5), elements=st.floats(-3, 3)),
    arrays(np.float64, 5, elements=st.floats(-2, 2)),
)
def test_sampling_is_exact_for_an_additive_model(
    x: np.ndarray, background: np.ndarray, weights: np.ndarray
) -> None:
    """For a linear score, every permutation gives w * (x - b): the estimate is exact, and
    for the background's mean."""
    groups = np.array([0, 1, 2, 2, 3])  # feature 2 spans two columns, like a one-hot block

    def f(m: np.ndarray) -> np.ndarray:
        return np.asarray(m @ weights + 0.5)

    permutations = 64
    base, contributions, scores = sampling_shapley(
        x[None], f, background, groups, 4, permutations=permutations
    )
    # Which background rows the permutations were paired with: the same seeded draws.
    rng = np.random.default_rng(0)
    for index in range(permutations):
        if index % 2 == 0:
            rng.permutation(4)
    chosen = background[rng.integers(0, 4, size=permutations)]
    terms = (x - chosen.mean(axis=0)) * weights
    want = [terms[groups == g].sum() for g in range(4)]
    np.testing.assert_allclose(contributions[0], want, atol=1e-9)
    assert abs(base[0] + contributions[0].sum() - scores[0]) <= 1e-12
    assert scores[0] == pytest.approx(f(x[None])[0])


def test_sampling_approaches_exact_shapley_values_of_an_interacting_model() -> None:
    rng = np.random.default_rng(4)
    groups = np.arange(4)
    background = rng.normal(size=(3, 4))
    x = rng.normal(size=4)

    def f(m: np.ndarray) -> np.ndarray:
        return np.asarray(np.tanh(m[:, 0] * m[:, 1]) + np.maximum(m[:, 2], 0) * m[:, 3])

    exact = _exact_shapley(x, f, background, groups, 4)
    # Many permutations: each one pairs with a random background row, so compare against
    # the exact values over the same three rows.
    _, estimate, _ = sampling_shapley(x[None], f, background, groups, 4, permutations=20_000)
    np.testing.assert_allclose(estimate[0], exact, atol=0.02)


def test_an_artifact_without_explainer_json_serves_without_explanations(
    models: dict[str, TrainedModel], tmp_path: Path
) -> None:
    old = tmp_path / "model"
    shutil.copytree(models["mixed"].model_dir, old)
    (old / "explainer.json").unlink()
    artifact = load_artifact(old)
    assert load_explainer(artifact, compile_predictor(artifact).head) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ('{"version": 99}', "version 99"),
        ('{"version": 1}', "incomplete or malformed"),
        ('{"version": 1, "column_means": [0], "background": [[0]]}', "does not fit"),
    ],
)
def test_a_bad_explainer_json_is_refused_at_start(
    models: dict[str, TrainedModel], tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "model"
    shutil.copytree(models["mixed"].model_dir, bad)
    (bad / "explainer.json").write_text(content)
    artifact = load_artifact(bad)
    with pytest.raises(ArtifactError, match=message):
        load_explainer(artifact, compile_predictor(artifact).head)
