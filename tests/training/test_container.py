"""The training image: what its Dockerfile says, linted (no Docker engine runs here to build it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

DOCKERFILE = REPO / "training" / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [
        (line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1])
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [str(HADOLINT), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_train_is_the_exec_form_command_and_nothing_swallows_it() -> None:
    instructions = _instructions()
    commands = [argument for name, argument in instructions if name == "CMD"]
    assert commands == ['["train"]']
    assert not [argument for name, argument in instructions if name == "ENTRYPOINT"]


def test_installs_only_the_locked_training_set() -> None:
    copies = [argument for name, argument in _instructions() if name == "COPY"]
    assert "requirements/training.txt /tmp/requirements.txt" in copies
    for argument in copies:
        source = argument.split()[0]
        assert (REPO / source).exists(), f"COPY source {source} does not exist"
    runs = " ".join(argument for name, argument in _instructions() if name == "RUN")
    assert "--require-hashes" in runs


def test_train_script_is_executable_and_execs_python() -> None:
    script = REPO / "training" / "bin" / "train"
    assert os.access(script, os.X_OK)
    assert "exec python -m training train" in script.read_text()
