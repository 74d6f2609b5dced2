"""Shared test helpers: where the repository and its sample data are, and test-wide settings."""

from pathlib import Path

from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATASET = REPO / "data" / "breast_cancer.csv"

# Hypothesis's per-example deadline is a timing assertion; speed is measured in benchmarks/,
# never in tests, and a loaded CI machine must not turn a slow example into a failure.
settings.register_profile("sagestack", deadline=None)
settings.load_profile("sagestack")
