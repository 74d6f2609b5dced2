"""CloudWatch metrics of one monitoring run, in our namespace, with the endpoint's dimensions.

A window without enough rows puts NoData=1 and RowsMonitored only: drift and quality metrics
are left out, so an alarm on them sees missing data (not a breach) and the NoData alarm
speaks instead. Timestamps are the window's end, so reruns of a window land on one point.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from contracts.cloudwatch import (
    DATASET_DRIFT_METRIC,
    ENDPOINT_DIMENSION,
    NAMESPACE,
    QUALITY_BELOW_BAR_METRIC,
    ROWS_MONITORED_METRIC,
    VARIANT_DIMENSION,
)

QUALITY_METRIC_NAMES = {
    "accuracy": "LiveAccuracy",
    "precision": "LivePrecision",
    "recall": "LiveRecall",
    "f1": "LiveF1",
    "roc_auc": "LiveRocAuc",
}


def metric_values(result: dict[str, Any]) -> dict[str, float]:
    values = {
        ROWS_MONITORED_METRIC: float(result["rows"]),
        "BadRecords": float(sum(result["read"]["problems"].values())),
        "NoData": 1.0 if result["verdict"] == "insufficient data" else 0.0,
    }
    if result["verdict"] != "insufficient data":
        values["DriftedFeatures"] = float(result["drifted_features"])
        values["MaxFeaturePsi"] = float(result["max_feature_psi"])
        values[DATASET_DRIFT_METRIC] = 1.0 if result["dataset_drift"] else 0.0
        distance = result["prediction_drift"]["js_distance"]
        if distance is not None:
            values["PredictionDrift"] = float(distance)
    quality = result.get("quality")
    if quality is not None and quality["status"] != "insufficient data":
        values["LabelledRows"] = float(quality["rows"])
        values[QUALITY_BELOW_BAR_METRIC] = 1.0 if quality["failures"] else 0.0
        for metric, name in QUALITY_METRIC_NAMES.items():
            value = quality["metrics"].get(metric)
            if value is not None and math.isfinite(value):
                values[name] = float(value)
    return values


def put_metrics(
    values: dict[str, float], endpoint: str, variant: str, timestamp: datetime, client: Any = None
) -> None:
    if client is None:
        import boto3

        client = boto3.client("cloudwatch")
    dimensions = [
        {"Name": ENDPOINT_DIMENSION, "Value": endpoint},
        {"Name": VARIANT_DIMENSION, "Value": variant},
    ]
    data = [
        {
            "MetricName": name,
            "Dimensions": dimensions,
            "Timestamp": timestamp,
            "Value": value,
            "Unit": "Count"
            if name in {ROWS_MONITORED_METRIC, "BadRecords", "DriftedFeatures", "LabelledRows"}
            else "None",
        }
        for name, value in values.items()
    ]
    client.put_metric_data(Namespace=NAMESPACE, MetricData=data)
