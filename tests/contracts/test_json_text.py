"""The strict JSON reader for outside text: every refusal is one named exception with a reason."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.json_text import MAX_DEPTH, MAX_INTEGER_DIGITS, JsonTextError, parse_json_text


@pytest.mark.parametrize(
    "text", ['{"C": 0.5, "id_columns": ["a", "b"]}', "[]", '"text"', "-12", " 1e3 ", "null"]
)
def test_strict_json_reads_as_json_does(text: str) -> None:
    assert parse_json_text(text) == json.loads(text)


def test_the_error_is_a_value_error() -> None:
    # Callers that caught json.loads' ValueError keep working.
    assert issubclass(JsonTextError, ValueError)


@pytest.mark.parametrize("opener", ["[", '{"a": '])
@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 5_000, 100_000])
def test_deep_nesting_is_refused_not_a_recursion_error(opener: str, levels: int) -> None:
    with pytest.raises(
        JsonTextError, match=rf"^nested too deeply \(more than {MAX_DEPTH} levels\)$"
    ):
        parse_json_text(opener * levels)


def test_nesting_up_to_the_limit_is_read() -> None:
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_json_text(text) is not None
    with pytest.raises(JsonTextError, match="nested too deeply"):
        parse_json_text(text, max_depth=MAX_DEPTH - 1)


@pytest.mark.parametrize("text", ["9" * 5000, "-" + "9" * 5000, '{"seed": ' + "1" * 10_000 + "}"])
def test_integers_with_too_many_digits_are_refused(text: str) -> None:
    with pytest.raises(JsonTextError, match=r"^a number with too many digits \(\d+; at most"):
        parse_json_text(text)


def test_integers_up_to_the_limit_are_read() -> None:
    assert parse_json_text("9" * MAX_INTEGER_DIGITS) == int("9" * MAX_INTEGER_DIGITS)


@pytest.mark.parametrize("text", ["1e400", "-1e400", "[1" + "0" * 400 + ".0]"])
def test_numbers_beyond_a_float_are_refused(text: str) -> None:
    with pytest.raises(JsonTextError, match=r"^a number too large to hold"):
        parse_json_text(text)


@pytest.mark.parametrize("name", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(name: str) -> None:
    with pytest.raises(JsonTextError, match=rf"^{name} is not a JSON number$"):
        parse_json_text(f'{{"C": {name}}}')


def test_duplicate_keys_are_refused_at_any_depth() -> None:
    with pytest.raises(JsonTextError, match=r"^duplicate key 'C'$"):
        parse_json_text('{"C": 0.5, "C": 2}')
    with pytest.raises(JsonTextError, match=r"^duplicate key 'algorithm'$"):
        parse_json_text('[{"algorithm": "a", "x": 1, "algorithm": "b"}]')


def test_a_long_duplicate_key_is_shortened() -> None:
    key = "k" * 10_000
    with pytest.raises(JsonTextError) as raised:
        parse_json_text(f'{{"{key}": 1, "{key}": 2}}')
    assert len(str(raised.value)) < 100


def test_syntax_errors_say_where() -> None:
    with pytest.raises(JsonTextError, match=r"^Expecting property name .* at line 1 column 2$"):
        parse_json_text("{not json")


@given(st.text(max_size=200))
def test_any_text_is_read_or_refused_with_the_named_error(text: str) -> None:
    refusal = None
    try:
        parse_json_text(text)
    except JsonTextError as error:
        refusal = error
    assert refusal is None or str(refusal)
