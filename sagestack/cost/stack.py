"""The stack as the cost tool reads it: its validated config, its region and its dataset's size.

The one place the cost tool reads a stack's config: through the engine's config step
(infra/engine_config.py), so the estimate prices what `pulumi up` would deploy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra.config import ConfigError, StackConfig, parse_engine_config
from infra.engine_config import EngineConfigError, engine_config_values

REGION_KEY = "aws:region"


@dataclass(frozen=True)
class Stack:
    name: str
    region: str
    config: StackConfig
    # The local data file's size; None for an s3:// dataPath.
    dataset_bytes: int | None


def read_stack(project_dir: Path, stack: str) -> Stack:
    """Raises ConfigError naming the stack file, the key and the problem."""
    try:
        values = engine_config_values(project_dir, stack)
    except EngineConfigError as error:
        raise ConfigError(str(error)) from None
    config = parse_engine_config(values)
    region = values.get(REGION_KEY, "")
    if not region.strip():
        raise ConfigError(
            f"Pulumi.{stack}.yaml sets no {REGION_KEY}: the estimate needs the region"
        )
    size = None
    if not config.training.data_in_s3:
        data = project_dir / config.training.data_path
        if not data.is_file():
            raise ConfigError(
                f"sagestack:dataPath={config.training.data_path!r}: no such file in {project_dir}"
            )
        size = data.stat().st_size
    return Stack(stack, region.strip(), config, size)
