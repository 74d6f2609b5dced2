"""The generated copies of the config declarations: committed as generated, rest left alone."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from infra.config import KEYS, parse_config
from infra.config_docs import (
    CONFIGURATION_MD,
    PULUMI_YAML,
    TABLE_BEGIN,
    TABLE_END,
    StaleCopy,
    config_block,
    config_table,
    with_config_block,
    with_config_table,
)

RUN_MAKE_DOCS = "is not what infra/config.py declares: run `make docs` and commit the result"


def test_committed_pulumi_yaml_config_block_is_the_generated_one() -> None:
    committed = PULUMI_YAML.read_text()
    assert committed == with_config_block(committed), f"Pulumi.yaml's config block {RUN_MAKE_DOCS}"


def test_committed_configuration_table_is_the_generated_one() -> None:
    committed = CONFIGURATION_MD.read_text()
    assert committed == with_config_table(committed), (
        f"{CONFIGURATION_MD.name}'s table {RUN_MAKE_DOCS}"
    )


def test_the_engine_reads_each_declared_type_and_default() -> None:
    declared = yaml.safe_load(config_block())["config"]
    assert list(declared) == [key.name for key in KEYS]
    for key in KEYS:
        assert declared[key.name]["type"] == key.kind, key.name
        assert declared[key.name]["description"] == key.description, key.name
    # Each default, as the engine hands it to the program, passes its own validator.
    as_engine_text = {
        name: str(entry["default"]).lower() if entry["type"] == "boolean" else str(entry["default"])
        for name, entry in declared.items()
    }
    assert parse_config(as_engine_text) == parse_config({})


def test_only_the_config_block_is_replaced() -> None:
    project = "# a comment\nname: x\nconfig:\n  old:\n    type: string\n\n  more: 1\nmain: infra/\n"
    rewritten = with_config_block(project)
    assert rewritten == "# a comment\nname: x\n" + config_block() + "main: infra/\n"


def test_only_the_text_between_the_markers_is_replaced() -> None:
    page = f"# Title\n\nprose\n{TABLE_BEGIN}\nold table\n{TABLE_END}\nmore prose\n"
    rewritten = with_config_table(page)
    assert rewritten.startswith(f"# Title\n\nprose\n{TABLE_BEGIN}\n| key (`sagestack:`) |")
    assert rewritten.endswith(f" |\n{TABLE_END}\nmore prose\n")
    assert "old table" not in rewritten
    assert rewritten.count("\n| `") == len(KEYS)


@pytest.mark.parametrize("page", ["# Title\n", f"{TABLE_END}\n{TABLE_BEGIN}\n"])
def test_a_page_without_the_markers_is_refused(page: str) -> None:
    with pytest.raises(StaleCopy, match="needs the lines"):
        with_config_table(page)


def test_a_project_file_without_a_config_block_is_refused() -> None:
    with pytest.raises(StaleCopy, match="exactly one top-level `config:` block"):
        with_config_block("name: x\n")


def test_a_pipe_in_a_description_stays_in_its_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    piped = dataclasses.replace(KEYS[0], description="a | b")
    monkeypatch.setattr("infra.config_docs.KEYS", (piped,))
    assert (
        config_table().splitlines()[-1]
        == f"| `{piped.name}` | string | `{piped.default}` | a \\| b |"
    )


def _only(monkeypatch: pytest.MonkeyPatch, **changes: str) -> None:
    key = dataclasses.replace(KEYS[0], **changes)  # type: ignore[arg-type]  # str fields only
    monkeypatch.setattr("infra.config_docs.KEYS", (key,))


def _row(monkeypatch: pytest.MonkeyPatch, **changes: str) -> str:
    _only(monkeypatch, **changes)
    return config_table().splitlines()[-1]


def test_a_pipe_or_backtick_in_a_default_stays_in_its_code_span(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _row(monkeypatch, default="a|b").split(" | ")[2] == "`a\\|b`"
    assert _row(monkeypatch, default="a`b").split(" | ")[2] == "``a`b``"
    assert _row(monkeypatch, default="`x`").split(" | ")[2] == "`` `x` ``"


def test_an_escaped_pipe_is_not_escaped_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _row(monkeypatch, description="a \\| b | c").endswith("| a \\| b \\| c |")


def test_a_newline_in_a_description_keeps_the_row_on_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _only(monkeypatch, description="first\nsecond")
    assert config_table().count("\n") == 3
    assert config_table().splitlines()[-1].endswith("| first second |")


def test_the_markers_in_a_description_keep_regeneration_idempotent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _only(monkeypatch, description=f"see {TABLE_END} and {TABLE_BEGIN}")
    page = f"# T\n{TABLE_BEGIN}\nold\n{TABLE_END}\nafter\n"
    once = with_config_table(page)
    assert with_config_table(once) == once
    assert once.endswith(f"{TABLE_END}\nafter\n")


def test_unicode_is_written_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    _only(monkeypatch, description="café — naïve")
    assert "café — naïve" in config_block()


def test_a_boolean_default_is_written_from_its_parsed_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    boolean = next(key for key in KEYS if key.kind == "boolean")
    monkeypatch.setattr("infra.config_docs.KEYS", (dataclasses.replace(boolean, default="True"),))
    assert yaml.safe_load(config_block())["config"][boolean.name]["default"] is True
