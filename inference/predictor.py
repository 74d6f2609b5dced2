"""Predictions without pandas and without scikit-learn's per-call validation.

scikit-learn's `predict_proba` costs about 200 µs per call whatever the row count, nearly all
of it input validation. The training container's pipeline has a known shape (median imputer
and scaler for numeric features, most-frequent imputer and one-hot encoder for categorical
ones, then the estimator), so the preprocessing is compiled here into a few numpy operations
on the parameters training wrote to predictor.json. A logistic regression is compiled too,
with the same operations scikit-learn runs; any other estimator gets its own `predict_proba`
on the preprocessed matrix. Equality with `pipeline.predict_proba` is checked at start on the
schema's sample rows, and by the tests on random inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import mul, sub, truediv
from typing import Any

import numpy as np
from numpy.typing import NDArray

from inference.artifact import Artifact, ArtifactError, Schema

FloatArray = NDArray[np.float64]
# The largest difference from the recorded sample probabilities that start-up accepts.
SELF_CHECK_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Batch:
    """Request rows split by kind: numeric values (NaN when missing) and categorical text
    (None when missing), each in schema order."""

    numeric: FloatArray
    categorical: NDArray[np.object_]

    @property
    def rows(self) -> int:
        return int(self.numeric.shape[0])


@dataclass(frozen=True)
class _NumericStep:
    medians: FloatArray
    means: FloatArray
    scales: FloatArray

    def apply(self, values: FloatArray, out: FloatArray) -> None:
        np.copyto(out, values)
        missing = np.isnan(out)
        if missing.any():
            out[missing] = np.broadcast_to(self.medians, out.shape)[missing]
        out -= self.means
        out /= self.scales


@dataclass(frozen=True)
class _CategoricalStep:
    fill: tuple[str, ...]
    # Per column: category -> position in the one-hot block; unknown categories are all zero.
    positions: tuple[dict[str, int], ...]
    width: int

    def apply(self, values: NDArray[np.object_], out: FloatArray) -> None:
        out.fill(0.0)
        for column, (lookup, fill) in enumerate(zip(self.positions, self.fill, strict=True)):
            for row, value in enumerate(values[:, column]):
                position = lookup.get(fill if value is None else value)
                if position is not None:
                    out[row, position] = 1.0


class Predictor:
    """Class probabilities for a Batch, equal to the fitted pipeline's."""

    def __init__(
        self,
        numeric: _NumericStep | None,
        categorical: _CategoricalStep | None,
        head: Callable[[FloatArray], FloatArray],
        classes: NDArray[Any],
        description: str,
    ) -> None:
        self._numeric = numeric
        self._categorical = categorical
        self._numeric_width = 0 if numeric is None else int(numeric.means.size)
        self._width = self._numeric_width + (0 if categorical is None else categorical.width)
        self._head = head
        self.classes = classes
        self.description = description
        # Set by compile_predictor when one row can be scored without numpy (see RowScorer).
        self.row_scorer: RowScorer | None = None

    def transform(self, batch: Batch) -> FloatArray:
        matrix = np.empty((batch.rows, self._width), dtype=np.float64)
        if self._numeric is not None:
            self._numeric.apply(batch.numeric, matrix[:, : self._numeric_width])
        if self._categorical is not None:
            self._categorical.apply(batch.categorical, matrix[:, self._numeric_width :])
        return matrix

    def predict_proba(self, batch: Batch) -> FloatArray:
        return self._head(self.transform(batch))

    def labels(self, probabilities: FloatArray) -> NDArray[Any]:
        labels: NDArray[Any] = self.classes[np.argmax(probabilities, axis=1)]
        return labels


