"""The metric line: how the entrypoint reports each metric on stdout.

SageMaker extracts metrics from the job's log with one regex per metric (`metric_definitions`);
the Pulumi program builds those regexes from the same format, so this module is the contract:

    metric test:f1=0.973118

`<split>` is `train`, `validation` or `test`; `<name>` is a metric name from evaluation.json.
"""

from __future__ import annotations

import math
import re

METRIC_LINE_FORMAT = "metric {split}:{name}={value:.6f}"
# One capture group and plain character classes only: SageMaker does not document its regex
# flavour, so stay inside what every flavour reads alike. Non-finite values are printed as
# `nan`/`inf` and deliberately not captured (SageMaker would reject them as metric values).
_NUMBER = r"[-+]?[0-9]+\.?[0-9]*"


def format_metric_line(split: str, name: str, value: float) -> str:
    if not math.isfinite(value):
        return f"metric {split}:{name}={value}"
    return METRIC_LINE_FORMAT.format(split=split, name=name, value=value)


def metric_regex(split: str, name: str) -> str:
    """The regex, with one capture group for the value, that finds `split:name` in the log."""
    return f"metric {re.escape(split)}:{re.escape(name)}=({_NUMBER})"
