"""Hand-made trial frames (the shape `load_runs` returns) for the selection logic.

The numbers are arbitrary; tests on real runs live beside these, on the session's sweeps.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from analysis.configs import HYPERPARAMETERS
from trainables.model.metrics import REGISTER_METRICS
from trainables.training.config import TrialConfig


def trials_frame(
    configs: list[dict],
    seeds: tuple[int, ...] = (0, 1, 2),
    experiment: str = "study",
    status: str = "finished",
    seed_effect: float = 0.3,
) -> pd.DataFrame:
    """One finished run per config and seed; PSNR = 18 + position of the config + seed noise."""
    defaults = TrialConfig().to_dict()
    rows = []
    rng = np.random.default_rng(0)
    for (i, config), seed in itertools.product(enumerate(configs), seeds):
        values = {**defaults, **config, "seed": seed}
        row = {name: values[name] for name in HYPERPARAMETERS}
        for name in ("snr_low_db", "snr_mid_db", "snr_high_db"):
            row[name] = np.nan if row[name] is None else float(row[name])
        psnr = 18.0 + i + seed_effect * seed
        row |= {
            "experiment": experiment,
            "run_id": f"{experiment}-{i}-{seed}",
            "status": status,
            "test_psnr": psnr,
            "test_note_acc": 0.1 * (i + 1),
            "baseline_psnr": 15.0,
            **{m: (psnr if "psnr" in m else 0.1) + rng.normal(0, 0.2) for m in REGISTER_METRICS},
        }
        rows.append(row)
    return pd.DataFrame(rows)


def synthetic_runs(trials: pd.DataFrame, experiment: str = "study"):
    """A `Runs` around hand-made trials: per-key rows and a two-epoch history per run."""
    from analysis.runs import Runs
    from trainables.keys import KEYS

    trials = trials.assign(
        run_name=trials["run_id"],
        error=None,
        dataset_hash="d",
        git_commit="c",
        epochs_done=2,
        ran_device="cpu: Test CPU",
        ran_device_capability="avx2",
        ran_precision="fp32",
        ran_memory_format="channels_last",
        ran_native_bf16="false",
        epochs=2,
    )
    history = pd.DataFrame(
        [
            {"run_id": run_id, "metric": metric, "epoch": epoch, "value": value / (3 - epoch)}
            for run_id, value in zip(trials["run_id"], trials["test_psnr"], strict=True)
            for metric in ("train_loss", "test_loss", "test_psnr")
            for epoch in (1, 2)
        ]
    )
    per_key = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "midi": key.midi,
                "note": key.name,
                "register": key.register.value,
                "psnr": psnr - abs(key.midi - 70) / 20,
                "ssim": 0.9,
                "note_acc": float(key.midi % 3 == 0),
                "n": 1,
            }
            for run_id, psnr in zip(trials["run_id"], trials["test_psnr"], strict=True)
            for key in KEYS
        ]
    )
    experiments = pd.DataFrame(
        [
            {
                "experiment": experiment,
                "experiment_id": "1",
                "question": "?",
                "parent_run_ids": [],
                "searcher": "optuna",
                "metric": "test_psnr",
                "planned_trials": len(trials),
            }
        ]
    )
    return Runs("sqlite:///synthetic.db", experiments, trials, history, per_key)
