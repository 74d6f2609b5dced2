"""The preview workflow runs the cost tool per stack, against the base branch, with the budget
check; its command lines are ones the CLI accepts (the linters run in tests/test_workflows.py)."""

from __future__ import annotations

import re
import shlex
from typing import Any

import yaml

from sagestack.cost.cli import argument_parser
from tests.conftest import REPO


def _steps() -> list[dict[str, Any]]:
    document = yaml.safe_load((REPO / ".github" / "workflows" / "preview.yml").read_text())
    steps: list[dict[str, Any]] = document["jobs"]["preview"]["steps"]
    return steps


def _cost_commands() -> list[list[str]]:
    commands = []
    for step in _steps():
        script = step.get("run", "").replace("\\\n", " ")
        for line in script.splitlines():
            if "-m sagestack cost" in line:
                words = shlex.split(line.split("||")[0].split(">")[0])
                commands.append(words[words.index("cost") + 1 :])
    return commands


def test_each_stack_is_estimated_against_the_base_and_checked_against_its_budget() -> None:
    commands = [vars(argument_parser().parse_args(c)) for c in _cost_commands()]
    assert [c["stack"] for c in commands] == ["$STACK"] * 3
    base, head, budget = commands
    assert base["json"]
    assert str(base["project_dir"]) == ".sagestack/base"
    assert head["markdown"]
    assert str(head["base"]) == ".sagestack/base-cost.json"
    assert budget["check_budget"]
    assert str(budget["base"]) == ".sagestack/base-cost.json"
    names = [step.get("name", step.get("uses", "")) for step in _steps()]
    # The budget fails the job last, after the preview and the comments.
    assert names[-1] == "the stack's monthlyBudgetUsd"
    checkout = next(s for s in _steps() if s.get("with", {}).get("path") == ".sagestack/base")
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"


def test_the_comment_is_found_again_by_its_stack_marker() -> None:
    comment = next(s for s in _steps() if "gh api" in s.get("run", ""))
    assert re.search(r'marker="<!-- sagestack-cost:\$STACK -->"', comment["run"])
    assert comment["env"]["STACK"] == "${{ matrix.stack }}"
