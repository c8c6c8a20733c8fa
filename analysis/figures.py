"""Seaborn figures of the runs: per-key PSNR against a keyboard, its trend, learning curves.

Every figure names its units, draws the mean-image baseline beside PSNR (PSNR alone
flatters blur) and says in its title what the band is. Functions return a matplotlib
Figure; `save_png` and `png_bytes` write it for the Markdown and HTML reports.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from analysis import thesis
from analysis.stats import mean_interval
from trainables.keys import KEYS, LOWEST_MIDI, REGISTER_RANGES, Register

#: Okabe-Ito colours, told apart by colour-blind readers too.
REGISTER_COLOURS = {"low": "#0072B2", "mid": "#009E73", "high": "#D55E00"}
#: Keys averaged on either side of a key in the trend view (7 keys: about half an octave).
TREND_HALF_WINDOW = 3
#: At most this many configs per figure (the best by mean test PSNR), so it stays readable.
MAX_CONFIGS = 6
DPI = 110
STYLE = {"axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9}


def save_png(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def top_configs(runs: pd.DataFrame, limit: int = MAX_CONFIGS) -> list[str]:
    """Config labels (column `config`) best first by mean test PSNR, at most `limit`."""
    means = runs.groupby("config")["test_psnr"].mean().sort_values(ascending=False)
    return list(means.index[:limit])


def config_palette(configs: list[str]) -> dict[str, tuple]:
    return dict(zip(configs, sns.color_palette("tab10", len(configs)), strict=True))


def per_key_means(per_key: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per config and key: mean PSNR and note accuracy over the config's seeds."""
    joined = per_key.merge(runs[["run_id", "config"]], on="run_id")
    return joined.groupby(["config", "midi", "note", "register"], as_index=False).agg(
        psnr=("psnr", "mean"), note_acc=("note_acc", "mean"), seeds=("run_id", "size")
    )


def draw_keyboard(axis: Axes) -> None:
    """A strip of the 88 keys under a per-key axis (x = MIDI), note names at the Cs,
    with the three registers as coloured bars below it."""
    for key in KEYS:
        if not key.is_black:
            axis.add_patch(
                Rectangle(
                    (key.midi - 0.5, 0), 1, 1, facecolor="white", edgecolor="#999999", linewidth=0.5
                )
            )
    for key in KEYS:
        if key.is_black:
            axis.add_patch(Rectangle((key.midi - 0.4, 0.4), 0.8, 0.6, facecolor="black"))
    for register, span in REGISTER_RANGES.items():
        axis.add_patch(
            Rectangle(
                (span.start - 0.5, -0.55),
                len(span),
                0.45,
                facecolor=REGISTER_COLOURS[register.value],
            )
        )
        first, last = KEYS[span.start - LOWEST_MIDI], KEYS[span.stop - 1 - LOWEST_MIDI]
        axis.text(
            (span.start + span.stop - 1) / 2,
            -0.33,
            f"{register.value} register ({first.name}-{last.name})",
            ha="center",
            va="center",
            color="white",
            fontsize=8,
            fontweight="bold",
        )
    ticks = [k.midi for k in KEYS if k.pitch_class == "C" or k.midi == LOWEST_MIDI]
    names = {k.midi: k.name for k in KEYS}
    axis.set_xticks(ticks, [names[t] for t in ticks])
    axis.set_xlim(LOWEST_MIDI - 0.5, KEYS[-1].midi + 0.5)
    axis.set_ylim(-0.55, 1)
    axis.set_yticks([])
    axis.grid(False)
    axis.set_xlabel("piano key (note names at the Cs)")
    for side in ("top", "right", "left", "bottom"):
        axis.spines[side].set_visible(False)


def _shade_registers(axis: Axes) -> None:
    for register, span in REGISTER_RANGES.items():
        axis.axvspan(
            span.start - 0.5,
            span.stop - 0.5,
            color=REGISTER_COLOURS[register.value],
            alpha=0.06,
            linewidth=0,
        )


def _keyboard_figure(rows: int, row_height: float) -> tuple[Figure, list[Axes], Axes]:
    figure, axes = plt.subplots(
        rows + 1,
        1,
        sharex=True,
        figsize=(12, rows * row_height + 1.2),
        layout="constrained",
        gridspec_kw={"height_ratios": [row_height] * rows + [0.7]},
    )
    *panels, keyboard = axes
    draw_keyboard(keyboard)
    return figure, panels, keyboard