class RowScorer:
    """One all-numeric row through a binary logistic regression, in plain Python floats.

    For a single row, numpy's per-call overhead (a dozen operations of about a microsecond
    each) is most of the cost; these are the same operations, in the same order, on 30-odd
    floats: impute the median for a missing value, standardize, dot with the coefficients,
    add the intercept, expit. The result equals the numpy path's within float rounding (the
    tests hold it to 1e-12 against `pipeline.predict_proba`).
    """

    def __init__(self, step: _NumericStep, coef: FloatArray, intercept: float) -> None:
        self.width = int(step.means.size)
        self._medians: list[float] = step.medians.tolist()
        self._means: list[float] = step.means.tolist()
        self._scales: list[float] = step.scales.tolist()
        self._coefs: list[float] = coef.reshape(-1).tolist()
        if not len(self._medians) == len(self._scales) == len(self._coefs) == self.width:
            raise ValueError("the numeric step and the coefficients differ in width")
        self._intercept = intercept

    def probability(self, values: Sequence[float]) -> float | None:
        """P(second class) for one row of `width` floats (NaN when missing); None when the
        score is not finite (an infinite value, say), which the general path then handles."""
        score = self._intercept
        features = zip(self._medians, self._means, self._scales, self._coefs, strict=True)
        for value, (median, mean, scale, coef) in zip(values, features, strict=True):
            if value != value:  # NaN: missing, imputed as training did
                value = median
            score += coef * ((value - mean) / scale)
        return _expit(score)

    def probability_of_cells(self, cells: Sequence[bytes | str]) -> float | None:
        """`probability` of one row's `width` text cells, parsed and scored in one pass.

        The same arithmetic as `probability`, each step a `map` over the row, so no Python
        bytecode runs per value: about a third of the cost of parsing, then looping. None when
        a cell is not a number or the score is not finite; a missing value (NaN) takes the
        imputing path.
        """
        if len(cells) != self.width:
            return None
        try:
            standardized = map(truediv, map(sub, map(float, cells), self._means), self._scales)
            score = sum(map(mul, standardized, self._coefs), self._intercept)
        except ValueError:
            return None
        if score != score:  # a NaN cell (or inf - inf): impute, then score again
            return self.probability(list(map(float, cells)))
        return _expit(score)


def _expit(score: float) -> float | None:
    if not math.isfinite(score):
        return None
    if score < -_EXP_LIMIT:
        return 0.0  # numpy's 1 / (1 + inf)
    return 1.0 / (1.0 + math.exp(-score))


# math.exp overflows above this; numpy returns inf there, and so 1 / (1 + inf) = 0.
_EXP_LIMIT = 709.0


def compile_predictor(artifact: Artifact) -> Predictor:
    schema, parameters = artifact.schema, artifact.parameters
    try:
        numeric = _numeric_step(parameters.get("numeric"), schema)
        categorical = _categorical_step(parameters.get("categorical"), schema)
        estimator = parameters["estimator"]
        classes = list(estimator["classes"])
    except (KeyError, TypeError, ValueError) as error:
        raise ArtifactError(f"predictor.json is incomplete or malformed ({error!r})") from None
    if classes != list(schema.classes):
        raise ArtifactError(
            f"predictor.json's classes {classes} differ from the schema's {list(schema.classes)}"
        )
    head, description = _compile_head(estimator, artifact)
    predictor = Predictor(numeric, categorical, head, _typed(classes), description)
    coef = np.asarray(estimator.get("coef", []), dtype=np.float64)
    if (
        estimator["kind"] == "logistic_regression"
        and numeric is not None
        and categorical is None
        and coef.shape == (1, numeric.means.size)
    ):
        predictor.row_scorer = RowScorer(numeric, coef, float(estimator["intercept"][0]))
    return predictor


def _numeric_step(part: dict[str, Any] | None, schema: Schema) -> _NumericStep | None:
    names = [schema.names[i] for i in schema.numeric_positions]
    if part is None:
        if names:
            raise ArtifactError("the schema has numeric features that predictor.json lacks")
        return None
    if part["columns"] != names:
        raise ArtifactError("predictor.json's numeric columns differ from the schema's")
    step = _NumericStep(
        medians=np.asarray(part["medians"], dtype=np.float64),
        means=np.asarray(part["means"], dtype=np.float64),
        scales=np.asarray(part["scales"], dtype=np.float64),
    )
    if not step.medians.shape == step.means.shape == step.scales.shape == (len(names),):
        raise ArtifactError("predictor.json's numeric parameters do not fit its columns")
    return step


