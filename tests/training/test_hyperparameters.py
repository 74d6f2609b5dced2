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
        ({"n_estimators": "0"}, "n_estimators=0 must be a whole number from 1 to 10000"),
        ({"test_size": "1.5"}, "test_size=1.5 must be between 0 and 1, both excluded"),
        ({"test_size": "0"}, "test_size=0 must be between 0 and 1, both excluded"),
        ({"min_recall": "-0.1"}, "min_recall=-0.1 must be a number from 0 to 1"),
        ({"search": "bayes"}, "search=bayes must be one of: none, grid, random"),
        ({"class_weight": "auto"}, "class_weight=auto must be one of: none, balanced"),
        ({"search_folds": "1"}, "search_folds=1 must be a whole number from 2 to 20"),
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
    assert message.startswith("unknown key 'n_estimator' (did you mean 'n_estimators'?); ")
    assert "known keys: C, algorithm, " in message
    assert all(key in message for key in SPECS)


def test_the_known_keys_are_listed_once_however_many_keys_are_unknown() -> None:
    with pytest.raises(HyperparameterError) as raised:
        parse({"Cc": 1, "seeed": 2, "zzzz": 3})
    message = str(raised.value)
    assert message.startswith(
        "unknown key 'Cc' (did you mean 'C'?); unknown key 'seeed' (did you mean 'seed'?); "
        "unknown key 'zzzz'; known keys: C, algorithm, "
    )
    assert message.count("known keys:") == 1
    assert message.count("min_roc_auc") == 1


def test_a_huge_file_gives_a_short_reason() -> None:
    raw = {f"bogus_{index}": "x" * 100 for index in range(100_000)}
    raw["C"] = "-1"
    with pytest.raises(HyperparameterError) as raised:
        parse(raw)
    message = str(raised.value)
    assert len(message) < 2000
    assert message.count("unknown key") == 20
    assert message.endswith("; and 99981 more problems")
    assert message.count("known keys:") == 1


def test_a_huge_value_is_cut_and_counted() -> None:
    with pytest.raises(HyperparameterError) as raised:
        parse({"id_columns": "[" + "1," * 5_000_000 + "1]"})
    message = str(raised.value)
    assert len(message) < 300
    assert "id_columns=[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1... (9999963 more characters)" in (
        message
    )
    assert "must be column names: comma-separated, or a JSON list of strings" in message


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\ud800", "\\ud800"),
        ("two\nlines", "two\\nlines"),
        ("tab\there", "tab\\there"),
        ("it's", "it's"),
        ("caf\u00e9", "caf\u00e9"),
    ],
)
def test_values_are_shown_escaped_on_one_line(raw: str, shown: str) -> None:
    with pytest.raises(HyperparameterError) as raised:
        parse({"C": raw})
    message = str(raised.value)
    assert message == f"C={shown} must be a number"
    assert "\n" not in message
    message.encode("utf-8")  # no lone surrogate: any writer can write it


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


# The decoding rule: a JSON string literal (the SDK's encoding) is decoded once to its text;
# text keys take that text as it is, number keys read it as a number.
@pytest.mark.parametrize("text", ["1e3", "1.50", "NaN", "true", "null ish", "007", "[x"])
@pytest.mark.parametrize("key", ["target", "positive_class"])
def test_text_stays_text_however_it_is_encoded(key: str, text: str) -> None:
    for raw in (text, json.dumps(text)):
        assert getattr(parse({key: raw}), key) == text


@pytest.mark.parametrize("text", ["1e3", "1.50", "true", "NaN"])
def test_an_id_column_named_like_a_number_stays_its_name(text: str) -> None:
    for raw in (text, json.dumps(text), json.dumps([text]), json.dumps(json.dumps([text]))):
        assert parse({"id_columns": raw}).id_columns == (text,)


@pytest.mark.parametrize(
    ("key", "attribute"), [("C", "C"), ("min_f1", "min_f1"), ("test_size", "test_size")]
)
def test_number_keys_take_the_same_encodings(key: str, attribute: str) -> None:
    for raw in (0.5, "0.5", json.dumps("0.5"), " 0.5 ", ".5"):
        assert getattr(parse({key: raw}), attribute) == 0.5
    # Encoded twice is not an encoding the SDK makes: both kinds of number key refuse it.
    with pytest.raises(HyperparameterError, match="must be a number"):
        parse({key: json.dumps(json.dumps("0.5"))})


