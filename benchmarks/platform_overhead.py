"""Platform overhead: one trial through Ray Tune with MLflow logging against the same
training run directly, same config, each as a fresh process launched as a user does.

Direct: `sheetsweep-trial --data ... --set ...` (trainables.trial.run_trial).
Platform: `platform/sweep.py --study <one-trial grid study>` (Ray started in the process,
the trial as a Tune trainable, MLflow on SQLite, checkpoints every epoch).

The trial is sized from a short calibration so that the direct trial takes about a minute
(one epoch of the smoke study's model with --quick). The overhead is split by phase from
when each epoch appeared: launch to the first epoch (imports, Ray, MLflow, the worker),
between epochs (reporting, checkpoints), and after the last epoch (artifacts, shutdown).

    python -m benchmarks.platform_overhead [--quick]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks import common, sweeps

NAME = "platform_overhead"
TITLE = "Platform overhead: one trial through Ray Tune + MLflow vs called directly"
TARGET_S = 45.0  # training + evaluation of the direct trial; its process start comes on top
#: The smoke study's tiny model and features: seconds per epoch on a CPU.
SMOKE = {
    "kernel": "5",
    "width": 4,
    "bottleneck": 32,
    "n_mels": 64,
    "n_fft": 1024,
    "hop_length": 512,
    "batch_size": 8,
    "lr": 0.003,
}


def trial_config(quick: bool) -> tuple[Path, dict[str, Any]]:
    """The dataset and the config (without epochs): the default model on the default data,
    or the smoke study's with --quick."""
    if quick:
        return common.SMOKE_DATA, {**SMOKE, "loss": "smooth_l1", "seed": 0}
    return common.DEFAULT_DATA, {"loss": "smooth_l1", "kernel": "5", "width": 16, "seed": 0}


def run(quick: bool) -> dict[str, Any]:
    target = common.device()
    data, config = trial_config(quick)
    if quick:
        epoch_s, epochs = None, 1
    else:
        epoch_s = sweeps.epoch_seconds(data, {**config, "epochs": 1})
        epochs = int(min(500, max(1, round(TARGET_S / epoch_s))))
    config = {**config, "epochs": epochs}
    cores = common.cpus()
    fixed = {k: v for k, v in config.items() if k not in ("loss", "seed")}
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        folder = Path(tmp)
        study = sweeps.write_study(
            folder,
            {
                "name": "bench-overhead",
                "question": "How long does one trial take through the platform?",
                "metric": "test_psnr",
                "mode": "max",
                "searcher": "grid",
                "scheduler": "none",
                "seeds": [config["seed"]],
                "dataset": sweeps.dataset_section(data),
                "fixed": fixed,
                "space": {"loss": {"choice": [config["loss"]]}},
                "resources": {"cpu": cores, "gpu": 1 if target.type == "cuda" else 0},
                "max_failures": 0,
            },
        )
        direct = sweeps.run_direct(data, config, folder / "direct", threads=cores)
        direct_epochs = sweeps.epoch_times(direct)
        direct_history = pd.read_csv(folder / "direct" / "metrics.csv")
        platform = sweeps.run_sweep(study, folder / "sweep")
        logged = sweeps.trial_runs(folder / "sweep", "bench-overhead")
    sweep_epochs = logged["logged"].tolist()
    if len(sweep_epochs) != epochs or len(direct_epochs) != epochs:
        raise RuntimeError(
            f"expected {epochs} epochs, direct printed {len(direct_epochs)}, "
            f"the sweep logged {len(sweep_epochs)}"
        )
    phases = {
        "to_first_epoch": (sweep_epochs[0] - platform.started)
        - (direct_epochs[0] - direct.started),
        "between_epochs": (sweep_epochs[-1] - sweep_epochs[0])
        - (direct_epochs[-1] - direct_epochs[0]),
        "after_last_epoch": (platform.ended - sweep_epochs[-1])
        - (direct.ended - direct_epochs[-1]),
    }
    overhead = platform.wall_s - direct.wall_s
    return {
        "dataset": str(data.relative_to(common.ROOT)),
        "config": config,
        "calibrated_epoch_s": epoch_s,
        "resources": {"cpu": cores, "gpu": 1 if target.type == "cuda" else 0},
        "direct": {
            "wall_s": direct.wall_s,
            "launch_to_first_epoch_s": direct_epochs[0] - direct.started,
            "training_s": float(direct_history["epoch_time_s"].sum()),
            "final_test_psnr": float(direct_history["test_psnr"].iloc[-1]),
        },
        "platform": {
            "wall_s": platform.wall_s,
            "launch_to_first_epoch_s": sweep_epochs[0] - platform.started,
            "launch_to_training_start_s": sweep_epochs[0]
            - float(logged["epoch_time_s"].iloc[0])
            - platform.started,
            "training_s": float(logged["epoch_time_s"].sum()),
            "final_test_psnr": float(logged["test_psnr"].iloc[-1]),
        },
        "overhead_s": overhead,
        "overhead_share": overhead / direct.wall_s,
        "overhead_phases_s": phases,
    }


def render(result: dict[str, Any]) -> str:
    direct, platform = result["direct"], result["platform"]
    rows = [
        [
            name,
            common.fmt(way["wall_s"]),
            common.fmt(way["launch_to_first_epoch_s"]),
            common.fmt(way["training_s"]),
            common.fmt(way["final_test_psnr"]),
        ]
        for name, way in (("direct (`sheetsweep-trial`)", direct), ("Ray Tune + MLflow", platform))
    ]
    phases = result["overhead_phases_s"]
    share = result["overhead_share"]
    goal = "met" if share < 0.05 else "NOT met"
    config = result["config"]
    return "\n".join(
        [
            f"Dataset `{result['dataset']}`; width {config['width']}, kernel {config['kernel']}, "
            f"{config['loss']}, {common.plural(config['epochs'], 'epoch')}; "
            f"{result['resources']['cpu']} CPU, {result['resources']['gpu']} GPU. Seconds from "
            "launching the process.",
            "",
            common.table(
                [
                    "way",
                    "wall s (launch to exit)",
                    "launch to first epoch s",
                    "training + eval s",
                    "final test PSNR dB",
                ],
                rows,
            ),
            "",
            f"Overhead: **{common.fmt(result['overhead_s'])} s, {share:.1%} of the direct "
            f"trial** (goal under 5% for a one-minute trial: **{goal}**). By phase: "
            f"{common.fmt(phases['to_first_epoch'])} s more to the first epoch, "
            f"{common.fmt(phases['between_epochs'])} s between epochs, "
            f"{common.fmt(phases['after_last_epoch'])} s after the last. Through the platform "
            f"the first epoch began {common.fmt(platform['launch_to_training_start_s'])} s "
            f"after launch and was logged {common.fmt(platform['launch_to_first_epoch_s'])} s "
            "after launch.",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(common.main(sys.modules[__name__]))