def per_key_scatter(
    per_key: pd.DataFrame, runs: pd.DataFrame, title: str, baseline: float | None = None
) -> Figure:
    """Per-key mean PSNR over the 88 keys, one panel per config, coloured by register.

    `runs` has `run_id` and `config` (a label) for the finished runs to show.
    """
    configs = top_configs(runs)
    means = per_key_means(per_key, runs[runs["config"].isin(configs)])
    with sns.axes_style("whitegrid"), plt.rc_context(STYLE):
        figure, axes, _ = _keyboard_figure(len(configs), 2.3)
        low = min(means["psnr"].min(), baseline or np.inf, thesis.READABLE_PSNR) - 1
        high = max(means["psnr"].max(), baseline or -np.inf, thesis.READABLE_PSNR) + 1
        for i, (axis, config) in enumerate(zip(axes, configs, strict=True)):
            part = means[means["config"] == config]
            _shade_registers(axis)
            sns.scatterplot(
                data=part,
                x="midi",
                y="psnr",
                hue="register",
                hue_order=[r.value for r in Register],
                palette=REGISTER_COLOURS,
                s=28,
                edgecolor="white",
                linewidth=0.4,
                ax=axis,
                legend=i == 0,
            )
            _reference_lines(axis, baseline, legend=False)
            seeds = int(part["seeds"].max()) if len(part) else 0
            axis.set_title(f"{config}  (mean of {seeds} seed(s) per key)", loc="left", fontsize=10)
            axis.set_ylim(low, high)
            axis.set_ylabel("PSNR (dB)")
        _register_and_reference_legend(axes[0], baseline)
        figure.suptitle(title, fontsize=12)
    plt.close(figure)
    return figure


def per_key_trend(
    per_key: pd.DataFrame, runs: pd.DataFrame, title: str, baseline: float | None = None
) -> Figure:
    """Dense view: per-key PSNR and note accuracy smoothed over neighbouring keys.

    Each run's per-key values are averaged over a window of keys first; the line is the
    mean of that over seeds and the band its 95% t-interval (no band for one seed).
    """
    configs = top_configs(runs)
    smoothed = _smoothed(per_key.merge(runs[["run_id", "config"]], on="run_id"))
    smoothed = smoothed[smoothed["config"].isin(configs)]
    palette = config_palette(configs)
    with sns.axes_style("whitegrid"), plt.rc_context(STYLE):
        figure, (psnr_axis, acc_axis), _ = _keyboard_figure(2, 3.0)
        for axis, metric, scale in ((psnr_axis, "psnr", 1.0), (acc_axis, "note_acc", 100.0)):
            _shade_registers(axis)
            for config in configs:
                part = smoothed[smoothed["config"] == config]
                summary = _interval_per_key(part, metric)
                colour = palette[config]
                axis.plot(
                    summary["midi"],
                    summary["mean"] * scale,
                    color=colour,
                    label=config,
                    linewidth=1.8,
                )
                axis.fill_between(
                    summary["midi"],
                    summary["low"] * scale,
                    summary["high"] * scale,
                    color=colour,
                    alpha=0.13,
                    linewidth=0,
                )
        _reference_lines(psnr_axis, baseline, legend=True)
        means = smoothed.groupby(["config", "midi"])["psnr"].mean()
        references = [v for v in (baseline, thesis.READABLE_PSNR) if v is not None]
        psnr_axis.set_ylim(
            min(means.min(), *references) - 1.5, max(means.max(), *references) + 1.5
        )  # bands may run past
        psnr_axis.set_ylabel("PSNR (dB)")
        psnr_axis.set_title(
            f"Per-key test PSNR, smoothed over {2 * TREND_HALF_WINDOW + 1} "
            "keys (band: 95% interval over seeds)",
            loc="left",
        )
        acc_axis.set_ylabel("note accuracy (%)")
        acc_axis.set_ylim(-3, 103)
        acc_axis.set_title(
            "Per-key note accuracy (prediction nearest to its own key's target), same smoothing",
            loc="left",
        )
        psnr_axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        figure.suptitle(title, fontsize=12)
    plt.close(figure)
    return figure


