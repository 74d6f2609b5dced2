"""The SageMaker hosting contract: paths and environment variables, read once at start.

Every variable the server reads is read here, with its default and its validation (its name
is in contracts/container.py, shared with the Pulumi program that sets it); a bad value stops
the server at start with a message naming the variable, the value and what is allowed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from contracts.cloudwatch import SUMMARY_ENDPOINT_FIELD, SUMMARY_VARIANT_FIELD
from contracts.container import (
    BASE_DIR_ENV,
    DEFAULT_BASE_DIR,
    ENDPOINT_NAME_ENV,
    HOST_ENV,
    LOG_LEVEL_ENV,
    MAX_EXPLAINED_ROWS_ENV,
    MAX_PAYLOAD_ENV,
    PORT_ENV,
    SUMMARY_INTERVAL_ENV,
    TIMEOUT_ENV,
    VARIANT_NAME_ENV,
    WORKER_TIMEOUT_ENV,
    WORKERS_ENV,
)

DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_SECONDS = 60.0
# SageMaker real-time endpoints accept at most 6 MB per request.
DEFAULT_MAX_PAYLOAD_BYTES = 6_291_456
DEFAULT_SUMMARY_INTERVAL_SECONDS = 60.0
# Whole seconds (gunicorn's unit). It also bounds one request's compute: a request that holds
# a worker's loop this long is taken for a hang.
DEFAULT_WORKER_TIMEOUT_SECONDS = 20
# A tree model's row costs (features + 1) x 16 predictions to explain (inference/explain.py):
# 100 rows of a 100-tree forest on 30 features take about 0.25 s here (onnxruntime), far
# inside the worker timeout below and SageMaker's 60 s. Linear models could take far more;
# one bound keeps the contract simple.
DEFAULT_MAX_EXPLAINED_ROWS = 100
# SageMaker's SAGEMAKER_CONTAINER_LOG_LEVEL uses Python's numeric levels (20 = INFO).
LOG_LEVELS = {"10": "DEBUG", "20": "INFO", "30": "WARNING", "40": "ERROR", "50": "CRITICAL"}


class SettingsError(ValueError):
    """An environment variable with a value the server cannot use."""


@dataclass(frozen=True)
class ServerSettings:
    model_dir: Path
    host: str
    port: int
    workers: int
    timeout_seconds: float
    worker_timeout_seconds: int
    max_payload_bytes: int
    max_explained_rows: int
    summary_interval_seconds: float
    log_level: str
    # The summary line's endpoint and variant fields, when the deployment names them.
    summary_labels: dict[str, str]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        environ = os.environ if environ is None else environ
        base = Path(environ.get(BASE_DIR_ENV) or DEFAULT_BASE_DIR)
        level = environ.get(LOG_LEVEL_ENV, "20").strip().upper()
        level = LOG_LEVELS.get(level, level)
        if level not in LOG_LEVELS.values():
            raise SettingsError(
                f"{LOG_LEVEL_ENV}={environ[LOG_LEVEL_ENV]!r} is not a log level "
                f"(allowed: {', '.join(LOG_LEVELS)} or {', '.join(LOG_LEVELS.values())})"
            )
        return cls(
            model_dir=base / "model",
            host=environ.get(HOST_ENV, "0.0.0.0"),
            # 0 lets the kernel pick a free port (tests); the log line says which.
            port=_integer(environ, PORT_ENV, DEFAULT_PORT, 0, 65535),
            workers=_integer(environ, WORKERS_ENV, os.cpu_count() or 1, 1, 256),
            timeout_seconds=_number(environ, TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS),
            worker_timeout_seconds=_integer(
                environ, WORKER_TIMEOUT_ENV, DEFAULT_WORKER_TIMEOUT_SECONDS, 2, 3600
            ),
            max_payload_bytes=_integer(
                environ, MAX_PAYLOAD_ENV, DEFAULT_MAX_PAYLOAD_BYTES, 1, 1 << 31
            ),
            max_explained_rows=_integer(
                environ, MAX_EXPLAINED_ROWS_ENV, DEFAULT_MAX_EXPLAINED_ROWS, 1, 100_000
            ),
            summary_interval_seconds=_number(
                environ, SUMMARY_INTERVAL_ENV, DEFAULT_SUMMARY_INTERVAL_SECONDS
            ),
            log_level=level,
            summary_labels={
                label: environ[name].strip()
                for label, name in (
                    (SUMMARY_ENDPOINT_FIELD, ENDPOINT_NAME_ENV),
                    (SUMMARY_VARIANT_FIELD, VARIANT_NAME_ENV),
                )
                if environ.get(name, "").strip()
            },
        )


def _integer(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} is out of range (allowed: {low} to {high})")
    return value


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number of seconds") from None
    if not 0 < value < 86_400:
        raise SettingsError(f"{name}={value} is out of range (allowed: more than 0, under a day)")
    return value
