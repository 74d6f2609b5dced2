"""Writing results so that a failure never leaves half of them behind.

The model directory is published all or nothing: files are written into a staging folder
inside it (so the final renames stay on one file system, as SageMaker mounts model/ apart),
then renamed into place; on any error the staging folder and anything already renamed go.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import joblib

Writer = Callable[[Path], None]


def write_json(data: Any) -> Writer:
    def write(path: Path) -> None:
        path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")

    return write


def write_joblib(value: Any) -> Writer:
    def write(path: Path) -> None:
        joblib.dump(value, path)

    return write


def write_bytes(data: bytes) -> Writer:
    def write(path: Path) -> None:
        path.write_bytes(data)

    return write


def write_file_atomically(path: Path, writer: Writer) -> None:
    """Write via a temporary sibling and rename, so readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        writer(Path(temporary))
        # mkstemp creates the file owner-only; results are meant to be read by others.
        Path(temporary).chmod(0o644)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def publish_directory(directory: Path, writers: Mapping[str, Writer]) -> None:
    """Write every named file into directory, all of them or none."""
    directory.mkdir(parents=True, exist_ok=True)
    with _staging(directory) as staging:
        for name, writer in writers.items():
            writer(staging / name)
        published: list[Path] = []
        try:
            for name in writers:
                (staging / name).replace(directory / name)
                published.append(directory / name)
        except BaseException:
            for path in published:
                path.unlink(missing_ok=True)
            raise


@contextmanager
def _staging(directory: Path) -> Iterator[Path]:
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=directory))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
