"""The stack as the cost tool reads it: its validated config, its region and its dataset's size.

The one place the cost tool reads a stack's config (the engine-faithful loader replaces the
body of `read_stack` when it lands).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from infra.config import ConfigError, StackConfig, parse_config, stack_values

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
    config = parse_config(stack_values(project_dir, stack))
    path = project_dir / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    region = (document.get("config") or {}).get(REGION_KEY)
    if not isinstance(region, str) or not region.strip():
        raise ConfigError(f"{path.name} sets no {REGION_KEY}: the estimate needs the region")
    size = None
    if not config.data_in_s3:
        data = project_dir / config.data_path
        if not data.is_file():
            raise ConfigError(
                f"sagestack:dataPath={config.data_path!r}: no such file in {project_dir}"
            )
        size = data.stat().st_size
    return Stack(stack, region.strip(), config, size)
