"""A benchmark's rival in its own venv, installed from a pinned requirements file with hashes.

Used for what cannot be installed beside our own pins (Evidently needs pandas below 3; MLServer
brings its own FastAPI, uvicorn and uvloop): made once under .benchmarks/, reused after.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


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
                "--python",
                str(python),
                "--require-hashes",
                "-r",
                str(requirements),
            ],
            check=True,
        )
    return python
