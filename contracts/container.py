"""The SageMaker container contracts: data channels and environment-variable names.

SageMaker's variables are named by SageMaker; the SAGESTACK_ ones are ours, set by the Pulumi
program (and by local mode) and read by the containers.
"""

from __future__ import annotations

from pathlib import Path

# SageMaker mounts everything under /opt/ml; the toolkits let tests and local runs move it.
BASE_DIR_ENV = "SAGEMAKER_BASE_DIR"
DEFAULT_BASE_DIR = Path("/opt/ml")

# Training: the data channels the entrypoint reads, under input/data/<channel>/.
TRAIN_CHANNEL = "train"
VALIDATION_CHANNEL = "validation"
TEST_CHANNEL = "test"
KNOWN_CHANNELS = (TRAIN_CHANNEL, VALIDATION_CHANNEL, TEST_CHANNEL)

# Hosting: SageMaker's variables.
PORT_ENV = "SAGEMAKER_BIND_TO_PORT"
WORKERS_ENV = "SAGEMAKER_MODEL_SERVER_WORKERS"
TIMEOUT_ENV = "SAGEMAKER_MODEL_SERVER_TIMEOUT"
LOG_LEVEL_ENV = "SAGEMAKER_CONTAINER_LOG_LEVEL"
# Hosting: ours.
MAX_PAYLOAD_ENV = "SAGESTACK_MAX_PAYLOAD_BYTES"
SUMMARY_INTERVAL_ENV = "SAGESTACK_SUMMARY_INTERVAL_SECONDS"
HOST_ENV = "SAGESTACK_BIND_HOST"
# How long a worker's event loop may stop beating before the arbiter replaces the worker.
WORKER_TIMEOUT_ENV = "SAGESTACK_WORKER_TIMEOUT_SECONDS"
# The most rows one `explain=true` request may ask for (413 beyond).
MAX_EXPLAINED_ROWS_ENV = "SAGESTACK_MAX_EXPLAINED_ROWS"
# Set by the Pulumi program for the server and the `monitor` job: the endpoint and variant
# the summary lines and the monitoring metrics name as their dimensions.
ENDPOINT_NAME_ENV = "SAGESTACK_ENDPOINT_NAME"
VARIANT_NAME_ENV = "SAGESTACK_VARIANT_NAME"

# The `monitor` Processing job: its window is END (ISO 8601) and START or WINDOW_MINUTES
# before it.
MONITOR_START_ENV = "SAGESTACK_MONITOR_START"
MONITOR_END_ENV = "SAGESTACK_MONITOR_END"
MONITOR_WINDOW_MINUTES_ENV = "SAGESTACK_MONITOR_WINDOW_MINUTES"
