"""The thesis's open question: does less noise on low notes help them, and at what cost?

For each noise setting (SNR per register) of a study: PSNR and note accuracy per register
with 95% intervals over seeds, and the change of each against uniform noise (the same SNR
on every register, as the thesis trained). The change is paired by seed when both
settings ran the same seeds, so what a seed does to both cancels out. Scored on the clean
test audio, and again on noisy test audio where every setting was scored on the same
(`test_snr_db`: one SNR on every register, whatever the training noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.comparisons import Comparison, find_comparisons
from analysis.figures import STYLE
from analysis.runs import NOISE_FIELDS, noise_label
from analysis.stats import difference_interval, mean_interval
from analysis.tables import REGISTERS as KEYBOARD_REGISTERS
from analysis.tables import Table, interval_text

REGISTERS = (*KEYBOARD_REGISTERS, "all")
METRICS = ("psnr", "note_acc")
METRIC_NAMES = {"psnr": "PSNR (dB)", "note_acc": "note accuracy (%)"}


@dataclass(frozen=True)
class NoiseStudy:
    experiment: str
    comparison: Comparison
    reference: str | None  # the uniform setting's label; None when the study has none
    registers: pd.DataFrame  # setting, register, n, psnr_*, note_acc_* (mean, ci_low, ci_high)
    changes: pd.DataFrame  # setting, register, metric, change, ci_low, ci_high, n, paired
    answer: str
    audio: str = "clean"  # the test audio scored: clean, or `noisy, SNR 10 dB`

    @property
    def settings(self) -> list[str]:
        return list(dict.fromkeys(self.registers["setting"]))

    def tables(self) -> list[Table]:
        return [self._register_table(), *([self._change_table()] if len(self.changes) else [])]

    def _register_table(self) -> Table:
        wide = []
        for setting, rows in self.registers.groupby("setting", sort=False):
            line = {"noise (SNR low/mid/high)": setting, "n (seeds)": int(rows["n"].max())}
            for _, row in rows.iterrows():
                line[f"PSNR {row['register']} (dB)"] = interval_text(
                    row["psnr_mean"], row["psnr_ci_low"], row["psnr_ci_high"]
                )
            for _, row in rows.iterrows():
                line[f"note acc {row['register']}"] = interval_text(
                    row["note_acc_mean"], row["note_acc_ci_low"], row["note_acc_ci_high"], True
                )
            wide.append(line)
        caption = (
            f"Study {self.experiment!r}, {self.comparison.describe()}. Test audio: "
            f"{self.audio}; mean over seeds [95% t-interval]. `off`: no noisy copy for that "
            "register. "
            f"Mean-image baseline {self.registers['baseline_psnr'].mean():.2f} dB."
        )
        return Table(
            f"noise_registers_{self.experiment}{self.suffix}",
            f"{self.experiment}: PSNR and note accuracy per register, by noise setting, "
            f"{self.audio} test audio",
            caption,
            self.registers,
            pd.DataFrame(wide),
        )

    def _change_table(self) -> Table:
        wide = []
        for setting, rows in self.changes.groupby("setting", sort=False):
            line = {"noise (SNR low/mid/high)": setting}
            for metric in METRICS:
                for _, row in rows[rows["metric"] == metric].iterrows():
                    unit = " (points)" if metric == "note_acc" else " (dB)"
                    name = "PSNR" if metric == "psnr" else "note acc"
                    line[f"Δ {name} {row['register']}{unit}"] = _signed(row, metric)
            line["interval"] = "paired by seed" if rows["paired"].all() else "Welch"
            wide.append(line)
        caption = (
            f"Change against uniform noise ({self.reference}) on {self.audio} test audio: "
            "setting minus uniform, mean [95% interval]; positive helps. Note accuracy in "
            "percentage points."
        )
        return Table(
            f"noise_changes_{self.experiment}{self.suffix}",
            f"{self.experiment}: change against uniform noise, {self.audio} test audio",
            caption,
            self.changes,
            pd.DataFrame(wide),
        )

    @property
    def suffix(self) -> str:
        """What the names of this study's tables and figure add: `_noisy` for noisy audio."""
        return "" if self.audio == "clean" else "_noisy"

    def figure(self) -> Figure:
        """Per register: the level of each setting, and its change against uniform noise."""
        rows = 2 if len(self.changes) else 1
        palette = dict(
            zip(self.settings, sns.color_palette("tab10", len(self.settings)), strict=True)
        )
        with sns.axes_style("whitegrid"), plt.rc_context(STYLE):
            figure, axes = plt.subplots(
                rows, 2, figsize=(13, 4.2 * rows), squeeze=False, layout="constrained"
            )
            for column, metric in enumerate(METRICS):
                scale = 100.0 if metric == "note_acc" else 1.0
                _dodged(
                    axes[0, column],
                    self.registers,
                    self.settings,
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
                    baseline = self.registers["baseline_psnr"].mean()
                    axes[0, column].axhline(
                        baseline,
                        color="gray",
                        linestyle="--",
                        linewidth=1.1,
                        label=f"mean-image baseline ({baseline:.1f} dB)",
                    )
                if rows == 2:
                    part = self.changes[self.changes["metric"] == metric]
                    others = [s for s in self.settings if s != self.reference]
                    _dodged(
                        axes[1, column], part, others, palette, scale, "change", "ci_low", "ci_high"
                    )
                    axes[1, column].axhline(0, color="black", linewidth=1.0)
                    unit = "points" if metric == "note_acc" else "dB"
                    name = "note accuracy" if metric == "note_acc" else "PSNR"
                    axes[1, column].set(
                        title=f"Change in {name} against uniform noise ({self.reference})",
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
                f"{self.experiment}: does less noise on low notes help them, and "
                "what does it cost the rest?\npoints: mean over seeds; bars: 95% "
                f"interval over seeds; test audio {self.audio}",
                fontsize=12,
            )
        plt.close(figure)
        return figure


def noise_studies(trials: pd.DataFrame) -> list[NoiseStudy]:
    """One noise study per experiment whose finished runs vary the per-register SNRs with
    everything else fixed (a search that moves the SNRs with the rest answers nothing here),
    on clean test audio; and one on noisy test audio where every run was scored on the same
    (one `test_snr_db` for all)."""
    studies = []
    for comparison in find_comparisons(trials, NOISE_FIELDS):
        if not comparison.controlled:
            continue
        studies.append(_study(comparison))
        runs = comparison.runs
        snr = runs["test_snr_db"] if "test_snr_db" in runs else pd.Series(dtype=float)
        scored = "noisy_test_psnr" in runs and runs["noisy_test_psnr"].notna().all()
        if scored and snr.notna().all() and snr.nunique() == 1:
            studies.append(_study(comparison, "noisy_test", f"noisy, SNR {snr.iloc[0]:g} dB"))
    return studies


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


def _study(comparison: Comparison, prefix: str = "test", audio: str = "clean") -> NoiseStudy:
    runs = comparison.runs.copy()
    runs["setting"] = [noise_label(row) for _, row in runs.iterrows()]
    settings = runs.drop_duplicates("setting")[["setting", *NOISE_FIELDS]]
    reference = uniform_setting(settings)
    order = _order(settings, reference)
    registers = _registers(runs, order, prefix)
    changes = _changes(runs, order, reference, prefix) if reference else _empty_changes()
    answer = _answer(registers, changes, reference)
    return NoiseStudy(
        comparison.experiment,
        comparison,
        reference,
        registers,
        changes,
        answer if audio == "clean" else f"On {audio} test audio: {answer}",
        audio,
    )


def _order(settings: pd.DataFrame, reference: str | None) -> list[str]:
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


def _registers(runs: pd.DataFrame, order: list[str], prefix: str) -> pd.DataFrame:
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


def _empty_changes() -> pd.DataFrame:
    return pd.DataFrame(
        columns=["setting", "register", "metric", "change", "ci_low", "ci_high", "n", "paired"]
    )


def _changes(runs: pd.DataFrame, order: list[str], reference: str, prefix: str) -> pd.DataFrame:
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
    return pd.DataFrame(rows) if rows else _empty_changes()


def _signed(row: pd.Series, metric: str) -> str:
    scale, digits = (100.0, 1) if metric == "note_acc" else (1.0, 2)
    if pd.isna(row["change"]):
        return "–"
    text = f"{row['change'] * scale:+.{digits}f}"
    if pd.isna(row["ci_low"]):
        return f"{text} [no interval]"
    return f"{text} [{row['ci_low'] * scale:+.{digits}f}, {row['ci_high'] * scale:+.{digits}f}]"


def _verdict(row: pd.Series) -> str:
    if pd.isna(row["ci_low"]):
        return "no interval with one seed"
    if row["ci_low"] > 0:
        return "a gain at 95%"
    if row["ci_high"] < 0:
        return "a loss at 95%"
    return "within seed-to-seed variation"


def _answer(registers: pd.DataFrame, changes: pd.DataFrame, reference: str | None) -> str:
    """The question in one paragraph, from the numbers of the tables."""
    if reference is None:
        return (
            "No setting puts the same SNR on every register, so there is no uniform "
            "reference: compare the per-register levels in the table."
        )
    if changes.empty:
        return f"Only the uniform setting ({reference}) finished: nothing to compare it with."
    psnr = changes[changes["metric"] == "psnr"].set_index(["setting", "register"])
    acc = changes[changes["metric"] == "note_acc"].set_index(["setting", "register"])
    low = psnr.xs("low", level="register")["change"]
    best = str(low.idxmax())
    gain, acc_gain = psnr.loc[(best, "low")], acc.loc[(best, "low")]
    rest = ", ".join(
        f"{r} notes {_signed(psnr.loc[(best, r)], 'psnr')} dB ({_verdict(psnr.loc[(best, r)])})"
        for r in ("mid", "high")
    )
    n = int(gain["n"])
    how = "paired by seed" if bool(gain["paired"]) else "Welch"
    return (
        f"Against uniform noise ({reference}), the setting that does most for low notes is "
        f"{best}: low-note PSNR {_signed(gain, 'psnr')} dB ({_verdict(gain)}), low-note "
        f"accuracy {_signed(acc_gain, 'note_acc')} points ({_verdict(acc_gain)}). "
        f"Elsewhere: {rest}. Over the whole keyboard: "
        f"{_signed(psnr.loc[(best, 'all')], 'psnr')} dB. "
        f"Intervals are 95% over {n} seed(s), {how}."
    )


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
