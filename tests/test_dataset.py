"""The committed sample dataset is exactly what data/make_dataset.py produces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, SAMPLE_DATASET


def test_sample_dataset_regenerates_identically(tmp_path: Path) -> None:
    output = tmp_path / "breast_cancer.csv"
    subprocess.run(
        [sys.executable, str(REPO / "data" / "make_dataset.py"), str(output)], check=True
    )
    assert output.read_bytes() == SAMPLE_DATASET.read_bytes()


def test_sample_dataset_shape() -> None:
    lines = SAMPLE_DATASET.read_text().splitlines()
    header = lines[0].split(",")
    assert len(lines) == 570
    assert len(header) == 31
    assert header[-1] == "target"
    assert {line.rsplit(",", 1)[1] for line in lines[1:]} == {"0", "1"}
