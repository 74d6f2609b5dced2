"""Whether the server's predictor and explainer give the fitted pipeline's own answers.

scikit-learn's answers come as plain data (expected.json's shape): the inference tests read
them from the committed fixtures, and tests/training computes them on random rows from freshly
trained models. Imports only inference, so both sides can use it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from inference.artifact import load_artifact
from inference.codecs import Decoder
from inference.explain import CLASS_SCORE, LOG_ODDS, load_explainer
from inference.predictor import compile_predictor

TOLERANCE = 1e-9
ADDITIVITY = 1e-9
# Rows training never saw: the held-out bound is an observation, not a proof, so random rows
# get twice it (and 1e-6, a few float32 roundings of a probability); scikit-learn's label
# may then differ only where its own two best classes are that close.
RANDOM_ROW_SLACK = 2.0
RANDOM_ROW_FLOOR = 1e-6


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def request_rows(frame: pd.DataFrame) -> list[list[Any]]:
    return [[None if is_missing(v) else v for v in row] for row in frame.itertuples(index=False)]


def random_rows(schema: dict[str, Any]) -> st.SearchStrategy[pd.DataFrame]:
    """Rows around the training range, with the model's categories, unseen text and gaps."""
    columns = []
    for feature in schema["features"]:
        if feature["kind"] == "numeric":
            low, high = feature["min"], feature["max"]
            span = high - low or 1.0
            columns.append(
                st.one_of(
                    st.none(),
                    st.floats(low - span, high + span, allow_nan=False, allow_infinity=False),
                )
            )
        else:
            columns.append(
                st.one_of(st.none(), st.sampled_from(feature["categories"]), st.text(max_size=5))
            )
    names = [feature["name"] for feature in schema["features"]]
    return st.lists(st.tuples(*columns), min_size=1, max_size=20).map(
        lambda rows: pd.DataFrame(rows, columns=names).astype(
            {
                n: float
                for n, f in zip(names, schema["features"], strict=True)
                if f["kind"] == "numeric"
            }
        )
    )


def recorded_bound(model_dir: Path) -> float:
    """How far the served probabilities may be from scikit-learn's: what training measured
    for trees (float32 in onnxruntime), TOLERANCE for a compiled linear model."""
    estimator = json.loads((model_dir / "predictor.json").read_text())["estimator"]
    if estimator["kind"] != "tree_ensemble":
        return TOLERANCE
    return float(estimator["max_probability_difference"])


def assert_predictions_agree(
    model_dir: Path, frame: pd.DataFrame, answers: dict[str, Any], *, held_out: bool = True
) -> None:
    """The served probabilities within the recorded bound of scikit-learn's, and the same
    labels (on random rows, wherever scikit-learn's two best classes are not that close)."""
    artifact = load_artifact(model_dir)
    predictor = compile_predictor(artifact)
    got = predictor.predict_proba(Decoder(artifact.schema).decode_rows(request_rows(frame)))
    want = np.asarray(answers["probabilities"], dtype=np.float64)
    bound = recorded_bound(model_dir)
    if not held_out and bound > TOLERANCE:
        bound = max(RANDOM_ROW_SLACK * bound, RANDOM_ROW_FLOOR)
    assert np.max(np.abs(got - want)) <= bound
    labels, theirs = predictor.labels(got), answers["labels"]
    if held_out or bound == TOLERANCE:
        assert labels.tolist() == theirs
        return
    ordered = np.sort(want, axis=1)
    clear = ordered[:, -1] - ordered[:, -2] > 2 * bound
    assert labels[clear].tolist() == np.asarray(theirs, dtype=object)[clear].tolist()


def assert_linear_explanations_agree(
    model_dir: Path, frame: pd.DataFrame, answers: dict[str, Any]
) -> None:
    """The served explanation of each row is the linear pipeline's own: each feature's share
    of the explained class's score, and a base value that adds up to that score."""
    artifact = load_artifact(model_dir)
    predictor = compile_predictor(artifact)
    explainer = load_explainer(artifact, predictor.head)
    assert explainer is not None
    batch = Decoder(artifact.schema).decode_rows(request_rows(frame))
    probabilities = predictor.predict_proba(batch)
    explanations = explainer.explain(predictor.transform(batch), probabilities)
    labels = predictor.labels(probabilities)
    two_classes = len(artifact.schema.classes) == 2
    for row, want in enumerate(answers["explanations"]):
        assert explanations.space == (LOG_ODDS if two_classes else CLASS_SCORE)
        assert explanations.classes[row] == want["class"]
        if two_classes:
            assert want["class"] == artifact.schema.raw["positive_class"]
        else:
            assert want["class"] == labels[row]
        atol = ADDITIVITY * want["scale"]
        np.testing.assert_allclose(
            explanations.contributions[row], want["contributions"], rtol=0, atol=atol
        )
        total = explanations.base_values[row] + explanations.contributions[row].sum()
        assert abs(total - want["score"]) <= atol
        assert abs(explanations.scores[row] - want["score"]) <= atol
    assert probabilities.shape[0] == len(frame) == len(answers["explanations"])
