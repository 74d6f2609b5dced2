"""The two images: what their Dockerfiles say, linted (no Docker engine runs here to build them)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra.images import IMAGE_PACKAGES
from tests.conftest import REPO

HADOLINT = Path(sys.executable).parent / "hadolint"
# part -> the command SageMaker passes to the image
PARTS = {"training": "train", "inference": "serve"}


def _instructions(part: str) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (REPO / part / "Dockerfile").read_text())
    return [
        (line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1])
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


@pytest.mark.parametrize("part", PARTS)
def test_hadolint_finds_nothing(part: str) -> None:
    result = subprocess.run(
        [str(HADOLINT), "--failure-threshold", "info", str(REPO / part / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("part", "command"), PARTS.items())
def test_the_command_is_exec_form_and_nothing_swallows_it(part: str, command: str) -> None:
    instructions = _instructions(part)
    assert [argument for name, argument in instructions if name == "CMD"] == [f'["{command}"]']
    assert not [argument for name, argument in instructions if name == "ENTRYPOINT"]


@pytest.mark.parametrize(("part", "command"), PARTS.items())
def test_installs_only_its_locked_set_and_puts_its_command_on_the_path(
    part: str, command: str
) -> None:
    instructions = _instructions(part)
    copies = [argument for name, argument in instructions if name == "COPY"]
    assert f"requirements/{part}.txt /tmp/requirements.txt" in copies
    for argument in copies:
        source = argument.split()[0]
        assert (REPO / source).exists(), f"COPY source {source} does not exist"
    # The packages the image tag is hashed from are the ones the image holds.
    for package in IMAGE_PACKAGES[part]:
        assert f"{package}/ ./{package}/" in copies
    runs = " ".join(argument for name, argument in instructions if name == "RUN")
    assert "--require-hashes" in runs
    assert f"{part}/bin/{command} /usr/local/bin/{command}" in runs
    script = REPO / part / "bin" / command
    assert os.access(script, os.X_OK)
    assert f"exec python -m {part} {command}" in script.read_text()


def test_inference_image_says_it_honours_the_port_variable() -> None:
    instructions = _instructions("inference")
    assert ("EXPOSE", "8080") in instructions
    assert (
        "LABEL",
        "com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true",
    ) in instructions
