"""Hyperparameters: the stack config's training keys as the container receives them.

SageMaker hands every value over as a string, and the SageMaker SDK JSON-encodes them first, so
`0.5`, `"0.5"` and `"\\"0.5\\""` all mean 0.5 here. Every key is declared once in `SPECS`, with
its parser, default and description; docs/training.md's table is checked against it by the
tests. The validators and the every-problem-at-once check are the ones the stack config uses
(contracts/validation.py), so both name the key, the value and what is allowed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from contracts.hyperparameters import ALGORITHMS
from contracts.metrics import GATED_METRICS, bar_key
from contracts.validation import Invalid, number_between, one_of, validate, whole_number
from training.errors import HyperparameterError

SEARCH_MODES = ("none", "grid", "random")
CLASS_WEIGHTS = ("none", "balanced")
# Keys SageMaker itself adds (the SDK's `sagemaker_*`, automatic model tuning's objective).
_SAGEMAKER_KEY_PREFIX = "sagemaker_"
_SAGEMAKER_KEYS = frozenset({"_tuning_objective_metric"})


@dataclass(frozen=True)
class Hyperparameters:
    target: str = "target"
    algorithm: str = "logistic_regression"
    C: float = 1.0
    max_iter: int | None = None
    class_weight: str = "none"
    n_estimators: int = 100
    max_depth: int | None = None
    min_samples_leaf: int | None = None
    learning_rate: float = 0.1
    test_size: float = 0.2
    seed: int = 42
    id_columns: tuple[str, ...] = ()
    positive_class: str | None = None
    search: str = "none"
    search_folds: int = 5
    search_iterations: int = 20
    min_accuracy: float = 0.0
    min_precision: float = 0.0
    min_recall: float = 0.0
    min_f1: float = 0.0
    min_roc_auc: float = 0.0

    def quality_bars(self) -> dict[str, float]:
        """The bars that are set (above zero), by metric name."""
        bars = {metric: float(getattr(self, bar_key(metric))) for metric in GATED_METRICS}
        return {metric: bar for metric, bar in bars.items() if bar > 0}

    def as_dict(self) -> dict[str, Any]:
        values = {field.name: getattr(self, field.name) for field in fields(self)}
        values["id_columns"] = list(self.id_columns)
        return values


Parser = Callable[[object], object]


@dataclass(frozen=True)
class Spec:
    parse: Parser
    description: str
    # The algorithms the key applies to; None when it applies to all.
    algorithms: tuple[str, ...] | None = None


def _decode(raw: object) -> object:
    """Undo the SDK's JSON encoding: '"0.5"' -> '0.5' -> 0.5, 'abc' stays 'abc'."""
    value = raw
    # Twice at most: a JSON-encoded string of a JSON number.
    for _ in range(2):
        if not isinstance(value, str):
            break
        try:
            value = json.loads(value)
        except ValueError:
            break
    return value


def _as_float(raw: object) -> float:
    value = _decode(raw)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("must be a number")
    number = float(value)
    if not math.isfinite(number):
        raise Invalid("must be a finite number")
    return number


def _positive_float(raw: object) -> float:
    number = _as_float(raw)
    if number <= 0:
        raise Invalid("must be greater than 0")
    return number


def _int_at_least(minimum: int) -> Parser:
    check = whole_number(minimum)

    def parse(raw: object) -> int:
        return check(_decode(raw))

    return parse


def _optional(parse: Parser) -> Parser:
    """`none`, `null` or an empty string mean 'the algorithm's default'."""

    def parse_optional(raw: object) -> object:
        value = _decode(raw)
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
            return None
        return parse(value)

    return parse_optional


def _open_unit_interval(raw: object) -> float:
    number = _as_float(raw)
    if not 0 < number < 1:
        raise Invalid("must be between 0 and 1, both excluded")
    return number


def _bar(raw: object) -> float:
    return number_between(0, 1)(_decode(raw))


def _choice(options: tuple[str, ...]) -> Parser:
    check = one_of(options)

    def parse(raw: object) -> str:
        value = _decode(raw)
        return check(str(value).lower() if value is not None else "none")

    return parse


