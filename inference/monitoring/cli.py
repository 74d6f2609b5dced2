"""`python -m inference monitor`: drift and live quality of one window of captured traffic.

The interface (Processing paths, environment, exit codes) is in inference/monitoring/contract.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from contracts.artifact import SCHEMA_FILE
from inference.artifact import ArtifactError, Schema, load_schema
from inference.monitoring import contract
from inference.monitoring.capture import ReadSummary, parse_time, read_window
from inference.monitoring.drift import (
    DRIFT,
    INSUFFICIENT,
    Baseline,
    BaselineError,
    CategoricalCounts,
    FeatureDrift,
    NumericCounts,
    judge_categorical,
    judge_numeric,
    prediction_drift,
)
from inference.monitoring.metrics import metric_values, put_metrics
from inference.monitoring.outputs import write_outputs
from inference.monitoring.quality import LabelledRows, live_quality, read_ground_truth

EXIT_FAILED = 1
EXIT_BUG = 2


class MonitorError(Exception):
    """A configuration or input the job cannot work with: one sentence, exit 1."""


@dataclass(frozen=True)
class Settings:
    capture: Path
    model: Path
    output: Path
    ground_truth: Path | None
    start: datetime
    end: datetime
    endpoint: str | None
    variant: str | None
    publish_metrics: bool
    thresholds: dict[str, float | None]
    bars: dict[str, float | None]


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        settings = settings_from(arguments, os.environ)
        started = time.monotonic()
        result, report = run(settings)
    except (MonitorError, ArtifactError, BaselineError) as error:
        sys.stderr.write(f"monitor: {error}\n")
        return EXIT_FAILED
    except Exception:
        sys.stderr.write("monitor: unexpected error\n" + traceback.format_exc())
        return EXIT_BUG
    sys.stdout.write(_summary(result, report, time.monotonic() - started))
    sys.stdout.flush()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m inference monitor",
        description="Drift and live quality of one window of SageMaker data capture.",
    )
    parser.add_argument("--capture", type=Path, help="folder of capture files (any depth)")
    parser.add_argument("--model", type=Path, help="the model folder, or one holding model.tar.gz")
    parser.add_argument("--output", type=Path, help="where the report and JSON files go")
    parser.add_argument("--ground-truth", type=Path, help="folder of ground-truth JSON lines")
    parser.add_argument("--start", help=f"window start, ISO 8601 (env {contract.START_ENV})")
    parser.add_argument("--end", help=f"window end, ISO 8601 (env {contract.END_ENV})")
    parser.add_argument("--window-minutes", help="window length when --start is not given")
    parser.add_argument("--endpoint", help="endpoint name: the metrics' EndpointName")
    parser.add_argument("--variant", help="variant name: the metrics' VariantName")
    parser.add_argument("--no-metrics", action="store_true", help="do not put CloudWatch metrics")
    for threshold in (*contract.THRESHOLDS, *contract.QUALITY_BARS):
        parser.add_argument(
            threshold.argument,
            dest=threshold.name,
            help=f"{threshold.help} (env {threshold.env}; default {threshold.default})",
        )
    return parser


def settings_from(arguments: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    base = Path(environ.get(contract.BASE_DIR_ENV) or contract.DEFAULT_BASE_DIR)
    end_text = arguments.end or environ.get(contract.END_ENV, "").strip()
    if not end_text:
        raise MonitorError(
            f"no window end: pass --end or set {contract.END_ENV} (ISO 8601, e.g. "
            "2026-01-31T12:00:00Z)"
        )
    end = _time(end_text, "--end" if arguments.end else contract.END_ENV)
    start_text = arguments.start or environ.get(contract.START_ENV, "").strip()
    if start_text:
        start = _time(start_text, "--start" if arguments.start else contract.START_ENV)
    else:
        raw = arguments.window_minutes or environ.get(contract.WINDOW_MINUTES_ENV, "").strip()
        minutes = (
            _number(raw, contract.WINDOW_MINUTES_ENV, whole=True)
            if raw
            else contract.DEFAULT_WINDOW_MINUTES
        )
        if not minutes or minutes < 1:
            raise MonitorError(f"{contract.WINDOW_MINUTES_ENV}={raw} must be at least 1")
        start = end - timedelta(minutes=minutes)
    if start >= end:
        raise MonitorError(f"the window start {start.isoformat()} is not before its end")
    ground_truth = arguments.ground_truth
    if ground_truth is None and (base / contract.GROUND_TRUTH_INPUT).is_dir():
        ground_truth = base / contract.GROUND_TRUTH_INPUT
    capture = arguments.capture or base / contract.CAPTURE_INPUT
    if not capture.is_dir():
        raise MonitorError(f"no capture folder {capture}")
    if ground_truth is not None and not ground_truth.is_dir():
        raise MonitorError(f"no ground-truth folder {ground_truth}")
    endpoint = arguments.endpoint or environ.get(contract.ENDPOINT_NAME_ENV, "").strip() or None
    variant = arguments.variant or environ.get(contract.VARIANT_NAME_ENV, "").strip() or None
    publish = environ.get(contract.PUBLISH_METRICS_ENV, "true").strip().lower()
    if publish not in ("true", "false"):
        raise MonitorError(
            f"{contract.PUBLISH_METRICS_ENV}={publish!r} is not allowed (allowed: true, false)"
        )
    return Settings(
        capture=capture,
        model=arguments.model or base / contract.MODEL_INPUT,
        output=arguments.output or base / contract.OUTPUT,
        ground_truth=ground_truth,
        start=start,
        end=end,
        endpoint=endpoint,
        variant=variant,
        publish_metrics=(
            publish == "true" and not arguments.no_metrics and bool(endpoint and variant)
        ),
        thresholds={t.name: _threshold(t, arguments, environ) for t in contract.THRESHOLDS},
        bars={t.name: _threshold(t, arguments, environ) for t in contract.QUALITY_BARS},
    )


def _threshold(
    threshold: contract.Threshold, arguments: argparse.Namespace, environ: Mapping[str, str]
) -> float | None:
    given = getattr(arguments, threshold.name)
    where = threshold.argument
    if given is None:
        given = environ.get(threshold.env, "").strip() or None
        where = threshold.env
    if given is None:
        return threshold.default
    whole = threshold.name.startswith("min_") and "rows" in threshold.name
    value = _number(given, where, whole=whole)
    share = (
        threshold.name.startswith("min_") and not whole
    ) or threshold.name == "dataset_drift_share"
    if value < 0 or (share and value > 1):
        allowed = "0 to 1" if share else "0 or more"
        raise MonitorError(f"{where}={given} is out of range (allowed: {allowed})")
    return value


def _number(text: str, where: str, whole: bool = False) -> float:
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise MonitorError(f"{where}={text!r} is not {kind}") from None
    return float(value)


def _time(text: str, where: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError:
        raise MonitorError(
            f"{where}={text!r} is not an ISO 8601 time (e.g. 2026-01-31T12:00:00Z)"
        ) from None


@contextmanager
def _model_dir(model: Path) -> Iterator[Path]:
    """The model folder itself, or model.tar.gz in it unpacked (what a Processing input of the
    endpoint's ModelDataUrl gives)."""
    if (model / SCHEMA_FILE).is_file():
        yield model
        return
    archive = model / contract.MODEL_ARCHIVE
    if not archive.is_file():
        raise MonitorError(f"{model} holds neither {SCHEMA_FILE} nor {contract.MODEL_ARCHIVE}")
    with tempfile.TemporaryDirectory(prefix="monitor-model-") as directory:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(directory, filter="data")
        except (tarfile.TarError, OSError) as error:
            raise MonitorError(f"{archive} cannot be unpacked: {error}") from None
        yield Path(directory)


def run(settings: Settings) -> tuple[dict[str, Any], Path]:
    with _model_dir(settings.model) as model_dir:
        schema = load_schema(model_dir / SCHEMA_FILE)
        training_bars = _training_bars(model_dir)
    baseline = Baseline.from_schema(schema)
    thresholds = settings.thresholds
    bars = {
        metric.removeprefix("min_"): (
            value if value is not None else training_bars.get(metric.removeprefix("min_"), 0.0)
        )
        for metric, value in settings.bars.items()
    }
    numeric = [NumericCounts(base) for base in baseline.numeric]
    categorical = [CategoricalCounts(base) for base in baseline.categorical]
    truth = read_ground_truth(settings.ground_truth) if settings.ground_truth else None
    labelled = LabelledRows()
    predicted: Counter[str] = Counter()
    summary = ReadSummary()
    wanted = frozenset(truth.labels) if truth is not None else frozenset()
    chunks = read_window(settings.capture, schema, settings.start, settings.end, summary, wanted)
    for chunk in chunks:
        for column, counts in enumerate(numeric):
            counts.add(chunk.batch.numeric[:, column])
        for column, categories in enumerate(categorical):
            categories.add(chunk.batch.categorical[:, column])
        labels: list[str] = []
        for event_id, answer in zip(chunk.event_ids, chunk.predictions, strict=True):
            if answer is None:
                continue
            labels.extend(answer.labels)
            if truth is not None and event_id is not None and event_id in truth.labels:
                given = truth.labels[event_id]
                if len(given) == len(answer.labels):
                    labelled.add(given, answer)
                else:
                    summary.problems.add("ground_truth_row_mismatch", f"event {event_id}")
        predicted.update(labels)
    features = _judge(schema, numeric, categorical, thresholds)
    result = _result(settings, schema, features, baseline, predicted, summary, thresholds)
    if truth is not None:
        min_labelled = int(thresholds["min_labelled_rows"] or 0)
        quality = live_quality(labelled, schema, bars, min_labelled)
        quality["ground_truth_files"] = truth.files
        quality["ground_truth_events"] = len(truth.labels)
        quality["ground_truth_problems"] = dict(truth.problems.counts)
        result["quality"] = quality
    report = write_outputs(settings.output, result, features)
    if settings.publish_metrics:
        assert settings.endpoint is not None
        assert settings.variant is not None
        try:
            put_metrics(metric_values(result), settings.endpoint, settings.variant, settings.end)
        except Exception as error:  # botocore's errors have no common base worth naming
            raise MonitorError(
                f"the report is written to {report}, but CloudWatch refused the metrics "
                f"({type(error).__name__}: {error})"
            ) from None
    result["metrics_published"] = settings.publish_metrics
    return result, report


def _training_bars(model_dir: Path) -> dict[str, float]:
    import json

    path = model_dir / contract.EVALUATION_FILE
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): float(v) for k, v in report["quality_gate"]["bars"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _judge(
    schema: Schema,
    numeric: list[NumericCounts],
    categorical: list[CategoricalCounts],
    thresholds: dict[str, float | None],
) -> list[FeatureDrift]:
    judged = {counts.baseline.name: judge_numeric(counts, thresholds) for counts in numeric}
    judged.update(
        {counts.baseline.name: judge_categorical(counts, thresholds) for counts in categorical}
    )
    return [judged[name] for name in schema.names]


def _result(
    settings: Settings,
    schema: Schema,
    features: list[FeatureDrift],
    baseline: Baseline,
    predicted: Counter[str],
    summary: ReadSummary,
    thresholds: dict[str, float | None],
) -> dict[str, Any]:
    rows = summary.rows
    min_rows = int(thresholds["min_rows"] or 0)
    drifted = [feature.name for feature in features if feature.drifted]
    share = float(thresholds["dataset_drift_share"] or 0.0)
    dataset_drift = bool(features) and len(drifted) >= share * len(features)
    prediction = prediction_drift(baseline, predicted, thresholds)
    if rows < min_rows:
        verdict = INSUFFICIENT
        reason = (
            f"{rows} rows in the window; at least {min_rows} are needed to judge drift "
            "(no alarm is raised on this window)"
        )
    elif dataset_drift:
        verdict = "dataset drift"
        reason = f"{len(drifted)} of {len(features)} features drifted: {', '.join(drifted)}"
    elif drifted or prediction["status"] == DRIFT:
        verdict = DRIFT
        parts = [f"{len(drifted)} of {len(features)} features drifted"]
        if drifted:
            parts[0] += f": {', '.join(drifted)}"
        if prediction["status"] == DRIFT:
            parts.append("the predicted class shares moved")
        reason = "; ".join(parts)
    else:
        verdict = "no drift"
        reason = f"no feature of {len(features)} drifted, nor the predicted class shares"
    psis = [f.scores["psi"] for f in features if f.kind == "numeric" and f.status != INSUFFICIENT]
    return {
        "window": {"start": settings.start.isoformat(), "end": settings.end.isoformat()},
        "endpoint": settings.endpoint,
        "variant": settings.variant,
        "rows": rows,
        "verdict": verdict,
        "verdict_reason": reason,
        "drifted_features": len(drifted),
        "drifted": drifted,
        "dataset_drift": dataset_drift and verdict != INSUFFICIENT,
        "max_feature_psi": max(psis, default=0.0),
        "prediction_drift": prediction,
        "read": {
            "files": summary.files,
            "files_outside_window": summary.files_outside_window,
            "lines": summary.lines,
            "records_in_window": summary.records_in_window,
            "records_outside_window": summary.records_outside_window,
            "requests_decoded": summary.requests_decoded,
            "problems": dict(summary.problems.counts),
            "problem_examples": list(summary.problems.examples),
        },
        "thresholds": dict(thresholds),
        "features": len(schema.features),
    }


def _summary(result: dict[str, Any], report: Path, seconds: float) -> str:
    problems = sum(result["read"]["problems"].values())
    lines = [
        f"monitor: {result['rows']} rows in {result['window']['start']} .. "
        f"{result['window']['end']} ({problems} bad records skipped) in {seconds:.1f} s",
        f"verdict: {result['verdict']}: {result['verdict_reason']}",
    ]
    quality = result.get("quality")
    if quality is not None:
        f1 = quality["metrics"].get("f1")
        lines.append(
            f"live quality: {quality['status']} on {quality['rows']} labelled rows"
            + (f" (F1 {f1:.4f})" if f1 is not None else "")
        )
    lines.append(f"report: {report}")
    return "\n".join(lines) + "\n"
