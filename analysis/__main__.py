"""Write the report of some studies from MLflow.

    python -m analysis report --experiment smoke --out reports/smoke
    python -m analysis report --experiment loss --experiment kernel --experiment noise \\
        --tracking-uri sqlite:////abs/path/mlflow.db --out reports/thesis
    sheetsweep-report --experiment smoke --out reports/smoke      # the same, installed

Exit status 2 when the experiments cannot be analysed (unknown, empty, nothing finished).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from analysis.report import build_report, log_report, write_report
from analysis.runs import AnalysisError, load_runs
from trainables.tracking_uri import add_tracking_uri


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m analysis report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument(
        "--experiment",
        action="append",
        required=True,
        metavar="NAME",
        help="an MLflow experiment (a study's name); repeat to compare several",
    )
    add_tracking_uri(parse)
    parse.add_argument("--out", type=Path, required=True, help="folder for the report files")
    parse.add_argument(
        "--no-log", action="store_true", help="do not log the report to the studies' parent runs"
    )
    return parse


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["report"]:  # `python -m analysis report ...` and `sheetsweep-report ...`
        argv = argv[1:]
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        runs = load_runs(args.tracking_uri, args.experiment)
        report = build_report(runs)
    except AnalysisError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = args.out.resolve()
    files = write_report(report, out)
    counts = runs.counts()
    for name, row in counts.iterrows():
        states = ", ".join(f"{n} {state}" for state, n in row.items() if n)
        print(f"{name}: {states}")
    print(
        f"report: {files.html}\nmarkdown: {files.markdown} (figures in {out / 'figures'}, "
        f"tables in {out / 'tables'})"
    )
    if not args.no_log:
        for name, run_id in log_report(runs, files).items():
            print(f"logged to MLflow: experiment {name!r}, parent run {run_id}, under report/")
    print(f"MLflow store: {runs.tracking_uri}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
