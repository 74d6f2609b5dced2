"""The rows each step sees: the evaluation channels, the held-out split and the train sample."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from training.cleaning import FeatureSpec, LabelledData, clean_evaluation_frame, stratified_split
from training.data import read_channel
from training.environment import TrainingPaths
from training.errors import DataError


def evaluation_channel(
    paths: TrainingPaths, channel: str, target: str, spec: FeatureSpec, classes: list[Any]
) -> LabelledData | None:
    """A `test` or `validation` channel, cleaned as the train channel was; None without one."""
    directory = paths.channel(channel)
    if not directory.exists():
        return None
    data = clean_evaluation_frame(read_channel(directory), target, spec, channel)
    unknown = sorted(set(pd.unique(data.labels).tolist()) - set(classes), key=str)
    if unknown:
        raise DataError(
            f"the {channel} channel has target classes the train channel does not: "
            f"{unknown[:10]} (train classes: {classes[:10]})"
        )
    return data


def split(data: LabelledData, test_size: float, seed: int) -> tuple[LabelledData, LabelledData]:
    """Train and held-out rows, stratified by label."""
    train_rows, test_rows = stratified_split(data.labels, test_size, seed)
    return rows(data, train_rows), rows(data, test_rows)


def sample_positions(total: int, limit: int, seed: int) -> np.ndarray | None:
    """`limit` of `total` row positions, drawn without replacement and in order; None when
    there are no more rows than that."""
    if total <= limit:
        return None
    return np.sort(np.random.default_rng(seed).choice(total, limit, replace=False))


def sample(data: LabelledData, limit: int, seed: int) -> LabelledData:
    """At most `limit` rows, drawn without replacement and kept in their order."""
    positions = sample_positions(len(data.labels), limit, seed)
    return data if positions is None else rows(data, positions)


def rows(data: LabelledData, positions: np.ndarray) -> LabelledData:
    return LabelledData(
        take_rows(data.features, positions), data.labels.take(positions).reset_index(drop=True)
    )


def take_rows(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """Rows by position. A frame of one numeric dtype (the large, common case) is gathered by
    numpy along pandas' column-major block, several times faster than DataFrame.take, and
    the result keeps that layout, so later per-column work reads contiguous memory."""
    dtypes = set(frame.dtypes)
    if len(dtypes) == 1 and pd.api.types.is_numeric_dtype(next(iter(dtypes))):
        by_column = frame.to_numpy().T
        return pd.DataFrame(by_column[:, positions].T, columns=frame.columns, copy=False)
    return frame.take(positions).reset_index(drop=True)
