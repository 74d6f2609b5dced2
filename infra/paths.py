"""Where the repository is, and how Pulumi should be told about paths inside it.

`Pulumi.yaml`'s `main: infra/` makes the engine run this program with `infra/` as the working
directory. Paths handed to Pulumi (file assets, Docker build contexts) are written relative to
that working directory, so they are the same on every machine and never show up as a diff.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def project_path(relative: str) -> Path:
    """A path from config, which is relative to the project root (or absolute)."""
    path = Path(relative)
    return path if path.is_absolute() else PROJECT_ROOT / path


def for_pulumi(path: Path) -> str:
    """`path` relative to the working directory, as Pulumi resolves it."""
    return Path(os.path.relpath(path, Path.cwd())).as_posix()