def learning_curves(
    history: pd.DataFrame, runs: pd.DataFrame, title: str, baseline: float | None = None
) -> Figure:
    """Train and test loss and test PSNR per epoch: mean over seeds, band = min to max."""
    configs = top_configs(runs)
    data = history.merge(runs[["run_id", "config"]], on="run_id")
    data = data[data["config"].isin(configs)]
    palette = config_palette(configs)
    panels = (
        ("train_loss", "Train loss", "loss (log scale)"),
        ("test_loss", "Test loss", "loss (log scale)"),
        ("test_psnr", "Test PSNR", "PSNR (dB)"),
    )
    with sns.axes_style("whitegrid"), plt.rc_context(STYLE):
        figure, axes = plt.subplots(1, 3, figsize=(15, 4.4), layout="constrained")
        for axis, (metric, name, unit) in zip(axes, panels, strict=True):
            part = data[data["metric"] == metric]
            sns.lineplot(
                data=part,
                x="epoch",
                y="value",
                hue="config",
                hue_order=configs,
                palette=palette,
                estimator="mean",
                errorbar=lambda v: (v.min(), v.max()),
                marker="o",
                markersize=4,
                ax=axis,
                legend=metric == "test_psnr",
            )
            axis.set(title=name, xlabel="epoch", ylabel=unit)
            if metric.endswith("loss"):
                axis.set_yscale("log")
            epochs = sorted(part["epoch"].unique())
            if len(epochs) <= 20:
                axis.set_xticks(epochs)
        if baseline is not None:
            axes[2].axhline(
                baseline,
                color="gray",
                linestyle="--",
                linewidth=1.2,
                label=f"mean-image baseline ({baseline:.1f} dB)",
            )
        axes[2].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, title="config")
        figure.suptitle(
            f"{title}\nmean over seeds, band from the lowest to the highest seed; "
            "losses of different loss functions are not comparable",
            fontsize=11,
        )
    plt.close(figure)
    return figure


def _smoothed(per_key: pd.DataFrame) -> pd.DataFrame:
    """Each run's per-key values averaged over neighbouring keys (missing keys skipped)."""
    window = 2 * TREND_HALF_WINDOW + 1
    frames = []
    all_keys = pd.Index([k.midi for k in KEYS], name="midi")
    for (run_id, config), run in per_key.groupby(["run_id", "config"], sort=False):
        values = run.set_index("midi")[["psnr", "note_acc"]].reindex(all_keys)
        rolled = values.rolling(window, center=True, min_periods=1).mean()
        frames.append(rolled.reset_index().assign(run_id=run_id, config=config))
    return pd.concat(frames, ignore_index=True) if frames else per_key.iloc[0:0]


def _interval_per_key(part: pd.DataFrame, metric: str) -> pd.DataFrame:
    rows = []
    for midi, values in part.groupby("midi"):
        interval = mean_interval(values[metric].to_numpy(dtype=float))
        rows.append(
            {"midi": midi, "mean": interval.mean, "low": interval.low, "high": interval.high}
        )
    return pd.DataFrame(rows, columns=["midi", "mean", "low", "high"])


def _reference_lines(axis: Axes, baseline: float | None, legend: bool) -> None:
    if baseline is not None:
        axis.axhline(
            baseline,
            color="gray",
            linestyle="--",
            linewidth=1.1,
            label=f"mean-image baseline ({baseline:.1f} dB)" if legend else None,
        )
    axis.axhline(
        thesis.READABLE_PSNR,
        color="black",
        linestyle=":",
        linewidth=1.0,
        label=f"readable, per the thesis ({thesis.READABLE_PSNR:.0f} dB)" if legend else None,
    )


def _register_and_reference_legend(axis: Axes, baseline: float | None) -> None:
    handles, labels = axis.get_legend_handles_labels()
    lines = [plt.Line2D([], [], color="black", linestyle=":", linewidth=1.0)]
    texts = [f"readable, per the thesis ({thesis.READABLE_PSNR:.0f} dB)"]
    if baseline is not None:
        lines.insert(0, plt.Line2D([], [], color="gray", linestyle="--", linewidth=1.1))
        texts.insert(0, f"mean-image baseline ({baseline:.1f} dB)")
    labels = [f"{label} register" for label in labels]
    axis.legend(
        handles + lines, labels + texts, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False
    )
