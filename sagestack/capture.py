"""Writing traffic as SageMaker data capture writes it, for local mode and the benchmark.

One JSON object per line in <root>/<endpoint>/<variant>/yyyy/mm/dd/hh/<name>.jsonl (AWS,
"Capture data from real-time endpoint", View captured data); text content types are
captured as text (encoding CSV or JSON), others as BASE64, as the stack's
CaptureContentTypeHeader sets it (infra/serving.py).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_TEXT_ENCODINGS = {"text/csv": "CSV", "application/json": "JSON", "application/jsonlines": "JSON"}


@dataclass(frozen=True)
class Exchange:
    """One request and the endpoint's answer, as data capture sees them."""

    time: datetime
    request_type: str
    request: bytes
    response_type: str
    response: bytes
    event_id: str = ""


def capture_line(exchange: Exchange) -> str:
    return json.dumps(
        {
            "captureData": {
                "endpointInput": _part(exchange.request_type, exchange.request, "INPUT"),
                "endpointOutput": _part(exchange.response_type, exchange.response, "OUTPUT"),
            },
            "eventMetadata": {
                "eventId": exchange.event_id or str(uuid.uuid4()),
                "inferenceTime": exchange.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "eventVersion": "0",
        },
        separators=(",", ":"),
    )


def write_capture(
    root: Path, endpoint: str, variant: str, exchanges: Iterable[Exchange]
) -> list[Path]:
    """One file per hour of traffic, in the capture layout; the files written."""
    by_hour: dict[datetime, list[str]] = defaultdict(list)
    for exchange in exchanges:
        hour = exchange.time.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        by_hour[hour].append(capture_line(exchange))
    written = []
    for hour, lines in sorted(by_hour.items()):
        folder = root / endpoint / variant / hour.strftime("%Y/%m/%d/%H")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{hour.strftime('%M-%S')}-000-{uuid.uuid4().hex[:8]}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _part(content_type: str, body: bytes, mode: str) -> dict[str, Any]:
    media = content_type.split(";", 1)[0].strip().lower()
    encoding = _TEXT_ENCODINGS.get(media)
    data = body.decode("utf-8") if encoding else base64.b64encode(body).decode("ascii")
    return {
        "observedContentType": content_type,
        "mode": mode,
        "data": data,
        "encoding": encoding or "BASE64",
    }
