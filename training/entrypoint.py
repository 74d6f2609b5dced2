"""The `train` command: SageMaker's training contract from configuration to model artifact.

load -> clean -> train -> evaluate -> gate -> save. Success writes model/ (pipeline, schema,
evaluation) and output/data/ (evaluation and plots), and exits 0. Any failure writes
output/failure, whose first sentence is the reason SageMaker shows, leaves model/ without our
files, and exits non-zero: 1 for bad input or a missed quality bar, 2 for a bug, 128 + the
signal number when the job was stopped.
"""

from __future__ import annotations

import io
import logging
import signal
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pandas as pd

from contracts.artifact import (
    EVALUATION_FILE,
    EXPLAINER_FILE,
    MODEL_FILE,
    PARAMETERS_FILE,
    SCHEMA_FILE,
    TREES_FILE,
)
from contracts.container import TEST_CHANNEL, TRAIN_CHANNEL, VALIDATION_CHANNEL
from training import model
from training.artifact import (
    Writer,
    publish_directory,
    write_bytes,
    write_file_atomically,
    write_joblib,
    write_json,
)
from training.cleaning import clean_training_frame
from training.data import read_channel
from training.environment import TrainingPaths
from training.errors import TrainingError, TrainingStopped
from training.evaluation import (
    evaluate,
    positive_class,
    print_metric_lines,
    quality_bar_error,
    quality_failures,
)
from training.explain import explainer_parameters, global_explanations
from training.export import predictor_parameters
from training.job_config import check_input_data_config, log_resource_config, read_hyperparameters
from training.onnx_export import export_trees, label_change_error
from training.output_data import import_plotting_in_background, write_output_data
from training.report import EvaluationReport
from training.schema import SAMPLE_ROWS, build_schema
from training.splits import evaluation_channel, sample, split

log = logging.getLogger("training")

EXIT_FAILED = 1
EXIT_BUG = 2
USAGE = "usage: python -m training [train]"
# Train-split metrics only show over-fitting; a sample of this size shows it as well as all rows.
TRAIN_METRICS_ROWS = 100_000


@dataclass(frozen=True)
class TrainingResult:
    evaluation: dict[str, Any]
    model_dir: Path


class _Stopped(TrainingStopped):
    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(
            f"received {signal.Signals(signum).name}: the job was stopped or interrupted "
            "before it finished; no model was written"
        )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments not in ([], ["train"]):
        sys.stderr.write(f"{USAGE}\n(got: {' '.join(arguments)})\n")
        return EXIT_BUG
    _configure_logging()
    paths = TrainingPaths.from_environment()
    started = time.monotonic()
    try:
        with _stop_on_signals():
            _clear_failure(paths)
            run(paths)
    except _Stopped as stopped:
        _record_failure(paths, stopped)
        return 128 + stopped.signum
    except TrainingError as error:
        _record_failure(paths, error)
        return EXIT_FAILED
    except Exception as error:
        _record_failure(paths, error)
        return EXIT_BUG
    log.info(
        "training finished in %.1f s; model written to %s",
        time.monotonic() - started,
        paths.model_dir,
    )
    return 0


