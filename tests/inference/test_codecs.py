"""Decoding and content negotiation, without a server."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inference.codecs import Decoder, RequestError, encode, media_type, negotiate
from tests.inference.conftest import make_schema

SCHEMA = make_schema({"a": "numeric", "colour": "categorical", "b": "numeric"}, ("no", "yes"))
DECODER = Decoder(SCHEMA)


def test_csv_with_quotes_missing_values_and_header() -> None:
    batch = DECODER.decode("text/csv", b'a,colour,b\n1.5,"red, dark",\n,,2\n')
    np.testing.assert_array_equal(batch.numeric[0], [1.5, np.nan])
    assert math.isnan(batch.numeric[1, 0])
    assert batch.numeric[1, 1] == 2
    assert batch.categorical.tolist() == [["red, dark"], [None]]


def test_json_rows_as_lists_and_objects_mean_the_same() -> None:
    by_position = DECODER.decode("application/json", b'{"instances": [[1, "red", null]]}')
    by_name = DECODER.decode("application/json", b'[{"b": null, "colour": "red", "a": 1}]')
    np.testing.assert_array_equal(by_position.numeric, by_name.numeric)
    assert by_position.categorical.tolist() == by_name.categorical.tolist()


@pytest.mark.parametrize(
    ("value", "text"), [(1, "1"), (1.0, "1"), (2.5, "2.5"), (True, "True"), (None, None)]
)
def test_categorical_json_values_become_training_text(value: object, text: str | None) -> None:
    import json

    batch = DECODER.decode("application/json", json.dumps([[0, value, 0]]).encode())
    assert batch.categorical[0, 0] == text


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        (b"1,red,x", "not_a_number", "row 1, feature 'b': 'x' is not a number"),
        # float() reads these; pandas, which read the training data, does not.
        ("1,red,\u0661\u0662".encode(), "not_a_number", "row 1, feature 'b'"),
        (b"1,red,1_000", "not_a_number", "row 1, feature 'b': '1_000' is not a number"),
        (b"1,red,2\n1,red,-inf", "not_finite", "row 2, feature 'b'"),
        (b"1,red", "wrong_feature_count", "row 1 has 2 values; the model takes 3 (a, colour, b)"),
        (b"   \n", "empty_body", "empty"),
        (b"a,colour,b\n", "empty_body", "no data row"),
    ],
)
def test_csv_errors_say_where(body: bytes, code: str, fragment: str) -> None:
    with pytest.raises(RequestError) as raised:
        DECODER.decode("text/csv", body)
    assert raised.value.status == 400
    assert raised.value.code == code
    assert fragment in raised.value.message


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("text/*", "text/csv"),
        ("application/jsonlines;q=0.9, text/csv", "text/csv"),
        ("text/csv;q=0, application/json", "application/json"),
        ("application/x-jsonlines", "application/jsonlines"),
    ],
)
def test_negotiate(header: str | None, kind: str) -> None:
    assert negotiate(header) == kind


def test_negotiate_refuses_what_it_cannot_write() -> None:
    with pytest.raises(RequestError) as raised:
        negotiate("application/xml, text/html;q=0.5")
    assert raised.value.status == 406


def test_media_type_drops_parameters_and_case() -> None:
    assert media_type("Text/CSV; charset=UTF-8") == "text/csv"
    assert media_type(None) == ""


def test_encodings() -> None:
    probabilities = np.array([[0.25, 0.75]])
    assert encode("text/csv", ["yes"], probabilities, ["no", "yes"]) == b"yes,0.25,0.75\n"
    assert encode("application/json", ["yes"], None, ["no", "yes"]) == (
        b'{"predictions": [{"label": "yes"}]}'
    )
    assert encode("application/jsonlines", ["a,b"], probabilities, ["no", "yes"]) == (
        b'{"label": "a,b", "probabilities": {"no": 0.25, "yes": 0.75}}\n'
    )
    assert encode("text/csv", ["a,b"], None, ["no", "yes"]) == b'"a,b"\n'


NUMERIC = make_schema({f"f{i}": "numeric" for i in range(3)})


def _big(rows: list[str]) -> bytes:
    body = "\n".join(rows * (70_000 // sum(map(len, rows)) + 1))
    assert len(body) > 65_536
    return body.encode()


def test_a_large_numeric_body_decodes_like_a_small_one() -> None:
    decoder = Decoder(NUMERIC)
    body = _big(["1.5,2,3e-1", "-4,5.25,6"])
    bulk = decoder.decode("text/csv", body)
    small = decoder.decode("text/csv", b"1.5,2,3e-1\n-4,5.25,6")
    np.testing.assert_array_equal(bulk.numeric[:2], small.numeric)
    assert bulk.numeric.shape[1] == 3
    with_header = decoder.decode("text/csv", b"f0,f1,f2\n" + body)
    np.testing.assert_array_equal(with_header.numeric, bulk.numeric)


def test_a_large_body_with_empty_fields_or_bad_values_takes_the_checking_path() -> None:
    decoder = Decoder(NUMERIC)
    body = _big(["1,2,3"]) + b"\n4,,6"
    assert math.isnan(decoder.decode("text/csv", body).numeric[-1, 1])
    with pytest.raises(RequestError) as raised:
        decoder.decode("text/csv", _big(["1,2,3"]) + b"\n4,x,6")
    assert raised.value.code == "not_a_number"
    assert "feature 'f1'" in raised.value.message
    with pytest.raises(RequestError) as raised:
        decoder.decode("text/csv", _big(["1,2,3"]) + b"\n4,5")
    assert raised.value.code == "wrong_feature_count"
    with pytest.raises(RequestError) as raised:
        decoder.decode("text/csv", _big(["1,2,3"]) + b"\n4,inf,5")
    assert raised.value.code == "not_finite"


def test_a_large_body_reads_only_what_the_checking_path_reads() -> None:
    decoder = Decoder(NUMERIC)
    # pandas would read "null" and "NA" as missing; the checking path refuses them.
    for bad in (b"\n4,null,6", b"\n4,NA,6"):
        with pytest.raises(RequestError) as raised:
            decoder.decode("text/csv", _big(["1,2,3"]) + bad)
        assert raised.value.code == "not_a_number"
    with pytest.raises(RequestError) as raised:
        decoder.decode("text/csv", _big(["1,2,3"]) + b"\n4,5,6,7")
    assert raised.value.code == "wrong_feature_count"
    blank_lines = decoder.decode("text/csv", _big(["1,2,3", "", "4,nan,6"]))
    assert blank_lines.numeric.shape[1] == 3
    assert math.isnan(blank_lines.numeric[1, 1])


_CELL = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**9), 10**9).map(str),
    st.sampled_from(["", "nan", "NaN", "-nan", "null", "inf", "1_0", " 2", "x"]),
)


@given(st.lists(st.lists(_CELL, min_size=2, max_size=4), min_size=1, max_size=5))
def test_large_and_small_bodies_agree(rows: list[list[str]]) -> None:
    decoder = Decoder(NUMERIC)
    small_body = "\n".join(",".join(row) for row in rows).encode()
    repeats = 70_000 // (len(small_body) + 1) + 1
    big_body = b"\n".join([small_body] * repeats)
    small = _decode_or_code(decoder, small_body)
    big = _decode_or_code(decoder, big_body)
    if isinstance(small, str):
        assert big == small  # the same refusal
    else:
        assert not isinstance(big, str)
        np.testing.assert_array_equal(big, np.tile(small, (repeats, 1)))


def _decode_or_code(decoder: Decoder, body: bytes) -> np.ndarray | str:
    """The numeric values, or the refusal's code."""
    try:
        return decoder.decode("text/csv", body).numeric
    except RequestError as error:
        return error.code


