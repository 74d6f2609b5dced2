"""Validators the stack config and the training hyperparameters share.

A validator takes a raw value and returns it typed, or raises `Invalid` with what is allowed
("must be a whole number from 1 to 100"). `validate` runs a set of them and reports every
problem at once, each naming the key, the value and what is allowed, so one failed run is
enough to fix them all. How raw values arrive (Pulumi's text, SageMaker's JSON-encoded
strings) and how a key is shown stay with each caller.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from contracts.json_text import MAX_INTEGER_DIGITS

# ASCII digits only: int() and float() also read "1_000" and other scripts' digits ("١٢",
# full-width ones), and float() "nan" and "inf".
_WHOLE_NUMBER = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")


class Invalid(ValueError):
    """A value a validator rejects; the message says what is allowed ("must be ...")."""


Validator = Callable[[Any], Any]


def number_text(text: str) -> int | float:
    """The number that text spells in ASCII decimal: "7" -> 7, "0.5", ".5" and "5e-1" -> 0.5.

    Refused (Invalid): anything else, including "nan", "inf", "1_000", other scripts' digits,
    and text longer than MAX_INTEGER_DIGITS characters (Python's own limit for integers).
    Too large a number gives infinity; the caller decides whether that is allowed.
    """
    spelled = text.strip()
    if len(spelled) > MAX_INTEGER_DIGITS:
        raise Invalid(f"must be a number of at most {MAX_INTEGER_DIGITS} digits")
    if _WHOLE_NUMBER.match(spelled):
        return int(spelled)
    if _DECIMAL_NUMBER.match(spelled):
        return float(spelled)
    raise Invalid("must be a number")


def whole_number(low: int, high: int | None = None) -> Callable[[object], int]:
    """An int, a float without a fraction, or the text of a whole number, within the bounds."""
    allowed = f"from {low} to {high}" if high is not None else f">= {low}"

    def parse(value: object) -> int:
        number: int | None = None
        if isinstance(value, str) and _WHOLE_NUMBER.match(value.strip()):
            digits = len(value.strip().lstrip("+-"))
            if digits > MAX_INTEGER_DIGITS:
                # Out of any range given; without an upper bound, beyond what can be read.
                limit = f" (not one of {digits} digits; at most {MAX_INTEGER_DIGITS})"
                raise Invalid(
                    f"must be a whole number {allowed}{'' if high is not None else limit}"
                )
            number = int(value.strip())
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        if number is None or number < low or (high is not None and number > high):
            raise Invalid(f"must be a whole number {allowed}")
        return number

    return parse


def number_between(low: float, high: float) -> Callable[[object], float]:
    """A finite number (or its text) from `low` to `high`, both included."""

    def parse(value: object) -> float:
        number = math.nan
        # An integer too large for a float (OverflowError) is out of any float range.
        with contextlib.suppress(Invalid, OverflowError):
            if isinstance(value, str):
                number = float(number_text(value))
            elif isinstance(value, int | float) and not isinstance(value, bool):
                number = float(value)
        if not (math.isfinite(number) and low <= number <= high):
            raise Invalid(f"must be a number from {low:g} to {high:g}")
        return number

    return parse


def one_of(options: Sequence[str]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.strip() not in options:
            raise Invalid(f"must be one of: {', '.join(options)}")
        return value.strip()

    return parse


def validate(
    validators: Mapping[str, Validator],
    values: Mapping[str, object],
    shown: Callable[[str, object], str],
) -> tuple[dict[str, Any], list[str]]:
    """Each value through its key's validator: what passed, and one problem per value that did
    not, `shown(key, value)` followed by what is allowed. Every key of `values` needs one."""
    passed: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in values.items():
        try:
            passed[key] = validators[key](value)
        except Invalid as invalid:
            problems.append(f"{shown(key, value)} {invalid}")
    return passed, problems
