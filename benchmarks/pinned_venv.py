"""Venvs installed from a pinned requirements file with hashes, made once under .benchmarks/.

For a rival that cannot be installed beside our own pins (Evidently needs pandas below 3;
MLServer brings its own FastAPI, uvicorn and uvloop), and for our server as its image runs it:
only the inference dependency set, no editable install of the repository, bytecode compiled.
Every module is compiled at install, as pip does in an image, so that no start-up pays for
compiling (this environment sets PYTHONDONTWRITEBYTECODE, so nothing compiled on import is kept).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE_VENV = REPO / ".benchmarks" / "inference-venv"
IMAGE_REQUIREMENTS = REPO / "requirements" / "inference.txt"


def pinned_python(venv: Path, requirements: Path) -> Path:
    """The venv's interpreter, creating the venv from `requirements` first if it is missing."""
    python = venv / "bin" / "python"
    if not python.exists():
        uv = Path(sys.executable).parent / "uv"
        subprocess.run(
            [str(uv), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True
        )
        subprocess.run(
            [
                str(uv),
                "pip",
                "install",
                "--quiet",
                "--compile-bytecode",
                "--python",
                str(python),
                "--require-hashes",
                "-r",
                str(requirements),
            ],
            check=True,
        )
    return python


def image_python() -> Path:
    """An interpreter with the inference image's dependency set; run it with PYTHONPATH=REPO
    (the image's PYTHONPATH=/opt/program) and it imports `inference` as the image does."""
    return pinned_python(IMAGE_VENV, IMAGE_REQUIREMENTS)
