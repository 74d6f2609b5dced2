"""The training job's metrics and the line that reports each one on stdout.

SageMaker extracts metrics from the job's log with one regex per metric (`metric_definitions`);
the training entrypoint prints them with `format_metric_line` and the Pulumi program builds
those regexes with `metric_regex`, from the same format:

    metric test:f1=0.973118

`<split>` is `train`, `validation` or `test`; `<name>` is a metric name from evaluation.json.
"""

from __future__ import annotations

import math
import re

METRIC_SPLITS = ("train", "validation", "test")
METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
# The metrics a stack can set a quality bar on (`min_<metric>`), in training and live.
GATED_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")

# Plain text with no regex metacharacters: metric_regex uses it as it is.
METRIC_LINE_PREFIX = "metric "
METRIC_LINE_FORMAT = METRIC_LINE_PREFIX + "{split}:{name}={value:.6f}"
# One capture group and plain character classes only: SageMaker does not document its regex
# flavour, so stay inside what every flavour reads alike. Non-finite values are printed as
# `nan`/`inf` and deliberately not captured (SageMaker would reject them as metric values).
_NUMBER = r"[-+]?[0-9]+\.?[0-9]*"


def bar_key(metric: str) -> str:
    """The hyperparameter (and stack config key) holding a gated metric's quality bar."""
    return f"min_{metric}"


def format_metric_line(split: str, name: str, value: float) -> str:
    if not math.isfinite(value):
        return f"{METRIC_LINE_PREFIX}{split}:{name}={value}"
    return METRIC_LINE_FORMAT.format(split=split, name=name, value=value)


def metric_regex(split: str, name: str) -> str:
    """The regex, with one capture group for the value, that finds `split:name` in the log."""
    return f"{METRIC_LINE_PREFIX}{re.escape(split)}:{re.escape(name)}=({_NUMBER})"
