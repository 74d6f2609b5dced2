"""What CloudWatch reads from the containers: the inference server's summary log line and the
custom metrics, their namespace and dimensions.

The server writes one JSON summary line per worker and interval; the Pulumi program's log
metric filters turn some of its fields into metrics, and the `monitor` job puts its own
metrics beside them. Alarms on all of them carry the endpoint and variant dimensions.
"""

from __future__ import annotations

# Our custom metrics' namespace (log metric filters and the `monitor` job's PutMetricData).
NAMESPACE = "sagestack"
ENDPOINT_DIMENSION = "EndpointName"
VARIANT_DIMENSION = "VariantName"

# The summary line: `event` tells it from other log lines; `endpoint` and `variant` are copied
# from the deployment's environment and become the metrics' dimensions.
SUMMARY_EVENT_FIELD = "event"
SUMMARY_EVENT = "summary"
SUMMARY_ENDPOINT_FIELD = "endpoint"
SUMMARY_VARIANT_FIELD = "variant"
SERVER_ERRORS_FIELD = "server_errors"
SCHEMA_VIOLATIONS_FIELD = "schema_violations_total"
# Summary-line fields that log metric filters turn into metrics, and the metrics' names.
SERVER_ERRORS_METRIC = "ServerErrors"
SCHEMA_VIOLATIONS_METRIC = "SchemaViolations"
SUMMARY_METRICS = {
    SERVER_ERRORS_FIELD: SERVER_ERRORS_METRIC,
    SCHEMA_VIOLATIONS_FIELD: SCHEMA_VIOLATIONS_METRIC,
}

# The `monitor` job's metrics that alarms watch.
DATASET_DRIFT_METRIC = "DatasetDrift"
QUALITY_BELOW_BAR_METRIC = "QualityBelowBar"
ROWS_MONITORED_METRIC = "RowsMonitored"
