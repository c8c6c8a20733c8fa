"""The figures README.md and docs/ cite, read from the text and from the committed files they cite.

A cited figure is a number followed by a marker naming its source, a committed file:

    at **44.33 dB**<!-- figure: docs/results/best-8-epochs/runs/trials.csv held_out= test_psnr -->

`<!-- figure: from PATH -->` names the file the figures after it cite without naming one.
The source is a JSON file and a dotted path (`studies.best.sweeps.0.wall_time_s`), or a CSV
file, the `column=value` pairs that pick its row (an empty value: the cell is empty) and
the column to read; a space in a key or value is written %20. `as=` says how the text
writes the value: `pct` (a share written as a percentage), `min:s` (seconds written as
"45 min 39 s"), `min` (seconds written as minutes). The figure must equal the source
rounded to the digits the text shows.

After publishing a result again, rewrite the figures that cite it to its values (same
digits), and review the diff:

    .venv/bin/python -m tests.figures --fix docs/best_model.md    # or no file: every document
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

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
    at: int = 0  # where the marker starts in the document's text

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
        figures.append(
            Figure(document, before, ROOT / words[0], tuple(words[1:]), style, match.start())
        )
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


def _match(figure: Figure) -> re.Match:
    """The figure in the text before its marker: a time for `min:s`, else the last number."""
    if figure.style == "min:s":
        match = DURATION.search(figure.shown.rstrip("*_ "))
        assert match, f"{figure}: expected a time such as '45 min 39 s' before the marker"
        return match
    match = LAST_NUMBER.search(figure.shown)
    assert match, f"{figure}: no number before the marker"
    return match


def _decimals(number: str) -> int:
    return len(number.partition(".")[2])


def shown_value(figure: Figure) -> tuple[float, int]:
    """(the figure as the text writes it, in the source's unit; its decimals)."""
    match = _match(figure)
    if figure.style == "min:s":
        seconds = float(match.group("s")) + 60 * int(match.group("min") or 0)
        return seconds, _decimals(match.group("s"))
    return float(match.group(1)), _decimals(match.group(1))


def in_text_unit(figure: Figure, value: float) -> float:
    """A source's value in the unit the text writes it in (`min:s` is written in seconds)."""
    if figure.style == "pct":
        return value * 100
    if figure.style == "min":
        return value / 60
    return value


def agrees(figure: Figure, value: float) -> bool:
    shown, decimals = shown_value(figure)
    value = in_text_unit(figure, value)
    return math.isclose(round(value, decimals), shown, abs_tol=10 ** -(decimals + 6))


def rewritten(figure: Figure, value: float) -> tuple[int, int, str]:
    """Where the figure stands in its document's text (start, end) and `value` written the
    way the figure is: in its unit, with its digits."""
    window = figure.at - len(figure.shown)
    match = _match(figure)
    if figure.style != "min:s":
        start, end = match.span(1)
        new = f"{in_text_unit(figure, value):.{_decimals(match.group(1))}f}"
        return window + start, window + end, new
    decimals = _decimals(match.group("s"))
    if match.group("min") is None:
        return window + match.start("s"), window + match.end("s"), f"{value:.{decimals}f}"
    minutes, seconds = divmod(round(value, decimals), 60)
    between = figure.shown[match.end("min") : match.start("s")]
    new = f"{int(minutes)}{between}{seconds:.{decimals}f}"
    return window + match.start("min"), window + match.end("s"), new


def fix(document: Path) -> list[str]:
    """Rewrite the figures of `document` that disagree with their sources; what changed."""
    text = document.read_text(encoding="utf-8")
    pieces, changes, done = [], [], 0
    for figure in cited_figures(document, text):
        value = source_value(figure.path, figure.selector)
        if agrees(figure, value):
            continue
        start, end, new = rewritten(figure, value)
        pieces += [text[done:start], new]
        done = end
        line = text.count("\n", 0, start) + 1
        changes.append(f"{os.path.relpath(document, ROOT)}:{line}: {text[start:end]} -> {new}")
    if changes:
        document.write_text("".join([*pieces, text[done:]]), encoding="utf-8")
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("documents", nargs="*", type=Path, help="default: every document")
    parser.add_argument("--fix", action="store_true", help="rewrite what disagrees")
    args = parser.parse_args(argv)
    documents = [path.resolve() for path in args.documents] or DOCUMENTS
    if args.fix:
        changes = [change for document in documents for change in fix(document)]
        print("\n".join(changes) or "every figure agrees with its source")
        return 0
    wrong = [
        f"{figure}: the source says {value}"
        for document in documents
        for figure in cited_figures(document)
        if not agrees(figure, value := source_value(figure.path, figure.selector))
    ]
    print("\n".join(wrong) or "every figure agrees with its source")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
