"""The `train` command: SageMaker's training contract from configuration to model artifact.

load -> clean -> train -> evaluate -> gate -> save. Success writes model/ (pipeline, schema,
evaluation) and output/data/ (evaluation and plots), and exits 0. Any failure writes
output/failure, whose first sentence is the reason SageMaker shows, leaves model/ without our
files, and exits non-zero: 1 for bad input or a missed quality bar, 2 for a bug, 128 + the
signal number when the job was stopped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from contracts.artifact import (
    EVALUATION_FILE,
    EXPLAINER_FILE,
    MODEL_FILE,
    PARAMETERS_FILE,
    SCHEMA_FILE,
    SCHEMA_FORMAT_VERSION,
    TREES_FILE,
)
from contracts.container import KNOWN_CHANNELS, TEST_CHANNEL, TRAIN_CHANNEL, VALIDATION_CHANNEL
from contracts.metrics import format_metric_line
from training import model
from training.artifact import (
    Writer,
    publish_directory,
    write_bytes,
    write_file_atomically,
    write_json,
)
from training.cleaning import (
    CleaningReport,
    FeatureSpec,
    LabelledData,
    clean_evaluation_frame,
    clean_training_frame,
    stratified_split,
)
from training.data import read_channel
from training.environment import (
    CONFUSION_MATRIX_FILE,
    FEATURE_IMPORTANCE_FILE,
    ROC_CURVE_FILE,
    TrainingPaths,
)
from training.errors import (
    DataError,
    HyperparameterError,
    QualityBarError,
    TrainingError,
    TrainingStopped,
)
from training.evaluation import SplitEvaluation, evaluate, quality_failures
from training.explain import explainer_parameters, global_explanations
from training.export import predictor_parameters
from training.hyperparameters import Hyperparameters, parse_hyperparameters
from training.onnx_export import export_trees, label_change_error
from training.schema import SAMPLE_ROWS, build_schema

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
    plotting = _import_plotting_in_background()
    hp = _read_hyperparameters(paths)
    _check_input_data_config(paths)
    _log_resource_config(paths)

    train_data, spec, cleaning = clean_training_frame(
        read_channel(paths.channel(TRAIN_CHANNEL)), hp.target, hp.id_columns
    )
    classes = sorted(pd.unique(train_data.labels).tolist())
    positive_class = _positive_class(hp, classes)
    test_data = _evaluation_channel(paths, TEST_CHANNEL, hp, spec, classes)
    validation_data = _evaluation_channel(paths, VALIDATION_CHANNEL, hp, spec, classes)
    if test_data is None:
        train_data, test_data = _split(train_data, hp)

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

    train_sample = _sample(train_data, TRAIN_METRICS_ROWS, hp.seed)
    evaluations = {
        "train": evaluate(
            pipeline, train_sample.features, train_sample.labels, classes, positive_class, "train"
        )
    }
    if validation_data is not None:
        evaluations["validation"] = evaluate(
            pipeline,
            validation_data.features,
            validation_data.labels,
            classes,
            positive_class,
            "validation",
        )
    test = evaluate(pipeline, test_data.features, test_data.labels, classes, positive_class, "test")
    evaluations["test"] = test
    for evaluation in evaluations.values():
        _print_metrics(evaluation)

    # The server runs trees from their ONNX conversion: measured on the same held-out rows.
    trees = export_trees(pipeline, test_data.features, test.probabilities)

    bars = hp.quality_bars()
    failures = quality_failures(test, bars)
    report = _evaluation_report(
        hp,
        spec,
        cleaning,
        classes,
        positive_class,
        search,
        training_seconds,
        evaluations,
        bars,
        failures,
    )
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
    _write_output_data(paths, report, test, classes, positive_class)
    if failures:
        raise _quality_error(failures)
    if trees is not None and not trees.passed:
        raise label_change_error(trees, hp.algorithm)

    sample = test_data.features.head(SAMPLE_ROWS)
    schema = build_schema(
        pipeline,
        spec,
        train_data.features,
        hp.target,
        classes,
        positive_class,
        sample,
        held_out_probabilities=test.probabilities,
    )
    files: dict[str, Writer] = {
        MODEL_FILE: lambda path: _dump_model(pipeline, path),
        SCHEMA_FILE: write_json(schema),
        PARAMETERS_FILE: write_json(predictor_parameters(pipeline, spec, trees)),
        EVALUATION_FILE: write_json(report),
        EXPLAINER_FILE: write_json(explainer),
    }
    if trees is not None:
        files[TREES_FILE] = write_bytes(trees.model)
    publish_directory(paths.model_dir, files)
    return TrainingResult(report, paths.model_dir)


def _read_json_config(path: Path, error: type[TrainingError]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as invalid:
        raise error(f"{path.name} is not valid JSON: {invalid}") from invalid


def _read_hyperparameters(paths: TrainingPaths) -> Hyperparameters:
    raw: Any = {}
    if paths.hyperparameters.exists():
        raw = _read_json_config(paths.hyperparameters, HyperparameterError)
    if not isinstance(raw, dict):
        raise HyperparameterError(
            f"{paths.hyperparameters.name} must hold a JSON object of key/value pairs"
        )
    hp, warnings = parse_hyperparameters(raw)
    for warning in warnings:
        log.warning("hyperparameter %s", warning)
    log.info("hyperparameters: %s", json.dumps(hp.as_dict(), sort_keys=True))
    return hp


def _check_input_data_config(paths: TrainingPaths) -> None:
    if not paths.input_data_config.exists():
        return
    channels = _read_json_config(paths.input_data_config, DataError)
    if not isinstance(channels, dict):
        raise DataError(f"{paths.input_data_config.name} must hold a JSON object of channels")
    for name, settings in channels.items():
        mode = settings.get("TrainingInputMode", "File") if isinstance(settings, dict) else "File"
        if mode == "Pipe":
            raise DataError(
                f"channel {name!r} uses Pipe input mode, which this container does not read; "
                "use File or FastFile"
            )
        if name not in KNOWN_CHANNELS:
            log.warning(
                "channel %r is not used (channels read: %s)", name, ", ".join(KNOWN_CHANNELS)
            )
    if TRAIN_CHANNEL not in channels:
        raise DataError(
            f"no {TRAIN_CHANNEL!r} channel: the job defines {sorted(channels) or 'none'}; "
            f"name the training data channel {TRAIN_CHANNEL!r}"
        )


def _log_resource_config(paths: TrainingPaths) -> None:
    if not paths.resource_config.exists():
        return
    resources = _read_json_config(paths.resource_config, DataError)
    if not isinstance(resources, dict):
        return
    hosts = resources.get("hosts") or []
    log.info("running on %s (hosts: %s)", resources.get("current_host"), hosts)
    if len(hosts) > 1:
        log.warning(
            "%d instances were started, but scikit-learn trains on one: set the training "
            "instance count to 1 to stop paying for the others",
            len(hosts),
        )


def _positive_class(hp: Hyperparameters, classes: list[Any]) -> Any:
    if len(classes) != 2:
        if hp.positive_class is not None:
            log.warning("positive_class is ignored: the target has %d classes", len(classes))
        return None
    if hp.positive_class is None:
        return classes[-1]
    for label in classes:
        if str(label) == hp.positive_class:
            return label
    raise HyperparameterError(
        f"positive_class={hp.positive_class} is not a class of the target "
        f"(classes: {', '.join(map(str, classes))})"
    )


def _evaluation_channel(
    paths: TrainingPaths,
    channel: str,
    hp: Hyperparameters,
    spec: FeatureSpec,
    classes: list[Any],
) -> LabelledData | None:
    directory = paths.channel(channel)
    if not directory.exists():
        return None
    data = clean_evaluation_frame(read_channel(directory), hp.target, spec, channel)
    unknown = sorted(set(pd.unique(data.labels).tolist()) - set(classes), key=str)
    if unknown:
        raise DataError(
            f"the {channel} channel has target classes the train channel does not: "
            f"{unknown[:10]} (train classes: {classes[:10]})"
        )
    return data


def _split(data: LabelledData, hp: Hyperparameters) -> tuple[LabelledData, LabelledData]:
    train_rows, test_rows = stratified_split(data.labels, hp.test_size, hp.seed)
    return _rows(data, train_rows), _rows(data, test_rows)


def _rows(data: LabelledData, rows: np.ndarray) -> LabelledData:
    return LabelledData(
        _take_rows(data.features, rows), data.labels.take(rows).reset_index(drop=True)
    )


def _take_rows(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Rows by position. A frame of one numeric dtype (the large, common case) is gathered by
    numpy along pandas' column-major block, several times faster than DataFrame.take, and
    the result keeps that layout, so later per-column work reads contiguous memory."""
    dtypes = set(frame.dtypes)
    if len(dtypes) == 1 and pd.api.types.is_numeric_dtype(next(iter(dtypes))):
        by_column = frame.to_numpy().T
        return pd.DataFrame(by_column[:, rows].T, columns=frame.columns, copy=False)
    return frame.take(rows).reset_index(drop=True)


