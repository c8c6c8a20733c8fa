"""Growth: trial time against the number of samples and against epochs. Linear?

More SoundFonts would add more instruments; as stand-ins this renders 4 of the default
SoundFont's GM piano presets at 1, 2 and 4 velocities (352, 704, 1408 notes; the default
dataset is 8 presets at 3 velocities), each a dataset of its own in a temporary folder.
One trial (width 4, kernel 5, the default features, batch 32) runs directly (`run_trial`:
data from the warm cache, training, evaluation, artifacts) on each for 2 epochs, and on
the one-unit dataset for 1 and 4 epochs too (--quick: 3 presets, 1 and 2 units, 1 and 2
epochs). A least-squares line
through each series gives the cost per unit and R^2; building the dataset and its cold
feature cache is timed apart.

    python -m benchmarks.growth [--quick]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import common
from trainables.data.dataset import DatasetSpec, build_dataset
from trainables.data.instruments import PIANO_PRESETS
from trainables.training.config import TrialConfig
from trainables.training.data import pick_device, prepare_data
from trainables.training.trial import run_trial

NAME = "growth"
TITLE = "Growth: trial time vs samples and vs epochs"
VELOCITIES = {1: (80,), 2: (50, 110), 4: (35, 65, 95, 125)}
PRESETS = PIANO_PRESETS[:4]
EPOCHS = (1, 2, 4)
BASE_EPOCHS = 2


def run(quick: bool) -> dict[str, Any]:
    presets = PIANO_PRESETS[:3] if quick else PRESETS  # 3 a key at least: 1 for the test
    velocity_sets = {u: v for u, v in VELOCITIES.items() if u <= 2} if quick else VELOCITIES
    epoch_counts = EPOCHS[:2] if quick else EPOCHS
    config = TrialConfig(width=4, kernel="5", epochs=BASE_EPOCHS)
    device = pick_device()
    datasets, samples, epochs = {}, [], []
    with tempfile.TemporaryDirectory(prefix="bench-growth-") as tmp:
        for units, velocities in velocity_sets.items():
            root = Path(tmp) / f"units-{units}"
            started = time.perf_counter()
            info = build_dataset(root, DatasetSpec(presets=presets, velocities=velocities))
            built = time.perf_counter() - started
            started = time.perf_counter()
            data = prepare_data(root, config, device)  # computes the feature cache, cold
            datasets[units] = {
                "root": root,
                "notes": info.n_samples,
                "train_samples": len(data.train),
                "build_s": built,
                "cold_features_s": time.perf_counter() - started,
            }
            del data
        # a first trial in a process pays for oneDNN's kernel selection: not growth
        trial(datasets[1], config.replace(epochs=1), 1, Path(tmp) / "warm-up")
        for units in velocity_sets:
            samples.append(trial(datasets[units], config, units, Path(tmp) / "out"))
        for n in epoch_counts:
            if n == BASE_EPOCHS:
                epochs.append({**samples[0], "epochs": n})
            else:
                epochs.append(trial(datasets[1], config.replace(epochs=n), 1, Path(tmp) / "out"))
    for row in datasets.values():
        row.pop("root")
    by_samples = common.linear_fit(
        [r["train_samples"] for r in samples], [r["trial_s"] for r in samples]
    )
    by_epochs = common.linear_fit([r["epochs"] for r in epochs], [r["trial_s"] for r in epochs])
    return {
        "presets": list(presets),
        "velocities": {str(k): list(v) for k, v in velocity_sets.items()},
        "config": {"width": config.width, "kernel": config.kernel, "batch_size": 32},
        "datasets": {str(k): v for k, v in datasets.items()},
        "by_samples": {"epochs": BASE_EPOCHS, "points": samples, "fit": by_samples},
        "by_epochs": {"units": 1, "points": epochs, "fit": by_epochs},
        "dataset_build_fit": common.linear_fit(
            [d["notes"] for d in datasets.values()],
            [d["build_s"] + d["cold_features_s"] for d in datasets.values()],
        ),
    }


def trial(dataset: dict[str, Any], config: TrialConfig, units: int, out: Path) -> dict[str, Any]:
    started = time.perf_counter()
    outcome = run_trial(config, dataset["root"], out / f"u{units}-e{config.epochs}")
    seconds = time.perf_counter() - started
    training = float(outcome.history["epoch_time_s"].sum())
    return {
        "units": units,
        "train_samples": dataset["train_samples"],
        "epochs": config.epochs,
        "trial_s": seconds,
        "epochs_s": training,
        "fixed_s": seconds - training,
        "ms_per_sample_epoch": 1000 * training / (dataset["train_samples"] * config.epochs),
    }


def verdict(fit: dict[str, float], points: int) -> str:
    if points < 3:
        return "two points: no test of linearity"
    return "linear" if fit["r2"] >= 0.98 else "not linear"


def render(result: dict[str, Any]) -> str:
    by_samples, by_epochs = result["by_samples"], result["by_epochs"]
    rows = []
    for series, point in [("samples", p) for p in by_samples["points"]] + [
        ("epochs", p) for p in by_epochs["points"]
    ]:
        rows.append(
            [
                series,
                f"{point['units']} ({point['train_samples']})",
                str(point["epochs"]),
                common.fmt(point["trial_s"]),
                common.fmt(point["epochs_s"]),
                common.fmt(point["fixed_s"]),
                common.fmt(point["ms_per_sample_epoch"]),
            ]
        )
    fs, fe, fb = by_samples["fit"], by_epochs["fit"], result["dataset_build_fit"]
    presets = result["presets"]
    return "\n".join(
        [
            f"Stand-ins for SoundFonts: the default SoundFont's presets {presets} at "
            f"{', '.join(result['velocities'])} velocities "
            f"({', '.join(str(v) for v in result['velocities'].values())}); width "
            f"{result['config']['width']}, kernel {result['config']['kernel']}, batch 32, "
            "the trial run directly (data from the warm cache, training, evaluation, "
            "artifacts).",
            "",
            common.table(
                [
                    "series",
                    "units (training samples)",
                    "epochs",
                    "trial s",
                    "training + eval s",
                    "rest s",
                    "ms per sample-epoch (training + eval)",
                ],
                rows,
            ),
            "",
            f"Against training samples ({by_samples['epochs']} epochs): "
            f"{1000 * fs['slope']:.3g} ms per sample, {common.fmt(fs['intercept'])} s fixed, "
            f"R^2 {fs['r2']:.4f}: **{verdict(fs, len(by_samples['points']))}**. "
            f"Against epochs (1 unit): {common.fmt(fe['slope'])} s per epoch, "
            f"{common.fmt(fe['intercept'])} s fixed, R^2 {fe['r2']:.4f}: "
            f"**{verdict(fe, len(by_epochs['points']))}**. Building a dataset and its cold feature "
            f"cache: {1000 * fb['slope']:.3g} ms per note, R^2 {fb['r2']:.4f}.",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(common.main(sys.modules[__name__]))
