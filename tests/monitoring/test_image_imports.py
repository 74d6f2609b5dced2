"""The monitor command runs in the training image: what it imports must be in that image."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import packages_distributions

from tests.conftest import REPO


def _pinned(lock: str) -> set[str]:
    text = (REPO / "requirements" / lock).read_text()
    return {
        name.lower().replace("_", "-")
        for name in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", text, re.MULTILINE)
    }


def test_monitor_imports_nothing_the_training_image_lacks() -> None:
    missing = _pinned("dev.txt") - _pinned("training.txt")
    blocked = sorted(
        module
        for module, distributions in packages_distributions().items()
        if all(d.lower().replace("_", "-") in missing for d in distributions)
        and module.isidentifier()
    )
    # Every top-level module that only packages outside the training lock provide is made
    # unimportable; then monitor must still import everything it uses, plots and metrics too.
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "import inference.monitoring.cli, inference.monitoring.outputs\n"
        "import matplotlib.pyplot, boto3, sklearn.metrics\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
