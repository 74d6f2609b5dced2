"""Cleaning helpers that the entrypoint tests only reach through whole runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from training.cleaning import duplicated_rows, stratified_split


@given(
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=6, max_size=200).filter(
        lambda labels: all(labels.count(label) >= 2 for label in set(labels))
    ),
    st.floats(min_value=0.05, max_value=0.95),
    st.integers(min_value=0, max_value=10),
)
def test_stratified_split_keeps_every_class_on_both_sides(
    labels: list[str], test_size: float, seed: int
) -> None:
    series = pd.Series(labels)
    train, test = stratified_split(series, test_size, seed)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(labels)))
    assert set(series[train]) == set(labels) == set(series[test])
    again = stratified_split(series, test_size, seed)
    assert np.array_equal(train, again[0])
    assert np.array_equal(test, again[1])


@settings(max_examples=50)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0.0, 1.5, np.nan]),
            st.sampled_from(["x", "y", None]),
            st.integers(0, 2),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_duplicate_detection_matches_pandas(rows: list[tuple[float, str | None, int]]) -> None:
    frame = pd.DataFrame(rows, columns=["number", "text", "label"])
    assert duplicated_rows(frame).tolist() == frame.duplicated().tolist()
