"""The README and docs/ hold together: every relative link reaches a file (and its heading), and
the Quickstart's two commands are the ones that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devtools.cli import _parser

ROOT = Path(__file__).resolve().parents[3]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#{1,6} (.+)$", FENCE.sub("", page.read_text()), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def links(page: Path) -> list[str]:
    return LINK.findall(FENCE.sub("", page.read_text()))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_reaches_a_file_and_its_heading(page: Path) -> None:
    for link in links(page):
        if re.match(r"[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        file = (page.parent / target).resolve() if target else page
        assert file.exists(), f"{page.name}: {link} names a missing file"
        if anchor and file.suffix == ".md":
            assert anchor in anchors(file), f"{page.name}: {link} names a missing heading"


def test_the_docs_the_readme_promises_are_linked_from_it() -> None:
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in links(ROOT / "README.md")}
    for page in ("api", "runtime", "gateway", "functions", "events", "deployment", "testing"):
        assert ROOT / "docs" / f"{page}.md" in linked, page
    assert ROOT / "docs" / "configuration.md" in linked


def test_the_quickstart_opens_with_the_two_commands_and_both_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1]
    block = quickstart.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.splitlines()]
    assert commands[:2] == ["uv run shop up", "uv run task test"]
    assert _parser().parse_args(["up"]).command == "up"
    taskfile = (ROOT / "Taskfile.yml").read_text()
    assert re.search(r"^  test:\n(?:    .*\n)*?      - pytest", taskfile, re.MULTILINE)


def test_the_readme_stays_an_entry_point() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200
