"""The routes: /ping, /invocations and /execution-parameters, with their errors and counters.

Every error body is JSON `{"error": {"code": ..., "message": ...}}`. A 500 is kept for a bug:
it is logged with its traceback but without the request's data.
"""

from __future__ import annotations

import bisect
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inference import codecs
from inference.artifact import Schema
from inference.codecs import Decoder, RequestError
from inference.http import Request, Response
from inference.predictor import OutOfRange, Predictor, RowScorer

log = logging.getLogger("inference")

CUSTOM_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"
_ALLOWED = {"/ping": "GET", "/invocations": "POST", "/execution-parameters": "GET"}
# Latency histogram buckets: 2^(k/4) microseconds, from 1 µs to over a minute.
_BUCKETS = np.array([2 ** (k / 4) for k in range(108)])
_BUCKET_LIST = _BUCKETS.tolist()
# Header values that let a single row take the fast path (anything else: the general one).
_FAST_CSV_TYPES = frozenset({"text/csv", "text/csv; charset=utf-8"})
_FAST_JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8"})
_FAST_ACCEPTS = frozenset({None, "*/*", "application/json"})


@dataclass
class Stats:
    """What one worker did since the last summary line."""

    started: float = field(default_factory=time.monotonic)
    statuses: Counter[int] = field(default_factory=Counter)
    violations: Counter[str] = field(default_factory=Counter)
    rows: int = 0
    latency_counts: np.ndarray = field(default_factory=lambda: np.zeros(len(_BUCKETS) + 1, int))

    def record(self, status: int, seconds: float | None) -> None:
        self.statuses[status] += 1
        if seconds is not None:
            self.latency_counts[bisect.bisect_left(_BUCKET_LIST, seconds * 1e6)] += 1

    def percentile_ms(self, fraction: float) -> float | None:
        total = int(self.latency_counts.sum())
        if not total:
            return None
        bucket = int(np.searchsorted(np.cumsum(self.latency_counts), fraction * total))
        upper = _BUCKETS[min(bucket, len(_BUCKETS) - 1)]
        return round(float(upper) / 1000, 3)

    def summary(self, worker: int) -> dict[str, Any]:
        return {
            "event": "summary",
            "worker": worker,
            "interval_seconds": round(time.monotonic() - self.started, 1),
            "requests": {str(status): count for status, count in sorted(self.statuses.items())},
            # Flat counts, for CloudWatch log metric filters (they cannot sum map values).
            "client_errors": sum(n for status, n in self.statuses.items() if 400 <= status < 500),
            "server_errors": sum(n for status, n in self.statuses.items() if status >= 500),
            "rows_predicted": self.rows,
            "schema_violations": dict(sorted(self.violations.items())),
            "schema_violations_total": sum(self.violations.values()),
            "latency_ms": {"p50": self.percentile_ms(0.5), "p99": self.percentile_ms(0.99)},
        }


