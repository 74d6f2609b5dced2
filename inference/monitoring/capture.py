"""Reading SageMaker data-capture files: a window's requests, decoded as the server decodes them.

The format (AWS, "Capture data from real-time endpoint", View captured data:
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html):
one JSON object per line,

    {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
                                         "data": "...", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "application/json",
                                         "mode": "OUTPUT", "data": "...", "encoding": "JSON"}},
     "eventMetadata": {"eventId": "...", "inferenceTime": "2022-02-14T17:25:49Z"},
     "eventVersion": "0"}

in files under s3://<capture prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<name>.jsonl, one folder
per hour of invocation. `encoding` is CSV or JSON for the content types the endpoint lists in
CaptureContentTypeHeader (the data is the body's text) and BASE64 otherwise.

Requests go through the server's own decoder (inference.codecs.Decoder), so a captured row
means what it meant to the model. Numeric CSV bodies are decoded many at a time (one decoder
call over their joined lines, which the decoder reads exactly as it reads each body alone);
any chunk the decoder refuses is decoded body by body to find and count the bad ones. Every
problem is counted by kind, never raised: a bad line costs that line only.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from inference.artifact import Schema
from inference.codecs import CSV, JSON, JSON_LINES, Decoder, RequestError, media_type
from inference.predictor import Batch

# Records decoded together: large enough that per-call costs vanish, small enough that a
# chunk's arrays stay a few tens of MB.
CHUNK_RECORDS = 20_000
# A file's hour folder may hold a few records from just before the hour (capture buffers).
HOUR_SLACK = timedelta(hours=1)
EXAMPLES_KEPT = 10
_HOUR_PATH = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})$")


@dataclass
class Problems:
    """Bad input, counted by kind, with the first few examples for the report."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, kind: str, where: str, detail: str = "") -> None:
        self.counts[kind] += 1
        if len(self.examples) < EXAMPLES_KEPT:
            self.examples.append(f"{where}: {kind}{f' ({detail})' if detail else ''}")

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class ReadSummary:
    files: int = 0
    files_outside_window: int = 0
    lines: int = 0
    records_in_window: int = 0
    records_outside_window: int = 0
    requests_decoded: int = 0
    rows: int = 0
    problems: Problems = field(default_factory=Problems)


@dataclass(frozen=True)
class Predictions:
    """What the endpoint answered for one request: a label per row, probabilities if sent."""

    labels: list[str]
    probabilities: NDArray[np.float64] | None


@dataclass(frozen=True)
class Chunk:
    batch: Batch
    # One entry per decoded request, in batch order.
    event_ids: list[str | None]
    row_counts: list[int]
    predictions: list[Predictions | None]


@dataclass
class _Pending:
    where: str
    content_type: str
    body: bytes
    output: Any
    event_id: str | None


def read_window(
    capture_dir: Path,
    schema: Schema,
    start: datetime,
    end: datetime,
    summary: ReadSummary,
    wanted: frozenset[str] = frozenset(),
    chunk_records: int = CHUNK_RECORDS,
) -> Iterator[Chunk]:
    """Every decoded request with inferenceTime in [start, end), chunk by chunk; answers
    carry probabilities for the `wanted` event ids (those with ground truth)."""
    decoder = Decoder(schema)
    classes = [str(label) for label in schema.classes]
    pending: list[_Pending] = []
    for path in _capture_files(capture_dir):
        if not _hour_may_overlap(path.parent, capture_dir, start, end):
            summary.files_outside_window += 1
            continue
        summary.files += 1
        try:
            content = path.read_bytes()
        except OSError as error:
            summary.problems.add("unreadable_file", str(path), str(error))
            continue
        for number, line in enumerate(content.split(b"\n"), start=1):
            if not line.strip():
                continue
            summary.lines += 1
            record = _record(line, f"{path.name}:{number}", start, end, summary)
            if record is not None:
                pending.append(record)
                if len(pending) >= chunk_records:
                    chunk = _decode(pending, decoder, classes, summary, wanted)
                    pending = []
                    if chunk is not None:
                        yield chunk
    if pending:
        chunk = _decode(pending, decoder, classes, summary, wanted)
        if chunk is not None:
            yield chunk


def _capture_files(capture_dir: Path) -> list[Path]:
    return sorted(path for path in capture_dir.rglob("*") if path.is_file())


