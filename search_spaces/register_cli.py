"""`sheetsweep-register`: put a study's best model in the MLflow Model Registry.

    sheetsweep-register --experiment best --name piano
    sheetsweep-register --experiment full --name piano --metric test_note_acc_low

The best finished trial (by the study's metric, or --metric) becomes a version of NAME,
and the alias `champion` points at it: load it as models:/NAME@champion.
"""

from __future__ import annotations

import argparse
import sys

from search_spaces.registry import Registered, register_best
from trainables.errors import SheetsweepError
from trainables.tracking_uri import add_tracking_uri


def describe(registered: Registered, study: str) -> str:
    state = "registered as version" if registered.new_version else "already version"
    return (
        f"study {study}: best trial {registered.run_id} ({registered.metric} = "
        f"{registered.value:.4g}) {state} {registered.version} of {registered.name!r}; "
        f"alias champion -> version {registered.version}\n  load it: {registered.uri}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--experiment", required=True, metavar="STUDY", help="the study's name")
    parser.add_argument("--name", required=True, help="the registered model's name")
    parser.add_argument("--metric", help="choose the best trial by this metric (max)")
    add_tracking_uri(parser)
    args = parser.parse_args(argv)
    try:
        registered = register_best(args.tracking_uri, args.experiment, args.name, args.metric)
    except SheetsweepError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(describe(registered, args.experiment))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