def test_optional_keys_decode_once_too() -> None:
    assert parse({"max_depth": json.dumps("5")}).max_depth == 5
    assert parse({"max_depth": json.dumps("none")}).max_depth is None
    with pytest.raises(HyperparameterError, match="must be a whole number"):
        parse({"max_depth": json.dumps(json.dumps("5"))})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"algorithm": "Random_Forest"}, "algorithm=Random_Forest must be one of: "),
        ({"algorithm": "RANDOM_FOREST"}, "algorithm=RANDOM_FOREST must be one of: "),
        ({"search": "Grid"}, "search=Grid must be one of: none, grid, random"),
        ({"class_weight": "Balanced"}, "class_weight=Balanced must be one of: none, balanced"),
        ({"algorithm": 1}, "algorithm=1 must be one of: logistic_regression, "),
    ],
)
def test_choices_match_exactly_as_the_stack_config_does(
    raw: dict[str, object], message: str
) -> None:
    with pytest.raises(HyperparameterError) as raised:
        parse(raw)
    assert message in str(raised.value)


def test_choices_take_the_sdk_encoding() -> None:
    assert parse({"algorithm": json.dumps("random_forest")}).algorithm == "random_forest"
    assert parse({"search": json.dumps("grid")}).search == "grid"


@pytest.mark.parametrize(
    "raw",
    [
        '{"a": 1}',
        json.dumps([1, None, True]),
        json.dumps(["a", None]),
        json.dumps(["a", ["b"]]),
        json.dumps({"a": "b"}),
    ],
)
def test_id_columns_from_json_must_be_a_list_of_names(raw: str) -> None:
    with pytest.raises(HyperparameterError) as raised:
        parse({"id_columns": raw})
    assert "must be column names: comma-separated, or a JSON list of strings" in str(raised.value)


def test_id_columns_as_a_list_in_a_hand_written_file() -> None:
    assert parse({"id_columns": ["id", " customer "]}).id_columns == ("id", "customer")
    with pytest.raises(HyperparameterError, match="must be column names"):
        parse({"id_columns": {"a": 1}})


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("[" * 100_000, "is not valid JSON (nested too deeply (more than 64 levels))"),
        ('["a", ' + "9" * 5000 + "]", "is not valid JSON (a number with too many digits (5000;"),
        ('{"a": 1, "a": 2}', "is not valid JSON (duplicate key 'a')"),
        ('["a", NaN]', "is not valid JSON (NaN is not a JSON number)"),
        ('["a"', "is not valid JSON (Expecting"),
    ],
)
def test_json_inside_a_value_is_read_strictly_and_named(raw: str, reason: str) -> None:
    with pytest.raises(HyperparameterError) as raised:
        parse({"id_columns": raw})
    message = str(raised.value)
    assert message.startswith("id_columns=")
    assert reason in message
    assert len(message) < 300


def test_a_badly_encoded_text_is_named() -> None:
    with pytest.raises(HyperparameterError) as raised:
        parse({"target": '"label'})
    assert 'target="label is not a valid JSON-encoded text (Unterminated string' in str(
        raised.value
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"seed": "4294967296"}, "seed=4294967296 must be a whole number from 0 to 4294967295"),
        ({"seed": "1e20"}, "seed=1e20 must be a whole number from 0 to 4294967295"),
        ({"seed": "9" * 5000}, "more characters) must be a whole number from 0 to 4294967295"),
        ({"C": "9" * 5000}, "more characters) must be a number"),
        ({"C": "1" + "0" * 400}, "must be a finite number"),
        ({"n_estimators": "1e12"}, "n_estimators=1e12 must be a whole number from 1 to 10000"),
        ({"max_iter": "100001"}, "max_iter=100001 must be a whole number from 1 to 100000"),
        ({"search_iterations": 1001}, "search_iterations=1001 must be a whole number from 1 to"),
        ({"search_folds": "100000"}, "search_folds=100000 must be a whole number from 2 to 20"),
        ({"max_depth": 10**30}, "must be a whole number from 1 to 100000"),
        ({"min_f1": "0_1"}, "min_f1=0_1 must be a number from 0 to 1"),
        ({"C": "\\u0661"}, "must be a number"),
    ],
)
def test_bounds_and_number_spelling(raw: dict[str, object], message: str) -> None:
    with pytest.raises(HyperparameterError) as raised:
        parse(raw)
    assert message in str(raised.value)


def test_the_bounds_themselves_are_allowed() -> None:
    hp = parse(
        {
            "seed": 2**32 - 1,
            "n_estimators": 10_000,
            "max_iter": "100000",
            "search_folds": "20",
            "search_iterations": 1000,
        }
    )
    assert (hp.seed, hp.n_estimators, hp.max_iter, hp.search_folds) == (
        2**32 - 1,
        10_000,
        100_000,
        20,
    )
