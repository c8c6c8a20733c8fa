"""Growth: how a trial's time grows with its notes and a study's with its trials, the
feature cache cold and warm, and the exponent of each.

More SoundFonts would add more instruments; as stand-ins this renders 4 of the default
SoundFont's GM piano presets at 1, 2 and 4 velocities (352, 704, 1408 notes), each a
dataset of its own in a temporary folder. One trial (width 4, kernel 5, the default
features, batch 32, 2 epochs) runs directly (`run_trial`: data, training, evaluation,
artifacts) on each, first with its cache cold (every note's features computed) and then
warm; and on the one-unit dataset for 1 and 4 epochs too. Then studies of 1, 2 and 4
trials (the smoke study's model, one epoch, a trial per core) through `platform/sweep.py`
as a user launches them, each with a cold feature cache of its own, then again with a warm
one. A power law t = c x^k fitted to each series (least squares on the logarithms) gives
its exponent k: 1 is linear, below 1 a fixed cost the series shares. (--quick: 3 presets,
1 and 2 units, 1 and 2 epochs, studies of 1 and 2 trials.)

    python -m benchmarks.growth [--quick]
"""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import common, sweeps
from benchmarks.platform_overhead import SMOKE
from trainables.data.dataset import DatasetSpec, build_dataset
from trainables.data.instruments import PIANO_PRESETS
from trainables.features.cache import CACHE_ENV, cache_folder
from trainables.training.config import TrialConfig
from trainables.training.data import pick_device, prepare_data
from trainables.training.trial import run_trial

NAME = "growth"
TITLE = "Growth: trial time vs notes, study time vs trials"
VELOCITIES = {1: (80,), 2: (50, 110), 4: (35, 65, 95, 125)}
PRESETS = PIANO_PRESETS[:4]
EPOCHS = (1, 2, 4)
BASE_EPOCHS = 2
STUDY_TRIALS = (1, 2, 4)


def power_fit(xs: list[float], ys: list[float]) -> dict[str, float]:
    """y = coefficient * x^exponent by least squares on the logarithms, and that fit's R^2."""
    line = common.linear_fit([math.log(x) for x in xs], [math.log(y) for y in ys])
    return {"exponent": line["slope"], "coefficient": math.exp(line["intercept"]), "r2": line["r2"]}


def run(quick: bool) -> dict[str, Any]:
    presets = PIANO_PRESETS[:3] if quick else PRESETS  # 3 a key at least: 1 for the test
    velocity_sets = {u: v for u, v in VELOCITIES.items() if u <= 2} if quick else VELOCITIES
    epoch_counts = EPOCHS[:2] if quick else EPOCHS
    config = TrialConfig(width=4, kernel="5", epochs=BASE_EPOCHS)
    notes, epochs = [], []
    samples: dict[int, int] = {}  # training samples per dataset
    with tempfile.TemporaryDirectory(prefix="bench-growth-") as tmp:
        roots = {}
        for units, velocities in velocity_sets.items():
            roots[units] = Path(tmp) / f"units-{units}"
            started = time.perf_counter()
            info = build_dataset(roots[units], DatasetSpec(presets=presets, velocities=velocities))
            build_s = time.perf_counter() - started
            shutil.rmtree(cache_folder(roots[units]), ignore_errors=True)
            if units == 1:  # a first trial in a process pays for oneDNN's kernel selection
                trial(roots[1], config.replace(epochs=1), Path(tmp) / "warm-up")
                shutil.rmtree(cache_folder(roots[1]), ignore_errors=True)
            cold_s, _ = trial(roots[units], config, Path(tmp) / f"units-{units}-cold")
            warm_s, epochs_s = trial(roots[units], config, Path(tmp) / f"units-{units}-warm")
            samples[units] = len(prepare_data(roots[units], config, pick_device()).train)
            notes.append(
                {
                    "units": units,
                    "notes": info.n_samples,
                    "build_s": build_s,
                    "train_samples": samples[units],
                    "cold_s": cold_s,
                    "warm_s": warm_s,
                    "epochs_s": epochs_s,
                }
            )
        for n in epoch_counts:
            trial_s, epochs_s = trial(roots[1], config.replace(epochs=n), Path(tmp) / f"epochs-{n}")
            epochs.append(
                {
                    "epochs": n,
                    "train_samples": samples[1],
                    "trial_s": trial_s,
                    "epochs_s": epochs_s,
                    "ms_per_sample_epoch": 1000 * epochs_s / (samples[1] * n),
                }
            )
    studies = study_series(STUDY_TRIALS[:2] if quick else STUDY_TRIALS)
    xs = [row["notes"] for row in notes]
    return {
        "presets": list(presets),
        "velocities": {str(k): list(v) for k, v in velocity_sets.items()},
        "config": {"width": config.width, "kernel": config.kernel, "batch_size": 32},
        "by_notes": {
            "epochs": BASE_EPOCHS,
            "points": notes,
            "cold": power_fit(xs, [row["cold_s"] for row in notes]),
            "warm": power_fit(xs, [row["warm_s"] for row in notes]),
        },
        "by_epochs": {
            "points": epochs,
            "fit": common.linear_fit([r["epochs"] for r in epochs], [r["trial_s"] for r in epochs]),
        },
        "by_trials": {
            **studies,
            "cold": power_fit(studies["trials"], studies["cold_s"]),
            "warm": power_fit(studies["trials"], studies["warm_s"]),
        },
    }


