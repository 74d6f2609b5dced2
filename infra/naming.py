"""Physical names AWS needs to be deterministic, and the tags every resource carries.

Everything else is auto-named by Pulumi. Two names are not: the training job's, which is a hash
of everything that should retrain (so that the same inputs give the same job and nothing
retrains), and the endpoint's, which clients and alarms address and so stays put per stack.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

# SageMaker's rule for training job and endpoint names.
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
SAGEMAKER_NAME_MAX = 63
HASH_LENGTH = 12


def sagemaker_prefix(project: str, stack: str, room: int = SAGEMAKER_NAME_MAX) -> str:
    """`<project>-<stack>` reduced to letters, digits and single hyphens, at most `room` long."""
    text = re.sub(r"[^a-zA-Z0-9]+", "-", f"{project}-{stack}").strip("-")
    return text[:room].rstrip("-") or "sagestack"


def endpoint_name(project: str, stack: str) -> str:
    return sagemaker_prefix(project, stack)


def content_hash(inputs: Mapping[str, object], length: int = HASH_LENGTH) -> str:
    """A short, stable hash of plain values (key order does not matter)."""
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def training_job_prefix(project: str, stack: str) -> str:
    """What every training job name of the stack starts with (its events are matched by it)."""
    return sagemaker_prefix(project, stack, SAGEMAKER_NAME_MAX - HASH_LENGTH - 1) + "-"


def training_job_name(project: str, stack: str, retrain_inputs: Mapping[str, object]) -> str:
    """`<project>-<stack>-<hash>`: the same inputs give the same name, so nothing retrains."""
    name = f"{training_job_prefix(project, stack)}{content_hash(retrain_inputs)}"
    assert SAGEMAKER_NAME.match(name), name
    return name


def resource_tags(project: str, stack: str) -> dict[str, str]:
    """Merged into every taggable resource: who owns it, so nothing runs that nobody owns."""
    return {"project": project, "stack": stack, "managed-by": "pulumi"}
