"""The manual: docs/ builds strictly with mkdocs (so a broken link, anchor or snippet fails),
its architecture diagram reaches the site as a mermaid block, and README.md stays one screen
whose relative links resolve (mkdocs checks the pages' links, not the README's)."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify

from tests.conftest import REPO

DOCS = REPO / "docs"
README = REPO / "README.md"
# "A README that starts in one screen": about 150-200 lines, and never 250.
README_MAX_LINES = 250
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
MERMAID = re.compile(r'<pre class="mermaid"><code>(.*?)</code></pre>', re.DOTALL)
EDGE = re.compile(r"^\s*(\w+)\b.*?-->\s*(\w+)", re.MULTILINE)


def _build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    result = _build(REPO, site)
    assert result.returncode == 0, result.stderr[-3000:]
    return site


def test_every_page_is_built(site: Path) -> None:
    for page in sorted(DOCS.glob("*.md")):
        built = site / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert built.is_file(), page.name


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    # Proof that the strict build is a real gate: the same project with one bad anchor fails.
    project = tmp_path / "project"
    shutil.copytree(DOCS, project / "docs")
    shutil.copy(REPO / "mkdocs.yml", project)
    shutil.copy(README, project)
    with (project / "docs" / "index.md").open("a") as page:
        page.write("\nSee [the rollback](deploy.md#no-such-section).\n")
    result = _build(project, tmp_path / "site")
    assert result.returncode != 0
    assert "no-such-section" in result.stderr


def test_the_readme_sections_the_manual_includes_are_rendered(site: Path) -> None:
    # The outputs table and the layout map are written once, in README.md, and included.
    deploy = (site / "deploy" / "index.html").read_text()
    assert "<code>endpoint_name</code>" in deploy
    development = (site / "development" / "index.html").read_text()
    assert "Pulumi program: __main__.py" in development
    assert "--8&lt;--" not in deploy + development


def _diagram(site: Path) -> str:
    blocks = MERMAID.findall((site / "index.html").read_text())
    assert len(blocks) == 1, "the architecture diagram is one mermaid block on the home page"
    return html.unescape(blocks[0])


def test_the_architecture_diagram_is_a_mermaid_flowchart(site: Path) -> None:
    assert _diagram(site).startswith("flowchart ")


def test_the_diagram_goes_from_the_csv_to_a_monitored_endpoint_and_back(site: Path) -> None:
    edges: dict[str, set[str]] = {}
    for source, target in EDGE.findall(_diagram(site)):
        edges.setdefault(source, set()).add(target)

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(edges.get(node, ()))
        return seen

    assert {"data", "job", "artifacts", "model", "endpoint", "alarms", "sns"} <= reachable("csv")
    assert {"capture", "monitor", "retrain", "data"} <= reachable("endpoint")


def test_the_readme_starts_in_one_screen() -> None:
    lines = len(README.read_text().splitlines())
    assert lines < README_MAX_LINES, f"README.md is {lines} lines: move sections into docs/"


def _anchors(page: Path) -> set[str]:
    headings, fenced = [], False
    for line in page.read_text().splitlines():
        fenced ^= line.startswith("```")
        if not fenced and (match := re.match(r"^#+ (.+)", line)):
            headings.append(match[1])
    return {slugify(heading, "-") for heading in headings}


def test_every_relative_link_in_the_readme_resolves() -> None:
    links = [link for link in LINK.findall(README.read_text()) if not re.match(r"[a-z]+:", link)]
    assert links, "the README links into docs/"
    for link in links:
        path, _, anchor = link.partition("#")
        target = (README.parent / path).resolve() if path else README
        assert target.exists(), link
        if anchor:
            assert anchor in _anchors(target), link
