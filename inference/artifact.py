"""Loading the model directory that the training container wrote, and refusing a bad one.

A missing, corrupt or incompatible artifact raises ArtifactError with one clear sentence: the
server logs it and exits non-zero, so SageMaker never routes traffic to a server that would
answer 500s. The server never unpickles model.joblib (it stays in the artifact for people and
tools that want the fitted pipeline): linear models are compiled from predictor.json and
trees run from model.onnx, so the image needs no scikit-learn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.artifact import (
    CATEGORICAL,
    MODEL_FILE,
    NUMERIC,
    PARAMETERS_FILE,
    SCHEMA_FILE,
    TREES_FILE,
)

# The schema versions this server reads (contracts' SCHEMA_FORMAT_VERSION, and older).
# Version 1 artifacts still serve when their model is a logistic regression (predictor.json
# holds all of it); their trees needed scikit-learn, and the predictor refuses them with a
# reason.
SUPPORTED_FORMAT_VERSIONS = frozenset({1, 2})
SUPPORTED_PARAMETERS_VERSIONS = frozenset({1, 2})
# Every pickle joblib writes starts with the pickle protocol opcode.
_PICKLE_START = b"\x80"


class ArtifactError(Exception):
    """The model directory cannot be served."""


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str


@dataclass(frozen=True)
class Schema:
    features: tuple[Feature, ...]
    classes: tuple[Any, ...]
    target: str
    sample_rows: tuple[tuple[Any, ...], ...]
    sample_predictions: tuple[Any, ...]
    sample_probabilities: tuple[tuple[float, ...], ...]
    raw: dict[str, Any]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(feature.name for feature in self.features)

    @property
    def numeric_positions(self) -> tuple[int, ...]:
        return tuple(i for i, feature in enumerate(self.features) if feature.kind == NUMERIC)

    @property
    def categorical_positions(self) -> tuple[int, ...]:
        return tuple(i for i, feature in enumerate(self.features) if feature.kind == CATEGORICAL)


@dataclass(frozen=True)
class Artifact:
    model_dir: Path
    schema: Schema
    parameters: dict[str, Any]

    def read_trees(self) -> bytes:
        path = self.model_dir / TREES_FILE
        if not path.is_file():
            raise ArtifactError(
                f"{TREES_FILE} is missing from the model directory {self.model_dir}"
            )
        return path.read_bytes()


def load_artifact(model_dir: Path) -> Artifact:
    if not model_dir.is_dir():
        raise ArtifactError(f"model directory {model_dir} does not exist")
    schema = load_schema(model_dir / SCHEMA_FILE)
    parameters = _load_json(model_dir / PARAMETERS_FILE)
    if parameters.get("version") not in SUPPORTED_PARAMETERS_VERSIONS:
        raise ArtifactError(
            f"{PARAMETERS_FILE} has version {parameters.get('version')!r}; this server reads "
            f"{sorted(SUPPORTED_PARAMETERS_VERSIONS)}: retrain with the matching training image"
        )
    model_file = model_dir / MODEL_FILE
    if not model_file.is_file():
        raise ArtifactError(f"{MODEL_FILE} is missing from the model directory {model_dir}")
    with model_file.open("rb") as handle:
        if handle.read(1) != _PICKLE_START:
            raise ArtifactError(f"{MODEL_FILE} could not be loaded: it is not a joblib pickle")
    return Artifact(model_dir, schema, parameters)


def _load_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ArtifactError(f"{path.name} is missing from the model directory {path.parent}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ArtifactError(f"{path.name} is not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise ArtifactError(f"{path.name} must hold a JSON object")
    return raw


def load_schema(path: Path) -> Schema:
    raw = _load_json(path)
    version = raw.get("format_version")
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise ArtifactError(
            f"{path.name} has format_version {version!r}; this server reads "
            f"{sorted(SUPPORTED_FORMAT_VERSIONS)}: retrain with the matching training image"
        )
    try:
        features = tuple(Feature(str(f["name"]), str(f["kind"])) for f in raw["features"])
        sample = raw["sample"]
        schema = Schema(
            features=features,
            classes=tuple(raw["classes"]),
            target=str(raw["target"]),
            sample_rows=tuple(tuple(row) for row in sample["rows"]),
            sample_predictions=tuple(sample["predictions"]),
            sample_probabilities=tuple(tuple(map(float, p)) for p in sample["probabilities"]),
            raw=raw,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ArtifactError(f"{path.name} is incomplete or malformed ({error!r})") from None
    unknown = {feature.kind for feature in features} - {NUMERIC, CATEGORICAL}
    if not features or unknown or len(schema.classes) < 2:
        raise ArtifactError(
            f"{path.name} is malformed: it needs features of kind numeric or categorical "
            "and at least two classes"
        )
    return schema
