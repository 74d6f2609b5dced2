"""evaluation.json: what the job trained, on which data, and how it measured against its bars.

The report is written twice: into model/ beside the artifact it describes, and into
output/data/ for people, where it is there even when the quality gate stops the model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from contracts.artifact import SCHEMA_FORMAT_VERSION
from contracts.json_values import plain
from training.cleaning import CleaningReport, FeatureSpec
from training.evaluation import SplitEvaluation
from training.hyperparameters import Hyperparameters


@dataclass(frozen=True)
class EvaluationReport:
    hp: Hyperparameters
    spec: FeatureSpec
    cleaning: CleaningReport
    classes: list[Any]
    positive_class: Any
    # The cross-validated search's results, when the job ran one.
    search: dict[str, Any] | None
    training_seconds: float
    evaluations: dict[str, SplitEvaluation]
    bars: dict[str, float]
    failures: list[str]

    def document(self) -> dict[str, Any]:
        return {
            "format_version": SCHEMA_FORMAT_VERSION,
            "algorithm": self.hp.algorithm,
            "hyperparameters": self.hp.as_dict(),
            "target": self.hp.target,
            "classes": [plain(label) for label in self.classes],
            "positive_class": plain(self.positive_class),
            "features": {
                "numeric": list(self.spec.numeric),
                "categorical": list(self.spec.categorical),
            },
            "cleaning": asdict(self.cleaning),
            "search": self.search,
            "training_seconds": round(self.training_seconds, 3),
            "splits": {
                split: evaluation.as_dict() for split, evaluation in self.evaluations.items()
            },
            "quality_gate": {
                "bars": self.bars,
                "passed": not self.failures,
                "failures": self.failures,
            },
        }
