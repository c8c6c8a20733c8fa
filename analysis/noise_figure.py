"""The noise study's figure: per-register level of each setting, and its change against uniform."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.figures import STYLE
from analysis.noise_effects import METRICS, REGISTERS

if TYPE_CHECKING:
    from analysis.noise_study import NoiseStudy


METRIC_NAMES = {"psnr": "PSNR (dB)", "note_acc": "note accuracy (%)"}


def noise_figure(study: NoiseStudy) -> Figure:
    """Per register: the level of each setting, and its change against uniform noise."""
    rows = 2 if len(study.changes) else 1
    palette = dict(
        zip(study.settings, sns.color_palette("tab10", len(study.settings)), strict=True)
    )
    with sns.axes_style("whitegrid"), plt.rc_context(STYLE):
        figure, axes = plt.subplots(
            rows, 2, figsize=(13, 4.2 * rows), squeeze=False, layout="constrained"
        )
        for column, metric in enumerate(METRICS):
            scale = 100.0 if metric == "note_acc" else 1.0
            _dodged(
                axes[0, column],
                study.registers,
                study.settings,
                palette,
                scale,
                f"{metric}_mean",
                f"{metric}_ci_low",
                f"{metric}_ci_high",
            )
            axes[0, column].set(
                title=f"Test {METRIC_NAMES[metric]} per register",
                ylabel=METRIC_NAMES[metric],
                xlabel="register",
            )
            if metric == "psnr":
                baseline = study.registers["baseline_psnr"].mean()
                axes[0, column].axhline(
                    baseline,
                    color="gray",
                    linestyle="--",
                    linewidth=1.1,
                    label=f"mean-image baseline ({baseline:.1f} dB)",
                )
            if rows == 2:
                part = study.changes[study.changes["metric"] == metric]
                others = [s for s in study.settings if s != study.reference]
                _dodged(
                    axes[1, column], part, others, palette, scale, "change", "ci_low", "ci_high"
                )
                axes[1, column].axhline(0, color="black", linewidth=1.0)
                unit = "points" if metric == "note_acc" else "dB"
                name = "note accuracy" if metric == "note_acc" else "PSNR"
                axes[1, column].set(
                    title=f"Change in {name} against uniform noise ({study.reference})",
                    ylabel=f"Δ {name} ({unit}), above 0 helps",
                    xlabel="register",
                )
        handles, labels = axes[0, 0].get_legend_handles_labels()
        figure.legend(
            handles,
            labels,
            loc="outside lower center",
            frameon=False,
            ncols=min(len(labels), 4),
            title="training noise, SNR low/mid/high",
        )
        figure.suptitle(
            f"{study.experiment}: does less noise on low notes help them, and "
            "what does it cost the rest?\npoints: mean over seeds; bars: 95% "
            f"interval over seeds; test audio {study.audio}",
            fontsize=12,
        )
    plt.close(figure)
    return figure


def _dodged(
    axis: Axes,
    frame: pd.DataFrame,
    settings: list[str],
    palette: dict,
    scale: float,
    mean: str,
    low: str,
    high: str,
) -> None:
    """Points with interval bars per register, one offset colour per setting."""
    width = 0.7
    step = width / max(len(settings), 1)
    for i, setting in enumerate(settings):
        part = frame[frame["setting"] == setting].set_index("register").reindex(list(REGISTERS))
        x = np.arange(len(REGISTERS)) - width / 2 + step * (i + 0.5)
        centre = part[mean].to_numpy(dtype=float) * scale
        # rounding can leave a point interval a hair outside its mean: clip at zero
        lower = np.clip(np.nan_to_num(centre - part[low].to_numpy(dtype=float) * scale), 0, None)
        upper = np.clip(np.nan_to_num(part[high].to_numpy(dtype=float) * scale - centre), 0, None)
        axis.errorbar(
            x,
            centre,
            yerr=[lower, upper],
            fmt="o",
            color=palette[setting],
            capsize=3,
            markersize=6,
            label=setting,
        )
    axis.grid(axis="x", visible=False)
    axis.set_xticks(
        np.arange(len(REGISTERS)), ["low (A0-B2)", "mid (C3-B5)", "high (C6-C8)", "all keys"]
    )
