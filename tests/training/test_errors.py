"""Values in failure messages: escaped onto one line and cut, so the reason is never lost."""

from __future__ import annotations

import numpy as np
import pytest

from training.errors import SHOWN_CHARACTERS, shown, shown_key


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("abc", "abc"),
        ("\ud800", "\\ud800"),
        ("two\nlines", "two\\nlines"),
        ("it's", "it's"),
        ('say "it\'s"', 'say "it\'s"'),
        ("café", "café"),
        (["a", 1], '["a", 1]'),
        (None, "null"),
        (np.int64(1), "1"),
    ],
)
def test_a_value_is_shown_escaped(raw: object, text: str) -> None:
    assert shown(raw) == text
    shown(raw).encode("utf-8")


def test_a_long_value_is_cut_and_counted() -> None:
    assert shown("x" * 500) == "x" * SHOWN_CHARACTERS + "... (460 more characters)"
    assert shown_key("k" * 41) == "'" + "k" * SHOWN_CHARACTERS + "... (1 more character)'"
    assert shown_key("target") == "'target'"
