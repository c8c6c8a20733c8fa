"""Run the benchmark suite, then rewrite the tables in benchmarks/README.md.

    python -m benchmarks                  # the suite (its time: benchmarks/README.md)
    python -m benchmarks --quick          # tiny sizes: checks that every script runs
    python -m benchmarks --only sharing,early_stopping

Each benchmark runs as its own process, one after another (never two at once: they
measure the machine). Results go to benchmarks/results/<cpu|gpu>/ and the README's
section for that device is rewritten; a --quick run writes to a temporary folder and
prints its tables instead.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import common, render

#: What the suite must fit in on this project's 2-core CPU machine.
CPU_BUDGET_S = 720


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for checks")
    parser.add_argument("--only", help=f"comma-separated, from {', '.join(render.MODULES)}")
    parser.add_argument(
        "--results",
        type=Path,
        help="results root (default: benchmarks/results, or a temporary folder with --quick)",
    )
    args = parser.parse_args(argv)
    names = list(render.MODULES)
    if args.only:
        names = [n.strip() for n in args.only.split(",")]
        unknown = sorted(set(names) - set(render.MODULES))
        if unknown:
            parser.error(f"--only: unknown {unknown}; known: {list(render.MODULES)}")
    root = args.results or common.results_folder(args.quick, None).parent
    folder = root / common.device_kind()
    started, walls, failed = time.time(), {}, []
    for name in names:
        command = [sys.executable, "-m", f"benchmarks.{name}", "--out", str(folder)]
        command += ["--quick"] if args.quick else []
        print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
        begun = time.time()
        if subprocess.run(command, cwd=common.ROOT).returncode != 0:
            failed.append(name)
        walls[name] = round(time.time() - begun, 1)
    total = time.time() - started
    if not args.only:  # the suite's own line in the README: only for a whole run
        common.write_result(
            folder,
            render.SUITE,
            {
                "quick": args.quick,
                "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "machine": common.machine(),
                "wall_s": round(total, 1),
                "benchmarks_s": walls,
                "failed": failed,
            },
        )
    print(f"\nsuite: {total:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in walls.items())})")
    if common.device_kind() == "cpu" and not args.quick and not args.only and total > CPU_BUDGET_S:
        print(f"warning: over the {CPU_BUDGET_S} s budget of the CPU suite", file=sys.stderr)
    if args.quick or args.results:
        print(f"\n{render.section(folder, common.device_kind())}")
        print(f"\nresults in {folder}")
    else:
        print(f"rewrote {render.update_readme()}")
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