def _categorical_step(part: dict[str, Any] | None, schema: Schema) -> _CategoricalStep | None:
    names = [schema.names[i] for i in schema.categorical_positions]
    if part is None:
        if names:
            raise ArtifactError("the schema has categorical features that predictor.json lacks")
        return None
    if part["columns"] != names or len(part["categories"]) != len(names):
        raise ArtifactError("predictor.json's categorical columns differ from the schema's")
    positions: list[dict[str, int]] = []
    offset = 0
    for categories in part["categories"]:
        positions.append({str(c): offset + i for i, c in enumerate(categories)})
        offset += len(categories)
    return _CategoricalStep(
        fill=tuple(str(value) for value in part["fill"]), positions=tuple(positions), width=offset
    )


def _compile_head(
    estimator: dict[str, Any], artifact: Artifact
) -> tuple[Callable[[FloatArray], FloatArray], str]:
    if estimator["kind"] != "logistic_regression":
        # Not compiled: the fitted estimator's own predict_proba, on the preprocessed matrix.
        model = artifact.load_pipeline()
        steps = getattr(model, "steps", None)
        if not steps or len(steps) != 2:
            raise ArtifactError("model.joblib is not a two-step scikit-learn pipeline")
        final = steps[-1][1]
        return final.predict_proba, f"{type(final).__name__} (its own predict_proba)"

    coef_t = np.asarray(estimator["coef"], dtype=np.float64).T.copy()
    intercept = np.asarray(estimator["intercept"], dtype=np.float64)

    # The operations LogisticRegression.predict_proba runs, in the same order.
    if coef_t.shape[1] == 1:

        def binary(matrix: FloatArray) -> FloatArray:
            scores = (matrix @ coef_t + intercept).reshape(-1)
            # scipy's expit, without importing scipy: 1 / (1 + exp(-x)).
            probability = 1.0 / (1.0 + np.exp(-scores))
            return np.stack([1 - probability, probability], axis=1)

        return binary, "LogisticRegression (compiled, binary)"

    def multinomial(matrix: FloatArray) -> FloatArray:
        scores = matrix @ coef_t + intercept
        scores -= np.max(scores, axis=1).reshape(-1, 1)
        np.exp(scores, out=scores)
        scores /= np.sum(scores, axis=1).reshape(-1, 1)
        return scores

    return multinomial, "LogisticRegression (compiled, multinomial)"


def self_check(predictor: Predictor, schema: Schema, batch: Batch) -> None:
    """Predict the schema's sample rows; any difference from training's record stops the start."""
    probabilities = predictor.predict_proba(batch)
    expected = np.asarray(schema.sample_probabilities, dtype=np.float64)
    if probabilities.shape != expected.shape:
        raise ArtifactError(
            f"self-check failed: {probabilities.shape} probabilities for {expected.shape} expected"
        )
    difference = float(np.max(np.abs(probabilities - expected))) if expected.size else 0.0
    labels = [_plain(label) for label in predictor.labels(probabilities)]
    if difference > SELF_CHECK_TOLERANCE or labels != list(schema.sample_predictions):
        raise ArtifactError(
            f"self-check failed: the sample rows predict {labels} (max probability difference "
            f"{difference:.3g}) where training recorded {list(schema.sample_predictions)}; the "
            "artifact does not match this server's libraries"
        )


def _typed(classes: list[Any]) -> NDArray[Any]:
    values = [_plain(c) for c in classes]
    if all(isinstance(v, int) for v in values):
        return np.asarray(values, dtype=np.int64)
    return np.asarray(values, dtype=object)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
