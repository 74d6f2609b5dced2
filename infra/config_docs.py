"""The copies of the stack config's declarations (infra/config.py) that live outside the code.

Two files repeat each key: Pulumi.yaml's `config:` block (the engine merges those defaults in
and checks those types before the program runs) and the table in docs/configuration.md. Both
are generated here from `infra.config.KEYS`; `python -m infra.config_docs` (`make docs`)
rewrites them, and tests/infra/test_config_docs.py fails when a committed copy is stale.
Everything else in either file (comments, prose) is left as it is.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import yaml

from infra.config import KEYS, NAMESPACE, Key
from infra.paths import PROJECT_ROOT

PULUMI_YAML = PROJECT_ROOT / "Pulumi.yaml"
CONFIGURATION_MD = PROJECT_ROOT / "docs" / "configuration.md"
TABLE_BEGIN = "<!-- BEGIN GENERATED: config-table (make docs) -->"
TABLE_END = "<!-- END GENERATED: config-table -->"
_NEW_CONFIGURATION_MD = (
    "# Configuration\n\n"
    "Every stack config key, its type, default and meaning (generated from infra/config.py).\n\n"
    f"{TABLE_BEGIN}\n{TABLE_END}\n"
)
# The `config:` mapping and its indented lines, up to the next top-level line or the end.
_CONFIG_BLOCK = re.compile(r"^config:\n(?:(?:[ \t].*)?\n)*", re.MULTILINE)


class StaleCopy(Exception):
    """A file does not have the place its generated copy goes."""


def _yaml_default(key: Key) -> str | int | bool:
    """The default as Pulumi.yaml writes it for the key's declared type: the parsed value, so a
    boolean written "True" is true (not `key.default == "true"`)."""
    if key.kind in ("integer", "boolean"):
        value: int | bool = key.parse(key.default)
        return value
    return key.default


def config_block() -> str:
    declared = {
        key.name: {"type": key.kind, "default": _yaml_default(key), "description": key.description}
        for key in KEYS
    }
    # No line wrapping: one line per description, as people write it; unicode as written.
    text: str = yaml.safe_dump(
        {"config": declared},
        sort_keys=False,
        default_flow_style=False,
        width=math.inf,
        allow_unicode=True,
    )
    return text


# A pipe not already escaped: GFM ends a table cell at it, even inside a code span.
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _cell(text: str) -> str:
    """Text (markdown) made safe for one table cell: one line, pipes escaped once, and no
    comment opener, so a description cannot end the generated part (TABLE_END)."""
    one_line = " ".join(text.splitlines())
    return _UNESCAPED_PIPE.sub(r"\|", one_line).replace("<!--", "&lt;!--")


def _code_span(text: str) -> str:
    """`text` as a code span: fenced by more backticks than it holds in a row (CommonMark)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{_cell(padded)}{fence}"


def config_table() -> str:
    rows = [f"| key (`{NAMESPACE}:`) | type | default | meaning |", "| --- | --- | --- | --- |"]
    for key in KEYS:
        default = _code_span(key.default) if key.default else "(empty)"
        rows.append(f"| `{key.name}` | {key.kind} | {default} | {_cell(key.description)} |")
    return "\n".join(rows) + "\n"


def with_config_block(pulumi_yaml: str) -> str:
    """`pulumi_yaml` with its `config:` block replaced by the generated one."""
    if len(_CONFIG_BLOCK.findall(pulumi_yaml)) != 1:
        raise StaleCopy("Pulumi.yaml needs exactly one top-level `config:` block")
    return _CONFIG_BLOCK.sub(lambda _: config_block(), pulumi_yaml)


def with_config_table(markdown: str) -> str:
    """`markdown` with the generated table between its markers."""
    begin, end = markdown.find(TABLE_BEGIN + "\n"), markdown.find(TABLE_END)
    if begin < 0 or end < begin:
        raise StaleCopy(f"the configuration page needs the lines {TABLE_BEGIN} and {TABLE_END}")
    head = markdown[: begin + len(TABLE_BEGIN) + 1]
    return head + config_table() + markdown[end:]


def _rewrite(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def main() -> int:
    markdown = (
        CONFIGURATION_MD.read_text(encoding="utf-8")
        if CONFIGURATION_MD.is_file()
        else _NEW_CONFIGURATION_MD
    )
    try:
        copies = {
            PULUMI_YAML: with_config_block(PULUMI_YAML.read_text(encoding="utf-8")),
            CONFIGURATION_MD: with_config_table(markdown),
        }
    except StaleCopy as error:
        sys.stderr.write(f"make docs: {error}\n")
        return 1
    for path, text in copies.items():
        changed = _rewrite(path, text)
        state = "rewritten" if changed else "up to date"
        sys.stdout.write(f"{path.relative_to(PROJECT_ROOT)}: {state}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