def _text(raw: object) -> str:
    value = _decode(raw)
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise Invalid("must be a text value")
    text = str(value).strip()
    if not text:
        raise Invalid("must not be empty")
    return text


def _text_list(raw: object) -> tuple[str, ...]:
    """A JSON list of names, or names separated by commas."""
    value = _decode(raw)
    if value is None:
        return ()
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


SPECS: dict[str, Spec] = {
    "target": Spec(_text, "Name of the label column."),
    "algorithm": Spec(_choice(ALGORITHMS), f"The estimator: {', '.join(ALGORITHMS)}."),
    "C": Spec(
        _positive_float,
        "Inverse regularization strength (> 0).",
        ("logistic_regression",),
    ),
    "max_iter": Spec(
        _optional(_int_at_least(1)),
        "Solver iterations (logistic regression, default 1000) or boosting rounds "
        "(hist gradient boosting, default 100).",
        ("logistic_regression", "hist_gradient_boosting"),
    ),
    "class_weight": Spec(
        _choice(CLASS_WEIGHTS),
        "`balanced` weighs classes inversely to their frequency.",
        ALGORITHMS,
    ),
    "n_estimators": Spec(_int_at_least(1), "Trees in the forest.", ("random_forest",)),
    "max_depth": Spec(
        _optional(_int_at_least(1)),
        "Tree depth limit; `none` for unlimited.",
        ("random_forest", "hist_gradient_boosting"),
    ),
    "min_samples_leaf": Spec(
        _optional(_int_at_least(1)),
        "Fewest rows in a leaf (defaults: 1 for the forest, 20 for boosting).",
        ("random_forest", "hist_gradient_boosting"),
    ),
    "learning_rate": Spec(
        _positive_float, "Shrinkage of each boosting round.", ("hist_gradient_boosting",)
    ),
    "test_size": Spec(
        _open_unit_interval,
        "Share of rows held out for evaluation when there is no `test` channel.",
    ),
    "seed": Spec(_int_at_least(0), "Random seed: the same seed and data give the same model."),
    "id_columns": Spec(
        _text_list, "Columns to drop before training (comma-separated or a JSON list)."
    ),
    "positive_class": Spec(
        _optional(_text),
        "Binary targets: the class that precision, recall and F1 are about "
        "(default: the last class in sorted order, e.g. 1 of 0/1).",
    ),
    "search": Spec(
        _choice(SEARCH_MODES),
        "Cross-validated hyperparameter search over the algorithm's grid: none, grid or random.",
    ),
    "search_folds": Spec(_int_at_least(2), "Cross-validation folds of the search."),
    "search_iterations": Spec(_int_at_least(1), "Candidates tried by the random search."),
    **{
        bar_key(metric): Spec(_bar, f"Quality bar: the lowest test {metric} that may ship.")
        for metric in GATED_METRICS
    },
}

DEFAULTS = Hyperparameters()


def parse_hyperparameters(raw: Mapping[str, object]) -> tuple[Hyperparameters, list[str]]:
    """Validate the raw key/values; return them typed, with warnings for ignored keys.

    Every problem is reported at once, so one failed job is enough to fix them all.
    """
    ours = {
        key: value
        for key, value in raw.items()
        if not (key.startswith(_SAGEMAKER_KEY_PREFIX) or key in _SAGEMAKER_KEYS)
    }
    problems = [
        f"unknown key {key!r} (known keys: {', '.join(sorted(SPECS))})"
        for key in ours
        if key not in SPECS
    ]
    values, invalid = validate(
        {key: spec.parse for key, spec in SPECS.items()},
        {key: value for key, value in ours.items() if key in SPECS},
        lambda key, value: f"{key}={_shown(value)}",
    )
    problems.extend(invalid)
    warnings: list[str] = []
    if problems:
        raise HyperparameterError("; ".join(problems))

    hyperparameters = Hyperparameters(**values)
    for key in values:
        applies_to = SPECS[key].algorithms
        if applies_to is not None and hyperparameters.algorithm not in applies_to:
            warnings.append(f"{key} is ignored by algorithm={hyperparameters.algorithm}")
    return hyperparameters, warnings


def _shown(raw: object) -> str:
    text = json.dumps(raw) if not isinstance(raw, str) else raw
    return text if len(text) <= 40 else text[:37] + "..."
