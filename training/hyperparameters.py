"""Hyperparameters: the stack config's training keys as the container receives them.

SageMaker hands every value over as text, and the SageMaker SDK JSON-encodes each value first.
The decoding rule: a value written as a JSON string literal (the SDK's encoding of text,
`"\\"0.5\\""`, `"\\"1e3\\""`) is decoded once, to its text; any other value is taken as it is.
Then each key reads that text its own way. Number keys read an ASCII decimal number, so `0.5`,
`"0.5"` and `"\\"0.5\\""` all mean 0.5 (no NaN, infinity, `1_000` or other scripts' digits).
Text keys (`target`, `positive_class`) keep the text: a column named `1e3` or `true` stays
`1e3` or `true`. `id_columns` reads text that starts with `[` as a JSON list of names, other
text as comma-separated names. Choices match exactly, as the stack config's `algorithm` does.

Every key is declared once in `SPECS`, with its parser, default and description;
docs/training.md's table is checked against it by the tests. The validators and the
every-problem-at-once check are the ones the stack config uses (contracts/validation.py), so
both name the key, the value and what is allowed.
"""

from __future__ import annotations

import contextlib
import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from contracts.hyperparameters import ALGORITHMS
from contracts.json_text import JsonTextError, parse_json_text
from contracts.metrics import GATED_METRICS, bar_key
from contracts.validation import (
    Invalid,
    number_between,
    number_text,
    one_of,
    validate,
    whole_number,
)
from training.errors import HyperparameterError, shown, shown_key

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


# Upper bounds: far above any useful value, low enough that a typo (an extra zero or three)
# fails in a second instead of running for days or crashing inside scikit-learn.
# numpy's and scikit-learn's random_state takes 0 to 2**32 - 1.
MAX_SEED = 2**32 - 1
# A forest's accuracy stops improving long before 10,000 trees; its size and ONNX
# conversion grow with every tree.
MAX_ESTIMATORS = 10_000
# lbfgs converges in well under 100,000 iterations, and 100,000 boosting rounds at the smallest
# sensible learning rate are already more than early stopping would ever keep.
MAX_ITERATIONS = 100_000
# A random search of 1,000 candidates times the folds is thousands of fits already.
MAX_SEARCH_ITERATIONS = 1_000
# Past 20 folds each held-out fold is under 5% of the rows: the score estimate gets no better,
# only the fits more numerous.
MAX_SEARCH_FOLDS = 20
# Tree depth and leaf size: beyond these a limit means no limit (scikit-learn takes C ints).
MAX_TREE_LIMIT = 100_000
# Problems listed in one failure, the rest counted: a file of 100,000 bad keys still fails
# with a short reason.
SHOWN_PROBLEMS = 20
_NONE_TEXTS = ("", "none", "null")


def _unwrapped(raw: object) -> object:
    """The SDK's encoding undone: a JSON string literal ('"1e3"') gives its text (1e3), once.

    Any other text is kept as it is, and a non-text value (a number or list in a hand-written
    hyperparameters.json) too; each key's parser then reads it as a number, a name or a list.
    """
    if isinstance(raw, str) and raw.lstrip().startswith('"'):
        try:
            return parse_json_text(raw)
        except JsonTextError as invalid:
            raise Invalid(f"is not a valid JSON-encoded text ({invalid})") from None
    return raw


def _is_none(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in _NONE_TEXTS)


def _number(raw: object) -> object:
    """A number from its text (ASCII decimal, contracts.validation.number_text), or the value
    unchanged for the validator to refuse."""
    value = _unwrapped(raw)
    if isinstance(value, str):
        with contextlib.suppress(Invalid):
            return number_text(value)
    return value


def _as_float(raw: object) -> float:
    value = _number(raw)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("must be a number")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        number = math.inf
    if not math.isfinite(number):
        raise Invalid("must be a finite number")
    return number


def _positive_float(raw: object) -> float:
    number = _as_float(raw)
    if number <= 0:
        raise Invalid("must be greater than 0")
    return number


def _int_between(low: int, high: int) -> Parser:
    check = whole_number(low, high)

    def parse(raw: object) -> int:
        return check(_number(raw))

    return parse


def _optional(parse: Parser) -> Parser:
    """`none`, `null` or an empty string mean 'the algorithm's default'."""

    def parse_optional(raw: object) -> object:
        # The parser decodes raw itself: the SDK's encoding is undone once, not twice.
        return None if _is_none(_unwrapped(raw)) else parse(raw)

    return parse_optional


def _open_unit_interval(raw: object) -> float:
    number = _as_float(raw)
    if not 0 < number < 1:
        raise Invalid("must be between 0 and 1, both excluded")
    return number


def _bar(raw: object) -> float:
    return number_between(0, 1)(_number(raw))


