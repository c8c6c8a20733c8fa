"""The comparison tables: mean over seeds, 95% interval, n, beside the thesis and baseline.

Each table keeps two faces: `data` (plain numbers, for CSV and for tests) and `display`
(formatted strings, for Markdown and HTML), built from the same rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import thesis
from analysis.comparisons import Comparison, find_comparisons
from analysis.configs import config_labels, format_value
from analysis.stats import mean_interval
from trainables.keys import Register

#: What a comparison table shows for each config: the headline metrics.
TABLE_METRICS = ("test_psnr", "test_note_acc")
#: Row order of the thesis's tables, so our rows line up with its rows.
LOSS_ORDER = ("smooth_l1", "mse", "ssim")
KERNEL_ORDER = ("3", "mixed", "5")
#: The keyboard's registers, low to high, as metric names spell them (`test_psnr_low`).
REGISTERS = tuple(register.value for register in Register)


@dataclass(frozen=True)
class Table:
    name: str  # file stem: loss_<study>, kernel_<study>, ...
    title: str
    caption: str
    data: pd.DataFrame  # numbers: what the CSV holds
    display: pd.DataFrame  # strings: what Markdown and HTML show

    def markdown(self) -> str:
        return markdown_table(self.display)

    def html(self) -> str:
        return self.display.to_html(index=False, escape=True, border=0, classes="table", na_rep="–")

    def write_csv(self, folder: Path) -> Path:
        path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', self.name).strip('-')}.csv"
        self.data.to_csv(path, index=False, float_format="%.6g")
        return path


def summarize_groups(
    runs: pd.DataFrame, by: Sequence[str], metrics: Sequence[str] = TABLE_METRICS
) -> pd.DataFrame:
    """One row per group of `by`: n, seeds, and for each metric its mean and 95% interval.

    Also the mean-image baseline PSNR (a property of the test set, the same for every
    run of one dataset), so that a PSNR is never read without it.
    """
    rows = []
    for key, group in runs.groupby(list(by), dropna=False, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key, strict=True))
        row["n"] = len(group)
        row["seeds"] = ",".join(str(s) for s in sorted(group["seed"].dropna().astype(int)))
        for metric in metrics:
            values = group[metric] if metric in group else pd.Series(dtype=float)
            interval = mean_interval(values.to_numpy(dtype=float))
            low, high = interval.low, interval.high
            if "note_acc" in metric:  # a share: the t-interval is cut to [0, 1]
                low, high = np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)
            row[f"{metric}_mean"] = interval.mean
            row[f"{metric}_ci_low"] = low
            row[f"{metric}_ci_high"] = high
        row["baseline_psnr"] = group["baseline_psnr"].mean() if "baseline_psnr" in group else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def configs_table(trials: pd.DataFrame) -> Table:
    """Every finished config of every study, best first: the overview."""
    finished = trials[trials["status"] == "finished"].copy()
    finished["config"] = config_labels(finished, with_study=False)
    data = summarize_groups(
        finished,
        ["experiment", "config"],
        (*TABLE_METRICS, *(f"test_{m}_{r}" for m in ("psnr", "note_acc") for r in REGISTERS)),
    )
    data = data.sort_values(["experiment", "test_psnr_mean"], ascending=[True, False])
    display = pd.DataFrame(
        {
            "study": data["experiment"],
            "config": data["config"],
            "n (seeds)": data["n"],
            "test PSNR (dB)": _intervals(data, "test_psnr"),
            "note accuracy": _intervals(data, "test_note_acc", percent=True),
            "PSNR low / mid / high (dB)": [
                " / ".join(_number(r[f"test_psnr_{g}_mean"]) for g in REGISTERS)
                for _, r in data.iterrows()
            ],
            "note acc low / mid / high": [
                " / ".join(_percent(r[f"test_note_acc_{g}_mean"]) for g in REGISTERS)
                for _, r in data.iterrows()
            ],
            "mean-image baseline (dB)": data["baseline_psnr"].map(_number),
        }
    )
    return Table(
        "configs",
        "All configurations",
        "Finished trials per configuration: mean over seeds and its 95% t-interval.",
        data.reset_index(drop=True),
        display.reset_index(drop=True),
    )


def loss_tables(trials: pd.DataFrame) -> list[Table]:
    """Thesis Table 1, ours: test PSNR by loss (at kernel 5 where the runs allow)."""
    return [
        _factor_table(
            c,
            "loss",
            LOSS_ORDER,
            thesis.loss_psnr,
            f"thesis PSNR, {thesis.LOSS_CONDITION} (dB)",
            "Test PSNR by loss (thesis Table 1)",
        )
        for c in find_comparisons(trials, ("loss",), prefer={"kernel": "5"})
    ]


def kernel_tables(trials: pd.DataFrame) -> list[Table]:
    """Thesis Table 2, ours: test PSNR by kernel (with smooth L1 where the runs allow)."""
    return [
        _factor_table(
            c,
            "kernel",
            KERNEL_ORDER,
            thesis.kernel_psnr,
            f"thesis PSNR, {thesis.KERNEL_CONDITION} (dB)",
            "Test PSNR by kernel (thesis Table 2)",
        )
        for c in find_comparisons(trials, ("kernel",), prefer={"loss": "smooth_l1"})
    ]


def grid_tables(trials: pd.DataFrame) -> list[Table]:
    """Loss x kernel, when a study has run every pair of them (with all else equal)."""
    tables = []
    for comparison in find_comparisons(trials, ("loss", "kernel")):
        runs = comparison.runs
        losses, kernels = runs["loss"].unique(), runs["kernel"].unique()
        pairs = len(runs.groupby(["loss", "kernel"]))
        if len(losses) < 2 or len(kernels) < 2 or pairs < len(losses) * len(kernels):
            continue
        data = summarize_groups(runs, ["loss", "kernel"])
        data.insert(0, "experiment", comparison.experiment)
        cells = data.assign(
            cell=[f"{_interval_text(r, 'test_psnr')} (n={r['n']})" for _, r in data.iterrows()]
        )
        display = cells.pivot(index="loss", columns="kernel", values="cell")
        display = display.reindex(
            index=_ordered(display.index, LOSS_ORDER),
            columns=_ordered(display.columns, KERNEL_ORDER),
        )
        display.columns = [f"kernel {k}: test PSNR (dB)" for k in display.columns]
        display = display.reset_index()
        tables.append(
            Table(
                f"grid_{comparison.experiment}",
                f"{comparison.experiment}: test PSNR by loss and kernel",
                f"Test PSNR, mean [95% interval] over seeds; {comparison.describe()}. Mean-image "
                f"baseline {data['baseline_psnr'].mean():.2f} dB.",
                data,
                display,
            )
        )
    return tables


def _factor_table(
    comparison: Comparison,
    factor: str,
    order: Sequence[str],
    reference: Callable[[str], float | None],
    reference_header: str,
    title: str,
) -> Table:
    data = summarize_groups(comparison.runs, [factor])
    data = data.set_index(factor).reindex(_ordered(data[factor], order)).reset_index()
    data.insert(0, "experiment", comparison.experiment)
    data["thesis_psnr"] = [reference(str(v)) for v in data[factor]]
    data["thesis_psnr"] = data["thesis_psnr"].astype(float)
    display = pd.DataFrame(
        {
            factor: data[factor].map(format_value),
            "n (seeds)": data["n"],
            "test PSNR (dB), mean [95% CI]": _intervals(data, "test_psnr"),
            "note accuracy, mean [95% CI]": _intervals(data, "test_note_acc", percent=True),
            "mean-image baseline (dB)": data["baseline_psnr"].map(_number),
            reference_header: data["thesis_psnr"].map(_number),
        }
    )
    caption = (
        f"Study {comparison.experiment!r}, {comparison.describe()}. Finished trials only; "
        "mean over seeds with its 95% t-interval (none for n=1). The thesis ran each once."
    )
    return Table(
        f"{factor}_{comparison.experiment}",
        f"{comparison.experiment}: {title}",
        caption,
        data,
        display,
    )


def _ordered(values: Sequence, order: Sequence[str]) -> list:
    present = list(dict.fromkeys(values))
    known = [v for o in order for v in present if str(v) == o]
    return known + [v for v in present if v not in known]


def _number(value: float, digits: int = 2) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def _percent(share: float) -> str:
    return "–" if pd.isna(share) else f"{100 * share:.1f}%"


def interval_text(mean: float, low: float, high: float, percent: bool = False) -> str:
    """`19.14 [18.70, 19.58]`; `19.14 [n=1, no interval]` when there is no interval."""
    scale, unit = (100.0, "%") if percent else (1.0, "")
    digits = 1 if percent else 2
    if pd.isna(mean):
        return "–"
    text = f"{mean * scale:.{digits}f}{unit}"
    if pd.isna(low):
        return f"{text} [no interval]"
    return f"{text} [{low * scale:.{digits}f}, {high * scale:.{digits}f}]"


def _interval_text(row: pd.Series, metric: str, percent: bool = False) -> str:
    return interval_text(
        row[f"{metric}_mean"], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"], percent
    )


def _intervals(data: pd.DataFrame, metric: str, percent: bool = False) -> list[str]:
    return [_interval_text(row, metric, percent) for _, row in data.iterrows()]


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub Markdown table of `frame`'s cells as text (pipes escaped)."""

    def cell(value: object) -> str:
        text = (
            "–" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
        )
        return text.replace("|", "\\|").replace("\n", " ")

    header = [cell(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join(lines)


def importance_table(tables: dict[str, pd.DataFrame], study: str) -> Table:
    """Per metric and hyperparameter: fANOVA importance with its bootstrap interval and
    the resamples it rests on, and PED-ANOVA's, most important first within each metric."""
    data = pd.concat(
        [table.assign(metric=metric) for metric, table in tables.items()], ignore_index=True
    )
    display = pd.DataFrame(
        {
            "metric": data["metric"],
            "rank": data["rank"],
            "hyperparameter": data["parameter"],
            "fANOVA": [
                f"{m:.0%} (no interval)" if pd.isna(lo) else f"{m:.0%} [{lo:.0%}, {hi:.0%}]"
                for m, lo, hi in zip(
                    data["fanova"], data["fanova_ci_low"], data["fanova_ci_high"], strict=True
                )
            ],
            "resamples": [
                f"{int(n)} of {int(of)}"
                for n, of in zip(data["fanova_resamples"], data["fanova_bootstraps"], strict=True)
            ],
            "PED-ANOVA": [f"{v:.0%}" for v in data["ped_anova"]],
        }
    )
    return Table(
        f"importance_{study}",
        f"Hyperparameter importance: {study}",
        "Optuna's fANOVA and PED-ANOVA on the study rebuilt from its runs (one trial per "
        "configuration, the mean over seeds); in brackets, the 2.5 and 97.5 percentiles of "
        "fANOVA over bootstrap resamples of the configurations; `resamples`: how many of "
        "them fANOVA could score (one whose configurations all scored alike has nothing to "
        "split, and no interval when none could). Importances sum to 100% "
        "per metric and evaluator. `metric@N`: the metric at epoch N, ASHA's first rung, "
        "where every configuration was scored (the others count finished ones only).",
        data,
        display,
    )
