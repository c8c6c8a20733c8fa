"""One configuration, scored: a study that repeats a single config over seeds (`best`).

Per-register PSNR and note accuracy with intervals, beside the thesis and the mean-image
baseline; how the config generalises (`analysis.generalisation`: noisy test audio, pianos
held out of training, and any dataset its models were scored on with
`sheetsweep-evaluate`); the keys it still gets wrong and what it read them as
(`analysis.wrong_keys`); the worst keys, drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis import thesis
from analysis.artifacts import artifact_bytes
from analysis.generalisation import generalisation_table, interval_texts, latest_evaluations
from analysis.instruments import evaluation_instruments_table, has_instruments
from analysis.missing import without_rows
from analysis.runs import Runs
from analysis.tables import REGISTERS, Table, summarize_groups
from analysis.wrong_keys import (
    confusion_list,
    confusion_table,
    evaluation_errors_table,
    held_out_errors_table,
)
from trainables.training.artifacts import WORST_KEYS

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
    evaluation_errors: Table | None = None  # the kinds of errors per evaluation, if any
    held_out_errors: Table | None = None  # the kinds of errors per held-out set, if any
    evaluation_instruments: Table | None = None  # per instrument of an evaluated dataset


def scorecard(runs: Runs, study: str) -> Scorecard:
    trials = runs.finished[runs.finished["experiment"] == study]
    # scored on the dataset's own split where the study has it, else on its held-out pianos
    split = trials[trials["held_out"].isna()]
    split = split if len(split) else trials
    scores = runs.test_scores[runs.test_scores["run_id"].isin(split["run_id"])]
    unscored = without_rows(split, scores)
    confusions = confusion_list(scores)
    worst = split.loc[split["test_psnr"].idxmin()]
    evaluations = latest_evaluations(runs.evaluations, study)
    return Scorecard(
        study=study,
        registers=register_table(split, study),
        generalisation=generalisation_table(trials, study, evaluations),
        confusions=confusion_table(confusions, study, n_runs=len(split) - len(unscored)),
        summary=_summary(split, scores, confusions, unscored),
        worst_keys_png=artifact_bytes(runs.tracking_uri, worst["run_id"], WORST_KEYS),
        evaluation_errors=(
            evaluation_errors_table(evaluations, runs.evaluation_scores, study)
            if len(evaluations)
            else None
        ),
        held_out_errors=(
            held_out_errors_table(trials, runs.test_scores, study)
            if trials["held_out"].notna().any()
            else None
        ),
        evaluation_instruments=instruments_table(runs, evaluations, study),
    )


def instruments_table(runs: Runs, evaluations: pd.DataFrame, study: str) -> Table | None:
    """Per instrument of each evaluated dataset, where one had several; else None."""
    scores = runs.evaluation_scores
    scores = scores[scores["run_id"].isin(evaluations["run_id"])]
    if evaluations.empty or not has_instruments(scores):
        return None
    return evaluation_instruments_table(evaluations, scores, study)


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
            "test PSNR (dB)": interval_texts(data, "psnr"),
            "note accuracy": interval_texts(data, "note_acc", percent=True),
            "thesis PSNR (dB)": data["thesis_psnr"],
            "mean-image baseline (dB)": [
                "–" if pd.isna(v) else f"{v:.2f}" for v in data["baseline_psnr"]
            ],
        }
    )
    held = trials["held_out"].dropna().unique()
    audio = f"what was held out ({'; '.join(held)})" if len(held) else "the dataset's split"
    return Table(
        f"registers_{study}",
        f"Per-register scores: {study}",
        f"Clean test audio of {audio}; mean over seeds [95% t-interval]. "
        "The thesis's register figures are read off its per-key plot.",
        data,
        display,
    )


def _summary(
    trials: pd.DataFrame, scores: pd.DataFrame, confusions: pd.DataFrame, unscored: pd.DataFrame
) -> str:
    """The headline numbers; the keys read wrong over the seeds whose scores were logged,
    naming those whose scores file is missing."""
    headline = (
        f"Over {len(trials)} seed(s): test PSNR {trials['test_psnr'].mean():.2f} dB "
        f"(thesis {thesis.LOSS_PSNR['smooth_l1']:.2f} dB, mean-image baseline "
        f"{trials['baseline_psnr'].mean():.2f} dB)"
    )
    names = ", ".join(unscored["run_name"].fillna(unscored["run_id"]))
    if len(unscored) == len(trials):
        return f"{headline}; the clean test scores of every seed are missing ({names})."
    wrong = int(confusions["count"].sum())
    kinds = confusions.groupby("kind")["count"].sum().to_dict()
    kinds_text = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "none"
    text = (
        f"{headline}; {wrong} of {len(scores)} clean test predictions read as another key "
        f"({kinds_text})"
    )
    if len(unscored):
        scored = len(trials) - len(unscored)
        text += f", over {scored} of {len(trials)} seeds: the scores of {names} are missing"
    return text + "."
