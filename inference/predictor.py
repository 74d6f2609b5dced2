"""Predictions without pandas and without scikit-learn.

scikit-learn's `predict_proba` costs about 200 µs per call whatever the row count, nearly all
of it input validation, and importing it is most of a cold start. The training container's
pipeline has a known shape (median imputer and scaler for numeric features, most-frequent
imputer and one-hot encoder for categorical ones, then the estimator), so the preprocessing
is compiled here into a few numpy operations on the parameters training wrote to
predictor.json. A logistic regression is compiled too, with the same operations scikit-learn
runs (exact to about 1e-16). A tree estimator runs in onnxruntime from model.onnx, in
float32: training measured its difference from scikit-learn on the held-out rows and
recorded it in predictor.json (training/onnx_export.py). The start-up self-check holds the
schema's sample rows to 1e-9 for a linear model and to that recorded bound for trees.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from contracts.artifact import TREES_FILE
from contracts.json_values import plain
from inference.artifact import Artifact, ArtifactError, Schema

FloatArray = NDArray[np.float64]
# The largest difference from the recorded sample probabilities that start-up accepts for a
# compiled (float64) model; trees bring their own, measured bound.
SELF_CHECK_TOLERANCE = 1e-9
# The graph's input and output names, as training/onnx_export.py writes them.
TREES_INPUT = "X"
TREES_OUTPUT = "probabilities"


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


class OutOfRange(ValueError):
    """Finite values the model cannot score: standardizing or scoring them overflows a float
    (the fitted pipeline itself refuses them, or answers NaN)."""

    def __init__(self, row: int) -> None:
        super().__init__(f"row {row + 1} cannot be scored")
        self.row = row


class Predictor:
    """Class probabilities for a Batch, equal to the fitted pipeline's."""

    def __init__(
        self,
        numeric: _NumericStep | None,
        categorical: _CategoricalStep | None,
        head: Callable[[FloatArray], FloatArray],
        classes: NDArray[Any],
        description: str,
        *,
        self_check_tolerance: float = SELF_CHECK_TOLERANCE,
        label_tie_tolerance: float = 0.0,
    ) -> None:
        self._numeric = numeric
        self._categorical = categorical
        self._numeric_width = 0 if numeric is None else int(numeric.means.size)
        self._width = self._numeric_width + (0 if categorical is None else categorical.width)
        self._head = head
        self.classes = classes
        self.description = description
        self.self_check_tolerance = self_check_tolerance
        # Classes this close to a row's best are tied and the first of them is the label,
        # as scikit-learn's argmax picks the first of exactly tied classes (see labels()).
        self.label_tie_tolerance = label_tie_tolerance

    def transform(self, batch: Batch) -> FloatArray:
        matrix = np.empty((batch.rows, self._width), dtype=np.float64)
        if self._numeric is not None:
            self._numeric.apply(batch.numeric, matrix[:, : self._numeric_width])
        if self._categorical is not None:
            self._categorical.apply(batch.categorical, matrix[:, self._numeric_width :])
        return matrix

    def predict_proba(self, batch: Batch) -> FloatArray:
        """Raises OutOfRange for the first row whose arithmetic overflows."""
        # Overflow is checked for below, row by row, rather than warned about.
        with np.errstate(over="ignore", invalid="ignore"):
            matrix = self.transform(batch)
            _check_rows(matrix)
            probabilities = self._head(matrix)
        _check_rows(probabilities)
        return probabilities

    def head(self, matrix: FloatArray) -> FloatArray:
        """Class probabilities of already preprocessed rows (what the explainer samples)."""
        return self._head(matrix)

    def labels(self, probabilities: FloatArray) -> NDArray[Any]:
        """The most probable class per row; with a tie tolerance (float32 trees), the first
        class within it of the best, the rule training checked on the held-out rows."""
        if self.label_tie_tolerance > 0:
            best = np.max(probabilities, axis=1, keepdims=True)
            chosen = np.argmax(probabilities >= best - self.label_tie_tolerance, axis=1)
        else:
            chosen = np.argmax(probabilities, axis=1)
        labels: NDArray[Any] = self.classes[chosen]
        return labels


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_rows(values: FloatArray, limit: float = math.inf) -> None:
    """OutOfRange for the first row holding NaN, an infinity or a value beyond +-limit."""
    # Against a finite limit, NaN and infinities fail the comparison: one pass either way.
    within = (np.abs(values) <= limit if limit < math.inf else np.isfinite(values)).all(axis=1)
    if not within.all():
        raise OutOfRange(int(np.argmin(within)))


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
    width = (0 if numeric is None else int(numeric.means.size)) + (
        0 if categorical is None else categorical.width
    )
    head, description = _compile_head(estimator, artifact, width)
    self_check_tolerance, label_tie_tolerance = _tolerances(estimator)
    return Predictor(
        numeric,
        categorical,
        head,
        _typed(classes),
        description,
        self_check_tolerance=self_check_tolerance,
        label_tie_tolerance=label_tie_tolerance,
    )


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
    estimator: dict[str, Any], artifact: Artifact, width: int
) -> tuple[Callable[[FloatArray], FloatArray], str]:
    kind = estimator["kind"]
    if kind == "tree_ensemble":
        return _tree_head(estimator, artifact, width)
    if kind != "logistic_regression":
        # Version 1 artifacts marked trees "other" and served them with scikit-learn.
        raise ArtifactError(
            f"predictor.json serves its {estimator.get('class', kind)} with scikit-learn, "
            "which this server does not have (artifact format 1): retrain with the matching "
            f"training image, which converts trees to {TREES_FILE}"
        )

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


