"""What SageMaker's input/config/ files tell the job: hyperparameters, channels, instances.

Each file is optional (local runs and tests leave some out); a file that is there must be
valid JSON of the shape SageMaker writes, or the job fails with a reason that names it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from contracts.container import KNOWN_CHANNELS, TRAIN_CHANNEL
from contracts.json_text import JsonTextError, parse_json_text
from training.environment import TrainingPaths
from training.errors import DataError, HyperparameterError, TrainingError, shown
from training.hyperparameters import Hyperparameters, parse_hyperparameters

log = logging.getLogger(__name__)

# A logged hyperparameter value longer than this is cut (training.errors.shown).
LOGGED_CHARACTERS = 200


def read_hyperparameters(paths: TrainingPaths) -> Hyperparameters:
    raw: Any = {}
    if paths.hyperparameters.exists():
        raw = _read_json_config(paths.hyperparameters, HyperparameterError)
    if not isinstance(raw, dict):
        raise HyperparameterError(
            f"{paths.hyperparameters.name} must hold a JSON object of key/value pairs"
        )
    hp, warnings = parse_hyperparameters(raw)
    for warning in warnings:
        log.warning("hyperparameter %s", warning)
    log.info("hyperparameters: %s", json.dumps(_loggable(hp.as_dict()), sort_keys=True))
    return hp


def _loggable(values: dict[str, Any]) -> dict[str, Any]:
    """Values as the log shows them: a long one (ten thousand id columns) cut as messages are."""
    return {
        key: value if len(json.dumps(value)) <= LOGGED_CHARACTERS else shown(value)
        for key, value in values.items()
    }


def check_input_data_config(paths: TrainingPaths) -> None:
    """The job's channels: a `train` channel in a mode this container reads."""
    if not paths.input_data_config.exists():
        return
    channels = _read_json_config(paths.input_data_config, DataError)
    if not isinstance(channels, dict):
        raise DataError(f"{paths.input_data_config.name} must hold a JSON object of channels")
    for name, settings in channels.items():
        mode = settings.get("TrainingInputMode", "File") if isinstance(settings, dict) else "File"
        if mode == "Pipe":
            raise DataError(
                f"channel {name!r} uses Pipe input mode, which this container does not read; "
                "use File or FastFile"
            )
        if name not in KNOWN_CHANNELS:
            log.warning(
                "channel %r is not used (channels read: %s)", name, ", ".join(KNOWN_CHANNELS)
            )
    if TRAIN_CHANNEL not in channels:
        raise DataError(
            f"no {TRAIN_CHANNEL!r} channel: the job defines {sorted(channels) or 'none'}; "
            f"name the training data channel {TRAIN_CHANNEL!r}"
        )


def log_resource_config(paths: TrainingPaths) -> None:
    """Where the job runs, and a warning when it pays for instances it cannot use."""
    if not paths.resource_config.exists():
        return
    resources = _read_json_config(paths.resource_config, DataError)
    if not isinstance(resources, dict):
        return
    hosts = resources.get("hosts") or []
    log.info("running on %s (hosts: %s)", resources.get("current_host"), hosts)
    if len(hosts) > 1:
        log.warning(
            "%d instances were started, but scikit-learn trains on one: set the training "
            "instance count to 1 to stop paying for the others",
            len(hosts),
        )


def _read_json_config(path: Path, error: type[TrainingError]) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as undecodable:
        raise error(f"{path.name} is not UTF-8 text: {undecodable.reason}") from None
    try:
        return parse_json_text(text)
    except JsonTextError as invalid:
        raise error(f"{path.name} is not valid JSON: {invalid}") from None
