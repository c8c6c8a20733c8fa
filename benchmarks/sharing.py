"""Sharing a machine: several trials at once against one at a time, in trials per hour.

The same grid of trials runs through `platform/sweep.py` once per way, back to back, each
with its own tracking store: on a CPU one trial at a time with every core (`--resources
cpu=<cores> --max-concurrent 1`) against one trial per core (`cpu=1`, as many at once as
cores); on a GPU one trial per GPU against 4 and 8 per GPU (`gpu=0.25`, `gpu=0.125`, the
cores split between them). Trials are sized by a short calibration (the smoke study's
model on a CPU, the default model on a GPU).

    python -m benchmarks.sharing [--quick]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import common, sweeps
from benchmarks.platform_overhead import SMOKE

NAME = "sharing"
TITLE = "Sharing: trials at once vs one at a time"


def ways(gpu: bool, cores: int) -> dict[str, dict[str, float]]:
    """Per way: resources per trial and how many run at once."""
    if gpu:
        return {
            "1 per GPU": {"cpu": cores, "gpu": 1, "at_once": 1},
            "4 per GPU": {"cpu": max(1, cores // 4), "gpu": 0.25, "at_once": 4},
            "8 per GPU": {"cpu": max(1, cores // 8), "gpu": 0.125, "at_once": 8},
        }
    return {
        "one at a time": {"cpu": cores, "gpu": 0, "at_once": 1},
        "one per core": {"cpu": 1, "gpu": 0, "at_once": cores},
    }


def run(quick: bool) -> dict[str, Any]:
    gpu = common.device().type == "cuda"
    cores = common.cpus()
    if gpu and not quick:
        data, config, seeds, target_s = common.default_data(), {"width": 16}, [0, 1, 2, 3], 20.0
    else:
        data, config, seeds, target_s = common.smoke_data(), dict(SMOKE), [0, 1], 4.0
    if quick:
        seeds, epochs, epoch_s = [0], 1, None
    else:
        epoch_s = sweeps.epoch_seconds(data, {**config, "epochs": 1})
        epochs = int(min(500, max(1, round(target_s / epoch_s))))
    fixed = {**config, "epochs": epochs}
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-sharing-") as tmp:
        study = sweeps.write_study(
            Path(tmp),
            {
                "name": "bench-sharing",
                "question": "How many trials an hour does this machine give?",
                "metric": "test_psnr",
                "mode": "max",
                "searcher": "grid",
                "scheduler": "none",
                "seeds": seeds,
                "dataset": sweeps.dataset_section(data),
                "fixed": fixed,
                "space": {"loss": {"choice": ["smooth_l1", "mse"]}},
                "max_failures": 0,
            },
        )
        n_trials = 2 * len(seeds)
        for name, way in ways(gpu, cores).items():
            folder = Path(tmp) / name.replace(" ", "-")
            launch = sweeps.run_sweep(
                study,
                folder,
                "--resources",
                f"cpu={way['cpu']:g},gpu={way['gpu']:g}",
                "--max-concurrent",
                str(int(way["at_once"])),
            )
            logged = sweeps.trial_runs(folder, "bench-sharing")
            per_trial = logged.groupby("run_id")["epoch_time_s"].sum()
            if len(per_trial) != n_trials:
                raise RuntimeError(f"{name}: {len(per_trial)} trials logged, expected {n_trials}")
            results[name] = {
                **way,
                "wall_s": launch.wall_s,
                "trials_per_hour": n_trials / launch.wall_s * 3600,
                "first_to_last_epoch_s": float(logged["logged"].max() - logged["logged"].min()),
                "mean_trial_training_s": float(per_trial.mean()),
            }
    base = next(iter(results.values()))["trials_per_hour"]
    for way in results.values():
        way["ratio"] = way["trials_per_hour"] / base
    return {
        "dataset": str(data.relative_to(common.ROOT)),
        "config": fixed,
        "trials": n_trials,
        "calibrated_epoch_s": epoch_s,
        "ways": results,
    }


def render(result: dict[str, Any]) -> str:
    rows = [
        [
            name,
            f"{way['cpu']:g} CPU, {way['gpu']:g} GPU",
            str(int(way["at_once"])),
            common.fmt(way["wall_s"]),
            common.fmt(way["mean_trial_training_s"]),
            common.fmt(way["trials_per_hour"]),
            f"**{common.fmt(way['ratio'])}x**",
        ]
        for name, way in result["ways"].items()
    ]
    config = result["config"]
    return "\n".join(
        [
            f"{result['trials']} trials (grid: 2 losses x seeds) on `{result['dataset']}`, width "
            f"{config['width']}, {common.plural(config['epochs'], 'epoch')} each; wall time from "
            "launching the sweep to its exit.",
            "",
            common.table(
                [
                    "way",
                    "per trial",
                    "at once",
                    "wall s",
                    "training s per trial",
                    "trials/hour",
                    "vs first",
                ],
                rows,
            ),
        ]
    )


if __name__ == "__main__":
    raise SystemExit(common.main(sys.modules[__name__]))
