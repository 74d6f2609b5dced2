"""Shared test helpers: where the repository and its sample data are, and test-wide settings."""

from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATASET = REPO / "data" / "breast_cancer.csv"
# The one metric line that the training entrypoint and the Pulumi program's metric definitions
# are both checked against.
EXAMPLE_METRIC_LINE = "metric test:f1=0.973118"

# Hypothesis's per-example deadline is a timing assertion; speed is measured in benchmarks/,
# never in tests, and a loaded CI machine must not turn a slow example into a failure.
settings.register_profile("sagestack", deadline=None)
settings.load_profile("sagestack")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        help="rewrite tests/infra/snapshots/ from the program instead of comparing with them",
    )
