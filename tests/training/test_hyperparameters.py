"""Hyperparameter parsing: SageMaker's text values, validation, and the errors' wording."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from training.errors import HyperparameterError
from training.hyperparameters import DEFAULTS, SPECS, Hyperparameters, parse_hyperparameters


def parse(raw: Mapping[str, object]) -> Hyperparameters:
    return parse_hyperparameters(raw)[0]


@pytest.mark.parametrize("raw", [0.5, "0.5", json.dumps("0.5"), " 0.5", "5e-1"])
def test_every_encoding_of_a_number_means_the_number(raw: object) -> None:
    assert parse({"C": raw}).C == 0.5


@pytest.mark.parametrize("raw", [100, "100", "100.0", json.dumps("100")])
def test_whole_numbers(raw: object) -> None:
    assert parse({"n_estimators": raw}).n_estimators == 100


@pytest.mark.parametrize("raw", ["none", "None", "null", "", json.dumps("none")])
def test_optional_values_take_none(raw: str) -> None:
    assert parse({"max_depth": raw}).max_depth is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("id,customer", ("id", "customer")),
        (" id , customer ,", ("id", "customer")),
        (json.dumps(["id", "customer"]), ("id", "customer")),
        (json.dumps(json.dumps(["id"])), ("id",)),
        ("", ()),
    ],
)
def test_id_columns(raw: str, expected: tuple[str, ...]) -> None:
    assert parse({"id_columns": raw}).id_columns == expected


def test_defaults_when_nothing_is_given() -> None:
    assert parse({}) == DEFAULTS
    assert DEFAULTS.algorithm == "logistic_regression"
    assert DEFAULTS.quality_bars() == {}


def test_quality_bars_lists_the_bars_that_are_set() -> None:
    assert parse({"min_f1": "0.8", "min_roc_auc": 0.9}).quality_bars() == {
        "f1": 0.8,
        "roc_auc": 0.9,
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"C": "-1"}, "C=-1 must be greater than 0"),
        ({"C": "abc"}, "C=abc must be a number"),
        ({"C": "nan"}, "C=nan must be a number"),
        ({"C": "true"}, "C=true must be a number"),
        ({"n_estimators": "1.5"}, "n_estimators=1.5 must be a whole number"),
        ({"n_estimators": "0"}, "n_estimators=0 must be a whole number >= 1"),
        ({"test_size": "1.5"}, "test_size=1.5 must be between 0 and 1, both excluded"),
        ({"test_size": "0"}, "test_size=0 must be between 0 and 1, both excluded"),
        ({"min_recall": "-0.1"}, "min_recall=-0.1 must be a number from 0 to 1"),
        ({"search": "bayes"}, "search=bayes must be one of: none, grid, random"),
        ({"class_weight": "auto"}, "class_weight=auto must be one of: none, balanced"),
        ({"search_folds": "1"}, "search_folds=1 must be a whole number >= 2"),
        ({"target": ""}, "target= must not be empty"),
    ],
)
def test_invalid_values_name_key_value_and_what_is_allowed(
    raw: dict[str, object], message: str
) -> None:
    with pytest.raises(HyperparameterError) as raised:
        parse(raw)
    assert message in str(raised.value)


def test_unknown_keys_list_the_known_ones() -> None:
    with pytest.raises(HyperparameterError) as raised:
        parse({"n_estimator": "10"})
    message = str(raised.value)
    assert message.startswith("unknown key 'n_estimator' (known keys: C, algorithm, ")
    assert all(key in message for key in SPECS)


def test_sagemaker_keys_are_ignored() -> None:
    raw = {"sagemaker_program": "x", "sagemaker_job_name": "y", "_tuning_objective_metric": "z"}
    assert parse(raw) == DEFAULTS


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(HyperparameterError) as raised:
        parse({"C": "-1", "seed": "x", "bogus": "1"})
    message = str(raised.value)
    assert "C=-1" in message
    assert "seed=x" in message
    assert "unknown key 'bogus'" in message


def test_warns_about_keys_the_algorithm_ignores() -> None:
    _, warnings = parse_hyperparameters({"algorithm": "random_forest", "C": "2", "seed": "1"})
    assert warnings == ["C is ignored by algorithm=random_forest"]


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(HyperparameterError) as raised:
        parse({"C": "x" * 500})
    assert len(str(raised.value)) < 100


@given(st.floats(min_value=1e-6, max_value=1e6, allow_nan=False))
def test_any_positive_float_round_trips_through_every_encoding(value: float) -> None:
    for raw in (value, str(value), json.dumps(str(value)), repr(value)):
        parsed = parse({"C": raw})
        assert value == parsed.C


@given(st.text(max_size=30))
def test_arbitrary_text_never_crashes_the_parser(text: str) -> None:
    for key in SPECS:
        with contextlib.suppress(HyperparameterError):
            parse({key: text})
