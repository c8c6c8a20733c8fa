"""`sheetsweep-trial`: train one config locally and write its artifacts.

sheetsweep-trial --data data/default --set kernel=5 --set epochs=20 --out runs/k5
sheetsweep-trial --data data/default --config my_trial.yaml --out runs/mine
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import torch

from trainables.errors import SheetsweepError
from trainables.training.config import TrialConfig
from trainables.training.data import pick_device
from trainables.training.loop import EpochResult

SHOWN = (
    "train_loss",
    "test_loss",
    "test_psnr",
    "test_note_acc",
    "test_psnr_low",
    "test_psnr_mid",
    "test_psnr_high",
    "epoch_time_s",
)


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--set {pair!r}: expected FIELD=VALUE, e.g. --set lr=0.001")
        overrides[name.strip()] = value.strip()
    return overrides


def print_epoch(result: EpochResult, epochs: int) -> None:
    shown = "  ".join(f"{k}={result.metrics[k]:.4g}" for k in SHOWN if k in result.metrics)
    print(f"epoch {result.epoch}/{epochs}  {shown}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("data/default"),
        help="dataset folder (default: data/default)",
    )
    parser.add_argument("--config", type=Path, help="YAML file of TrialConfig fields")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override one field; repeatable",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/trial"),
        help="folder for the artifacts (default: runs/trial)",
    )
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count(), help="torch CPU threads (default: all cores)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    from trainables.training.trial import run_trial  # after logging is set up

    try:
        overrides = parse_overrides(args.set)
        if args.config:
            config = TrialConfig.from_yaml(args.config, overrides)
        else:
            config = TrialConfig.from_dict(overrides, source="--set")
        print(f"device {pick_device()}, {args.threads} thread(s); config {config.to_dict()}")
        outcome = run_trial(
            config, args.data, args.out, on_epoch=lambda r: print_epoch(r, config.epochs)
        )
    except SheetsweepError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    final = outcome.final
    print(
        f"test PSNR {final['test_psnr']:.2f} dB (mean-image baseline "
        f"{final['baseline_psnr']:.2f} dB), note accuracy {final['test_note_acc']:.1%}"
    )
    print("artifacts: " + ", ".join(str(p) for p in outcome.artifacts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
