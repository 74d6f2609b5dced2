"""Request bodies in, responses out: the content types the server speaks.

Decoders turn a body into a Batch (numeric and categorical values in schema order) and reject
bad input with a RequestError that says what is wrong and where (1-based row, feature name).
Numeric features take numbers; missing values (an empty CSV field, JSON null, NaN) go to the
model's imputers; infinity is refused. Categorical features take text, kept exactly as sent
(numbers and booleans are read as their text, as training did); blank text is a missing value.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from inference.artifact import Schema
from inference.predictor import Batch, FloatArray

CSV = "text/csv"
JSON = "application/json"
JSON_LINES = "application/jsonlines"
NPY = "application/x-npy"
# Accepted spellings of the same types.
_ALIASES = {"application/jsonl": JSON_LINES, "application/x-jsonlines": JSON_LINES}
REQUEST_TYPES = (CSV, JSON, JSON_LINES, NPY)
# The .npy header readers numpy makes public, by format version (3.0 differs from 2.0 only in
# allowing UTF-8 field names, which a plain numeric array never has).
_NPY_HEADERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}
RESPONSE_TYPES = (JSON, CSV, JSON_LINES)


class RequestError(Exception):
    """A request the server refuses: HTTP status, a stable code, and a message for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def media_type(header: str | None) -> str:
    """`Text/CSV; charset=utf-8` -> `text/csv`."""
    if not header:
        return ""
    value = header.split(";", 1)[0].strip().lower()
    return _ALIASES.get(value, value)