def _sample(data: LabelledData, limit: int, seed: int) -> LabelledData:
    if len(data.labels) <= limit:
        return data
    return _rows(
        data, np.sort(np.random.default_rng(seed).choice(len(data.labels), limit, replace=False))
    )


def _print_metrics(evaluation: SplitEvaluation) -> None:
    lines = [
        format_metric_line(evaluation.split, name, value)
        for name, value in evaluation.metrics.items()
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def _evaluation_report(
    hp: Hyperparameters,
    spec: FeatureSpec,
    cleaning: CleaningReport,
    classes: list[Any],
    positive_class: Any,
    search: dict[str, Any] | None,
    training_seconds: float,
    evaluations: dict[str, SplitEvaluation],
    bars: dict[str, float],
    failures: list[str],
) -> dict[str, Any]:
    return {
        "format_version": SCHEMA_FORMAT_VERSION,
        "algorithm": hp.algorithm,
        "hyperparameters": hp.as_dict(),
        "target": hp.target,
        "classes": [_plain(label) for label in classes],
        "positive_class": _plain(positive_class),
        "features": {"numeric": list(spec.numeric), "categorical": list(spec.categorical)},
        "cleaning": asdict(cleaning),
        "search": search,
        "training_seconds": round(training_seconds, 3),
        "splits": {split: evaluation.as_dict() for split, evaluation in evaluations.items()},
        "quality_gate": {"bars": bars, "passed": not failures, "failures": failures},
    }


def _import_plotting_in_background() -> threading.Thread:
    """matplotlib takes 0.6 s to import; most of it overlaps reading the data, during which
    pandas' C parser leaves the interpreter free. An import error surfaces at plotting time."""

    def load() -> None:
        with contextlib.suppress(ImportError):
            import training.plots  # noqa: F401

    thread = threading.Thread(target=load, name="import-plotting", daemon=True)
    thread.start()
    return thread


def _write_output_data(
    paths: TrainingPaths,
    report: dict[str, Any],
    test: SplitEvaluation,
    classes: list[Any],
    positive_class: Any,
) -> None:
    from training import plots

    directory = paths.output_data_dir
    write_file_atomically(directory / EVALUATION_FILE, write_json(report))
    write_file_atomically(
        directory / ROC_CURVE_FILE,
        lambda path: plots.plot_roc_curve(test, classes, positive_class, path),
    )
    write_file_atomically(
        directory / CONFUSION_MATRIX_FILE,
        lambda path: plots.plot_confusion_matrix(test, classes, path),
    )
    write_file_atomically(
        directory / FEATURE_IMPORTANCE_FILE,
        lambda path: plots.plot_feature_importance(report["explanations"], path),
    )


def _quality_error(failures: list[str]) -> TrainingError:
    return QualityBarError(
        "; ".join(failures) + ". No model was written; improve the data or the "
        "hyperparameters, or lower the bar in the stack config."
    )


def _dump_model(pipeline: Pipeline, path: Path) -> None:
    joblib.dump(pipeline, path)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


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
    path.write_text(text, encoding="utf-8")


def _configure_logging() -> None:
    logging.basicConfig(
        stream=sys.stdout,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        force=True,
    )
