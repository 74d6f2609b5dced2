"""Each stack's program, run once per test session under the recording mocks: as `up` runs it,
and as a first `preview` does (every computed output unknown)."""

from __future__ import annotations

import pytest

from tests.infra.program import Graph, run_program

STACKS = ("dev", "staging", "prod")


@pytest.fixture(scope="session")
def graphs() -> dict[str, Graph]:
    return {stack: run_program(stack) for stack in STACKS}


@pytest.fixture(scope="session")
def preview_graphs() -> dict[str, Graph]:
    return {stack: run_program(stack, preview=True) for stack in STACKS}
