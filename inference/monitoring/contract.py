"""The `monitor` job's interface, in one place: what a SageMaker Processing job gives it.

A schedule (or a person) runs the training image's `monitor` command as a Processing job:

    AppSpecification.ContainerEntrypoint  ["monitor"]
    ProcessingInputs (S3Prefix or S3Object, File mode), each with its LocalPath:
      /opt/ml/processing/input/capture       <capture prefix>/<endpoint>/<variant>/ (or some of
                                             its yyyy/mm/dd/hh/ folders): captured traffic
      /opt/ml/processing/input/model         the endpoint's model.tar.gz (or its files)
      /opt/ml/processing/input/ground-truth  optional: JSON lines {"eventId": ..., "label": ...}
    ProcessingOutputs:
      /opt/ml/processing/output              statistics.json, constraint_violations.json,
                                             report.md, plots/*.png (S3UploadMode EndOfJob)
    Environment: the variables named below. Only SAGESTACK_MONITOR_END is needed: the
    scheduler's <aws.scheduler.scheduled-time>; the window is the WINDOW_MINUTES before it.

Command-line arguments (what local mode and the tests pass) override the environment. Exit
codes: 0 when the window was judged (drift or not: the verdict is in the files and metrics),
1 for a configuration or model the job cannot use, 2 for a bug.
"""

from __future__ import annotations

from pathlib import Path

from contracts.artifact import EVALUATION_FILE, MODEL_ARCHIVE
from contracts.container import (
    BASE_DIR_ENV,
    DEFAULT_BASE_DIR,
    ENDPOINT_NAME_ENV,
    VARIANT_NAME_ENV,
)
from contracts.container import MONITOR_END_ENV as END_ENV
from contracts.container import MONITOR_START_ENV as START_ENV
from contracts.container import MONITOR_WINDOW_MINUTES_ENV as WINDOW_MINUTES_ENV
from contracts.metrics import GATED_METRICS, bar_key

# The names this module shares with training and infra, under the names `monitor` uses.
__all__ = [
    "BASE_DIR_ENV",
    "DEFAULT_BASE_DIR",
    "ENDPOINT_NAME_ENV",
    "END_ENV",
    "EVALUATION_FILE",
    "MODEL_ARCHIVE",
    "START_ENV",
    "VARIANT_NAME_ENV",
    "WINDOW_MINUTES_ENV",
]

# Under SAGEMAKER_BASE_DIR (/opt/ml), as SageMaker Processing mounts them.
PROCESSING_DIR = Path("processing")
CAPTURE_INPUT = PROCESSING_DIR / "input" / "capture"
MODEL_INPUT = PROCESSING_DIR / "input" / "model"
GROUND_TRUTH_INPUT = PROCESSING_DIR / "input" / "ground-truth"
OUTPUT = PROCESSING_DIR / "output"

# The window: END (ISO 8601), and START or WINDOW_MINUTES before it.
DEFAULT_WINDOW_MINUTES = 60
# Set to "false" to skip PutMetricData (metrics are put only when the endpoint is named).
PUBLISH_METRICS_ENV = "SAGESTACK_MONITOR_PUBLISH_METRICS"

# Output file names: Model Monitor's, so that people who know it find their way.
STATISTICS_FILE = "statistics.json"
VIOLATIONS_FILE = "constraint_violations.json"
REPORT_FILE = "report.md"
PLOTS_DIR = "plots"


class Threshold:
    """One tunable: its argument, environment variable, default, and why that default."""

    def __init__(self, name: str, default: float | None, help_text: str) -> None:
        self.name = name
        self.default = default
        self.help = help_text

    @property
    def env(self) -> str:
        return "SAGESTACK_MONITOR_" + self.name.upper()

    @property
    def argument(self) -> str:
        return "--" + self.name.replace("_", "-")


# Defaults and their sources:
# - PSI > 0.1 "some change", > 0.2 "significant change": the usual PSI rule of thumb (Yurdakul,
#   "Statistical properties of population stability index", 2018), which Evidently and
#   Model Monitor's users quote.
# - Jensen-Shannon distance > 0.1: Evidently's default for categorical columns on large data
#   (docs.evidentlyai.com, "Data drift" algorithm: "Jensen-Shannon distance ... 0.1").
# - Dataset drift when at least half the features drift: Evidently's DataDriftPreset default
#   (drift_share=0.5).
# - Unseen categories > 0.1: Model Monitor's monitoring_config.domain_content_threshold
#   default (docs: "Schema for Constraints (constraints.json file)").
# - Missing-rate change > 0.1 and the minimum of 500 rows are ours: at 500 rows the PSI of
#   ten bins from an unchanged distribution averages about 9/500 + 9/(training rows), far
#   under the 0.1 warning; below that a window's bin shares are mostly noise.
THRESHOLDS = (
    Threshold("psi_alert", 0.2, "PSI above which a numeric feature has drifted"),
    Threshold("psi_warn", 0.1, "PSI above which a numeric feature is reported as shifting"),
    Threshold("ks_alert", None, "KS distance above which a numeric feature has drifted (off)"),
    Threshold("js_alert", 0.1, "Jensen-Shannon distance above which a categorical drifted"),
    Threshold("unseen_alert", 0.1, "share of never-seen categories that is a violation"),
    Threshold("missing_alert", 0.1, "rise in a feature's missing rate that is a violation"),
    Threshold("prediction_alert", 0.1, "JS distance of predicted class shares that is drift"),
    Threshold("dataset_drift_share", 0.5, "share of drifted features that is dataset drift"),
    Threshold("min_rows", 500, "rows a window needs; fewer is 'insufficient data'"),
    Threshold("min_labelled_rows", 100, "labelled rows live quality needs"),
)
# Live quality bars: by default the ones the model was gated on (evaluation.json).
QUALITY_METRICS = GATED_METRICS
QUALITY_BARS = tuple(
    Threshold(bar_key(metric), None, f"live {metric} bar (default: the training gate's)")
    for metric in QUALITY_METRICS
)
