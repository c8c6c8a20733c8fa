"""Run a study: locally (Ray started in this process) or on a Ray cluster.

    python platform/sweep.py --study smoke --report reports/smoke    # and its report
    python platform/sweep.py --study loss --set epochs=3 --seeds 0     # a quick look
    python platform/sweep.py --study full --dry-run                    # the plan, no training
    python platform/sweep.py --study best --register piano     # its best model: piano@champion
    python platform/sweep.py --study timbre --set spectrogram=mel --name timbre-mel  # a variant
    ray submit platform/cluster-gpu.yaml platform/sweep.py -- --study full --address auto

Launching the same command again resumes: finished trials are read back from MLflow,
not trained again. Exit status 0 only when every planned trial is recorded in MLflow,
finished or stopped by ASHA; the others are in docs/exit_codes.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

from search_spaces.study import Study, StudyError, load_study
from search_spaces.summary import describe_plan, summary_text
from search_spaces.sweep import SweepOptions, run_sweep
from trainables.errors import SheetsweepError
from trainables.exit_codes import Exit
from trainables.tracking_uri import add_tracking_uri
from trainables.training.config import TrialConfig


def parse_pairs(text: str, what: str) -> dict[str, str]:
    pairs = {}
    for item in filter(None, text.split(",")):
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"{what} {text!r}: expected NAME=VALUE[,NAME=VALUE]")
        pairs[name.strip()] = value.strip()
    return pairs


def apply_overrides(study: Study, args: argparse.Namespace) -> Study:
    changes: dict = {}
    if args.set:
        overrides = {}
        for item in args.set:
            overrides.update(parse_pairs(item, "--set"))
        fixed = TrialConfig.from_dict({**study.fixed, **overrides}, source="--set").to_dict()
        changes["fixed"] = {k: fixed[k] for k in {*study.fixed, *overrides}}
        searched = set(study.searched_fields) & set(overrides)
        if searched:
            raise StudyError(f"--set {sorted(searched)}: searched by the study, not fixed")
    if args.name:
        changes["name"] = args.name
    if args.seeds:
        changes["seeds"] = tuple(int(s) for s in args.seeds.split(","))
    if args.num_trials:
        changes["num_trials"] = args.num_trials
    if args.max_concurrent is not None:
        changes["max_concurrent"] = args.max_concurrent
    if args.resources:
        resources = parse_pairs(args.resources, "--resources")
        unknown = set(resources) - {"cpu", "gpu"}
        if unknown:
            raise StudyError(f"--resources: unknown {sorted(unknown)}; expected cpu, gpu")
        changes["cpu"] = float(resources.get("cpu", study.cpu))
        changes["gpu"] = float(resources.get("gpu", study.gpu))
        if changes["cpu"] <= 0 or changes["gpu"] < 0:
            raise StudyError(f"--resources {args.resources}: expected cpu > 0 and gpu >= 0")
    return study.with_overrides(**changes) if changes else study


def write_report(experiment: str, tracking_uri: str, out: Path) -> int:
    """The study's report, by the report's own program (`python -m analysis`, the
    `sheetsweep-report` script) in this Python: the analysis is a layer above the sweep, and
    only loads (seaborn and all) when asked for. Its exit status."""
    sys.stdout.flush()  # the summary printed above comes before the report's lines
    command = ["--experiment", experiment, "--tracking-uri", tracking_uri, "--out", str(out)]
    return subprocess.run([sys.executable, "-m", "analysis", *command], check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--study", required=True, help="a shipped study name or a YAML path")
    parser.add_argument("--dry-run", action="store_true", help="print the trial plan and stop")
    parser.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="after the sweep, write the study's report (HTML + Markdown) here",
    )
    parser.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="override a fixed trial field, e.g. epochs=3; repeatable",
    )
    parser.add_argument(
        "--register",
        metavar="NAME",
        help="after the sweep, register its best trial's model as NAME (alias champion)",
    )
    parser.add_argument(
        "--name",
        help="record the study under this name (its MLflow experiment): a variant made "
        "with --set beside the study as shipped",
    )
    parser.add_argument("--seeds", help="comma-separated seeds, replacing the study's")
    parser.add_argument("--num-trials", type=int, help="configs an optuna study samples")
    parser.add_argument("--max-concurrent", type=int, help="trials at once (0: no limit)")
    parser.add_argument("--resources", help="per trial, e.g. cpu=2,gpu=0.25")
    add_tracking_uri(parser)
    parser.add_argument(
        "--storage",
        default="runs/tune",
        help="Tune's results and checkpoints: a folder, or s3://... or an NFS path that "
        "every node reaches on a multi-node cluster",
    )
    parser.add_argument(
        "--address",
        default=os.environ.get("RAY_ADDRESS"),
        help="Ray cluster to join ('auto' on a cluster's head node); "
        "default: start Ray in this process",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        study = apply_overrides(load_study(args.study), args)
        print(describe_plan(study))
        if args.dry_run:
            return 0
        options = SweepOptions(args.tracking_uri, args.storage, args.address)
        summary = run_sweep(study, options)
    except SheetsweepError as error:
        print(f"error: {error}", file=sys.stderr)
        return Exit.BAD_INPUT
    print(summary_text(summary))
    code = summary.exit_code()
    if args.register and summary.best:
        from search_spaces.register_cli import describe
        from search_spaces.registry import register_best

        try:
            registered = register_best(args.tracking_uri, study.name, args.register)
        except SheetsweepError as error:
            print(f"error: --register: {error}", file=sys.stderr)
            return Exit.BAD_INPUT
        print(describe(registered, study.name))
    if args.report and summary.best:
        code = max(code, write_report(study.name, args.tracking_uri, args.report))
    if code != Exit.OK:
        name = Exit(code).name if code in {e.value for e in Exit} else "from the report"
        print(f"exit status {code:d} ({name}): see docs/exit_codes.md", file=sys.stderr)
    return code
