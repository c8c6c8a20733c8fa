"""The keys a model reads wrong, sorted by kind: octave, neighbour, both, or other.

Per run (`error_split`), per pair of key and key read (`confusion_list`), and as the
scorecard's tables: for the evaluations of a study, and for each held-out set.
"""

from __future__ import annotations

import pandas as pd

from analysis.generalisation import evaluation_label
from analysis.tables import Table
from trainables.keys import note_name

#: What `error_kind` calls a wrong prediction, in the order the tables show them.
ERROR_KINDS = ("octave", "neighbour", "octave + neighbour", "other", "no note")


def evaluation_errors_table(evaluations: pd.DataFrame, scores: pd.DataFrame, study: str) -> Table:
    """Per evaluation run, its wrong predictions by kind: does a model on new audio miss
    by an octave (a harmonic read as the fundamental) or by a key (pitch resolution)?
    A run whose scores artifact is missing shows no counts, not zeros."""
    runs = evaluations.reset_index(drop=True)
    split = error_split(scores).reindex(runs["run_id"]).reset_index(drop=True).astype("Int64")
    columns = ["run_id", "model_uri", "model_run_name", "dataset_name", "n_notes", "test_note_acc"]
    data = pd.concat([runs[columns], split], axis=1)
    counts = split.astype(object).where(split.notna(), "–")
    display = pd.DataFrame(
        {
            "evaluation": [evaluation_label(runs.iloc[[i]]) for i in range(len(runs))],
            "note accuracy": [f"{v:.1%}" for v in runs["test_note_acc"]],
            **{column: counts[column] for column in ("wrong", *ERROR_KINDS)},
            "run id": runs["run_id"],
        }
    )
    return Table(
        f"evaluation_errors_{study}",
        f"Evaluations, wrong predictions by kind: {study}",
        "Each evaluation's notes whose prediction is nearest another key's target; "
        "`octave`: a multiple of 12 semitones off, `neighbour`: one or two semitones off, "
        "`octave + neighbour`: both, `other`: the rest.",
        data,
        display,
    )


def held_out_errors_table(trials: pd.DataFrame, scores: pd.DataFrame, study: str) -> Table:
    """Per held-out set (a SoundFont or presets never heard), its wrong predictions by kind
    over the seeds whose scores were logged, how many seeds lack them, and the twins kept
    out of training with it. A seed without scores is not counted as one without errors."""
    held = trials[trials["held_out"].notna()]
    split = error_split(scores[scores["run_id"].isin(held["run_id"])])
    data = pd.DataFrame(
        [
            _held_out_row(held_out, group, split, scores)
            for held_out, group in held.groupby("held_out", sort=False)
        ]
    )
    counted = ["notes", *split.columns]
    data[counted] = data[counted].astype("Int64")
    display = data.rename(
        columns={
            "held_out": "held out",
            "scores_missing": "seeds without scores",
            "notes": "test notes (all seeds)",
            "left_out": "twins kept out of training",
        }
    )
    shown = ["test notes (all seeds)", *split.columns]
    display[shown] = display[shown].astype(object).where(data[counted].notna().values, "missing")
    return Table(
        f"held_out_errors_{study}",
        f"Held out, wrong predictions by kind: {study}",
        "Clean test notes of each held-out set whose prediction is nearest another key's "
        "target, summed over the seeds whose scores file was logged (`seeds without "
        "scores`: the others, not counted; `missing` where no seed's was); `octave`: a "
        "multiple of 12 semitones off, `neighbour`: one or two semitones off, `octave + "
        "neighbour`: both, `other`: the rest. Twins share their samples with a held-out "
        "instrument (trainables/data/timbres.py).",
        data,
        display,
    )


def _held_out_row(
    held_out: str, group: pd.DataFrame, split: pd.DataFrame, scores: pd.DataFrame
) -> dict:
    """One held-out set's counts over its seeds with scores; missing (not 0) without any."""
    scored = group.loc[group["run_id"].isin(split.index), "run_id"]
    if len(scored):
        counts = {"notes": scores["run_id"].isin(scored).sum(), **split.loc[scored].sum()}
    else:
        counts = dict.fromkeys(["notes", *split.columns], pd.NA)
    left_out = group.get("ran_left_out", pd.Series(dtype=object)).dropna()
    return {
        "held_out": held_out,
        "seeds": len(group),
        "scores_missing": len(group) - len(scored),
        **counts,
        "left_out": left_out.iloc[0] if len(left_out) else "not recorded",
    }


def error_split(scores: pd.DataFrame) -> pd.DataFrame:
    """Wrong predictions per run (index) by `error_kind` (columns), and `wrong` in all;
    a run with none gets zeros as long as it has scores."""
    wrong = scores[~scores["correct"].astype(bool)]
    kinds = (wrong["predicted_midi"] - wrong["midi"]).map(error_kind)
    table = (
        wrong.assign(kind=kinds)
        .groupby(["run_id", "kind"])
        .size()
        .unstack("kind")
        .reindex(index=scores["run_id"].unique(), columns=list(ERROR_KINDS))
        .fillna(0)
        .astype(int)
    )
    table.insert(0, "wrong", table.sum(axis=1))
    table.columns.name = None
    return table


def confusion_list(scores: pd.DataFrame) -> pd.DataFrame:
    """Each (key, read as) pair of wrong test predictions: how often, and what kind."""
    wrong = scores[~scores["correct"].astype(bool)]
    columns = ["midi", "note", "predicted_midi", "predicted", "semitones", "kind", "count", "runs"]
    if wrong.empty:
        return pd.DataFrame(columns=columns)
    table = (
        wrong.groupby(["midi", "predicted_midi"], dropna=False)
        .agg(count=("run_id", "size"), runs=("run_id", "nunique"))
        .reset_index()
    )
    table["note"] = table["midi"].map(note_name)
    predicted = table["predicted_midi"].astype("Int64")
    table["predicted"] = predicted.map(note_name, na_action="ignore").fillna("no note")
    table["semitones"] = predicted - table["midi"]
    table["kind"] = table["semitones"].map(error_kind)
    return table.sort_values(["count", "midi"], ascending=[False, True])[columns]


def error_kind(semitones: int | None) -> str:
    """`octave` (a multiple of 12 away), `neighbour` (a tone or less away), `octave +
    neighbour` (a tone or less from a whole number of octaves away), `other`, or `no note`
    (the model found no note in the recording: no key was read)."""
    if pd.isna(semitones):
        return "no note"
    if semitones % 12 == 0:
        return "octave"
    if abs(semitones) <= 2:
        return "neighbour"
    return "octave + neighbour" if semitones % 12 in (1, 2, 10, 11) else "other"


def confusion_table(confusions: pd.DataFrame, study: str, n_runs: int) -> Table:
    display = pd.DataFrame(
        {
            "key": confusions["note"],
            "read as": confusions["predicted"],
            "semitones": ["–" if pd.isna(s) else f"{s:+d}" for s in confusions["semitones"]],
            "kind": confusions["kind"],
            "wrong test samples": confusions["count"],
            "models": [f"{r} of {n_runs}" for r in confusions["runs"]],
        }
    )
    return Table(
        f"confusions_{study}",
        f"Keys read wrong: {study}",
        "Clean test samples whose prediction is nearest another key's target, over every "
        "seed of the models tested on the dataset's own split (in a study without one, on "
        "its held-out pianos: those are counted by kind in the held-out table); `models`: "
        "how many of them read it so. "
        "`octave`: a multiple of 12 semitones off, `neighbour`: one or two semitones off, "
        "`octave + neighbour`: both.",
        confusions,
        display,
    )
