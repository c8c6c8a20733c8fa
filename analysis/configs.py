"""How tables and figures name a trial's configuration: varying fields, config, noise, hardware.

A config is named by the hyperparameters that vary within its study (the seed aside), so a
row or a legend says `loss=mse` rather than every field; noise settings read `10/10/10
dB` (SNR of the low/mid/high registers); values are formatted one way everywhere.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

import pandas as pd

from search_spaces.tags import ran_label
from trainables.training.config import TrialConfig

#: Every hyperparameter of a trial, in TrialConfig's order.
HYPERPARAMETERS = tuple(f.name for f in fields(TrialConfig))
NOISE_FIELDS = ("snr_low_db", "snr_mid_db", "snr_high_db")


def varying_fields(trials: pd.DataFrame) -> list[str]:
    """Hyperparameters (seed aside) that take more than one value among `trials`."""
    return [
        name
        for name in HYPERPARAMETERS
        if name != "seed" and name in trials and trials[name].nunique(dropna=False) > 1
    ]


def config_labels(trials: pd.DataFrame, with_study: bool | None = None) -> pd.Series:
    """A short name per run for its config: the fields that vary within its study.

    With several studies (or `with_study`) the study's name leads, so labels stay unique.
    """
    several = trials["experiment"].nunique() > 1 if with_study is None else with_study
    labels = pd.Series("", index=trials.index, dtype=object)
    for name, runs in trials.groupby("experiment", sort=False):
        varying = varying_fields(runs)
        noise = [f for f in varying if f in NOISE_FIELDS]
        shown = [f for f in varying if f not in NOISE_FIELDS]
        for index, row in runs.iterrows():
            parts = [f"{f}={format_value(row[f])}" for f in shown]
            if noise:
                label = noise_label(row)
                parts.append(label if label == "no noise" else f"SNR {label}")
            label = ", ".join(parts) or "all runs"
            labels[index] = f"{name}: {label}" if several else label
    return labels


def hardware_labels(trials: pd.DataFrame) -> list[str]:
    """What made the results: each device with the precision and memory format its trials
    ran in, and how many trials; runs from before this was recorded count as unrecorded."""
    if trials.empty:
        return []
    labels = trials.apply(
        lambda t: (
            ran_label(
                t["ran_device"],
                t["ran_device_capability"],
                t["ran_precision"],
                t["ran_memory_format"],
            )
            if isinstance(t.get("ran_device"), str)
            else "not recorded"
        ),
        axis=1,
    )
    return [f"{label}: {n} trial(s)" for label, n in labels.value_counts().sort_index().items()]


def noise_label(row: pd.Series | dict) -> str:
    """`10/10/10 dB` (SNR of the low/mid/high registers); `off` where no noisy copy."""
    values = [row[f] for f in NOISE_FIELDS]
    if all(_missing(v) for v in values):
        return "no noise"
    return "/".join("off" if _missing(v) else format_value(v) for v in values) + " dB"


def format_value(value: Any) -> str:
    if _missing(value):
        return "None"
    if isinstance(value, float):  # 4 significant digits below 1 (lr), all of them above
        return f"{value:.4g}" if abs(value) < 1 else f"{value:g}"
    return str(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
