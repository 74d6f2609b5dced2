"""Rebuilds tests/inference/fixtures/: one small model directory per kind of model the
inference tests serve, trained by the current training code on the committed dataset or seeded
frames, with scikit-learn's own answers on the held-out rows recorded beside it.

The inference tests serve these files and import nothing from training, so their suite needs
neither a training run nor scikit-learn. tests/training/test_inference_fixtures.py checks that
the committed copies still have the shape training writes today; after a change to the
artifact's format, rebuild them with

    python -m tests.training.inference_fixtures
"""

from __future__ import annotations

import functools
import json
import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from contracts.artifact import EXPLAINER_FILE, MODEL_FILE, PARAMETERS_FILE, SCHEMA_FILE, TREES_FILE
from sagestack.layout import TrainingJobLayout
from tests.conftest import REPO, SAMPLE_DATASET
from tests.training.support import mixed_frame, multiclass_frame
from training.cleaning import FeatureSpec, clean_evaluation_frame
from training.entrypoint import run as run_training
from training.environment import TrainingPaths

FIXTURES = REPO / "tests" / "inference" / "fixtures"
HELD_OUT_FILE = "held_out.csv"
EXPECTED_FILE = "expected.json"
# What the server reads from a model directory. It never unpickles model.joblib, only checks
# that it is a pickle, so the fixtures hold a small pickled note in its place.
SERVED_FILES = (SCHEMA_FILE, PARAMETERS_FILE, EXPLAINER_FILE, TREES_FILE)
STAND_IN_MODEL = pickle.dumps(
    "stand-in for the fitted pipeline: the server only checks that model.joblib is a pickle "
    "(python -m tests.training.inference_fixtures)",
    protocol=4,
)


@dataclass(frozen=True)
class FixtureSpec:
    frame: Callable[[], pd.DataFrame]
    target: str
    hyperparameters: dict[str, object]


def _sample() -> pd.DataFrame:
    return pd.read_csv(SAMPLE_DATASET).sample(frac=1.0, random_state=0)


SPECS = {
    "binary": FixtureSpec(_sample, "target", {}),
    "multiclass": FixtureSpec(lambda: multiclass_frame(500, seed=3), "species", {}),
    "mixed": FixtureSpec(lambda: mixed_frame(600, seed=5), "label", {"id_columns": "customer_id"}),
    # A small forest keeps model.onnx small.
    "forest": FixtureSpec(
        lambda: mixed_frame(600, seed=5),
        "label",
        {"id_columns": "customer_id", "algorithm": "random_forest", "n_estimators": 15},
    ),
    "boosting": FixtureSpec(
        _sample, "target", {"algorithm": "hist_gradient_boosting", "max_iter": 20}
    ),
}


@dataclass(frozen=True)
class TrainedFixture:
    layout: TrainingJobLayout
    # The rows training held out (the test channel), every column.
    held_out: Path


def served_json(file: str, data: dict[str, Any]) -> dict[str, Any]:
    """A JSON file as the fixtures hold it: the server's part of it. Each feature's drift
    baseline in schema.json (nine tenths of its size) is left out: only the monitor job reads
    it, and tests/monitoring trains its own models."""
    if file != SCHEMA_FILE:
        return data
    features = [
        {key: value for key, value in feature.items() if key != "baseline"}
        for feature in data["features"]
    ]
    return {**data, "features": features}


def train(root: Path, name: str) -> TrainedFixture:
    """Train one fixture's model as SageMaker would, on the first 80% of its frame."""
    spec = SPECS[name]
    frame = spec.frame()
    cut = int(len(frame) * 0.8)
    source = root / f"{name}-data"
    source.mkdir(parents=True)
    frame.iloc[:cut].to_csv(source / "train.csv", index=False)
    frame.iloc[cut:].to_csv(source / "test.csv", index=False)
    layout = TrainingJobLayout.create(
        root / name,
        {"target": spec.target, **spec.hyperparameters},
        {"train": [source / "train.csv"], "test": [source / "test.csv"]},
    )
    run_training(TrainingPaths(layout.base))
    return TrainedFixture(layout, source / "test.csv")


def feature_spec(schema: dict[str, Any]) -> FeatureSpec:
    kinds = {feature["name"]: feature["kind"] for feature in schema["features"]}
    return FeatureSpec(
        numeric=tuple(name for name, kind in kinds.items() if kind == "numeric"),
        categorical=tuple(name for name, kind in kinds.items() if kind == "categorical"),
        names=tuple(kinds),
    )


