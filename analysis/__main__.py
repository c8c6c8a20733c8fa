"""Write the report of some studies from MLflow, or publish their results into the repo.

    python -m analysis report --experiment smoke --out reports/smoke
    python -m analysis report --experiment loss --experiment kernel --experiment noise \\
        --tracking-uri sqlite:////abs/path/mlflow.db --out reports/thesis
    sheetsweep-report --experiment smoke --out reports/smoke      # the same, installed
    sheetsweep-report --experiment best --publish docs/results/best  # committable results
    sheetsweep-report --from-published docs/results/best --out reports/best  # no store

Exit status (trainables/exit_codes.py, docs/exit_codes.md): 0 when the report was
written from every file it reads; 2 when the experiments cannot be analysed (unknown,
empty, nothing finished, a store or artifact that cannot be read); 3 when the report was
written but a finished run lacks its test scores or per-key scores, so some tables rest
on fewer runs: stderr names each run and the file it lacks.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from analysis.artifacts import ArtifactError
from analysis.document import Report
from analysis.missing import missing_files
from analysis.report import build_report, log_report, write_report
from analysis.runs import AnalysisError, Runs, load_runs
from trainables.exit_codes import Exit
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
        metavar="NAME",
        help="an MLflow experiment (a study's name); repeat to compare several",
    )
    add_tracking_uri(parse)
    parse.add_argument("--out", type=Path, help="folder for the report files")
    parse.add_argument(
        "--publish",
        type=Path,
        metavar="FOLDER",
        help="write the study's results as committable files (report.md, tables, figures, "
        "runs as CSV, run.json) into FOLDER, e.g. docs/results/best",
    )
    parse.add_argument(
        "--from-published",
        type=Path,
        metavar="FOLDER",
        help="build the report from a folder written by --publish instead of from MLflow",
    )
    parse.add_argument(
        "--no-log", action="store_true", help="do not log the report to the studies' parent runs"
    )
    return parse


def read_runs(args: argparse.Namespace) -> Runs:
    if args.from_published is not None:
        from analysis.publish import load_published

        try:
            return load_published(args.from_published)
        except FileNotFoundError as error:
            raise AnalysisError(str(error)) from None
    return load_runs(args.tracking_uri, args.experiment)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["report"]:  # `python -m analysis report ...` and `sheetsweep-report ...`
        argv = argv[1:]
    parse = parser()
    args = parse.parse_args(argv)
    if not args.experiment and args.from_published is None:
        parse.error("name an --experiment (or read one with --from-published FOLDER)")
    if args.out is None and args.publish is None:
        parse.error("say where the report goes: --out FOLDER (or --publish FOLDER)")
    if args.publish is not None and args.from_published is not None:
        parse.error("--publish reads a study from MLflow; it is already published")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        runs = read_runs(args)
        report = build_report(runs)
        write(args, runs, report)
    except (AnalysisError, ArtifactError) as error:
        print(f"error: {error}", file=sys.stderr)
        return Exit.BAD_INPUT
    return report_missing(runs)


def write(args: argparse.Namespace, runs: Runs, report: Report) -> None:
    """The report (and the published study) where `args` asks, and what went where."""
    counts = runs.counts()
    for name, row in counts.iterrows():
        states = ", ".join(f"{n} {state}" for state, n in row.items() if n)
        print(f"{name}: {states}")
    if args.publish is not None:
        from analysis.publish import RUN_JSON, publish

        folder = publish(runs, args.publish.resolve(), report)
        print(f"published: {folder} (report.md, tables, figures, runs, {RUN_JSON})")
    if args.out is not None:
        out = args.out.resolve()
        files = write_report(report, out)
        print(
            f"report: {files.html}\nmarkdown: {files.markdown} (figures in {out / 'figures'}, "
            f"tables in {out / 'tables'})"
        )
        if not args.no_log and args.from_published is None:
            for name, run_id in log_report(runs, files).items():
                print(f"logged to MLflow: experiment {name!r}, parent run {run_id}, under report/")
    if args.from_published is None:
        print(f"MLflow store: {runs.tracking_uri}")


def report_missing(runs: Runs) -> Exit:
    """INCOMPLETE, naming on stderr each finished run that lacks a file the report reads;
    else OK."""
    missing = missing_files(runs)
    for row in missing.itertuples(index=False):
        print(
            f"incomplete: {row.experiment} run {row.run_name} ({row.run_id}) has no {row.file}; "
            "the tables built on it leave that run out",
            file=sys.stderr,
        )
    return Exit.INCOMPLETE if len(missing) else Exit.OK


if __name__ == "__main__":
    raise SystemExit(main())