def _choice(options: tuple[str, ...]) -> Parser:
    """Exactly one of the options, as the stack config checks `algorithm`: no case folding."""
    check = one_of(options)

    def parse(raw: object) -> str:
        value = _unwrapped(raw)
        if value is None:
            value = "none"
        if not isinstance(value, str):
            raise Invalid(f"must be one of: {', '.join(options)}")
        return check(value)

    return parse


def _text(raw: object) -> str:
    """Text as it is: a target column named 1e3 or true stays 1e3 or true."""
    value = _unwrapped(raw)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Invalid("must be a text value")
    text = value.strip() if isinstance(value, str) else str(value)
    if not text:
        raise Invalid("must not be empty")
    return text


def _text_list(raw: object) -> tuple[str, ...]:
    """A JSON list of names, or names separated by commas; none, null or empty for none."""
    value = _unwrapped(raw)
    if _is_none(value):
        return ()
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith(("[", "{")):
            return tuple(name.strip() for name in text.split(",") if name.strip())
        try:
            value = parse_json_text(text)
        except JsonTextError as invalid:
            raise Invalid(f"is not valid JSON ({invalid})") from None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Invalid("must be column names: comma-separated, or a JSON list of strings")
    return tuple(item.strip() for item in value if item.strip())


SPECS: dict[str, Spec] = {
    "target": Spec(_text, "Name of the label column."),
    "algorithm": Spec(_choice(ALGORITHMS), f"The estimator: {', '.join(ALGORITHMS)}."),
    "C": Spec(
        _positive_float,
        "Inverse regularization strength (> 0).",
        ("logistic_regression",),
    ),
    "max_iter": Spec(
        _optional(_int_between(1, MAX_ITERATIONS)),
        "Solver iterations (logistic regression, default 1000) or boosting rounds "
        "(hist gradient boosting, default 100).",
        ("logistic_regression", "hist_gradient_boosting"),
    ),
    "class_weight": Spec(
        _choice(CLASS_WEIGHTS),
        "`balanced` weighs classes inversely to their frequency.",
        ALGORITHMS,
    ),
    "n_estimators": Spec(
        _int_between(1, MAX_ESTIMATORS), "Trees in the forest.", ("random_forest",)
    ),
    "max_depth": Spec(
        _optional(_int_between(1, MAX_TREE_LIMIT)),
        "Tree depth limit; `none` for unlimited.",
        ("random_forest", "hist_gradient_boosting"),
    ),
    "min_samples_leaf": Spec(
        _optional(_int_between(1, MAX_TREE_LIMIT)),
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
    "seed": Spec(
        _int_between(0, MAX_SEED), "Random seed: the same seed and data give the same model."
    ),
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
    "search_folds": Spec(
        _int_between(2, MAX_SEARCH_FOLDS),
        "Cross-validation folds of the search (at most the rows of the smallest class).",
    ),
    "search_iterations": Spec(
        _int_between(1, MAX_SEARCH_ITERATIONS), "Candidates tried by the random search."
    ),
    **{
        bar_key(metric): Spec(_bar, f"Quality bar: the lowest test {metric} that may ship.")
        for metric in GATED_METRICS
    },
}

DEFAULTS = Hyperparameters()


def parse_hyperparameters(raw: Mapping[str, object]) -> tuple[Hyperparameters, list[str]]:
    """Validate the raw key/values; return them typed, with warnings for ignored keys.

    Every problem is reported at once, so one failed job is enough to fix them all: the first
    SHOWN_PROBLEMS of them, then how many more.
    """
    ours = {
        key: value
        for key, value in raw.items()
        if not (key.startswith(_SAGEMAKER_KEY_PREFIX) or key in _SAGEMAKER_KEYS)
    }
    unknown = [key for key in ours if key not in SPECS]
    values, invalid = validate(
        {key: spec.parse for key, spec in SPECS.items()},
        {key: value for key, value in ours.items() if key in SPECS},
        lambda key, value: f"{key}={shown(value)}",
    )
    problems = [_unknown_key(key) for key in unknown[:SHOWN_PROBLEMS]]
    problems.extend(invalid[: SHOWN_PROBLEMS - len(problems)])
    if unknown:
        problems.append(f"known keys: {', '.join(sorted(SPECS))}")
    more = len(unknown) + len(invalid) - SHOWN_PROBLEMS
    if more > 0:
        problems.append(f"and {more} more problem{'s' if more > 1 else ''}")
    warnings: list[str] = []
    if problems:
        raise HyperparameterError("; ".join(problems))

    hyperparameters = Hyperparameters(**values)
    for key in values:
        applies_to = SPECS[key].algorithms
        if applies_to is not None and hyperparameters.algorithm not in applies_to:
            warnings.append(f"{key} is ignored by algorithm={hyperparameters.algorithm}")
    return hyperparameters, warnings


def _unknown_key(key: str) -> str:
    close = difflib.get_close_matches(key, SPECS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {shown_key(key)}{hint}"
