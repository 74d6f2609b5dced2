"""SageMaker's custom attributes: the options a caller passes per request, and what goes back.

InvokeEndpoint forwards `CustomAttributes` verbatim to the container as the
X-Amzn-SageMaker-Custom-Attributes header: an opaque value of at most 1024 visible US-ASCII
characters (RFC 7230 field-value), and returns to the caller only what the container sets on
its answer (see the SageMaker Runtime InvokeEndpoint reference). SageMaker defines no syntax
inside it; ours is the common one, `key=value` pairs separated by `;` (or `,`). We read two
keys, `explain` and `probabilities`; every other pair is passed back untouched, in order,
with its separators, so a caller's trace id survives the round trip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inference.codecs import RequestError

# Requests' header names arrive lower-cased; the answer's is spelled as SageMaker documents it.
HEADER = "x-amzn-sagemaker-custom-attributes"
RESPONSE_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
EXPLAIN = "explain"
PROBABILITIES = "probabilities"
# SageMaker refuses longer values before they reach us; a direct caller gets the same rule.
MAX_LENGTH = 1024
_EXPLAIN_VALUES = {"true": True, "false": False}
_OFF = frozenset({"false", "0", "no", "off"})
# Visible US-ASCII, spaces and tabs (RFC 7230 field-vchar, with the whitespace between words).
_FIELD_VALUE = re.compile(r"[\x21-\x7e \t]*")
_PAIRS = re.compile(r"([^;,]*)([;,]?)")


@dataclass(frozen=True)
class CustomAttributes:
    explain: bool = False
    probabilities: bool = True
    # What the answer's custom-attributes header carries: the pairs we do not read.
    passed_back: str | None = None


def parse_custom_attributes(value: str | None) -> CustomAttributes:
    """The options of one request; RequestError 400 `bad_custom_attributes` when unusable."""
    if value is None or not value.strip():
        return CustomAttributes()
    if len(value) > MAX_LENGTH or not _FIELD_VALUE.fullmatch(value):
        raise RequestError(
            400,
            "bad_custom_attributes",
            f"the {HEADER} header must be at most {MAX_LENGTH} visible US-ASCII characters",
        )
    explain: bool | None = None
    probabilities = True
    kept: list[str] = []
    for pair, separator in _PAIRS.findall(value):
        if not pair and not separator:
            continue
        key, equals, raw = pair.partition("=")
        name = key.strip().lower()
        if name == EXPLAIN:
            setting = _EXPLAIN_VALUES.get(raw.strip().lower()) if equals else None
            if setting is None:
                raise RequestError(
                    400,
                    "bad_custom_attributes",
                    f"custom attribute {pair.strip()!r}: explain takes true or false",
                )
            if explain is not None and explain != setting:
                raise RequestError(
                    400,
                    "bad_custom_attributes",
                    "custom attributes set explain twice, to different values",
                )
            explain = setting
        elif name == PROBABILITIES:
            probabilities = raw.strip().lower() not in _OFF
        else:
            kept.append(pair + separator)
    passed_back = "".join(kept).strip().rstrip(";,").strip()
    return CustomAttributes(bool(explain), probabilities, passed_back or None)
