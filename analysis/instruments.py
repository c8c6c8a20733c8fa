"""Per evaluation and instrument, the notes read right: a real piano's dynamics one by one.

An imported dataset names an instrument per note (Salamander: one per dynamic,
`salamander-v01` ... `salamander-v16`), and an evaluation's scores keep it. A model that
reads 99% of a dataset may still miss one dynamic's low notes; this table shows each.
"""

from __future__ import annotations

import pandas as pd

from analysis.generalisation import evaluation_label
from analysis.tables import Table


def has_instruments(scores: pd.DataFrame) -> bool:
    """Whether some evaluation scored notes of several instruments."""
    if "instrument" not in scores or scores.empty:
        return False
    return bool((scores.groupby("run_id")["instrument"].nunique() > 1).any())


def evaluation_instruments_table(
    evaluations: pd.DataFrame, scores: pd.DataFrame, study: str
) -> Table:
    """One row per (evaluation run, instrument): notes, read right, refused, note accuracy."""
    scored = scores[scores["run_id"].isin(evaluations["run_id"])]
    refused = scored["predicted_midi"].isna() if "refused" not in scored else scored["refused"]
    counts = (
        scored.assign(right=scored["correct"].astype(bool), refused=refused.astype(bool))
        .groupby(["run_id", "instrument"], sort=True)
        .agg(notes=("midi", "size"), read_right=("right", "sum"), refused=("refused", "sum"))
        .reset_index()
    )
    counts["note_acc"] = counts["read_right"] / counts["notes"]
    runs = evaluations.set_index("run_id")
    condition = runs.get("condition", pd.Series("clean", index=runs.index)).fillna("clean")
    data = counts.assign(
        model_run_name=counts["run_id"].map(runs["model_run_name"]),
        dataset_name=counts["run_id"].map(runs["dataset_name"]),
        condition=counts["run_id"].map(condition),
    )[
        [
            "run_id",
            "model_run_name",
            "dataset_name",
            "condition",
            "instrument",
            "notes",
            "read_right",
            "refused",
            "note_acc",
        ]
    ]
    labels = {run_id: evaluation_label(runs.loc[[run_id]].reset_index()) for run_id in runs.index}
    display = pd.DataFrame(
        {
            "evaluation": data["run_id"].map(labels),
            "instrument": data["instrument"],
            "notes": data["notes"],
            "read right": data["read_right"],
            "not read": data["refused"],
            "note accuracy": [f"{v:.1%}" for v in data["note_acc"]],
        }
    )
    return Table(
        f"evaluation_instruments_{study}",
        f"Evaluations, note accuracy per instrument: {study}",
        "Each evaluation's notes per instrument of its dataset (a real piano's dynamics, a "
        "SoundFont's presets); a note the model found no note in counts as not read right.",
        data,
        display,
    )
