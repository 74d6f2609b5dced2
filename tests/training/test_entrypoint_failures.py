"""Every bad input fails the SageMaker way: a clear output/failure, non-zero exit, empty model/."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
import pytest

from sagestack.layout import TrainingJobLayout
from tests.conftest import SAMPLE_DATASET
from tests.training.support import (
    TRAIN_COMMAND,
    assert_failed,
    container_environment,
    run_train,
)

Setup = Callable[[Path], TrainingJobLayout]


def _job(hyperparameters: Mapping[str, object] | None = None) -> Setup:
    return lambda base: TrainingJobLayout.create(
        base, hyperparameters or {}, {"train": [SAMPLE_DATASET]}
    )


def _with_train_file(name: str, content: bytes | str, hp: dict[str, object] | None = None) -> Setup:
    def setup(base: Path) -> TrainingJobLayout:
        source = base.parent / f"source-{base.name}"
        source.mkdir()
        path = source / name
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
        return TrainingJobLayout.create(base, hp or {}, {"train": [path]})

    return setup


def _with_frame(frame: pd.DataFrame, hp: dict[str, object] | None = None) -> Setup:
    return _with_train_file("data.csv", frame.to_csv(index=False), hp)


def _no_channels(base: Path) -> TrainingJobLayout:
    return TrainingJobLayout.create(base, {}, {})


def _empty_channel(base: Path) -> TrainingJobLayout:
    return TrainingJobLayout.create(base, {}, {"train": []})


def _channel_declared_but_missing(base: Path) -> TrainingJobLayout:
    layout = TrainingJobLayout.create(base, {}, {"train": [SAMPLE_DATASET]})
    for file in (base / "input" / "data" / "train").iterdir():
        file.unlink()
    (base / "input" / "data" / "train").rmdir()
    return layout


def _pipe_mode(base: Path) -> TrainingJobLayout:
    return TrainingJobLayout.create(base, {}, {"train": [SAMPLE_DATASET]}, input_mode="Pipe")


def _hyperparameters_json(text: str) -> Setup:
    def setup(base: Path) -> TrainingJobLayout:
        layout = TrainingJobLayout.create(base, {}, {"train": [SAMPLE_DATASET]})
        (base / "input" / "config" / "hyperparameters.json").write_text(text, encoding="utf-8")
        return layout

    return setup


_broken_hyperparameters_json = _hyperparameters_json("{not json")


_SAMPLE = pd.read_csv(SAMPLE_DATASET)

CASES: dict[str, tuple[Setup, tuple[str, ...]]] = {
    "no train channel": (_no_channels, ("Invalid training data", "no 'train' channel")),
    "train channel missing on disk": (
        _channel_declared_but_missing,
        ("channel 'train' is missing",),
    ),
    "empty train channel": (_empty_channel, ("channel 'train' is empty",)),
    "empty file": (_with_train_file("data.csv", ""), ("file 'data.csv' is empty",)),
    "blank file": (_with_train_file("data.csv", "\n\n"), ("file 'data.csv' is empty",)),
    "not CSV or Parquet by name": (
        _with_train_file("data.json", '{"a": 1}'),
        ("neither CSV nor Parquet: data.json",),
    ),
    "binary data named .csv": (
        _with_train_file("data.csv", b"\x00\x01\x02binary\x00" * 50),
        ("file 'data.csv' is not a CSV file",),
    ),
    "CSV named .parquet": (
        _with_train_file("data.parquet", "a,b\n1,2\n"),
        ("file 'data.parquet' is not a Parquet file",),
    ),
    "ragged CSV": (
        _with_train_file("data.csv", "a,b,target\n1,2,0\n1,2,3,4,5\n"),
        ("file 'data.csv' could not be read",),
    ),
    "target column missing": (
        _job({"target": "diagnosis"}),
        ("target column 'diagnosis' not found", "mean_radius", "worst_symmetry"),
    ),
    "single class": (
        _with_frame(_SAMPLE.assign(target=1)),
        ("the target has a single class",),
    ),
    "too few rows after cleaning": (
        _with_frame(pd.concat([_SAMPLE.head(4)] * 5)),
        ("too few rows after cleaning: 4 left of 20", "16 duplicates"),
    ),
    "no usable feature column": (
        _with_frame(
            pd.DataFrame({"id": range(40), "empty": [None] * 40, "target": [0, 1] * 20}),
            {"id_columns": "id"},
        ),
        ("no usable feature column", "(columns found: target)"),
    ),
    "unknown id column": (
        _job({"id_columns": "customer"}),
        ("id_columns names columns that the train channel does not have: ['customer']",),
    ),
    "unknown algorithm": (
        _job({"algorithm": "xgboost"}),
        (
            "Invalid hyperparameters",
            "algorithm=xgboost must be one of: "
            "logistic_regression, random_forest, hist_gradient_boosting",
        ),
    ),
    "negative C": (_job({"C": -1}), ("C=-1 must be greater than 0",)),
    "test_size above 1": (_job({"test_size": 1.5}), ("test_size=1.5 must be between 0 and 1",)),
    "non-numeric hyperparameter": (_job({"max_iter": "many"}), ("max_iter=many must be a whole",)),
    "bar above 1": (_job({"min_f1": 1.2}), ("min_f1=1.2 must be a number from 0 to 1",)),
    "unknown hyperparameter": (
        _job({"learning_rat": 0.1}),
        ("unknown key 'learning_rat'", "known keys: C, algorithm,", "learning_rate"),
    ),
    "several problems at once": (
        _job({"C": 0, "seed": -3}),
        ("C=0 must be greater than 0", "seed=-3 must be a whole number from 0 to 4294967295"),
    ),
    "unknown positive class": (
        _job({"positive_class": "malignant"}),
        ("positive_class=malignant is not a class of the target (classes: 0, 1)",),
    ),
    "Pipe input mode": (_pipe_mode, ("Pipe input mode",)),
    "hyperparameters.json is not JSON": (
        _broken_hyperparameters_json,
        ("hyperparameters.json is not valid JSON",),
    ),
    "hyperparameters.json nested too deeply": (
        _hyperparameters_json("[" * 100_000),
        ("hyperparameters.json is not valid JSON: nested too deeply (more than 64 levels)",),
    ),
    "hyperparameters.json with a key twice": (
        _hyperparameters_json('{"algorithm": "random_forest", "algorithm": "xgboost"}'),
        ("hyperparameters.json is not valid JSON: duplicate key 'algorithm'",),
    ),
    "hyperparameters.json with a 5000-digit number": (
        _hyperparameters_json('{"seed": ' + "9" * 5000 + "}"),
        ("hyperparameters.json is not valid JSON: a number with too many digits (5000;",),
    ),
    "seed beyond numpy's": (
        _job({"seed": "4294967296"}),
        ("seed=4294967296 must be a whole number from 0 to 4294967295",),
    ),
    "seed of 5000 digits": (
        _job({"seed": "9" * 5000}),
        ("seed=9999999999", "(4960 more characters) must be a whole number from 0 to 4294967295"),
    ),
    "search_folds above the limit": (
        _job({"search": "grid", "search_folds": "100000"}),
        ("search_folds=100000 must be a whole number from 2 to 20",),
    ),
    "search_folds above the rows of the smallest class": (
        _with_frame(
            pd.DataFrame({"x": range(60), "target": [0] * 50 + [1] * 10}),
            {"search": "grid", "search_folds": 10},
        ),
        (
            "Invalid hyperparameters: search_folds=10 is more than the 8 training rows of the "
            "smallest class (1)",
        ),
    ),
    "id_columns nested too deeply": (
        _job({"id_columns": "[" * 100_000}),
        ("id_columns=[[[[", "is not valid JSON (nested too deeply (more than 64 levels))"),
    ),
    "a lone surrogate in a value": (
        _hyperparameters_json('{"C": "\\ud800"}'),
        ("C=\\ud800 must be a number",),
    ),
    "a lone surrogate in a target": (
        _hyperparameters_json('{"target": "\\ud800"}'),
        ("target column '\\ud800' not found",),
    ),
    "a lone surrogate in an unknown key": (
        _hyperparameters_json('{"\\ud800x": "1"}'),
        ("unknown key '\\ud800x'",),
    ),
    "algorithm spelled otherwise": (
        _job({"algorithm": "Random_Forest"}),
        ("algorithm=Random_Forest must be one of: logistic_regression, random_forest",),
    ),
    "hyperparameters.json with NaN": (
        _hyperparameters_json('{"C": NaN}'),
        ("hyperparameters.json is not valid JSON: NaN is not a JSON number",),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_cleanly(tmp_path: Path, case: str) -> None:
    setup, fragments = CASES[case]
    run = run_train(setup(tmp_path / "job"))
    failure = assert_failed(run, *fragments)
    assert run.returncode == 1, run.explain()
    # The reason is the first line: SageMaker shows it as the job's FailureReason.
    assert failure.splitlines()[0].startswith(
        ("Invalid training data: ", "Invalid hyperparameters: ")
    ), failure
    assert "Traceback" not in run.stdout + run.stderr


def test_quality_bar_names_every_failing_metric(tmp_path: Path) -> None:
    layout = TrainingJobLayout.create(
        tmp_path,
        {"min_accuracy": 0.999, "min_recall": 0.9999, "min_roc_auc": 0.5},
        {"train": [SAMPLE_DATASET]},
    )
    run = run_train(layout)
    failure = assert_failed(run, "Quality bar not met: test accuracy 0.9", "< min_accuracy 0.9990")
    assert "< min_recall 0.9999" in failure
    assert "min_roc_auc" not in failure
    assert run.returncode == 1
    # Metrics are still printed and the evaluation still written: they say why it failed.
    assert "test:accuracy" in run.metrics()
    gate = run.evaluation()["quality_gate"]
    assert gate["passed"] is False
    assert len(gate["failures"]) == 2


def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    """A stopped job (SIGTERM, SIGKILL 120 s later) says so and leaves no model behind."""
    layout = TrainingJobLayout.create(
        tmp_path,
        # Thousands of boosting rounds: the fit is still running when the signal arrives.
        {"algorithm": "hist_gradient_boosting", "max_iter": 100000, "learning_rate": 0.001},
        {"train": [SAMPLE_DATASET]},
    )
    environment = container_environment(tmp_path)
    process = subprocess.Popen(
        TRAIN_COMMAND, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    output = []
    deadline = time.monotonic() + 60
    for line in process.stdout:
        output.append(line)
        if "training hist_gradient_boosting" in line or time.monotonic() > deadline:
            break
    time.sleep(0.5)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    remaining, _ = process.communicate(timeout=60)
    stopped_in = time.monotonic() - started

    assert process.returncode == 128 + signal.SIGTERM, "".join(output) + remaining
    assert stopped_in < 10
    failure = (tmp_path / "output" / "failure").read_text()
    assert failure.startswith("Training stopped: received SIGTERM"), failure
    assert sorted(path.name for path in layout.model_dir.iterdir()) == []


def test_a_later_success_clears_an_earlier_failure(tmp_path: Path) -> None:
    layout = TrainingJobLayout.create(tmp_path, {"C": -1}, {"train": [SAMPLE_DATASET]})
    assert_failed(run_train(layout))
    layout.write_hyperparameters({})
    run = run_train(layout)
    assert run.returncode == 0, run.explain()
    assert run.failure is None


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    layout = TrainingJobLayout.create(tmp_path, {}, {"train": [SAMPLE_DATASET]})
    run = run_train(layout, [sys.executable, "-m", "training", "serve"])
    assert run.returncode == 2
    assert "usage: python -m training [train]" in run.stderr
    assert run.model_files == []


def test_failure_reason_fits_sagemakers_limit(tmp_path: Path) -> None:
    """Even a long reason starts with its essential sentence inside the first 1024 characters."""
    many = {f"unknown_{index}_{'x' * 30}": 1 for index in range(40)}
    run = run_train(_job(many)(tmp_path))
    failure = assert_failed(run, "Invalid hyperparameters: unknown key 'unknown_0_xxx")
    assert len(failure) > 1024
    assert json.dumps(run.failure)  # plain text, no binary


def test_a_huge_hyperparameters_file_gives_a_short_failure(tmp_path: Path) -> None:
    many = {f"bogus_{index}": "x" * 80 for index in range(100_000)}
    run = run_train(_job(many)(tmp_path))
    failure = assert_failed(run, "Invalid hyperparameters: unknown key 'bogus_0'", "known keys: C,")
    assert run.returncode == 1
    assert len(failure) < 2000
    assert failure.rstrip().endswith("and 99980 more problems")
    assert len(run.stdout) < 20_000


def test_a_huge_value_is_not_logged_whole(tmp_path: Path) -> None:
    frame = _SAMPLE.assign(customer="c")
    run = run_train(_with_frame(frame, {"id_columns": "customer," + "v" * 1_000_000})(tmp_path))
    assert_failed(run, "id_columns names columns that the train channel does not have: ['vvvv")
    assert run.returncode == 1
    assert len(run.stdout) < 20_000, run.stdout[:2000]
