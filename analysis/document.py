"""The report as a document: a title and its blocks (headings, text, tables, figures) in order.

Built once from the runs and rendered twice (`analysis.render`), so the HTML and the
Markdown cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from matplotlib.figure import Figure

from analysis.figures import png_bytes
from analysis.tables import Table


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Text:
    text: str  # `code` spans allowed


@dataclass(frozen=True)
class TableBlock:
    table: Table


@dataclass(frozen=True)
class FigureBlock:
    name: str  # file stem
    png: bytes
    caption: str


Block = Heading | Text | TableBlock | FigureBlock


@dataclass
class Report:
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def tables(self) -> list[Table]:
        return [b.table for b in self.blocks if isinstance(b, TableBlock)]

    @property
    def figures(self) -> list[FigureBlock]:
        return [b for b in self.blocks if isinstance(b, FigureBlock)]

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)

    def figure(self, name: str, figure: Figure, caption: str) -> None:
        self.blocks.append(FigureBlock(slug(name), png_bytes(figure), caption))


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
