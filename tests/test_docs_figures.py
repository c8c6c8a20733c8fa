"""Every figure the README and docs/ cite agrees with the committed result it cites.

A cited figure is a number followed by a marker naming its source, a committed file:

    at **44.33 dB**<!-- figure: docs/results/best-8-epochs/runs/trials.csv held_out= test_psnr -->

`<!-- figure: from PATH -->` names the file the figures after it cite without naming one.
The source is a JSON file and a dotted path (`studies.best.sweeps.0.wall_time_s`), or a CSV
file, the `column=value` pairs that pick its row (an empty value: the cell is empty) and
the column to read; a space in a key or value is written %20. `as=` says how the text
writes the value: `pct` (a share written as a percentage), `min:s` (seconds written as
"45 min 39 s"), `min` (seconds written as minutes). The figure must equal the source
rounded to the digits the text shows.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.commands import ROOT
from tests.documents import DOCUMENTS

MARKER = re.compile(r"<!--\s*figure:\s*(?P<source>[^>]*?)\s*-->")
NUMBER = r"-?\d+(?:\.\d+)?"
DURATION = re.compile(rf"(?:(?P<min>\d+) min\s*)?(?P<s>{NUMBER}) s\W*$")
LAST_NUMBER = re.compile(rf"({NUMBER})(?!.*\d)", re.DOTALL)


@dataclass(frozen=True)
class Figure:
    document: Path
    shown: str  # the text before the marker that holds the figure
    path: Path
    selector: tuple[str, ...]
    style: str  # plain | pct | min:s | min

    def __str__(self) -> str:
        where, source = (os.path.relpath(p, ROOT) for p in (self.document, self.path))
        return f"{where}: {self.shown.strip()[-40:]!r} <- {source} {' '.join(self.selector)}"


def cited_figures(document: Path, text: str | None = None) -> list[Figure]:
    text = document.read_text(encoding="utf-8") if text is None else text
    figures, default = [], None
    for match in MARKER.finditer(text):
        words = match.group("source").split()
        if words[0] == "from":  # `<!-- figure: from PATH -->`: the file the next ones cite
            default = words[1]
            continue
        style = next((w.removeprefix("as=") for w in words if w.startswith("as=")), "plain")
        words = [w for w in words if not w.startswith("as=")]
        if "/" not in words[0]:
            assert default, f"{document}: a figure names no file and none is declared before it"
            words = [default, *words]
        before = text[max(0, match.start() - 80) : match.start()]
        figures.append(Figure(document, before, ROOT / words[0], tuple(words[1:]), style))
    return figures


def source_value(path: Path, selector: tuple[str, ...]) -> float:
    """The number `selector` picks in the committed file `path`."""
    if path.suffix == ".json":
        value = json.loads(path.read_text(encoding="utf-8"))
        for part in unquote(selector[0]).split("."):
            value = value[int(part)] if isinstance(value, list) else value[part]
        return float(value)
    *conditions, column = selector
    wanted = dict(unquote(condition).split("=", 1) for condition in conditions)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if all(r[k] == v for k, v in wanted.items())]
    assert len(rows) == 1, f"{path}: {len(rows)} rows match {wanted}, expected exactly one"
    return float(rows[0][column].rstrip("%"))


def shown_value(figure: Figure) -> tuple[float, int]:
    """(the figure as the text writes it, in the source's unit; its decimals)."""
    if figure.style == "min:s":
        match = DURATION.search(figure.shown.rstrip("*_ "))
        assert match, f"{figure}: expected a time such as '45 min 39 s' before the marker"
        seconds = float(match.group("s")) + 60 * int(match.group("min") or 0)
        return seconds, len(match.group("s").partition(".")[2])
    match = LAST_NUMBER.search(figure.shown)
    assert match, f"{figure}: no number before the marker"
    number = match.group(1)
    return float(number), len(number.partition(".")[2])


def agrees(figure: Figure, value: float) -> bool:
    shown, decimals = shown_value(figure)
    if figure.style == "pct":
        value *= 100
    elif figure.style == "min":
        value /= 60
    return math.isclose(round(value, decimals), shown, abs_tol=10 ** -(decimals + 6))


ALL = [figure for document in DOCUMENTS for figure in cited_figures(document)]


def test_the_docs_cite_their_figures():
    cited = {figure.document.name for figure in ALL}
    assert {"README.md", "findings.md", "best_model.md"} <= cited


@pytest.mark.parametrize("figure", ALL, ids=str)
def test_a_cited_figure_agrees_with_its_source(figure: Figure):
    assert figure.path.is_file(), f"{figure}: the cited file is not committed"
    value = source_value(figure.path, figure.selector)
    assert agrees(figure, value), f"{figure}: the source says {value}"


def test_one_digit_changed_is_caught(tmp_path):
    table = tmp_path / "scores.csv"
    table.write_text("held_out,register,psnr\n,all,44.3312\nTimGM6mb,all,41.2\n")
    record = tmp_path / "run.json"
    record.write_text('{"sweeps": [{"wall_time_s": 2739.4, "acc": 0.9942}]}')
    cite = f"<!-- figure: {table} held_out= register=all psnr -->"
    time = f"<!-- figure: {record} sweeps.0.wall_time_s as=min:s -->"
    share = f"<!-- figure: {record} sweeps.0.acc as=pct -->"
    for text, right in [
        (f"at **44.33 dB**{cite}", True),
        (f"at **44.34 dB**{cite}", False),
        (f"at 44.3 dB{cite}", True),
        (f"in 45 min 39 s{time}", True),
        (f"in 45 min 38 s{time}", False),
        (f"99.4%{share}", True),
        (f"99.5%{share}", False),
        (f"<!-- figure: from {table} --> at 41.2 dB<!-- figure: held_out=TimGM6mb psnr -->", True),
        (f"<!-- figure: from {table} --> at 41.3 dB<!-- figure: held_out=TimGM6mb psnr -->", False),
    ]:
        [figure] = cited_figures(ROOT / "README.md", text)
        assert agrees(figure, source_value(figure.path, figure.selector)) is right, text
