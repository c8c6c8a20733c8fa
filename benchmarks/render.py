"""Rewrite the results sections of benchmarks/README.md from the results JSON files.

    python -m benchmarks.render                       # from benchmarks/results/{cpu,gpu}
    python -m benchmarks.render --results DIR --print # print the tables, write nothing

The README holds two sections between markers, `<!-- results:cpu -->` ...
`<!-- /results:cpu -->` and the same for `gpu`; everything else in it is left alone.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
from pathlib import Path
from typing import Any

from benchmarks import common

#: In the order the suite runs them and the README shows them.
MODULES = (
    "step_throughput",
    "step_flops",
    "data_path",
    "features",
    "growth",
    "platform_overhead",
    "sharing",
    "early_stopping",
    "precision_default",
    "onsets",
)
README = common.ROOT / "benchmarks" / "README.md"
SUITE = "suite"


def load(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def section(folder: Path, kind: str) -> str:
    """The Markdown of one device kind's results: a subsection per benchmark."""
    suite = load(folder, SUITE)
    parts = []
    if suite is not None:
        parts.append(
            f"Suite run {suite['date']}{' (--quick)' if suite['quick'] else ''}: "
            f"{suite['wall_s'] / 60:.1f} min in all on "
            f"{common.machine_line(suite['machine'])}."
        )
    found = False
    for name in MODULES:
        module = importlib.import_module(f"benchmarks.{name}")
        result = load(folder, name)
        parts.append(f"### {module.TITLE}")
        if result is None:
            parts.append(f"Not run on a {kind} yet.")
            continue
        found = True
        parts.append(module.render(result))
        parts.append(
            f"<sub>{common.machine_line(result['machine'])}; {result['date']}; "
            f"{result['wall_s']:.0f} s{'; --quick sizes' if result['quick'] else ''}</sub>"
        )
    if not found:
        how = (
            "run `python -m benchmarks` on a machine with a CUDA GPU: the scripts pick it, "
            "size the runs for it (fractional GPUs: 4 and 8 trials per GPU) and label the "
            "figures with its name"
            if kind == "gpu"
            else "run `python -m benchmarks`"
        )
        return f"No {kind} results yet: {how}."
    return "\n\n".join(parts)


def replace_between(text: str, kind: str, body: str) -> str:
    start, end = f"<!-- results:{kind} -->", f"<!-- /results:{kind} -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{README}: markers {start} ... {end} not found")
    return pattern.sub(lambda _: f"{start}\n{body}\n{end}", text)


def update_readme(results: Path = common.RESULTS, readme: Path = README) -> Path:
    text = readme.read_text()
    for kind in ("cpu", "gpu"):
        text = replace_between(text, kind, section(results / kind, kind))
    readme.write_text(text)
    return readme


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    parser.add_argument("--print", action="store_true", help="print, leave the README alone")
    args = parser.parse_args(argv)
    if args.print:
        for kind in ("cpu", "gpu"):
            if (args.results / kind).is_dir():
                print(f"## {kind}\n\n{section(args.results / kind, kind)}\n")
        return 0
    print(f"rewrote {update_readme(args.results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
