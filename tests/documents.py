"""The Markdown a reader opens: README.md, docs/ and each top-level folder's README."""

from tests.commands import ROOT

#: the shipped model's card beside them: its figures are cited and checked like the docs'
CARD = ROOT / "trainables" / "serving" / "ready_model" / "README.md"
DOCUMENTS = sorted(
    [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *ROOT.glob("*/README.md"), CARD]
)
