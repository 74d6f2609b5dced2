"""A strict JSON reader for text from outside: stack config values, SageMaker's config files.

`json.loads` alone takes too much on trust. It recurses once per nesting level (a few thousand
`[` raise RecursionError), gives a bare ValueError for an integer past Python's digit limit,
reads the non-JSON `NaN` and `Infinity`, turns `1e400` into infinity, and lets the last of two
equal object keys win without a word. `parse_json_text` refuses all of these with one named
exception, `JsonTextError`, whose message is the reason alone ("nested too deeply (more than
64 levels)"), for the caller to put after the name of the file or key.
"""

from __future__ import annotations

import json
import math
import re
import sys

# Deeper than any document we read needs (a config value, hyperparameters.json: two levels),
# and far below the interpreter's recursion limit, so it is refused before it can crash.
MAX_DEPTH = 64
# Python's own limit on converting integer text (sys.int_info.default_max_str_digits); the
# interpreter may be set lower, so the reader checks its own.
MAX_INTEGER_DIGITS = 4300


# Strings (skipped whole, brackets inside them do not count) and the brackets that nest.
_NESTING_TOKENS = re.compile(r'"(?:[^"\\]|\\[\s\S])*"|[\[\]{}]')


class JsonTextError(ValueError):
    """Text that is not strict JSON; the message is the reason (without the text)."""


def parse_json_text(text: str, *, max_depth: int = MAX_DEPTH) -> object:
    """The value of strict JSON text, or JsonTextError saying why not.

    Refused: syntax errors (with line and column), more than `max_depth` nested arrays and
    objects, integers of more than MAX_INTEGER_DIGITS digits, numbers too large for a float,
    the `NaN`/`Infinity`/`-Infinity` literals, and an object with the same key twice.
    """
    if _too_deep(text, max_depth):
        raise JsonTextError(f"nested too deeply (more than {max_depth} levels)")
    try:
        return json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_integer,
            parse_float=_float,
            parse_constant=_constant,
        )
    except JsonTextError:
        raise
    except RecursionError:
        raise JsonTextError(f"nested too deeply (more than {max_depth} levels)") from None
    except json.JSONDecodeError as invalid:
        raise JsonTextError(
            f"{invalid.msg} at line {invalid.lineno} column {invalid.colno}"
        ) from None
    except ValueError as invalid:  # any other refusal of the json module
        raise JsonTextError(str(invalid)) from None


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    value = dict(pairs)
    if len(value) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonTextError(f"duplicate key {_shown_key(key)}")
            seen.add(key)
    return value


def _integer(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise JsonTextError(
            f"a number with too many digits ({digits}; at most {MAX_INTEGER_DIGITS})"
        )
    # A lower limit set for this interpreter still holds: say so rather than crash.
    limit = sys.get_int_max_str_digits()
    if limit and digits > limit:
        raise JsonTextError(f"a number with too many digits ({digits}; at most {limit})")
    return int(text)


def _float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        shown = text if len(text) <= 20 else f"{text[:20]}..."
        raise JsonTextError(f"a number too large to hold ({shown})")
    return number


def _constant(name: str) -> object:
    raise JsonTextError(f"{name} is not a JSON number")


def _too_deep(text: str, max_depth: int) -> bool:
    """Checked before parsing, so the refusal is the same whether or not the text is closed."""
    if text.count("[") + text.count("{") <= max_depth:
        return False
    depth = 0
    for token in _NESTING_TOKENS.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > max_depth:
                return True
        elif bracket in ("]", "}"):
            depth -= 1
    return False


def _shown_key(key: str) -> str:
    shown = repr(key[:40])
    return shown if len(key) <= 40 else f"{shown}... ({len(key) - 40} more characters)"
