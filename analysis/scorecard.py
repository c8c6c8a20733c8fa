"""One configuration, scored: a study that repeats a single config over seeds (`best`).

Per-register PSNR and note accuracy with intervals, beside the thesis and the mean-image
baseline; how the config generalises (noisy test audio, pianos held out of training); the
keys it still gets wrong and what it read them as; the worst keys, drawn.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from analysis import thesis
from analysis.runs import Runs, noise_label, varying_fields
from analysis.tables import Table, interval_text, summarize_groups
from trainables.artifacts import WORST_KEYS
from trainables.keys import note_name

#: Fields a scored study may vary besides the seed: where it is tested, not what is trained.
TEST_SET_FIELDS = ("held_out",)
REGISTERS = ("low", "mid", "high")
#: The thesis's PSNR per register, read off its per-key plot (it gave no table).
THESIS_REGISTER_PSNR = {"all": "19.14", "low": "12–13", "mid": "20–23", "high": "–"}


@dataclass(frozen=True)
class Scorecard:
    study: str
    registers: Table
    generalisation: Table
    confusions: Table
    summary: str  # one paragraph: the headline numbers and the kinds of errors
    worst_keys_png: bytes | None  # the worst run's worst-keys grid


def is_single_config(trials: pd.DataFrame) -> bool:
    """True when the finished trials differ only by seed and test set."""
    finished = trials[trials["status"] == "finished"]
    return len(finished) > 0 and not set(varying_fields(finished)) - set(TEST_SET_FIELDS)


def scorecard(runs: Runs, study: str) -> Scorecard:
    trials = runs.finished[runs.finished["experiment"] == study]
    # scored on the dataset's own split where the study has it, else on its held-out pianos
    split = trials[trials["held_out"].isna()]
    split = split if len(split) else trials
    scores = runs.test_scores[runs.test_scores["run_id"].isin(split["run_id"])]
    confusions = confusion_list(scores)
    worst = split.loc[split["test_psnr"].idxmin()]
    return Scorecard(
        study=study,
        registers=register_table(split, study),
        generalisation=generalisation_table(trials, study),
        confusions=_confusion_table(confusions, study, n_runs=len(split)),
        summary=_summary(split, scores, confusions),
        worst_keys_png=_artifact(runs, worst["run_id"], WORST_KEYS),
    )


def register_table(trials: pd.DataFrame, study: str) -> Table:
    """Clean test audio of the dataset's split: overall and per register, over seeds."""
    rows = []
    for register in ("all", *REGISTERS):
        suffix = "" if register == "all" else f"_{register}"
        psnr, acc = f"test_psnr{suffix}", f"test_note_acc{suffix}"
        groups = summarize_groups(trials.assign(register=register), ["register"], (psnr, acc))
        group = groups.iloc[0]
        rows.append(
            {
                "register": register,
                "n": int(group["n"]),
                "psnr_mean": group[f"{psnr}_mean"],
                "psnr_ci_low": group[f"{psnr}_ci_low"],
                "psnr_ci_high": group[f"{psnr}_ci_high"],
                "note_acc_mean": group[f"{acc}_mean"],
                "note_acc_ci_low": group[f"{acc}_ci_low"],
                "note_acc_ci_high": group[f"{acc}_ci_high"],
                "thesis_psnr": THESIS_REGISTER_PSNR[register],
                "baseline_psnr": group["baseline_psnr"] if register == "all" else float("nan"),
            }
        )
    data = pd.DataFrame(rows)
    display = pd.DataFrame(
        {
            "register": data["register"],
            "n seeds": data["n"],
            "test PSNR (dB)": _texts(data, "psnr"),
            "note accuracy": _texts(data, "note_acc", percent=True),
            "thesis PSNR (dB)": data["thesis_psnr"],
            "mean-image baseline (dB)": [
                "–" if pd.isna(v) else f"{v:.2f}" for v in data["baseline_psnr"]
            ],
        }
    )
    held = trials["held_out"].dropna().unique()
    audio = f"the held-out instruments {', '.join(held)}" if len(held) else "the dataset's split"
    return Table(
        f"registers_{study}",
        f"Per-register scores: {study}",
        f"Clean test audio of {audio}; mean over seeds [95% t-interval]. "
        "The thesis's register figures are read off its per-key plot.",
        data,
        display,
    )


