"""One exception per kind of failure; each message is written to output/failure as it is.

Values from outside (hyperparameters, column names) appear in messages through `shown`, so a
message stays one readable line that any encoding can write, however long or odd the value.
"""

from __future__ import annotations

import json

# A shown value's first characters: enough to recognise it, short enough for one line.
SHOWN_CHARACTERS = 40


class TrainingError(Exception):
    """A failure the user can fix; its message is the job's FailureReason."""

    kind = "Training failed"


class HyperparameterError(TrainingError):
    kind = "Invalid hyperparameters"


class DataError(TrainingError):
    kind = "Invalid training data"


class QualityBarError(TrainingError):
    kind = "Quality bar not met"


class TrainingStopped(TrainingError):
    kind = "Training stopped"


class ConversionError(TrainingError):
    """The model cannot be served as it was evaluated (see training/onnx_export.py)."""

    kind = "Model conversion failed"


def shown(raw: object) -> str:
    """A value as a message shows it: escaped (no line breaks, no unencodable characters) and
    cut after SHOWN_CHARACTERS characters, saying how many more there were."""
    text = raw if isinstance(raw, str) else _as_text(raw)
    if len(text) <= SHOWN_CHARACTERS:
        return _escaped(text)
    more = len(text) - SHOWN_CHARACTERS
    return f"{_escaped(text[:SHOWN_CHARACTERS])}... ({more} more character{'s' * (more > 1)})"


def shown_key(key: str) -> str:
    """A key as messages quote it: 'key', escaped and cut as values are."""
    return f"'{shown(key)}'"


def _escaped(text: str) -> str:
    # repr's escapes without its quotes: \n, \t, \x00, \ud800; printable text stays as it is.
    quoted = repr(text)
    return quoted[1:-1].replace("\\'", "'") if quoted[0] == "'" else quoted[1:-1]


def _as_text(raw: object) -> str:
    """JSON for what JSON holds (a list from hyperparameters.json), else str (a numpy label)."""
    try:
        return json.dumps(raw, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(raw)
