"""The validators the stack config and the training hyperparameters share."""

from __future__ import annotations

import pytest

from contracts.validation import Invalid, number_between, one_of, validate, whole_number


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
