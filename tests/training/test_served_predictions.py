"""What training writes, the inference server serves with the fitted pipeline's own answers:
on random rows with missing values and unseen categories, for every kind of model, freshly
trained. (The inference tests check the same on held-out rows, from their fixtures.)"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from contracts.artifact import SCHEMA_FILE
from tests.inference.agreement import (
    assert_linear_explanations_agree,
    assert_predictions_agree,
    random_rows,
)
from tests.training.inference_fixtures import SPECS, TrainedFixture, expected_answers


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SPECS))
def test_random_rows_with_missing_values_and_unseen_categories(
    built_fixtures: tuple[Path, dict[str, TrainedFixture]], name: str
) -> None:
    model_dir = built_fixtures[1][name].layout.model_dir
    schema = json.loads((model_dir / SCHEMA_FILE).read_text())

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(random_rows(schema))
    def check(frame: pd.DataFrame) -> None:
        answers = expected_answers(model_dir, frame)
        assert_predictions_agree(model_dir, frame, answers, held_out=False)
        if "explanations" in answers:
            assert_linear_explanations_agree(model_dir, frame, answers)

    check()
