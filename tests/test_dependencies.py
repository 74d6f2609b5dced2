"""Each image installs only its own dependency set, pinned with hashes."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO


def _pinned(lock: str) -> dict[str, str]:
    text = (REPO / "requirements" / lock).read_text()
    return dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", text, re.MULTILINE | re.IGNORECASE))


@pytest.mark.parametrize(
    ("lock", "required", "forbidden"),
    [
        (
            "training.txt",
            # boto3: the monitoring job, which runs in this image, puts CloudWatch metrics.
            {"scikit-learn", "pandas", "pyarrow", "matplotlib", "joblib", "boto3"},
            {"pulumi", "moto", "pytest", "ruff"},
        ),
        (
            "inference.txt",
            {"scikit-learn", "numpy", "joblib", "pandas"},
            {"matplotlib", "pyarrow", "pulumi", "boto3", "moto", "pytest"},
        ),
    ],
)
def test_image_locks_hold_their_part_only(
    lock: str, required: set[str], forbidden: set[str]
) -> None:
    pinned = _pinned(lock)
    assert required <= pinned.keys()
    assert not forbidden & pinned.keys()


@pytest.mark.parametrize("lock", ["training.txt", "inference.txt"])
def test_image_locks_use_the_same_versions_as_the_dev_lock(lock: str) -> None:
    dev = _pinned("dev.txt")
    for name, version in _pinned(lock).items():
        assert dev.get(name) == version, f"{name} {version} in {lock}, {dev.get(name)} in dev.txt"


def test_every_lock_pins_hashes() -> None:
    for lock in ("dev.txt", "training.txt", "inference.txt"):
        text = (REPO / "requirements" / lock).read_text()
        assert text.count("==") <= text.count("--hash=sha256:"), lock


def test_infra_set_is_pulumi_aws_7() -> None:
    version = _pinned("dev.txt")["pulumi-aws"]
    major, minor = map(int, version.split(".")[:2])
    assert major == 7
    assert minor >= 25
