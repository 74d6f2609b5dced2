"""Running the containers' commands as processes, as the images run them.

`container_path` puts training/bin and inference/bin (the `train` and `serve` scripts the
images install) ahead of this Python, as the images' PATH does. `stop_group` stops a server
started with `start_new_session=True` and every worker it forked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def container_path() -> str:
    return os.pathsep.join(
        [
            str(REPO / "training" / "bin"),
            str(REPO / "inference" / "bin"),
            str(Path(sys.executable).parent),
            os.environ.get("PATH", ""),
        ]
    )


def stop_group(process: subprocess.Popen[Any], timeout: float = 30) -> None:
    """SIGTERM to the process group (a graceful drain), SIGKILL if it outstays timeout."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
