"""The routes: /ping, /invocations and /execution-parameters, with their errors and counters.

`App` is a plain ASGI callable (the server is uvicorn, see inference.server); `App.handle` is
the synchronous core, from a whole Request to a Response, that the ASGI side calls once the
body has arrived. Every error body is JSON `{"error": {"code": ..., "message": ...}}`. A 500
is kept for a bug: it is logged with its traceback but without the request's data.
"""

from __future__ import annotations

import bisect
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from contracts.cloudwatch import (
    SCHEMA_VIOLATIONS_FIELD,
    SERVER_ERRORS_FIELD,
    SUMMARY_EVENT,
    SUMMARY_EVENT_FIELD,
)
from contracts.container import MAX_EXPLAINED_ROWS_ENV
from contracts.json_values import plain
from inference import codecs
from inference.artifact import Schema
from inference.attributes import HEADER as CUSTOM_ATTRIBUTES
from inference.attributes import RESPONSE_HEADER, parse_custom_attributes
from inference.codecs import Decoder, RequestError
from inference.environment import DEFAULT_MAX_EXPLAINED_ROWS
from inference.explain import Explainer, encode_explained
from inference.predictor import OutOfRange, Predictor

log = logging.getLogger("inference")

_ALLOWED = {"/ping": "GET", "/invocations": "POST", "/execution-parameters": "GET"}
# HEAD is GET without the body (RFC 9110 9.3.2); uvicorn leaves the body out.
_SAME_AS = {"HEAD": "GET"}
# Latency histogram buckets: 2^(k/4) microseconds, from 1 µs to over a minute.
_BUCKETS = np.array([2 ** (k / 4) for k in range(108)])
_BUCKET_LIST = _BUCKETS.tolist()

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


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
            SUMMARY_EVENT_FIELD: SUMMARY_EVENT,
            "worker": worker,
            "interval_seconds": round(time.monotonic() - self.started, 1),
            "requests": {str(status): count for status, count in sorted(self.statuses.items())},
            # Flat counts, for CloudWatch log metric filters (they cannot sum map values).
            "client_errors": sum(n for status, n in self.statuses.items() if 400 <= status < 500),
            SERVER_ERRORS_FIELD: sum(n for status, n in self.statuses.items() if status >= 500),
            "rows_predicted": self.rows,
            "schema_violations": dict(sorted(self.violations.items())),
            SCHEMA_VIOLATIONS_FIELD: sum(self.violations.values()),
            "latency_ms": {"p50": self.percentile_ms(0.5), "p99": self.percentile_ms(0.99)},
        }


class App:
    def __init__(
        self,
        predictor: Predictor,
        schema: Schema,
        max_payload_bytes: int,
        *,
        explainer: Explainer | None = None,
        max_explained_rows: int = DEFAULT_MAX_EXPLAINED_ROWS,
    ) -> None:
        self._predictor = predictor
        self._schema = schema
        self._explainer = explainer
        self._max_explained_rows = max_explained_rows
        self._decoder = Decoder(schema)
        self._max_payload_bytes = max_payload_bytes
        self._classes = [plain(c) for c in predictor.classes]
        self.stats = Stats()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan is off in the server; nothing else is spoken
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        request = Request(scope["method"], scope["path"], headers, b"")
        if request.path == "/invocations" and request.method == "POST":
            body = await self._read_body(headers.get("content-length"), receive)
            if body is None:
                return  # the client went away: nobody to answer
            if isinstance(body, Response):
                await _send(send, body)
                return
            request.body = body
        await _send(send, self.handle(request))

    async def _read_body(self, length: str | None, receive: Receive) -> bytes | Response | None:
        """The whole body, or a 413 as soon as it is known to be over the limit (from its
        Content-Length, before reading, or as a chunked body grows past it)."""
        limit = self._max_payload_bytes
        # The server's parser (llhttp) has already refused a Content-Length that is not digits.
        if length is not None and int(length) > limit:
            return self.protocol_error(
                413, "payload_too_large", f"the body has {int(length)} bytes; the limit is {limit}"
            )
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > limit:
                return self.protocol_error(
                    413, "payload_too_large", f"the body is over the limit of {limit} bytes"
                )
            if not message.get("more_body", False):
                return bytes(body)

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
        if _SAME_AS.get(request.method, request.method) != allowed:
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
        attributes = parse_custom_attributes(request.headers.get(CUSTOM_ATTRIBUTES))
        accept = codecs.negotiate(request.headers.get("accept"))
        if attributes.explain:
            self._check_explainable(accept)
        content_type = codecs.media_type(request.headers.get("content-type"))
        batch = self._decoder.decode(content_type, request.body)
        if attributes.explain and batch.rows > self._max_explained_rows:
            raise RequestError(
                413,
                "too_many_rows_to_explain",
                f"explain=true answers at most {self._max_explained_rows} rows per request "
                f"({MAX_EXPLAINED_ROWS_ENV}); this one has {batch.rows}: split it, or ask "
                "without explain=true",
            )
        try:
            probabilities = self._predictor.predict_proba(batch)
        except OutOfRange as error:
            raise _out_of_range(error.row) from None
        labels = self._predictor.labels(probabilities).tolist()
        self.stats.rows += batch.rows
        shown = probabilities if attributes.probabilities else None
        if attributes.explain and self._explainer is not None:
            explanations = self._explainer.explain(self._predictor.transform(batch), probabilities)
            finite = np.isfinite(explanations.contributions).all(axis=1)
            if not finite.all():
                raise _out_of_range(int(np.argmin(finite)))
            body = encode_explained(
                accept, labels, shown, self._classes, explanations, self._explainer.features
            )
        else:
            body = codecs.encode(accept, labels, shown, self._classes)
        response = Response(200, body, accept)
        if attributes.passed_back is not None:
            response.headers[RESPONSE_HEADER] = attributes.passed_back
        return response

    def _check_explainable(self, accept: str) -> None:
        if accept == codecs.CSV:
            raise RequestError(
                406,
                "explanations_need_json",
                "explain=true answers in application/json or application/jsonlines: a CSV "
                "answer has no room for the contributions; send Accept: application/json",
            )
        if self._explainer is None:
            raise RequestError(
                400,
                "explanations_unavailable",
                "this model was trained before explanations existed (its artifact has no "
                "explainer.json): retrain it with this training image to use explain=true",
            )

    def _execution_parameters(self) -> bytes:
        return json.dumps(
            {
                "MaxConcurrentTransforms": 1,
                "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": max(1, self._max_payload_bytes // 1_048_576),
            }
        ).encode()


async def _send(send: Send, response: Response) -> None:
    headers = [(b"content-length", b"%d" % len(response.body))]
    if response.content_type:
        headers.append((b"content-type", response.content_type.encode("latin-1")))
    headers.extend(
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in response.headers.items()
    )
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


def _out_of_range(row: int) -> RequestError:
    return RequestError(
        400,
        "out_of_range",
        f"row {row + 1}: the values are too large for the model "
        "(standardizing or scoring them overflows a 64-bit float)",
    )
