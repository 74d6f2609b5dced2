"""plain(): the one conversion to JSON values, used on both sides of the import wall."""

from __future__ import annotations

import json
import math

import numpy as np

from contracts.json_values import plain


def test_numpy_scalars_become_python_values() -> None:
    for value, expected in (
        (np.int64(3), 3),
        (np.float32(0.5), 0.5),
        (np.bool_(True), True),
        (np.str_("yes"), "yes"),
    ):
        converted = plain(value)
        assert converted == expected
        assert type(converted) is type(expected)


def test_non_finite_numbers_become_null() -> None:
    assert plain(math.nan) is None
    assert plain(np.float64("inf")) is None
    assert plain(-math.inf) is None
    assert plain(0.25) == 0.25


def test_containers_are_converted_through() -> None:
    document = {1: (np.int64(2), [np.float64("nan"), "a"]), "b": {"c": np.float64(1.5)}}
    converted = plain(document)
    assert converted == {"1": [2, [None, "a"]], "b": {"c": 1.5}}
    # What json.dumps refuses without it (numpy integers, NaN under allow_nan=False) it takes.
    assert json.loads(json.dumps(converted, allow_nan=False)) == converted


def test_other_values_pass_unchanged() -> None:
    for value in (None, "text", 7, True):
        assert plain(value) is value