def trial(root: Path, config: TrialConfig, out: Path) -> tuple[float, float]:
    """Seconds of one trial run directly, and of its epochs (training and evaluation)."""
    started = time.perf_counter()
    outcome = run_trial(config, root, out)
    return time.perf_counter() - started, float(outcome.history["epoch_time_s"].sum())


def study_series(counts: tuple[int, ...]) -> dict[str, Any]:
    """Wall seconds of studies of `counts` trials through `platform/sweep.py`, one trial
    per core: each with a cold feature cache of its own, then each with a warm one."""
    data, cores = common.smoke_data(), common.cpus()
    fixed = {**SMOKE, "epochs": 1}
    cold, warm = [], []
    with tempfile.TemporaryDirectory(prefix="bench-growth-studies-") as tmp:
        for n in counts:
            study = sweeps.write_study(
                Path(tmp) / f"study-{n}",
                {
                    "name": f"bench-growth-{n}",
                    "question": "How does a study's time grow with its trials?",
                    "metric": "test_psnr",
                    "mode": "max",
                    "searcher": "grid",
                    "scheduler": "none",
                    "seeds": list(range(n)),
                    "dataset": sweeps.dataset_section(data),
                    "fixed": fixed,
                    "space": {"loss": {"choice": ["smooth_l1"]}},
                    "resources": {"cpu": 1, "gpu": 0},
                    "max_concurrent": cores,
                    "max_failures": 0,
                },
            )
            for way, times in (("cold", cold), ("warm", warm)):
                cache = Path(tmp) / f"cache-{n}"  # the cold run fills what the warm one reads
                launch = sweeps.run_sweep(
                    study, Path(tmp) / f"{way}-{n}", env={CACHE_ENV: str(cache)}
                )
                times.append(launch.wall_s)
    return {"trials": list(counts), "per_core": cores, "cold_s": cold, "warm_s": warm}


def render(result: dict[str, Any]) -> str:
    by_notes, by_epochs, by_trials = result["by_notes"], result["by_epochs"], result["by_trials"]
    note_rows = [
        [
            f"{p['units']} ({p['notes']} notes, {p['train_samples']} training samples)",
            common.fmt(p["cold_s"]),
            common.fmt(p["warm_s"]),
            common.fmt(p["epochs_s"]),
        ]
        for p in by_notes["points"]
    ]
    epoch_rows = [
        [str(p["epochs"]), common.fmt(p["trial_s"]), common.fmt(p["ms_per_sample_epoch"])]
        for p in by_epochs["points"]
    ]
    study_rows = [
        [str(n), common.fmt(c), common.fmt(w)]
        for n, c, w in zip(
            by_trials["trials"], by_trials["cold_s"], by_trials["warm_s"], strict=True
        )
    ]

    def law(fit: dict[str, float]) -> str:
        return f"exponent **{fit['exponent']:.2f}** (R^2 {fit['r2']:.3f})"

    fe = by_epochs["fit"]
    return "\n".join(
        [
            f"Stand-ins for SoundFonts: the default SoundFont's presets {result['presets']} at "
            f"{', '.join(result['velocities'])} velocities; width {result['config']['width']}, "
            f"kernel {result['config']['kernel']}, batch 32, {by_notes['epochs']} epochs, the "
            "trial run directly, its feature cache cold (every note computed), then warm.",
            "",
            common.table(
                ["units", "trial s, cold", "trial s, warm", "of which epochs s"], note_rows
            ),
            "",
            f"Trial time against notes: cold, {law(by_notes['cold'])}; warm, "
            f"{law(by_notes['warm'])}.",
            "",
            common.table(["epochs (1 unit)", "trial s", "ms per sample-epoch"], epoch_rows),
            "",
            f"Against epochs: {common.fmt(fe['slope'])} s per epoch, "
            f"{common.fmt(fe['intercept'])} s fixed, R^2 {fe['r2']:.4f}.",
            "",
            f"Studies through `platform/sweep.py` (the smoke study's model, one epoch a trial, "
            f"{by_trials['per_core']} at once, launch to exit), each with a cold cache of its "
            "own, then warm:",
            "",
            common.table(["trials", "study s, cold", "study s, warm"], study_rows),
            "",
            f"Study time against trials: cold, {law(by_trials['cold'])}; warm, "
            f"{law(by_trials['warm'])}. An exponent below 1 is the launch's fixed cost (Ray, "
            "MLflow, the imports) shared by more trials.",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(common.main(sys.modules[__name__]))