def negotiate(accept: str | None) -> str:
    """The best response type for an Accept header; JSON when anything goes."""
    if not accept or not accept.strip():
        return JSON
    offers: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        pieces = [piece.strip() for piece in part.split(";")]
        kind = _ALIASES.get(pieces[0].lower(), pieces[0].lower())
        quality = 1.0
        for parameter in pieces[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        if kind in ("*/*", "application/*"):
            kind = JSON
        elif kind == "text/*":
            kind = CSV
        if kind in RESPONSE_TYPES:
            # Highest quality first; on a tie, the order the client listed them in.
            offers.append((-quality, position, kind))
    if not offers:
        raise RequestError(
            406,
            "not_acceptable",
            f"cannot answer in {accept!r}; supported: {', '.join(RESPONSE_TYPES)}",
        )
    return min(offers)[2]


class Decoder:
    """Request bodies to Batches for one schema. The common shapes (every feature numeric,
    rows as lists) take one bulk numpy conversion; anything else, and any bad value, takes
    the path that checks each value and says where a bad one is."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._names = schema.names
        self._width = len(self._names)
        self._numeric_positions = schema.numeric_positions
        self._categorical_positions = schema.categorical_positions
        self._all_numeric = not self._categorical_positions
        self._index_of = {name: i for i, name in enumerate(self._names)}
        self._header = list(self._names)

    def decode(self, content_type: str, body: bytes) -> Batch:
        if not body.strip():
            raise RequestError(400, "empty_body", "the request body is empty")
        decode = self._decoders().get(content_type)
        if decode is None:
            raise RequestError(
                415,
                "unsupported_content_type",
                f"Content-Type {content_type or '(none)'!r} is not supported; "
                f"use one of: {', '.join(REQUEST_TYPES)}",
            )
        return decode(body)

    def _decoders(self) -> dict[str, Callable[[bytes], Batch]]:
        return {CSV: self._csv, JSON: self._json, JSON_LINES: self._json_lines, NPY: self._npy}

    # -- CSV ------------------------------------------------------------------------------

    def _csv(self, body: bytes) -> Batch:
        text = _text(body)
        quoted = '"' in text
        records = self._check_csv_widths(text, quoted)
        if not quoted and "\r" not in text:
            first = text.lstrip("\n").split("\n", 1)[0]
            skip = 1 if [cell.strip() for cell in first.split(",")] == self._header else 0
            if records - skip <= 0:
                raise RequestError(400, "empty_body", "the CSV body holds no data row")
            if self._all_numeric:
                values = _numeric_text(text, skip, records - skip, self._width)
                if values is not None:
                    self._check_finite(values)
                    return Batch(values, np.empty((values.shape[0], 0), dtype=object))
            lines = [line for line in text.split("\n") if line]
            rows = [line.split(",") for line in lines[skip:]]
        else:
            try:
                reader = csv.reader(io.StringIO(text, newline=""), strict=True)
                rows = [row for row in reader if row]
            except csv.Error as error:
                raise RequestError(400, "malformed_csv", f"malformed CSV: {error}") from None
            if rows and [cell.strip() for cell in rows[0]] == self._header:
                rows = rows[1:]
        if not rows:
            raise RequestError(400, "empty_body", "the CSV body holds no data row")
        for index, row in enumerate(rows):
            if len(row) != self._width:  # a guard: the separator count has caught these
                raise RequestError(
                    400,
                    "wrong_feature_count",
                    f"row {index + 1} has {len(row)} values; the model takes {self._width} "
                    f"({_names(self.schema)})",
                )
        if self._all_numeric:
            cells = [cell for row in rows for cell in row]
        else:
            cells = [row[position] for row in rows for position in self._numeric_positions]
        numeric = self._numbers(cells, len(rows))
        categorical = np.empty((len(rows), len(self._categorical_positions)), dtype=object)
        for target, position in enumerate(self._categorical_positions):
            for index, row in enumerate(rows):
                value = row[position]
                categorical[index, target] = value if value.strip() else None
        return Batch(numeric, categorical)

    def _check_csv_widths(self, text: str, quoted: bool) -> int:
        """Every record's separator count, before any record is split into cells: a line of a
        million commas is refused in a millisecond, not parsed into a million cells. Returns
        the number of records (blank lines are none).

        Counted outside quotes (text.split('"')'s even pieces are the unquoted ones; an
        escaped quote only adds an empty piece), so a quoted comma or newline is no separator.
        """
        if quoted and text.count('"') % 2:
            # Well-formed CSV holds quotes in pairs (an escaped quote is a pair too).
            raise RequestError(400, "malformed_csv", "malformed CSV: a quoted field is not closed")
        # A quoted stretch becomes one placeholder cell, so a record that is all quotes stays.
        outside = "q".join(text.split('"')[::2]) if quoted else text
        if "\r" in outside:  # the csv module ends a record at \r\n, \r or \n alike
            outside = outside.replace("\r\n", "\n").replace("\r", "\n")
        wanted = self._width - 1
        number = 0
        for line in outside.split("\n"):
            if not line:
                continue  # blank lines are no records (both parsers skip them)
            number += 1
            found = line.count(",")
            if found != wanted:
                raise RequestError(
                    400,
                    "wrong_feature_count",
                    f"row {number - self._header_rows(text, number)} has {found + 1} values; "
                    f"the model takes {self._width} ({_names(self.schema)})",
                )
        return number

    def _header_rows(self, text: str, bad_record: int) -> int:
        """1 when the body's first record (known to be of the right width unless it is the bad
        one) names the features: rows are numbered from the first data row."""
        if bad_record == 1:
            return 0
        try:
            first = next(csv.reader(io.StringIO(text, newline="")), [])
        except csv.Error:
            return 0
        return 1 if [cell.strip() for cell in first] == self._header else 0

    def _numbers(self, cells: list[str], rows: int) -> FloatArray:
        """Numeric cells, row by row, as a (rows, numeric features) array."""
        columns = len(self._numeric_positions)
        try:
            # One C-level parse for every cell; empty cells and bad values fail it. It reads
            # text as float() does, so what _parse_number refuses beyond float() is sent there.
            joined = "".join(cells)
            if not joined.isascii() or "_" in joined:
                raise ValueError(joined)
            values = np.array(cells, dtype=np.float64).reshape(rows, columns)
        except ValueError:
            values = np.array(
                [
                    _parse_number(
                        cell,
                        index // columns,
                        self._names[self._numeric_positions[index % columns]],
                    )
                    for index, cell in enumerate(cells)
                ],
                dtype=np.float64,
            ).reshape(rows, columns)
        self._check_finite(values)
        return values

    def _check_finite(self, values: FloatArray) -> None:
        infinite = np.isinf(values)
        if infinite.any():
            row, column = (int(i) for i in np.argwhere(infinite)[0])
            name = self._names[self._numeric_positions[column]]
            raise _not_finite(row, name, str(values[row, column]))

    # -- JSON -----------------------------------------------------------------------------

    def _json(self, body: bytes) -> Batch:
        document = json_rows(_load_json(body, "JSON"))
        if self._all_numeric and b"true" not in body and b"false" not in body:
            fast = self._numeric_lists(document)
            if fast is not None:
                return fast
        return self.decode_rows(document)

    def _numeric_lists(self, rows: list[Any]) -> Batch | None:
        """Rows of numbers (or null) in schema order, in one conversion; None to take the
        checking path (objects, ragged rows, text that is not a number)."""
        try:
            values = np.array(rows, dtype=np.float64)
        except (ValueError, TypeError, OverflowError):
            return None
        if values.shape != (len(rows), self._width):
            return None
        self._check_finite(values)
        return Batch(values, np.empty((len(rows), 0), dtype=object))

    def _json_lines(self, body: bytes) -> Batch:
        rows: list[Any] = []
        for number, line in enumerate(_text(body).splitlines(), start=1):
            if not line.strip():
                continue
            row = _load_json(line.encode(), f"JSON on line {number}")
            if isinstance(row, dict) and "features" in row:
                row = row["features"]
            rows.append(row)
        if not rows:
            raise RequestError(400, "empty_body", "the JSON lines body holds no row")
        return self.decode_rows(rows)

    def decode_rows(self, rows: Sequence[Any]) -> Batch:
        """Rows as JSON gives them: lists in schema order, or objects of name to value."""
        names = self._names
        width = self._width
        index_of = self._index_of
        ordered: list[Sequence[Any]] = []
        for number, row in enumerate(rows, start=1):
            if isinstance(row, dict):
                unknown = [key for key in row if key not in index_of]
                if unknown:
                    raise RequestError(
                        400,
                        "unknown_feature",
                        f"row {number} names unknown features {unknown[:5]} "
                        f"(the model takes: {_names(self.schema)})",
                    )
                missing = [name for name in names if name not in row]
                if missing:
                    raise RequestError(
                        400,
                        "missing_feature",
                        f"row {number} lacks features {missing[:5]}; send null for a missing value",
                    )
                ordered.append([row[name] for name in names])
            elif isinstance(row, list):
                if len(row) != width:
                    raise RequestError(
                        400,
                        "wrong_feature_count",
                        f"row {number} has {len(row)} values; the model takes {width} "
                        f"({_names(self.schema)})",
                    )
                ordered.append(row)
            else:
                raise RequestError(
                    400,
                    "malformed_json",
                    f"row {number} is {type(row).__name__}; rows are lists of values or "
                    "objects of feature names to values",
                )
        numeric = np.empty((len(ordered), len(self.schema.numeric_positions)), dtype=np.float64)
        categorical = np.empty((len(ordered), len(self.schema.categorical_positions)), dtype=object)
        numeric_positions = self._numeric_positions
        categorical_positions = self._categorical_positions
        for index, row in enumerate(ordered):
            for target, position in enumerate(numeric_positions):
                numeric[index, target] = _json_number(row[position], index, names[position])
            for target, position in enumerate(categorical_positions):
                categorical[index, target] = _json_text(row[position], index, names[position])
        return Batch(numeric, categorical)

    # -- NPY ------------------------------------------------------------------------------

    def _npy(self, body: bytes) -> Batch:
        if self.schema.categorical_positions:
            raise RequestError(
                415,
                "unsupported_content_type",
                f"{NPY} carries numbers only and this model has categorical features; "
                f"use {CSV}, {JSON} or {JSON_LINES}",
            )
        array = _plain_npy(body)
        if array.ndim == 1:
            array = array.reshape(1, -1)
        if array.ndim != 2 or array.shape[1] != len(self.schema.features):
            raise RequestError(
                400,
                "wrong_feature_count",
                f"the array has shape {array.shape}; the model takes rows of "
                f"{len(self.schema.features)} values",
            )
        if array.shape[0] == 0:
            raise RequestError(400, "empty_body", "the array holds no row")
        if array.dtype.kind not in "biuf":
            raise RequestError(400, "not_a_number", f"the array holds {array.dtype}, not numbers")
        values = array.astype(np.float64)
        self._check_finite(values)
        return Batch(values, np.empty((values.shape[0], 0), dtype=object))


def _plain_npy(body: bytes) -> NDArray[Any]:
    """A .npy body holding one plain array whose header's shape and type match its bytes;
    anything else (a zip or .npz, an object array, a header declaring more than was sent)
    is refused from the header alone, before any memory is taken for the values."""
    stream = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = _NPY_HEADERS.get(version)
        if read_header is None:
            raise ValueError(f"unsupported .npy version {version}")
        shape, fortran_order, dtype = read_header(stream, max_header_size=10_000)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as error:
        raise RequestError(400, "malformed_npy", f"not a .npy array: {error}") from None
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None:
        raise RequestError(400, "not_a_number", f"the array holds {dtype}, not numbers")
    count = math.prod(shape)
    data = body[stream.tell() :]
    if count * dtype.itemsize != len(data):
        raise RequestError(
            400,
            "malformed_npy",
            f"the .npy header declares shape {shape} of {dtype} ({count * dtype.itemsize} "
            f"bytes); the body holds {len(data)}",
        )
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape, order="F" if fortran_order else "C")


def _numeric_text(text: str, skip: int, rows: int, width: int) -> FloatArray | None:
    """Comma-separated rows of numbers in one C-level parse (numpy's loadtxt reader: 72 ms for
    6 MB here, as fast as pandas' C parser was, and 8 µs for one row), or None when anything
    in them is not a number it reads (an empty field, a word, `1_0`): the checking path then
    reads them cell by cell with float() and says where a bad one is."""
    try:
        values = np.loadtxt(
            io.StringIO(text),
            delimiter=",",
            dtype=np.float64,
            comments=None,
            ndmin=2,
            skiprows=skip,
        )
    except ValueError:
        return None
    if values.shape != (rows, width):
        return None
    return values


def encode(
    content_type: str,
    labels: Sequence[Any],
    probabilities: FloatArray | None,
    classes: Sequence[Any],
) -> bytes:
    """The response body: one entry per row, with the label and (unless off) probabilities."""
    keys = [str(label) for label in classes]
    if content_type == CSV:
        lines = []
        for index, label in enumerate(labels):
            cells = [_csv_cell(label)]
            if probabilities is not None:
                cells.extend(repr(float(p)) for p in probabilities[index])
            lines.append(",".join(cells))
        return ("\n".join(lines) + "\n").encode()
    # Each entry written from a template: twice as fast as building dicts for json.dumps on
    # large batches. Class names and labels are JSON-escaped; probabilities are finite floats,
    # whose repr is valid JSON.
    names = [json.dumps(key) for key in keys]
    # A few classes, many rows: each label is JSON-encoded once.
    texts = {label: json.dumps(label) for label in set(labels)}
    label_texts = [texts[label] for label in labels]
    if probabilities is None:
        entries = [f'{{"label": {label}}}' for label in label_texts]
    else:
        template = (
            '{"label": %s, "probabilities": {' + ", ".join(f"{name}: %s" for name in names) + "}}"
        )
        # repr column by column (a C-level loop), then one format per row.
        columns = [list(map(repr, column)) for column in probabilities.T.tolist()]
        entries = [template % entry for entry in zip(label_texts, *columns, strict=True)]
    if content_type == JSON_LINES:
        return ("\n".join(entries) + "\n").encode()
    return ('{"predictions": [' + ", ".join(entries) + "]}").encode()


def json_rows(document: Any) -> list[Any]:
    """The rows of a JSON body: `{"instances": rows}`, `rows`, or one bare row of values."""
    if isinstance(document, dict):
        if "instances" not in document:
            raise RequestError(
                400,
                "malformed_json",
                'a JSON object body needs an "instances" list of rows',
            )
        document = document["instances"]
    if not isinstance(document, list):
        raise RequestError(400, "malformed_json", "the JSON body must be a list of rows")
    if document and not isinstance(document[0], list | dict):
        # A bare list of values: one row.
        document = [document]
    if not document:
        raise RequestError(400, "empty_body", "the JSON body holds no row")
    rows: list[Any] = document
    return rows


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RequestError(
            400, "not_utf8", f"the body is not UTF-8 text (byte {error.start})"
        ) from None


def _load_json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:
        raise RequestError(400, "malformed_json", f"malformed {what}: {error}") from None


def _parse_number(cell: str, index: int, name: str) -> float:
    text = cell.strip()
    if not text:
        return math.nan
    try:
        # float() also reads digits of any script ("١٢") and underscores ("1_000"), which the
        # training data's reader (pandas) does not: such a cell is no number here either.
        if not text.isascii() or "_" in text:
            raise ValueError(text)
        return float(text)
    except ValueError:
        raise RequestError(
            400,
            "not_a_number",
            f"row {index + 1}, feature {name!r}: {_shown(text)} is not a number",
        ) from None


def _json_number(value: Any, index: int, name: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RequestError(
            400,
            "not_a_number",
            f"row {index + 1}, feature {name!r}: {_shown(json.dumps(value))} is not a number",
        )
    try:
        number = _parse_number(value, index, name) if isinstance(value, str) else float(value)
    except OverflowError:  # an integer beyond any float
        raise _not_finite(index, name, str(value)) from None
    if math.isinf(number):
        raise _not_finite(index, name, str(value))
    return number


def _json_text(value: Any, index: int, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, int | str):
        text = str(value)
        return text if text.strip() else None
    raise RequestError(
        400,
        "not_a_category",
        f"row {index + 1}, feature {name!r}: {_shown(json.dumps(value))} is not a category",
    )


def _not_finite(index: int, name: str, value: str) -> RequestError:
    return RequestError(
        400,
        "not_finite",
        f"row {index + 1}, feature {name!r}: {_shown(value)} is not finite; send null or an "
        "empty field for a missing value",
    )


def _names(schema: Schema) -> str:
    names = list(schema.names)
    shown = ", ".join(names[:10])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 10 else "")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _csv_cell(value: Any) -> str:
    text = str(value)
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"\n') else text
