"""Ground truth in both shapes, and bad lines counted, never fatal."""

from __future__ import annotations

from pathlib import Path

from inference.monitoring.quality import read_ground_truth


def test_both_shapes_and_bad_lines(tmp_path: Path) -> None:
    (tmp_path / "2026" / "03").mkdir(parents=True)
    (tmp_path / "2026" / "03" / "a.jsonl").write_text(
        '{"eventId": "e1", "label": 1}\n'
        '{"eventId": "e2", "label": ["yes", "no"]}\n'
        "\n"
        "not json\n"
        '{"eventId": 7, "label": 1}\n'
        '{"label": 1}\n'
        '{"groundTruthData": {"data": "0", "encoding": "CSV"}, '
        '"eventMetadata": {"eventId": "e3"}, "eventVersion": "0"}\n'
    )
    truth = read_ground_truth(tmp_path)
    assert truth.labels == {"e1": ["1"], "e2": ["yes", "no"], "e3": ["0"]}
    assert truth.problems.counts == {"corrupt_ground_truth": 3}
    assert truth.files == 1
