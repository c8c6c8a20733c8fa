"""Platform overhead: a trial through Ray Tune with MLflow logging against the same
training called directly, same config.

Direct: `trainables.training.trial.run_trial` called in this process (data from the warm feature
cache, training, evaluation, artifacts), after a warm-up.
Platform: `platform/sweep.py` launched as a user does, on a two-trial grid run one at a
time: a warm-up trial (width 4, one epoch) and then the measured trial, so the measured
trial runs as every trial but a sweep's first does (Tune reuses the worker process).
Its cost is the time between the two trials' MLflow runs closing: Tune starting it,
per-epoch checkpoints and reports, the driver's MLflow writes, its artifacts uploaded.

The measured trial is sized from a short calibration so that the direct call takes about
a minute. What a launch pays once (imports, Ray, MLflow's store, the worker's start, and
Ray's shutdown) is measured in the same run and reported apart.

    python -m benchmarks.platform_overhead [--quick]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks import common, sweeps

NAME = "platform_overhead"
TITLE = "Platform overhead: a trial through Ray Tune + MLflow vs the training called directly"
TARGET_S = 45.0  # training + evaluation of the measured trial
#: The warm-up trial: the same data and features, a tiny model, one epoch.
WARM_UP = {"width": 4, "epochs": 1}
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
        return common.smoke_data(), {**SMOKE, "loss": "smooth_l1", "seed": 0}
    return common.default_data(), {"loss": "smooth_l1", "kernel": "5", "width": 16, "seed": 0}


def call_directly(data: Path, config: dict[str, Any], out: Path) -> dict[str, Any]:
    """`run_trial` in this process, timed by phase (`phases`)."""
    from trainables.training.config import TrialConfig
    from trainables.training.trial import run_trial

    trial = TrialConfig.from_dict(config, source="benchmark")
    epochs: list[float] = []
    started = time.perf_counter()
    outcome = run_trial(trial, data, out, on_epoch=lambda _: epochs.append(time.perf_counter()))
    history = outcome.history
    first_epoch_began = epochs[0] - float(history["epoch_time_s"].iloc[0])
    return phases(
        time.perf_counter() - started,
        first_epoch_began - started,
        float(history["epoch_time_s"].sum()),
        float(history["test_psnr"].iloc[-1]),
    )


def phases(trial_s: float, to_training_s: float, training_s: float, psnr: float) -> dict:
    """A trial's seconds: before its first epoch, in its epochs (training and evaluation),
    and the rest (reports, checkpoints, artifacts, MLflow)."""
    return {
        "trial_s": trial_s,
        "to_training_s": to_training_s,
        "training_s": training_s,
        "rest_s": trial_s - to_training_s - training_s,
        "final_test_psnr": psnr,
    }


def sweep_phases(logged: pd.DataFrame, launched: float, exited: float) -> dict[str, Any]:
    """From the MLflow runs of the two-trial sweep: the measured trial's cost and phases,
    and what the launch paid once."""
    is_warm = logged["epochs"] == str(WARM_UP["epochs"])
    warm, measured = logged[is_warm], logged[~is_warm].sort_values("epoch")
    if len(warm) != 1 or measured.empty:
        raise RuntimeError(f"expected a one-epoch warm-up and the measured trial:\n{logged}")
    warm_end, end = float(warm["run_end"].iloc[0]), float(measured["run_end"].iloc[0])
    first_epoch_began = float(measured["logged"].iloc[0] - measured["epoch_time_s"].iloc[0])
    warm_first = float(warm["logged"].iloc[0])
    return {
        **phases(
            end - warm_end,
            first_epoch_began - warm_end,
            float(measured["epoch_time_s"].sum()),
            float(measured["test_psnr"].iloc[-1]),
        ),
        "epochs": len(measured),
        "launch": {
            "to_first_epoch_s": warm_first - launched,
            "to_training_s": warm_first - float(warm["epoch_time_s"].iloc[0]) - launched,
            "after_last_trial_s": exited - end,
            "wall_s": exited - launched,
        },
    }


def run(quick: bool) -> dict[str, Any]:
    target = common.device()
    data, config = trial_config(quick)
    if quick:
        epoch_s, epochs = None, 2
    else:
        epoch_s = sweeps.epoch_seconds(data, {**config, "epochs": 1})
        epochs = int(min(500, max(2, round(TARGET_S / epoch_s))))
    config = {**config, "epochs": epochs}
    cores = common.cpus()
    gpus = 1 if target.type == "cuda" else 0
    fixed = {k: v for k, v in config.items() if k not in ("loss", "seed", "width", "epochs")}
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        folder = Path(tmp)
        study = sweeps.write_study(
            folder,
            {
                "name": "bench-overhead",
                "question": "What does a trial cost through the platform?",
                "metric": "test_psnr",
                "mode": "max",
                "searcher": "grid",
                "scheduler": "none",
                "seeds": [config["seed"]],
                "dataset": sweeps.dataset_section(data),
                "fixed": {**fixed, "loss": config["loss"]},
                "space": {
                    "size": {
                        "choice": [
                            WARM_UP,
                            {"width": config["width"], "epochs": epochs},
                        ]
                    }
                },
                "resources": {"cpu": cores, "gpu": gpus},
                "max_concurrent": 1,
                "max_failures": 0,
            },
        )
        if quick:  # without a calibration, this process has not trained yet
            call_directly(data, {**config, **WARM_UP}, folder / "warm-up")
        direct = call_directly(data, config, folder / "direct")
        platform = sweeps.run_sweep(study, folder / "sweep")
        logged = sweeps.trial_runs(folder / "sweep", "bench-overhead")
    through = sweep_phases(logged, platform.started, platform.ended)
    if through["epochs"] != epochs:
        raise RuntimeError(f"expected {epochs} epochs, the sweep logged {through['epochs']}")
    launch = through.pop("launch")
    # Outside the epochs: the epochs are the same work both ways, and their time differs
    # by the machine's noise (reported apart as a ratio).
    overhead = sum(through[k] - direct[k] for k in ("to_training_s", "rest_s"))
    once = launch["to_training_s"] + launch["after_last_trial_s"]
    return {
        "dataset": str(data.relative_to(common.ROOT)),
        "config": config,
        "calibrated_epoch_s": epoch_s,
        "resources": {"cpu": cores, "gpu": gpus},
        "direct": direct,
        "platform": through,
        "overhead_s": overhead,
        "overhead_share": overhead / direct["trial_s"],
        "epochs_ratio": through["training_s"] / direct["training_s"],
        "launch": launch,
        "one_trial_sweep_share": (overhead + once) / direct["trial_s"],
    }


def render(result: dict[str, Any]) -> str:
    direct, platform, launch = result["direct"], result["platform"], result["launch"]
    columns = ("trial_s", "to_training_s", "training_s", "rest_s", "final_test_psnr")
    rows = [
        [name, *(common.fmt(way[k]) for k in columns)]
        for name, way in (
            ("called directly (`run_trial`)", direct),
            ("through the sweep (its second trial)", platform),
        )
    ]
    share = result["overhead_share"]
    goal = "met" if share < 0.05 else "NOT met"
    config = result["config"]
    extra = {k: platform[k] - direct[k] for k in ("to_training_s", "rest_s")}
    total = platform["trial_s"] - direct["trial_s"]
    return "\n".join(
        [
            f"Dataset `{result['dataset']}`; width {config['width']}, kernel {config['kernel']}, "
            f"{config['loss']}, {common.plural(config['epochs'], 'epoch')}; "
            f"{result['resources']['cpu']} CPU, {result['resources']['gpu']} GPU. Through the "
            "sweep, the trial runs from the warm-up trial's MLflow run closing to its own.",
            "",
            common.table(
                [
                    "way",
                    "trial s",
                    "before the first epoch s",
                    "epochs (training + eval) s",
                    "the rest s",
                    "final test PSNR dB",
                ],
                rows,
            ),
            "",
            f"Overhead per trial: **{common.fmt(result['overhead_s'])} s, {share:.1%} of the "
            f"direct call** (goal under 5% for a one-minute trial: **{goal}**): "
            f"{common.fmt(extra['to_training_s'])} s before the first epoch and "
            f"{common.fmt(extra['rest_s'])} s in the rest (per-epoch checkpoints and reports, "
            "MLflow, artifacts). The epochs themselves, the same work both ways, took "
            f"{result['epochs_ratio']:.2f}x the direct call's time in the sweep's worker; "
            f"with them, the whole trial took {total / direct['trial_s']:.1%} longer "
            f"({common.fmt(total)} s).",
            "",
            f"Once per launch: the first epoch began {common.fmt(launch['to_training_s'])} s "
            f"after launching `platform/sweep.py` and was logged after "
            f"{common.fmt(launch['to_first_epoch_s'])} s (imports, Ray's start, MLflow's store, "
            f"the worker's start and imports, the data); after the last trial, "
            f"{common.fmt(launch['after_last_trial_s'])} s to exit. Launched for this one "
            f"trial alone, a sweep takes **{result['one_trial_sweep_share']:.0%}** longer than "
            "the direct call in a Python that has already imported the project; each further "
            "trial adds only the overhead per trial.",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(common.main(sys.modules[__name__]))