def _tree_head(
    estimator: dict[str, Any], artifact: Artifact, width: int
) -> tuple[Callable[[FloatArray], FloatArray], str]:
    if estimator.get("file") != TREES_FILE:
        raise ArtifactError(
            f"predictor.json names the tree file {estimator.get('file')!r}; expected {TREES_FILE}"
        )
    # onnxruntime takes 0.1 s to import; only tree models need it.
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # One request at a time per worker, one worker per core: threads would only contend.
    # Training measured the recorded bound with the same settings.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(
            artifact.read_trees(), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except ArtifactError:
        raise
    except Exception as error:
        # onnxruntime raises its own exception types for a corrupt or unsupported graph.
        raise ArtifactError(
            f"{TREES_FILE} could not be loaded ({type(error).__name__}: {error})"
        ) from None
    inputs = session.get_inputs()
    if (
        [i.name for i in inputs] != [TREES_INPUT]
        or list(inputs[0].shape)[1:] != [width]
        or TREES_OUTPUT not in {o.name for o in session.get_outputs()}
    ):
        raise ArtifactError(
            f"{TREES_FILE} does not take {TREES_INPUT!r} of {width} columns (the preprocessed "
            f"width) and answer {TREES_OUTPUT!r}"
        )
    outputs = [TREES_OUTPUT]

    def trees(matrix: FloatArray) -> FloatArray:
        # The trees compute in float32: values beyond its range cannot be scored.
        _check_rows(matrix, _FLOAT32_MAX)
        (probabilities,) = session.run(outputs, {TREES_INPUT: matrix.astype(np.float32)})
        rows = np.asarray(probabilities, dtype=np.float64)
        # float32 rows sum to 1 only within about 1e-7; training's measurement divides too.
        rows /= rows.sum(axis=1, keepdims=True)
        return rows

    return trees, (
        f"{estimator.get('class', 'trees')} (onnxruntime, {estimator.get('precision')}, "
        f"within {estimator['max_probability_difference']:.2g} of scikit-learn)"
    )


def _tolerances(estimator: dict[str, Any]) -> tuple[float, float]:
    """The self-check's bound and the label tie tolerance: training's figures for trees."""
    if estimator["kind"] != "tree_ensemble":
        return SELF_CHECK_TOLERANCE, 0.0
    try:
        bound = float(estimator["max_probability_difference"])
        tie = float(estimator["label_tie_tolerance"])
    except (KeyError, TypeError, ValueError) as error:
        raise ArtifactError(f"predictor.json's tree figures are malformed ({error!r})") from None
    if not (0.0 <= bound <= 1.0 and 0.0 <= tie <= 1.0):
        raise ArtifactError(
            f"predictor.json's tree figures are out of range: max_probability_difference "
            f"{bound!r} and label_tie_tolerance {tie!r} must lie in [0, 1]"
        )
    return max(bound, SELF_CHECK_TOLERANCE), tie


def self_check(predictor: Predictor, schema: Schema, batch: Batch) -> None:
    """Predict the schema's sample rows; any difference from training's record stops the start."""
    probabilities = predictor.predict_proba(batch)
    expected = np.asarray(schema.sample_probabilities, dtype=np.float64)
    if probabilities.shape != expected.shape:
        raise ArtifactError(
            f"self-check failed: {probabilities.shape} probabilities for {expected.shape} expected"
        )
    difference = float(np.max(np.abs(probabilities - expected))) if expected.size else 0.0
    labels = [plain(label) for label in predictor.labels(probabilities)]
    tolerance = predictor.self_check_tolerance
    if difference > tolerance or labels != list(schema.sample_predictions):
        raise ArtifactError(
            f"self-check failed: the sample rows predict {labels} (max probability difference "
            f"{difference:.3g}, allowed {tolerance:.3g}) where training recorded "
            f"{list(schema.sample_predictions)}; the artifact does not match this server's "
            "libraries"
        )


def _typed(classes: list[Any]) -> NDArray[Any]:
    values = [plain(c) for c in classes]
    if all(isinstance(v, int) for v in values):
        return np.asarray(values, dtype=np.int64)
    return np.asarray(values, dtype=object)
