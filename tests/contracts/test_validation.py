"""The validators the stack config and the training hyperparameters share."""

from __future__ import annotations

import pytest

from contracts.validation import (
    Invalid,
    number_between,
    number_text,
    one_of,
    validate,
    whole_number,
)


@pytest.mark.parametrize(("value", "number"), [("7", 7), (" 7 ", 7), (7, 7), (7.0, 7), ("-0", 0)])
def test_a_whole_number_as_text_or_number(value: object, number: int) -> None:
    assert whole_number(0, 10)(value) == number


@pytest.mark.parametrize(
    "value", ["11", "-1", "7.5", 7.5, "seven", "", True, None, "1_0", "١٢", [7]]
)
def test_anything_else_names_the_whole_numbers_allowed(value: object) -> None:
    with pytest.raises(Invalid, match=r"^must be a whole number from 0 to 10$"):
        whole_number(0, 10)(value)


def test_a_whole_number_without_a_ceiling() -> None:
    assert whole_number(2)("1000000") == 1_000_000
    with pytest.raises(Invalid, match=r"^must be a whole number >= 2$"):
        whole_number(2)(1)


@pytest.mark.parametrize(("value", "number"), [("0.5", 0.5), (1, 1.0), (" 0 ", 0.0)])
def test_a_number_in_range(value: object, number: float) -> None:
    assert number_between(0, 1)(value) == number


@pytest.mark.parametrize("value", ["1.5", -0.1, "nan", "inf", "high", False, None])
def test_a_number_out_of_range_names_the_range(value: object) -> None:
    with pytest.raises(Invalid, match=r"^must be a number from 0 to 1$"):
        number_between(0, 1)(value)


def test_one_of_lists_the_options() -> None:
    assert one_of(("grid", "random"))(" grid ") == "grid"
    with pytest.raises(Invalid, match=r"^must be one of: grid, random$"):
        one_of(("grid", "random"))("bayes")


def test_validate_reports_every_problem_with_key_and_value() -> None:
    validators = {"a": whole_number(1, 3), "b": one_of(("x",)), "c": whole_number(0)}
    passed, problems = validate(
        validators, {"a": "9", "b": "y", "c": "4"}, lambda key, value: f"{key}={value!r}"
    )
    assert passed == {"c": 4}
    assert problems == [
        "a='9' must be a whole number from 1 to 3",
        "b='y' must be one of: x",
    ]


@pytest.mark.parametrize("digits", [4301, 5000, 100_000])
def test_a_whole_number_with_too_many_digits_is_refused_not_a_crash(digits: int) -> None:
    with pytest.raises(
        Invalid, match=rf"^must be a whole number >= 1 \(not one of {digits} digits"
    ):
        whole_number(1)("9" * digits)
    with pytest.raises(Invalid, match=r"^must be a whole number from 1 to 10$"):
        whole_number(1, 10)(" " + "9" * digits)


@pytest.mark.parametrize("value", ["9" * 5000, "0." + "9" * 5000, "1e400", "-1e400"])
def test_a_number_with_too_many_digits_or_beyond_a_float_is_out_of_range(value: str) -> None:
    with pytest.raises(Invalid, match=r"^must be a number from 0 to 1$"):
        number_between(0, 1)(value)


@pytest.mark.parametrize(
    "value", ["0_1", "\uff10.\uff19", "\u0661", "0x1", "1e", ".", "infinity", "1,5"]
)
def test_a_number_is_ascii_decimal_text(value: str) -> None:
    with pytest.raises(Invalid, match=r"^must be a number from 0 to 1$"):
        number_between(0, 1)(value)


@pytest.mark.parametrize(
    ("text", "number"),
    [("7", 7), ("-7", -7), ("+7", 7), (" 0.5 ", 0.5), (".5", 0.5), ("5e-1", 0.5), ("1.", 1.0)],
)
def test_number_text(text: str, number: float) -> None:
    parsed = number_text(text)
    assert parsed == number
    assert type(parsed) is type(number)


@pytest.mark.parametrize("text", ["nan", "inf", "1_000", "١٢", "", "seven", "9" * 4301])
def test_number_text_refuses_anything_else(text: str) -> None:
    with pytest.raises(Invalid, match=r"^must be a number"):
        number_text(text)


@pytest.mark.parametrize("value", ["1" + "0" * 400, 10**400, -(10**400)])
def test_an_integer_too_large_for_a_float_is_out_of_range_not_a_crash(value: object) -> None:
    with pytest.raises(Invalid, match=r"^must be a number from 0 to 1$"):
        number_between(0, 1)(value)