def _hour_may_overlap(folder: Path, root: Path, start: datetime, end: datetime) -> bool:
    """False only for a file in a yyyy/mm/dd/hh folder well outside the window."""
    try:
        relative = folder.relative_to(root).as_posix()
    except ValueError:
        return True
    match = _HOUR_PATH.search(relative)
    if match is None:
        return True
    try:
        year, month, day, hour_of_day = (int(part) for part in match.groups())
        hour = datetime(year, month, day, hour_of_day, tzinfo=UTC)
    except ValueError:
        return True
    return hour - HOUR_SLACK < end and hour + timedelta(hours=1) + HOUR_SLACK > start


def parse_time(text: str) -> datetime:
    """ISO 8601 as captured ("2022-02-14T17:25:49Z", with or without fractions); naive is UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _record(
    line: bytes, where: str, start: datetime, end: datetime, summary: ReadSummary
) -> _Pending | None:
    problems = summary.problems
    try:
        # orjson: the envelope is SageMaker's, not the caller's; the request body inside it
        # still goes through the server's own decoder.
        record = orjson.loads(line)
    except (ValueError, RecursionError):
        problems.add("corrupt_line", where, "not JSON")
        return None
    capture = record.get("captureData") if isinstance(record, dict) else None
    metadata = record.get("eventMetadata") if isinstance(record, dict) else None
    if not isinstance(capture, dict) or not isinstance(metadata, dict):
        problems.add("corrupt_line", where, "no captureData or eventMetadata object")
        return None
    try:
        moment = parse_time(str(metadata["inferenceTime"]))
    except (KeyError, ValueError):
        problems.add("bad_inference_time", where, repr(metadata.get("inferenceTime"))[:40])
        return None
    if not start <= moment < end:
        summary.records_outside_window += 1
        return None
    summary.records_in_window += 1
    request = capture.get("endpointInput")
    if not isinstance(request, dict):
        problems.add("no_endpoint_input", where)
        return None
    body = _payload(request, where, problems)
    if body is None:
        return None
    event_id = metadata.get("eventId")
    return _Pending(
        where,
        _media_type(request.get("observedContentType")),
        body,
        capture.get("endpointOutput"),
        str(event_id) if event_id is not None else None,
    )


_MEDIA_TYPES: dict[Any, str] = {}


def _media_type(header: Any) -> str:
    """codecs.media_type, remembered: a window holds a handful of distinct headers."""
    known = _MEDIA_TYPES.get(header)
    if known is None:
        known = media_type(header if isinstance(header, str) else None)
        if len(_MEDIA_TYPES) < 1000:
            _MEDIA_TYPES[header] = known
    return known


def _payload(part: dict[str, Any], where: str, problems: Problems) -> bytes | None:
    data = part.get("data")
    encoding = str(part.get("encoding", "")).upper()
    if not isinstance(data, str):
        problems.add("no_data", where)
        return None
    if encoding in ("CSV", "JSON"):
        return data.encode("utf-8")
    if encoding == "BASE64":
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            problems.add("bad_base64", where)
            return None
    problems.add("unknown_encoding", where, repr(part.get("encoding"))[:40])
    return None


def _decode(
    pending: list[_Pending],
    decoder: Decoder,
    classes: list[str],
    summary: ReadSummary,
    wanted: frozenset[str],
) -> Chunk | None:
    batches: list[Batch] = []
    event_ids: list[str | None] = []
    row_counts: list[int] = []
    outputs: list[_Pending] = []

    def keep(batch: Batch, records: Sequence[_Pending], counts: Sequence[int]) -> None:
        batches.append(batch)
        event_ids.extend(record.event_id for record in records)
        row_counts.extend(counts)
        outputs.extend(records)

    header = [name.strip() for name in decoder.schema.names]
    joinable: list[_Pending] = []
    others: list[_Pending] = []
    for record in pending:
        (joinable if _joinable_csv(record, header) else others).append(record)
    if joinable:
        counts = [_line_count(record.body) for record in joinable]
        joined = b"\n".join(record.body.rstrip(b"\n") for record in joinable) + b"\n"
        try:
            batch = decoder.decode(CSV, joined)
        except RequestError:
            others = joinable + others
        else:
            if batch.rows == sum(counts):
                keep(batch, joinable, counts)
            else:
                others = joinable + others
    for record in others:
        try:
            batch = decoder.decode(record.content_type, record.body)
        except RequestError as error:
            summary.problems.add(f"request_{error.code}", record.where, error.message[:120])
            continue
        keep(batch, [record], [batch.rows])
    if not batches:
        return None
    summary.requests_decoded += len(row_counts)
    summary.rows += sum(row_counts)
    predictions = _predictions(outputs, row_counts, classes, summary.problems, wanted)
    batch = Batch(
        np.concatenate([b.numeric for b in batches]),
        np.concatenate([b.categorical for b in batches]),
    )
    return Chunk(batch, event_ids, row_counts, predictions)


def _joinable_csv(record: _Pending, header: list[str]) -> bool:
    """Bodies whose lines are rows whether decoded alone or joined: no quotes, no CR, not
    blank, no header line (the decoder drops a header only at the start of a body)."""
    body = record.body
    if record.content_type != CSV or b'"' in body or b"\r" in body or not body.strip():
        return False
    # The decoder's first row is the first non-empty line; only one that starts with the
    # first feature's name can be the header.
    first = body.lstrip(b"\n").split(b"\n", 1)[0]
    if not first.lstrip().startswith(header[0].encode("utf-8")):
        return True
    return [cell.strip() for cell in first.decode("utf-8", "replace").split(",")] != header


def _line_count(body: bytes) -> int:
    """The rows the decoder reads from a joinable body: its non-empty lines."""
    if b"\n" not in body.rstrip(b"\n"):
        return 1
    return sum(1 for line in body.split(b"\n") if line)


def _predictions(
    records: list[_Pending],
    row_counts: list[int],
    classes: list[str],
    problems: Problems,
    wanted: frozenset[str],
) -> list[Predictions | None]:
    answers: list[Predictions | None] = []
    for record, rows in zip(records, row_counts, strict=True):
        output = record.output
        if not isinstance(output, dict):
            answers.append(None)
            problems.add("no_endpoint_output", record.where)
            continue
        body = _payload(output, record.where, problems)
        if body is None:
            answers.append(None)
            continue
        try:
            parsed = _parse_output(
                _media_type(output.get("observedContentType")),
                body,
                classes,
                record.event_id in wanted,
            )
        except (ValueError, KeyError, TypeError, IndexError, RecursionError):
            answers.append(None)
            problems.add("unreadable_output", record.where)
            continue
        if len(parsed.labels) != rows:
            answers.append(None)
            problems.add(
                "output_row_mismatch", record.where, f"{len(parsed.labels)} answers, {rows} rows"
            )
            continue
        answers.append(parsed)
    return answers


def _document_entries(document: Any, classes: list[str], probabilities: bool) -> Predictions:
    entries = document["predictions"] if isinstance(document, dict) else document
    if not isinstance(entries, list):
        entries = [entries]
    return _entries(entries, classes, probabilities)


def _parse_output(
    content_type: str, body: bytes, classes: list[str], probabilities: bool = True
) -> Predictions:
    """The server's answers (inference.codecs.encode): JSON {"predictions": [...]}, JSON
    lines, or CSV `label[,p1,...]`; entries are {"label", "probabilities"} or bare labels."""
    if content_type == CSV:
        text = body.decode("utf-8")
        rows = [line.split(",") for line in text.splitlines() if line.strip()]
        labels = [row[0].strip().strip('"') for row in rows]
        if rows and all(len(row) == len(classes) + 1 for row in rows):
            return Predictions(labels, np.array([row[1:] for row in rows], dtype=np.float64))
        return Predictions(labels, None)
    if content_type == JSON_LINES:
        entries = [orjson.loads(line) for line in body.splitlines() if line.strip()]
    elif content_type == JSON or not content_type:
        return _document_entries(orjson.loads(body), classes, probabilities)
    else:
        raise ValueError(f"unknown output content type {content_type!r}")
    return _entries(entries, classes, probabilities)


def _entries(entries: list[Any], classes: list[str], probabilities: bool) -> Predictions:
    """Labels always; probabilities (in class order) only when asked: live quality needs
    them for labelled events alone, and they are most of the parsing cost."""
    labels = [
        _label_text(entry["label"] if isinstance(entry, dict) else entry) for entry in entries
    ]
    if not probabilities:
        return Predictions(labels, None)
    rows = []
    for entry in entries:
        given = entry.get("probabilities") if isinstance(entry, dict) else None
        if not isinstance(given, dict):
            return Predictions(labels, None)
        rows.append([float(given[name]) for name in classes])
    return Predictions(labels, np.array(rows, dtype=np.float64) if rows else None)


def _label_text(label: Any) -> str:
    """A label as the schema's class names are compared: JSON 1 and "1" are the same class."""
    if isinstance(label, float) and label.is_integer():
        return str(int(label))
    return str(label)
