"""Publishing the model directory is all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.artifact import publish_directory, write_file_atomically, write_json


def _text(content: str):  # type: ignore[no-untyped-def]
    return lambda path: path.write_text(content)


def _broken(path: Path) -> None:
    path.write_text("half")
    raise RuntimeError("disk full")


def test_publishes_every_file(tmp_path: Path) -> None:
    publish_directory(tmp_path / "model", {"a.json": write_json({"x": 1}), "b.txt": _text("b")})
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["a.json", "b.txt"]
    assert (tmp_path / "model" / "a.json").read_text() == '{\n  "x": 1\n}\n'


def test_a_failing_writer_leaves_nothing(tmp_path: Path) -> None:
    model = tmp_path / "model"
    with pytest.raises(RuntimeError, match="disk full"):
        publish_directory(model, {"a.txt": _text("a"), "b.txt": _broken})
    assert list(model.iterdir()) == []


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "evaluation.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        write_file_atomically(target, _broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["evaluation.json"]


def test_written_files_are_readable_by_others(tmp_path: Path) -> None:
    write_file_atomically(tmp_path / "f", _text("x"))
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o644


def test_json_refuses_nan(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        write_json({"x": float("nan")})(tmp_path / "f.json")
