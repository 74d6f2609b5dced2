"""Per-prediction explanations: a base value and one contribution per input feature.

For every explained row, `base_value + sum(contributions) == score`, where the score is the
row's raw model output in the space its model kind explains in:

- binary logistic regression: the log-odds of the positive class (`log_odds`);
- multinomial logistic regression: the predicted class's linear score, `coef_k . x + b_k`,
  of which the class probability is the softmax (`class_score`);
- any other estimator (trees): the probability of the positive class, or of the predicted
  class for multi-class targets (`probability`).

Linear models are explained exactly: each preprocessed column's term is
`coef * (x - training mean)`, and a categorical feature's one-hot terms are summed into its
single contribution. Additivity holds to float rounding (tested to 1e-9 relative to the
terms' magnitude).

Other estimators get sampling Shapley values (Strumbelj and Kononenko, "Explaining prediction
models and individual predictions with feature contributions", 2014), computed on the served
model itself, so nothing but numpy and that model is needed: for each of a few seeded
permutations of the features (each followed by its reverse, which halves the variance for
near-additive models), paired with one background training row, the features are switched
from the background row's values to the explained row's one at a time, and each switch's
change of the score is that feature's share. Every permutation's shares add up to
`f(x) - f(background)`, so additivity is exact up to float rounding whatever the sample size;
the individual contributions are estimates, averaged over `SHAPLEY_PERMUTATIONS` samples.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from contracts.artifact import EXPLAINER_FILE
from inference.artifact import Artifact, ArtifactError, Schema
from inference.codecs import JSON_LINES
from inference.predictor import Batch, Predictor

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

SUPPORTED_EXPLAINER_VERSIONS = frozenset({1})
LOG_ODDS = "log_odds"
CLASS_SCORE = "class_score"
PROBABILITY = "probability"
# Each explained row of a non-linear model costs (features + 1) x this many predictions, in
# one call of the model. 16 keep one row at 2.3 ms for a 100-tree forest on 30 features
# (benchmarks/results/explanations.json); the contributions' sampling error (not their sum,
# which is exact) shrinks as 1/sqrt of it.
SHAPLEY_PERMUTATIONS = 16
# What start-up accepts between a sample row's score and its explanation's sum.
SELF_CHECK_ADDITIVITY = 1e-9
# Fixed, so the same row is explained the same way on every request and every worker.
SHAPLEY_SEED = 0


@dataclass(frozen=True)
class Explanations:
    """One request's explanations, rows in request order, features in schema order."""

    classes: list[Any]
    space: str
    base_values: FloatArray
    contributions: FloatArray
    # The raw score each row's base value and contributions add up to.
    scores: FloatArray


def column_groups(schema: Schema, parameters: dict[str, Any]) -> IntArray:
    """For every preprocessed column (numeric block, then each categorical feature's one-hot
    block, as the predictor lays them out), the position of its input feature in the schema."""
    groups: list[int] = []
    numeric = parameters.get("numeric")
    if numeric is not None:
        groups.extend(schema.numeric_positions[: len(numeric["columns"])])
    categorical = parameters.get("categorical")
    if categorical is not None:
        for position, categories in zip(
            schema.categorical_positions, categorical["categories"], strict=True
        ):
            groups.extend([position] * len(categories))
    return np.asarray(groups, dtype=np.intp)