def run(paths: TrainingPaths) -> TrainingResult:
    plotting = import_plotting_in_background()
    hp = read_hyperparameters(paths)
    check_input_data_config(paths)
    log_resource_config(paths)

    train_data, spec, cleaning = clean_training_frame(
        read_channel(paths.channel(TRAIN_CHANNEL)), hp.target, hp.id_columns
    )
    classes = sorted(pd.unique(train_data.labels).tolist())
    positive = positive_class(hp.positive_class, classes)
    test_data = evaluation_channel(paths, TEST_CHANNEL, hp.target, spec, classes)
    validation_data = evaluation_channel(paths, VALIDATION_CHANNEL, hp.target, spec, classes)
    if test_data is None:
        train_data, test_data = split(train_data, hp.test_size, hp.seed)

    log.info(
        "training %s on %d rows, evaluating on %d rows",
        hp.algorithm,
        len(train_data.labels),
        len(test_data.labels),
    )
    fit_started = time.monotonic()
    pipeline, search = model.fit(hp, spec, train_data.features, train_data.labels)
    training_seconds = time.monotonic() - fit_started
    log.info("fitted in %.2f s", training_seconds)

    train_sample = sample(train_data, TRAIN_METRICS_ROWS, hp.seed)
    evaluations = {
        "train": evaluate(
            pipeline, train_sample.features, train_sample.labels, classes, positive, "train"
        )
    }
    if validation_data is not None:
        evaluations["validation"] = evaluate(
            pipeline,
            validation_data.features,
            validation_data.labels,
            classes,
            positive,
            "validation",
        )
    test = evaluate(pipeline, test_data.features, test_data.labels, classes, positive, "test")
    evaluations["test"] = test
    for evaluation in evaluations.values():
        print_metric_lines(evaluation)

    # The server runs trees from their ONNX conversion: measured on the same held-out rows.
    trees = export_trees(pipeline, test_data.features, test.probabilities)

    bars = hp.quality_bars()
    failures = quality_failures(test, bars)
    report = EvaluationReport(
        hp=hp,
        spec=spec,
        cleaning=cleaning,
        classes=classes,
        positive_class=positive,
        search=search,
        training_seconds=training_seconds,
        evaluations=evaluations,
        bars=bars,
        failures=failures,
    ).document()
    report["serving"] = None if trees is None else trees.report
    explain_started = time.monotonic()
    report["explanations"] = global_explanations(
        pipeline, spec, test_data.features, test_data.labels, classes, hp.seed
    )
    explainer = explainer_parameters(pipeline, train_data.features, hp.seed)
    # Global and per-row parts together: what explanations add to a training job.
    report["explanations"]["seconds"] = round(time.monotonic() - explain_started, 3)
    log.info("explanations computed in %.2f s", report["explanations"]["seconds"])
    plotting.join()
    write_output_data(paths, report, test, classes, positive)
    if failures:
        raise quality_bar_error(failures)
    if trees is not None and not trees.passed:
        raise label_change_error(trees, hp.algorithm)

    schema = build_schema(
        pipeline,
        spec,
        train_data.features,
        hp.target,
        classes,
        positive,
        test_data.features.head(SAMPLE_ROWS),
        held_out_probabilities=test.probabilities,
    )
    files: dict[str, Writer] = {
        MODEL_FILE: write_joblib(pipeline),
        SCHEMA_FILE: write_json(schema),
        PARAMETERS_FILE: write_json(predictor_parameters(pipeline, spec, trees)),
        EVALUATION_FILE: write_json(report),
        EXPLAINER_FILE: write_json(explainer),
    }
    if trees is not None:
        files[TREES_FILE] = write_bytes(trees.model)
    publish_directory(paths.model_dir, files)
    return TrainingResult(report, paths.model_dir)


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM (a stopped job) and SIGINT (Ctrl-C) into a clean, recorded stop."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        # A second signal must not interrupt the clean-up of the first.
        for handled in (signal.SIGTERM, signal.SIGINT):
            signal.signal(handled, signal.SIG_IGN)
        raise _Stopped(signum)

    previous = {
        handled: signal.signal(handled, stop) for handled in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        yield
    finally:
        for handled, handler in previous.items():
            signal.signal(handled, handler)


def _clear_failure(paths: TrainingPaths) -> None:
    paths.failure_file.unlink(missing_ok=True)


def _record_failure(paths: TrainingPaths, error: BaseException) -> None:
    if isinstance(error, TrainingError):
        text = f"{error.kind}: {error}\n"
        log.error("%s", text.strip())
    else:
        # The essential sentence first: SageMaker shows only the first 1024 characters.
        text = (
            f"Internal error ({type(error).__name__}): {error}. This is a bug in the sagestack "
            "training container; please report it with this file.\n\n"
            + "".join(traceback.format_exception(error))
        )
        log.exception("internal error", exc_info=error)
    try:
        write_file_atomically(paths.failure_file, lambda path: _write_text(path, text))
    except OSError as unwritable:
        log.error("could not write %s: %s", paths.failure_file, unwritable)


def _write_text(path: Path, text: str) -> None:
    # Text that UTF-8 cannot hold (a lone surrogate from JSON's "\ud800") is escaped, not lost.
    path.write_text(text, encoding="utf-8", errors="backslashreplace")


def _configure_logging() -> None:
    # The same for the log: a reason that cannot be encoded must still be printed.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    logging.basicConfig(
        stream=sys.stdout,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        force=True,
    )