def generalisation_table(trials: pd.DataFrame, study: str) -> Table:
    """The same config on clean, noisy and held-out-instrument test audio."""
    rows = []
    split = trials[trials["held_out"].isna()]
    if len(split):
        rows.append(_test_set_row("clean test audio (stratified split)", split, "test"))
        if "noisy_test_psnr" in split and split["noisy_test_psnr"].notna().any():
            label = f"noisy test audio, SNR {noise_label(split.iloc[0])} (low/mid/high)"
            rows.append(_test_set_row(label, split, "noisy_test"))
    for held_out, group in trials[trials["held_out"].notna()].groupby("held_out"):
        rows.append(_test_set_row(f"held-out instruments: {held_out}", group, "test"))
    data = pd.DataFrame(rows)
    display = pd.DataFrame(
        {
            "test set": data["test_set"],
            "n seeds": data["n"],
            "PSNR (dB)": _texts(data, "psnr"),
            "note accuracy": _texts(data, "note_acc", percent=True),
            **{
                f"note accuracy {register}": _texts(data, f"note_acc_{register}", percent=True)
                for register in REGISTERS
            },
        }
    )
    return Table(
        f"generalisation_{study}",
        f"Generalisation: {study}",
        "The same configuration scored on other test audio: with white noise at the SNR it "
        "trained with, and on whole piano presets that were never in its training set "
        "(trained without them). Mean over seeds [95% t-interval].",
        data,
        display,
    )


def confusion_list(scores: pd.DataFrame) -> pd.DataFrame:
    """Each (key, read as) pair of wrong test predictions: how often, and what kind."""
    wrong = scores[~scores["correct"].astype(bool)]
    columns = ["midi", "note", "predicted_midi", "predicted", "semitones", "kind", "count", "runs"]
    if wrong.empty:
        return pd.DataFrame(columns=columns)
    table = (
        wrong.groupby(["midi", "predicted_midi"])
        .agg(count=("run_id", "size"), runs=("run_id", "nunique"))
        .reset_index()
    )
    table["note"] = table["midi"].map(note_name)
    table["predicted"] = table["predicted_midi"].map(note_name)
    table["semitones"] = table["predicted_midi"] - table["midi"]
    table["kind"] = table["semitones"].map(error_kind)
    return table.sort_values(["count", "midi"], ascending=[False, True])[columns]


def error_kind(semitones: int) -> str:
    """`octave` (a multiple of 12 away), `neighbour` (a tone or less away), `octave +
    neighbour` (a tone or less from a whole number of octaves away), or `other`."""
    if semitones % 12 == 0:
        return "octave"
    if abs(semitones) <= 2:
        return "neighbour"
    return "octave + neighbour" if semitones % 12 in (1, 2, 10, 11) else "other"


def _confusion_table(confusions: pd.DataFrame, study: str, n_runs: int) -> Table:
    display = pd.DataFrame(
        {
            "key": confusions["note"],
            "read as": confusions["predicted"],
            "semitones": [f"{s:+d}" for s in confusions["semitones"]],
            "kind": confusions["kind"],
            "wrong test samples": confusions["count"],
            "seeds": [f"{r} of {n_runs}" for r in confusions["runs"]],
        }
    )
    return Table(
        f"confusions_{study}",
        f"Keys read wrong: {study}",
        "Clean test samples whose prediction is nearest another key's target, over all seeds; "
        "`octave`: a multiple of 12 semitones off, `neighbour`: one or two semitones off, "
        "`octave + neighbour`: both.",
        confusions,
        display,
    )


def _summary(trials: pd.DataFrame, scores: pd.DataFrame, confusions: pd.DataFrame) -> str:
    wrong = int(confusions["count"].sum())
    kinds = confusions.groupby("kind")["count"].sum().to_dict()
    kinds_text = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "none"
    return (
        f"Over {len(trials)} seed(s): test PSNR {trials['test_psnr'].mean():.2f} dB "
        f"(thesis {thesis.LOSS_PSNR['smooth_l1']:.2f} dB, mean-image baseline "
        f"{trials['baseline_psnr'].mean():.2f} dB); {wrong} of {len(scores)} clean test "
        f"predictions read as another key ({kinds_text})."
    )


def _test_set_row(label: str, trials: pd.DataFrame, prefix: str) -> dict:
    metrics = [f"{prefix}_psnr", f"{prefix}_note_acc"] + [
        f"{prefix}_note_acc_{register}" for register in REGISTERS
    ]
    present = [m for m in metrics if m in trials]
    group = summarize_groups(trials.assign(test_set=label), ["test_set"], present).iloc[0]
    row = {"test_set": label, "n": int(group["n"])}
    for metric in metrics:
        name = metric.removeprefix(f"{prefix}_")
        for part in ("mean", "ci_low", "ci_high"):
            row[f"{name}_{part}"] = group.get(f"{metric}_{part}", float("nan"))
    return row


def _texts(data: pd.DataFrame, metric: str, percent: bool = False) -> list[str]:
    return [
        interval_text(r[f"{metric}_mean"], r[f"{metric}_ci_low"], r[f"{metric}_ci_high"], percent)
        for _, r in data.iterrows()
    ]


def _artifact(runs: Runs, run_id: str, name: str) -> bytes | None:
    client = MlflowClient(runs.tracking_uri)
    with tempfile.TemporaryDirectory() as folder:
        try:
            return Path(client.download_artifacts(run_id, name, folder)).read_bytes()
        except (MlflowException, OSError):
            return None
