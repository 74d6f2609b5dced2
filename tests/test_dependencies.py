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
            {
                "scikit-learn",
                "pandas",
                "pyarrow",
                "matplotlib",
                "joblib",
                "skl2onnx",
                "onnxruntime",
                "boto3",
            },
            {"pulumi", "moto", "pytest", "ruff"},
        ),
        (
            "inference.txt",
            {"numpy", "onnxruntime", "uvicorn", "httptools", "uvloop", "gunicorn"},
            # Trees run in onnxruntime, linear models in numpy, and the server decodes bodies with
            # numpy and the csv module: no scikit-learn stack, no pandas.
            {"scikit-learn", "scipy", "joblib", "skl2onnx", "onnx", "matplotlib", "pyarrow"}
            | {"pandas", "pulumi", "boto3", "moto", "pytest"},
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


def test_protobuf_stays_below_7_where_skl2onnx_converts() -> None:
    # skl2onnx 1.20 cannot convert hist gradient boosting under protobuf 7 (pyproject.toml).
    major = int(_pinned("training.txt")["protobuf"].split(".")[0])
    assert major < 7
