"""Shared test helpers: where the repository and its sample data are."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATASET = REPO / "data" / "breast_cancer.csv"
