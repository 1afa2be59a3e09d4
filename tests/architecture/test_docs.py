"""The README and docs/: short enough to read, every relative link and picture resolves.

Links are the Markdown ``[text](target)`` and ``![alt](target)`` forms outside code
blocks. A target is a file or directory of the repository, optionally with a ``#anchor``
that must be a heading of the target file (GitHub's anchors: lower case, punctuation
dropped, spaces as hyphens).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DECISIONS = ROOT / "docs" / "decisions"
DOCUMENTS = [README, *sorted((ROOT / "docs").rglob("*.md"))]
README_MAX_LINES = 250

_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """Return the anchors GitHub gives the headings of the Markdown file ``path``."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", _FENCE.sub("", path.read_text()), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def broken_links(path: Path) -> list[str]:
    """Return the relative links of ``path`` whose file, directory or anchor does not exist."""
    broken = []
    for target in _LINK.findall(_FENCE.sub("", path.read_text())):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        destination = (path.parent / file).resolve() if file else path
        if not destination.exists() or (anchor and (destination.is_dir() or anchor not in anchors(destination))):
            broken.append(target)
    return broken


def test_the_readme_is_read_in_ten_minutes():
    assert len(README.read_text().splitlines()) <= README_MAX_LINES


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_link_resolves(document):
    assert broken_links(document) == []


def test_a_broken_link_or_anchor_is_found(tmp_path):
    (tmp_path / "other.md").write_text("# A `heading`: here\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#a-heading-here) [gone](missing.md#x) [bad](other.md#nowhere)\n"
                    "```sh\n[in code](ignored.md)\n```\n![picture](other.png) [web](https://example.com/x)\n")
    assert broken_links(page) == ["missing.md#x", "other.md#nowhere", "other.png"]


def test_the_decisions_index_lists_every_record():
    index = (DECISIONS / "README.md").read_text()
    records = sorted(path.name for path in DECISIONS.glob("[0-9][0-9][0-9][0-9]-*.md"))
    assert records, "no decision records"
    assert [name for name in records if f"]({name})" not in index] == []