def linear_explanations(
    matrix: FloatArray,
    coef: FloatArray,
    intercept: FloatArray,
    means: FloatArray,
    groups: IntArray,
    features: int,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Base values, contributions and scores of a linear model's rows.

    `coef` and `intercept` hold one row per explained row (the coefficients of the class that
    row is explained for), so binary and multinomial models share this arithmetic.
    """
    terms = (matrix - means) * coef
    # One-hot columns of a categorical feature add up into that feature's contribution: a
    # product with a 0/1 matrix, which adds each term exactly once (and exact zeros).
    membership = np.zeros((groups.size, features), dtype=np.float64)
    membership[np.arange(groups.size), groups] = 1.0
    contributions: FloatArray = terms @ membership
    base_values: FloatArray = coef @ means + intercept
    # The model's own score, computed as the predictor computes it (x . coef + b).
    scores: FloatArray = np.einsum("ij,ij->i", matrix, coef) + intercept
    return base_values, contributions, scores


def sampling_shapley(
    matrix: FloatArray,
    score: Callable[[FloatArray], FloatArray],
    background: FloatArray,
    groups: IntArray,
    features: int,
    permutations: int = SHAPLEY_PERMUTATIONS,
    seed: int = SHAPLEY_SEED,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Base values, contributions and scores by permutation sampling (see the module).

    `score` maps preprocessed rows to one number each; it is called once, on
    rows x permutations x (features + 1) rows.
    """
    rows, width = matrix.shape
    rng = np.random.default_rng(seed)
    orders = np.empty((permutations, features), dtype=np.intp)
    for index in range(permutations):
        orders[index] = orders[index - 1][::-1] if index % 2 else rng.permutation(features)
    chosen = background[rng.integers(0, background.shape[0], size=permutations)]
    # rank[p, g]: the step at which permutation p switches feature g to the explained row.
    rank = np.empty_like(orders)
    rank[np.arange(permutations)[:, None], orders] = np.arange(features)
    column_rank = rank[:, groups]  # (permutations, width)
    steps = np.arange(features + 1)
    # switched[p, t, c]: after t steps of permutation p, column c holds the explained value.
    switched = column_rank[:, None, :] < steps[None, :, None]
    hybrids = np.where(
        switched[None, :, :, :],
        matrix[:, None, None, :],
        chosen[None, :, None, :],
    ).reshape(-1, width)
    values = np.asarray(score(hybrids), dtype=np.float64).reshape(rows, permutations, features + 1)
    changes = np.diff(values, axis=2)  # (rows, permutations, features): step t's change
    shares = np.take_along_axis(changes, np.broadcast_to(rank, changes.shape), axis=2)
    contributions = shares.mean(axis=1)
    base_values = values[:, :, 0].mean(axis=1)
    scores = values[:, 0, -1]
    return base_values, contributions, scores


class Explainer:
    """Explains a predictor's rows, from its preprocessed matrix and its probabilities."""

    def __init__(
        self,
        schema: Schema,
        parameters: dict[str, Any],
        explainer: dict[str, Any],
        head: Callable[[FloatArray], FloatArray],
    ) -> None:
        self._names = schema.names
        self._classes = list(schema.classes)
        self._groups = column_groups(schema, parameters)
        self._means = np.asarray(explainer["column_means"], dtype=np.float64)
        self._background = np.asarray(explainer["background"], dtype=np.float64)
        width = self._groups.size
        if self._means.shape != (width,) or self._background.ndim != 2:
            raise ArtifactError(f"{EXPLAINER_FILE} does not fit the predictor's {width} columns")
        if self._background.shape[1] != width or not self._background.shape[0]:
            raise ArtifactError(f"{EXPLAINER_FILE}'s background rows do not fit the predictor")
        positive = schema.raw.get("positive_class")
        self._positive = (
            self._classes.index(positive)
            if len(self._classes) == 2 and positive in self._classes
            else len(self._classes) - 1
        )
        estimator = parameters["estimator"]
        self._linear = estimator["kind"] == "logistic_regression"
        self._head = head
        if self._linear:
            self._coef = np.asarray(estimator["coef"], dtype=np.float64)
            self._intercept = np.asarray(estimator["intercept"], dtype=np.float64)
            if self._coef.shape[0] == 1 and self._positive == 0:
                # The log-odds of the first class are those of the second, negated.
                self._coef, self._intercept = -self._coef, -self._intercept
        self.space = (
            (LOG_ODDS if len(self._classes) == 2 else CLASS_SCORE) if self._linear else PROBABILITY
        )

    @property
    def features(self) -> tuple[str, ...]:
        return self._names

    def class_positions(self, explanations: Explanations) -> IntArray:
        return np.asarray(
            [self._classes.index(label) for label in explanations.classes], dtype=np.intp
        )

    def explain(self, matrix: FloatArray, probabilities: FloatArray) -> Explanations:
        binary = len(self._classes) == 2
        explained = (
            np.full(matrix.shape[0], self._positive, dtype=np.intp)
            if binary
            else np.argmax(probabilities, axis=1)
        )
        with np.errstate(over="ignore", invalid="ignore"):
            if self._linear:
                row = np.zeros_like(explained) if binary else explained
                base, contributions, scores = linear_explanations(
                    matrix,
                    self._coef[row],
                    self._intercept[row],
                    self._means,
                    self._groups,
                    len(self._names),
                )
            else:
                base, contributions, scores = self._sampled(matrix, explained)
        return Explanations(
            classes=[self._classes[index] for index in explained],
            space=self.space,
            base_values=base,
            contributions=contributions,
            scores=scores,
        )

    def _sampled(
        self, matrix: FloatArray, explained: IntArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        per_row = SHAPLEY_PERMUTATIONS * (len(self._names) + 1)
        # Every hybrid row of explained row i is scored for row i's class.
        column = np.repeat(explained, per_row)

        def score(hybrids: FloatArray) -> FloatArray:
            probabilities = self._head(hybrids)
            picked: FloatArray = probabilities[np.arange(hybrids.shape[0]), column]
            return picked

        return sampling_shapley(matrix, score, self._background, self._groups, len(self._names))


def check_explainer(explainer: Explainer, predictor: Predictor, batch: Batch) -> None:
    """Explain the schema's sample rows at start: contributions that do not add up to the
    served score stop the server, as a wrong prediction does."""
    probabilities = predictor.predict_proba(batch)
    explanations = explainer.explain(predictor.transform(batch), probabilities)
    gap = additivity_gap(explanations)
    # The explained score must be the served one: a probability, or log-odds whose expit is.
    served = probabilities[np.arange(batch.rows), explainer.class_positions(explanations)]
    if explanations.space == PROBABILITY:
        gap = max(gap, float(np.max(np.abs(explanations.scores - served), initial=0.0)))
    elif explanations.space == LOG_ODDS:
        shown = 1.0 / (1.0 + np.exp(-explanations.scores))
        gap = max(gap, float(np.max(np.abs(shown - served), initial=0.0)))
    if not gap <= SELF_CHECK_ADDITIVITY:
        raise ArtifactError(
            f"self-check failed: the sample rows' explanations miss their scores by {gap:.3g}; "
            f"{EXPLAINER_FILE} does not match the model"
        )


def additivity_gap(explanations: Explanations) -> float:
    """The largest |base_value + sum(contributions) - score| over the rows, relative to the
    score's magnitude when that is above 1."""
    totals = explanations.base_values + explanations.contributions.sum(axis=1)
    scale = np.maximum(1.0, np.abs(explanations.scores))
    return float(np.max(np.abs(totals - explanations.scores) / scale)) if totals.size else 0.0


def load_explainer(
    artifact: Artifact, head: Callable[[FloatArray], FloatArray]
) -> Explainer | None:
    """The artifact's explainer; None for an artifact trained before explanations existed."""
    path = artifact.model_dir / EXPLAINER_FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ArtifactError(f"{EXPLAINER_FILE} is not valid JSON: {error}") from None
    if not isinstance(raw, dict) or raw.get("version") not in SUPPORTED_EXPLAINER_VERSIONS:
        version = raw.get("version") if isinstance(raw, dict) else None
        raise ArtifactError(
            f"{EXPLAINER_FILE} has version {version!r}; this server reads "
            f"{sorted(SUPPORTED_EXPLAINER_VERSIONS)}: retrain with the matching training image"
        )
    try:
        return Explainer(artifact.schema, artifact.parameters, raw, head)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise ArtifactError(f"{EXPLAINER_FILE} is incomplete or malformed ({error!r})") from None


def encode_explained(
    content_type: str,
    labels: list[Any],
    probabilities: FloatArray | None,
    classes: list[Any],
    explanations: Explanations,
    features: tuple[str, ...],
) -> bytes:
    """A JSON or JSON Lines answer whose rows carry their `explanation` too."""
    keys = [str(label) for label in classes]
    entries = []
    for index, label in enumerate(labels):
        entry: dict[str, Any] = {"label": label}
        if probabilities is not None:
            entry["probabilities"] = dict(zip(keys, probabilities[index].tolist(), strict=True))
        entry["explanation"] = {
            "class": explanations.classes[index],
            "space": explanations.space,
            "base_value": float(explanations.base_values[index]),
            "contributions": dict(
                zip(features, explanations.contributions[index].tolist(), strict=True)
            ),
        }
        entries.append(entry)
    if content_type == JSON_LINES:
        return ("\n".join(json.dumps(entry, allow_nan=False) for entry in entries) + "\n").encode()
    return json.dumps({"predictions": entries}, allow_nan=False).encode()
