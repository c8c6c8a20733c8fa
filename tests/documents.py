"""The Markdown a reader opens: README.md, docs/ and each top-level folder's README."""

from tests.commands import ROOT

DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *ROOT.glob("*/README.md")])
