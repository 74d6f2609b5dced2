"""A sorted snapshot of each stack's whole resource graph, committed and compared: as `up`
registers it (<stack>.json) and as a first preview sees it (<stack>.preview.json, where every
value the engine cannot know yet reads "<unknown>").

Any change to what a stack deploys shows up here as a reviewable diff. Rewrite the snapshots
on purpose only: `make test PYTEST_ARGS=--update-snapshots`, then read the diff.
Hashes of sources (image tags and digests, the training job's hash) are masked: they change
with every code change and are tested on their own (test_invariants, test_naming).
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown

from tests.infra.conftest import STACKS
from tests.infra.program import Graph

SNAPSHOTS = Path(__file__).parent / "snapshots"
_MASKS = (
    (re.compile(r"sha256:[0-9a-f]{64}"), "sha256:<digest>"),
    (re.compile(r"(repository-[0-9a-f]{7}):[0-9a-f]{16}"), r"\1:<source-tag>"),
    (re.compile(r"(sagestack-[a-z]+)-[0-9a-f]{12}\b"), r"\1-<retrain-hash>"),
)


def _plain(value: Any) -> Any:
    if isinstance(value, pulumi.FileAsset):
        return {"FileAsset": value.path}
    if isinstance(value, Unknown):
        return "<unknown>"
    raise TypeError(f"cannot snapshot {type(value).__name__}")


def snapshot(graph: Graph) -> str:
    entries = [
        {
            "urn": resource.urn,
            "type": resource.type,
            "parent": resource.parent,
            "protect": resource.protect,
            "retainOnDelete": resource.retain_on_delete,
            "customTimeouts": resource.custom_timeouts,
            "inputs": resource.inputs,
        }
        for resource in sorted(graph.resources, key=lambda r: r.urn)
    ]
    text = json.dumps(
        {"resources": entries, "outputs": graph.outputs}, indent=1, sort_keys=True, default=_plain
    )
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text + "\n"


@pytest.mark.parametrize("mode", ["up", "preview"])
@pytest.mark.parametrize("stack", STACKS)
def test_stack_graph_matches_its_snapshot(
    graphs: dict[str, Graph],
    preview_graphs: dict[str, Graph],
    stack: str,
    mode: str,
    request: pytest.FixtureRequest,
) -> None:
    path = SNAPSHOTS / (f"{stack}.json" if mode == "up" else f"{stack}.preview.json")
    current = snapshot((graphs if mode == "up" else preview_graphs)[stack])
    if request.config.getoption("--update-snapshots"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(current, encoding="utf-8")
        pytest.skip(f"rewrote {path.name}; review the diff before committing")
    assert path.is_file(), f"no snapshot {path}; run pytest with --update-snapshots"
    committed = path.read_text(encoding="utf-8")
    if current != committed:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                current.splitlines(keepends=True),
                f"committed {path.name}",
                "program now",
                n=2,
            )
        )
        pytest.fail(
            f"stack {stack} ({mode}) changed; if intended, --update-snapshots\n{diff[:6000]}"
        )