def _reference(rows: list[list[str]], width: int) -> np.ndarray | str:
    """What a numeric CSV body means, cell by cell with float(): the values, or the refusal's
    code. numpy's reader may answer only where it agrees with this."""
    if any(len(row) != width for row in rows):
        return "wrong_feature_count"
    values = []
    for row in rows:
        for cell in row:
            text = cell.strip()
            if not text.isascii() or "_" in text:
                return "not_a_number"
            try:
                values.append(float(text) if text else math.nan)
            except ValueError:
                return "not_a_number"
    array = np.array(values, dtype=np.float64).reshape(len(rows), width)
    return "not_finite" if np.isinf(array).any() else array


@given(st.lists(st.lists(_CELL, min_size=3, max_size=3), min_size=1, max_size=6))
def test_the_one_csv_path_reads_numbers_as_float_does(rows: list[list[str]]) -> None:
    body = "\n".join(",".join(row) for row in rows).encode()
    got = _decode_or_code(Decoder(NUMERIC), body)
    want = _reference(rows, 3)
    if isinstance(want, str):
        assert got == want
    else:
        assert not isinstance(got, str), got
        np.testing.assert_array_equal(got, want)


def test_a_million_commas_are_refused_from_the_separator_count() -> None:
    with pytest.raises(RequestError) as raised:
        Decoder(NUMERIC).decode("text/csv", b"1,2,3\n" + b"," * 1_000_000)
    assert raised.value.code == "wrong_feature_count"
    assert raised.value.message.startswith("row 2 has 1000001 values")
    with pytest.raises(RequestError) as raised:  # quoted commas are no separators
        Decoder(SCHEMA).decode("text/csv", b'1,"a,b",2\n"' + b"," * 1000 + b'"')
    assert raised.value.message.startswith("row 2 has 1 values")


@given(st.text(alphabet=',"\n\r a1.', max_size=60))
def test_any_csv_text_is_a_batch_of_the_right_width_or_a_request_error(text: str) -> None:
    for decoder in (Decoder(SCHEMA), Decoder(NUMERIC)):
        try:
            batch = decoder.decode("text/csv", text.encode())
        except RequestError:
            continue
        assert batch.numeric.shape[1] == len(decoder.schema.numeric_positions)
        assert batch.categorical.shape == (batch.rows, len(decoder.schema.categorical_positions))
