"""The noise study's numbers: each setting's per-register levels, and its change against uniform.

Levels are means with 95% intervals over seeds; a change is the setting minus the uniform
setting (one SNR on every register), paired by seed when both ran the same seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.configs import NOISE_FIELDS
from analysis.stats import difference_interval, mean_interval
from analysis.tables import REGISTERS as KEYBOARD_REGISTERS

REGISTERS = (*KEYBOARD_REGISTERS, "all")
METRICS = ("psnr", "note_acc")


def uniform_setting(settings: pd.DataFrame) -> str | None:
    """The setting with one SNR on all registers; among several, the one whose SNR the
    other settings share most (the one they depart from)."""
    values = settings[list(NOISE_FIELDS)]
    uniform = settings[values.notna().all(axis=1) & values.nunique(axis=1).eq(1)]
    if uniform.empty:
        return None
    shared = [
        int((values == row[list(NOISE_FIELDS)].to_numpy()).sum().sum())
        for _, row in uniform.iterrows()
    ]
    return str(uniform.iloc[int(np.argmax(shared))]["setting"])


def setting_order(settings: pd.DataFrame, reference: str | None) -> list[str]:
    ranked = (
        settings.assign(
            key=[
                tuple(np.inf if pd.isna(v) else v for v in row)
                for row in settings[list(NOISE_FIELDS)].itertuples(index=False)
            ]
        )
        .sort_values("key")["setting"]
        .tolist()
    )
    return [reference, *[s for s in ranked if s != reference]] if reference else ranked


def _column(metric: str, register: str, prefix: str) -> str:
    return f"{prefix}_{metric}" if register == "all" else f"{prefix}_{metric}_{register}"


def register_levels(runs: pd.DataFrame, order: list[str], prefix: str) -> pd.DataFrame:
    rows = []
    for setting in order:
        part = runs[runs["setting"] == setting]
        for register in REGISTERS:
            row = {
                "setting": setting,
                "register": register,
                "n": len(part),
                "seeds": ",".join(str(s) for s in sorted(part["seed"].astype(int))),
            }
            for metric in METRICS:
                values = part[_column(metric, register, prefix)].to_numpy(dtype=float)
                interval = mean_interval(values)
                low, high = interval.low, interval.high
                if metric == "note_acc":
                    low, high = np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)
                row |= {
                    f"{metric}_mean": interval.mean,
                    f"{metric}_ci_low": low,
                    f"{metric}_ci_high": high,
                }
            row["baseline_psnr"] = part["baseline_psnr"].mean()
            rows.append(row)
    return pd.DataFrame(rows)


def empty_changes() -> pd.DataFrame:
    return pd.DataFrame(
        columns=["setting", "register", "metric", "change", "ci_low", "ci_high", "n", "paired"]
    )


def changes_against(
    runs: pd.DataFrame, order: list[str], reference: str, prefix: str
) -> pd.DataFrame:
    base = runs[runs["setting"] == reference].sort_values("seed")
    rows = []
    for setting in order[1:]:
        part = runs[runs["setting"] == setting].sort_values("seed")
        paired = (
            len(part) > 1
            and part["seed"].tolist() == base["seed"].tolist()
            and part["seed"].is_unique
        )
        for metric in METRICS:
            for register in REGISTERS:
                column = _column(metric, register, prefix)
                interval = difference_interval(
                    part[column].to_numpy(dtype=float), base[column].to_numpy(dtype=float), paired
                )
                rows.append(
                    {
                        "setting": setting,
                        "register": register,
                        "metric": metric,
                        "change": interval.mean,
                        "ci_low": interval.low,
                        "ci_high": interval.high,
                        "n": interval.n,
                        "paired": paired,
                    }
                )
    return pd.DataFrame(rows) if rows else empty_changes()
