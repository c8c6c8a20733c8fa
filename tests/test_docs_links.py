"""Every relative link in README.md and docs/ leads to a file or folder of the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.commands import ROOT
from tests.documents import DOCUMENTS

#: [text](target) and ![alt](target), and <img src="target">; the target up to a space,
#: a closing parenthesis or a #anchor.
LINK = re.compile(r"\]\(\s*<?([^)\s>#]*)[^)]*\)|<img[^>]*\ssrc=\"([^\"#]+)\"")


def relative_links(text: str) -> list[str]:
    without_code = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    targets = [a or b for a, b in LINK.findall(without_code)]
    return [t for t in targets if t and not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path):
    broken = [
        target
        for target in relative_links(document.read_text(encoding="utf-8"))
        if not (document.parent / target).resolve().exists()
    ]
    assert broken == []


def test_links_are_found_and_external_ones_skipped():
    text = '[a](docs/x.md#part) ![b](img.png) [c](https://example.org) <img src="p.png">'
    assert relative_links(text) == ["docs/x.md", "img.png", "p.png"]


def test_the_repository_stands_alone():
    """Nothing a reader opens points outside the repository."""
    outside = [
        str(document.relative_to(ROOT))
        for document in DOCUMENTS
        if "../shared" in document.read_text(encoding="utf-8")
    ]
    assert outside == []
