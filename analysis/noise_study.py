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

import pandas as pd
from matplotlib.figure import Figure

from analysis.comparisons import Comparison, find_comparisons
from analysis.configs import NOISE_FIELDS, noise_label
from analysis.noise_effects import (
    METRICS,
    changes_against,
    empty_changes,
    register_levels,
    setting_order,
    uniform_setting,
)
from analysis.noise_figure import noise_figure
from analysis.tables import Table, interval_text


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
        return noise_figure(self)


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


def _study(comparison: Comparison, prefix: str = "test", audio: str = "clean") -> NoiseStudy:
    runs = comparison.runs.copy()
    runs["setting"] = [noise_label(row) for _, row in runs.iterrows()]
    settings = runs.drop_duplicates("setting")[["setting", *NOISE_FIELDS]]
    reference = uniform_setting(settings)
    order = setting_order(settings, reference)
    registers = register_levels(runs, order, prefix)
    changes = changes_against(runs, order, reference, prefix) if reference else empty_changes()
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