class App:
    def __init__(self, predictor: Predictor, schema: Schema, max_payload_bytes: int) -> None:
        self._predictor = predictor
        self._schema = schema
        self._decoder = Decoder(schema)
        self._max_payload_bytes = max_payload_bytes
        self._classes = [c.item() if isinstance(c, np.generic) else c for c in predictor.classes]
        self.stats = Stats()
        self._row_scorer = predictor.row_scorer
        if self._row_scorer is not None:
            first, second = (json.dumps(c) for c in self._classes)
            names = [json.dumps(str(c)) for c in self._classes]
            self._fast_labels = (first, second)
            self._fast_template = (
                '{"predictions": [{"label": %s, "probabilities": {'
                + f"{names[0]}: %r, {names[1]}: %r"
                + "}}]}"
            )

    def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = self._route(request)
        except RequestError as error:
            if error.status in (400, 413):
                self.stats.violations[error.code] += 1
            response = self.error(error.status, error.code, error.message)
        except Exception:
            # A bug: the traceback goes to the log, the request's data does not.
            log.exception(
                "internal error", extra={"path": request.path, "bytes": len(request.body)}
            )
            response = self.error(500, "internal_error", "internal server error")
        invocation = request.path == "/invocations"
        self.stats.record(response.status, time.perf_counter() - started if invocation else None)
        return response

    @staticmethod
    def error(status: int, code: str, message: str) -> Response:
        return Response(status, codecs.error_body(code, message), codecs.JSON)

    def protocol_error(self, status: int, code: str, message: str) -> Response:
        """Framing failures caught by the HTTP layer (too large, malformed, too slow)."""
        if status in (400, 413):
            self.stats.violations[code] += 1
        self.stats.record(status, None)
        return self.error(status, code, message)

    def _route(self, request: Request) -> Response:
        allowed = _ALLOWED.get(request.path)
        if allowed is None:
            raise RequestError(404, "not_found", f"no route {request.path!r}; see /ping")
        if request.method != allowed:
            response = self.error(
                405, "method_not_allowed", f"{request.path} takes {allowed}, not {request.method}"
            )
            response.headers["Allow"] = allowed
            return response
        if request.path == "/ping":
            # The model was loaded and self-checked before this worker started listening.
            return Response(200)
        if request.path == "/execution-parameters":
            return Response(200, self._execution_parameters(), codecs.JSON)
        return self._invoke(request)

    def _invoke(self, request: Request) -> Response:
        fast = self._single_numeric_row(request)
        if fast is not None:
            return fast
        accept = codecs.negotiate(request.headers.get("accept"))
        content_type = codecs.media_type(request.headers.get("content-type"))
        batch = self._decoder.decode(content_type, request.body)
        try:
            probabilities = self._predictor.predict_proba(batch)
        except OutOfRange as error:
            raise RequestError(
                400,
                "out_of_range",
                f"row {error.row + 1}: the values are too large for the model "
                "(standardizing or scoring them overflows a 64-bit float)",
            ) from None
        labels = self._predictor.labels(probabilities).tolist()
        self.stats.rows += batch.rows
        show = _probabilities_wanted(request.headers.get(CUSTOM_ATTRIBUTES))
        body = codecs.encode(accept, labels, probabilities if show else None, self._classes)
        return Response(200, body, accept)

    def _single_numeric_row(self, request: Request) -> Response | None:
        """The commonest real-time request, one numeric row (CSV, or JSON numbers) answered as
        JSON, scored in plain Python (see RowScorer). None for anything else or anything
        unusual (quotes, several rows, a missing or bad value, the wrong width, other headers):
        the general path then answers, errors and all, so the two can never disagree on what
        is valid."""
        scorer = self._row_scorer
        headers = request.headers
        if (
            scorer is None
            or headers.get("accept") not in _FAST_ACCEPTS
            or CUSTOM_ATTRIBUTES in headers
        ):
            return None
        content_type = headers.get("content-type")
        if content_type in _FAST_CSV_TYPES:
            probability = _csv_row_probability(scorer, request.body)
        elif content_type in _FAST_JSON_TYPES:
            probability = _json_row_probability(scorer, request.body)
        else:
            return None
        if probability is None:
            return None
        complement = 1 - probability
        # np.argmax over [1 - p, p]: the first class on a tie.
        label = self._fast_labels[1 if probability > complement else 0]
        self.stats.rows += 1
        body = (self._fast_template % (label, complement, probability)).encode()
        return Response(200, body, codecs.JSON)

    def _execution_parameters(self) -> bytes:
        return json.dumps(
            {
                "MaxConcurrentTransforms": 1,
                "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": max(1, self._max_payload_bytes // 1_048_576),
            }
        ).encode()


def _csv_row_probability(scorer: RowScorer, body: bytes) -> float | None:
    if body.endswith(b"\n"):
        body = body[:-1]
    if b"\n" in body or b"\r" in body or b'"' in body:
        return None
    return scorer.probability_of_cells(body.split(b","))


def _json_row_probability(scorer: RowScorer, body: bytes) -> float | None:
    """One row of plain JSON numbers: `{"instances": [[...]]}`, `[[...]]` or `[...]`."""
    try:
        document = json.loads(body)
        if type(document) is dict and len(document) != 1:
            return None  # only a plain {"instances": ...}
        rows = codecs.json_rows(document)
    except (ValueError, RecursionError, RequestError):
        return None
    if len(rows) != 1 or type(rows[0]) is not list or len(rows[0]) != scorer.width:
        return None
    row = rows[0]
    for value in row:
        # Exactly float or int: no bool (an int to Python), null (missing) or text.
        if type(value) is not float and type(value) is not int:
            return None
    try:
        values = list(map(float, row))
    except OverflowError:  # an integer beyond any float
        return None
    return scorer.probability(values)


def _probabilities_wanted(attributes: str | None) -> bool:
    """`probabilities=false` among the custom attributes (`;` or `,` separated) turns them off."""
    if not attributes:
        return True
    for pair in attributes.replace(";", ",").split(","):
        key, _, value = pair.partition("=")
        if key.strip().lower() == "probabilities":
            return value.strip().lower() not in ("false", "0", "no", "off")
    return True
