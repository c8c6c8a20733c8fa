"""Figures of a searched study: importance with intervals, every configuration on parallel
coordinates (Optuna's own plot), and the learning curves against ASHA's rungs."""

from __future__ import annotations

import warnings

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from optuna.visualization import matplotlib as optuna_plots

from analysis.figures import STYLE
from analysis.importance import SearchedStudy


def importance_bars(tables: dict[str, pd.DataFrame]) -> Figure:
    """fANOVA importance per hyperparameter (bars, 95% bootstrap interval) and PED-ANOVA's
    (dots), one panel per metric."""
    with sns.axes_style("whitegrid"), plt.rc_context(STYLE):
        figure, axes = plt.subplots(
            1, len(tables), figsize=(4.2 * len(tables), 3.4), sharey=True, squeeze=False
        )
        order = next(iter(tables.values()))["parameter"].tolist()
        for axis, (metric, table) in zip(axes[0], tables.items(), strict=True):
            table = table.set_index("parameter").reindex(order)
            y = range(len(order))
            axis.barh(y, table["fanova"], color="#0072B2", label="fANOVA")
            axis.errorbar(
                table["fanova"],
                y,
                xerr=[
                    (table["fanova"] - table["fanova_ci_low"]).clip(lower=0),
                    (table["fanova_ci_high"] - table["fanova"]).clip(lower=0),
                ],
                fmt="none",
                ecolor="black",
                capsize=3,
                label="95% bootstrap interval",
            )
            axis.scatter(table["ped_anova"], y, color="#D55E00", zorder=3, label="PED-ANOVA")
            axis.set(yticks=list(y), yticklabels=order, xlim=(0, 1), title=metric)
            axis.set_xlabel("importance (share of the metric's variance)")
        axes[0][0].invert_yaxis()  # once: the panels share it; the most important on top
        handles, labels = axes[0][0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
        figure.tight_layout(rect=(0, 0.08, 1, 1))
    return figure


def parallel_coordinates(study: SearchedStudy, metric: str) -> Figure:
    """Every finished configuration across the searched hyperparameters, coloured by
    `metric` (Optuna's plot)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's matplotlib plots are experimental
        axis = optuna_plots.plot_parallel_coordinate(study.optuna_study(metric), target_name=metric)
    figure = axis.figure
    figure.set_size_inches(max(7.0, 1.3 * len(study.distributions) + 3), 4.2)
    return figure


def asha_curves(study: SearchedStudy, rungs: tuple[int, ...]) -> Figure:
    """The study metric per epoch of every configuration: those ASHA stopped end at a
    rung (dashed lines), the finished ones go on."""
    with sns.axes_style("whitegrid"), plt.rc_context(STYLE):
        figure, axis = plt.subplots(figsize=(7.5, 4.0))
        for _, config in study.configs.iterrows():
            curve = pd.Series(config["curve"]).sort_index()
            if curve.empty:
                continue
            finished = config["state"] == "finished"
            axis.plot(
                curve.index,
                curve.values,
                color="#0072B2" if finished else "#999999",
                alpha=0.9 if finished else 0.6,
                linewidth=1.6 if finished else 1.0,
                marker="o" if finished else "x",  # a trial stopped after one epoch is a point
                markersize=3 if finished else 5,
            )
        for rung in rungs:
            axis.axvline(rung, color="#D55E00", linestyle="--", linewidth=1)
        axis.plot([], [], color="#0072B2", marker="o", markersize=3, label="finished")
        axis.plot([], [], color="#999999", marker="x", label="stopped by ASHA")
        axis.plot([], [], color="#D55E00", linestyle="--", label="ASHA rung")
        axis.set(xlabel="epoch", ylabel=study.metric, title="Learning curves and ASHA's rungs")
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        axis.legend(fontsize=8)
        figure.tight_layout()
    return figure