def as_training_input(schema: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """Rows as training hands them to the pipeline; blank text is a missing value, as the
    server reads an empty CSV field."""
    blank = frame.map(lambda v: isinstance(v, str) and not v.strip())
    # Training's own cleaning, which wants a label on every row: any class will do.
    labelled = frame.mask(blank, None).assign(**{schema["target"]: schema["classes"][0]})
    return clean_evaluation_frame(labelled, schema["target"], feature_spec(schema), "test").features


def preprocessed_groups(pipeline: Any, names: list[str]) -> list[list[int]]:
    """Each input feature's preprocessed columns, read from the fitted scikit-learn objects
    (not from predictor.json, which the server reads)."""
    preprocess = pipeline.named_steps["preprocess"]
    if not hasattr(preprocess, "output_indices_"):  # numeric only: one column each, in order
        return [[index] for index in range(len(names))]
    groups: dict[str, list[int]] = {}
    for part, _, columns in preprocess.transformers_:
        if part not in ("numeric", "categorical"):
            continue
        start = preprocess.output_indices_[part].start
        if part == "numeric":
            for offset, column in enumerate(columns):
                groups[column] = [start + offset]
        else:
            encoder = preprocess.named_transformers_[part].named_steps["encode"]
            for column, categories in zip(columns, encoder.categories_, strict=True):
                groups[column] = list(range(start, start + len(categories)))
                start += len(categories)
    return [groups[name] for name in names]


@functools.cache
def _reference(model_dir: Path) -> tuple[dict[str, Any], Any]:
    """A trained model directory's schema and fitted pipeline, read once: the property tests
    ask for answers on many random frames of the same model."""
    schema = json.loads((model_dir / SCHEMA_FILE).read_text())
    return schema, joblib.load(model_dir / MODEL_FILE)


def linear_explanations(
    model_dir: Path, frame: pd.DataFrame, labels: list[Any]
) -> list[dict[str, Any]]:
    """What the fitted linear pipeline says each feature adds to the explained class's score,
    against the training means in explainer.json: the positive class's log-odds for two
    classes, the predicted class's score for more."""
    schema, pipeline = _reference(model_dir)
    preprocess, estimator = (pipeline.named_steps[k] for k in ("preprocess", "model"))
    matrix = np.asarray(preprocess.transform(as_training_input(schema, frame)), dtype=np.float64)
    decision = np.asarray(estimator.decision_function(matrix), dtype=np.float64)
    means = np.asarray(json.loads((model_dir / EXPLAINER_FILE).read_text())["column_means"])
    groups = preprocessed_groups(pipeline, list(frame.columns))
    classes = list(estimator.classes_)
    explanations = []
    for row in range(len(frame)):
        if len(classes) == 2:
            label = schema["positive_class"]
            sign = 1.0 if classes.index(label) == 1 else -1.0
            coef, score = sign * estimator.coef_[0], sign * decision[row]
        else:
            label = labels[row]
            k = classes.index(label)
            coef, score = estimator.coef_[k], decision[row, k]
        terms = coef * (matrix[row] - means)
        explanations.append(
            {
                "class": label,
                "score": float(score),
                "contributions": [float(terms[columns].sum()) for columns in groups],
                # The size of the sum's terms: what its rounding error scales with.
                "scale": max(1.0, float(np.abs(terms).sum())),
            }
        )
    return explanations


def expected_answers(model_dir: Path, frame: pd.DataFrame) -> dict[str, Any]:
    """scikit-learn's answers on these rows: labels, probabilities, and for a linear model
    each row's explanation."""
    schema, pipeline = _reference(model_dir)
    reference = as_training_input(schema, frame)
    labels = pipeline.predict(reference).tolist()
    answers: dict[str, Any] = {
        "labels": labels,
        "probabilities": pipeline.predict_proba(reference).tolist(),
    }
    if not (model_dir / TREES_FILE).exists():
        answers["explanations"] = linear_explanations(model_dir, frame, labels)
    return answers


def export(trained: TrainedFixture, target: Path) -> None:
    """The served files, the held-out rows and scikit-learn's answers on them, into target."""
    layout = trained.layout
    model = target / "model"
    model.mkdir(parents=True)
    for file in SERVED_FILES:
        source = layout.model_dir / file
        if source.suffix == ".json":
            served = served_json(file, json.loads(source.read_text()))
            (model / file).write_text(json.dumps(served, separators=(",", ":")) + "\n")
        elif source.exists():
            shutil.copy(source, model / file)
    (model / MODEL_FILE).write_bytes(STAND_IN_MODEL)
    schema = json.loads((layout.model_dir / SCHEMA_FILE).read_text())
    names = [feature["name"] for feature in schema["features"]]
    test = pd.read_csv(trained.held_out)
    test[[*names, schema["target"]]].to_csv(target / HELD_OUT_FILE, index=False)
    # The rows exactly as the tests will read them back.
    held_out = pd.read_csv(target / HELD_OUT_FILE)[names]
    answers = expected_answers(layout.model_dir, held_out)
    (target / EXPECTED_FILE).write_text(
        json.dumps(answers, allow_nan=False, separators=(",", ":")) + "\n"
    )


def build(destination: Path, work: Path) -> dict[str, TrainedFixture]:
    """Train every fixture's model under work and export it to destination/<name>; returns
    the training runs (with the real model.joblib) by name."""
    trained = {}
    for name in SPECS:
        trained[name] = train(work, name)
        export(trained[name], destination / name)
    return trained


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        staging = Path(work) / "fixtures"
        build(staging, Path(work) / "training")
        shutil.rmtree(FIXTURES, ignore_errors=True)
        shutil.copytree(staging, FIXTURES)
    total = sum(path.stat().st_size for path in FIXTURES.rglob("*") if path.is_file())
    print(f"wrote {FIXTURES.relative_to(REPO)} ({total // 1024} KB)", file=sys.stderr)


if __name__ == "__main__":
    main()
