"""The report's opening: the studies compared, their trials by state, how to read the numbers."""

from __future__ import annotations

import pandas as pd

from analysis import thesis
from analysis.configs import varying_fields
from analysis.runs import Runs
from analysis.tables import Table


def overview_table(runs: Runs) -> Table:
    counts = runs.counts()
    rows = []
    for _, experiment in runs.experiments.iterrows():
        name = experiment["experiment"]
        trials = runs.trials[runs.trials["experiment"] == name]
        finished = trials[trials["status"] == "finished"]
        planned = experiment["planned_trials"]
        rows.append(
            {
                "study": name,
                "varies": ", ".join(varying_fields(finished)) or "seed only",
                "sweeps": len(experiment["parent_run_ids"]),
                "planned": "–" if planned is None or pd.isna(planned) else int(planned),
                **{state: int(counts.loc[name, state]) for state in counts.columns},
                "evaluations": int((runs.evaluations["experiment"] == name).sum()),
                "epochs": _values(finished, "epochs"),
                "seeds": _values(finished, "seed"),
                "dataset": _values(trials, "dataset_hash", 10),
                "git commit": _values(trials, "git_commit", 8),
                "precision": _values(finished, "ran_precision"),
                "memory format": _values(finished, "ran_memory_format"),
            }
        )
    display = pd.DataFrame(rows)
    return Table(
        "overview",
        "Studies compared",
        "Trials per study and state (from the sweep's status tag); evaluations: "
        "`sheetsweep-evaluate` runs in the study's experiment, not trials.",
        display,
        display,
    )


def method_note(runs: Runs) -> str:
    baseline = runs.finished["baseline_psnr"].mean() if "baseline_psnr" in runs.trials else None
    base = f" (here {baseline:.2f} dB)" if baseline is not None and pd.notna(baseline) else ""
    return (
        "Tables use finished trials only (pruned ones stopped early). Each number is the mean "
        "over seeds with its 95% Student-t interval; one seed gives no interval. PSNR is "
        "10 log10(1/MSE) on [0, 1] images, averaged over test samples. The mean-image "
        f"baseline{base} is the PSNR of predicting the training set's mean staff for every "
        "test sample: a model below it draws blur, not notes. Note accuracy is the share of "
        "test predictions whose nearest of the 88 targets is their own key (chance: 1.1%). "
        f"{thesis.SETUP} Our targets hold sparse ink, so our baseline is higher than the "
        "thesis's: compare PSNRs with the baseline beside them."
    )


def _values(frame: pd.DataFrame, column: str, width: int | None = None) -> str:
    values = sorted({str(v)[:width] if width else str(v) for v in frame[column].dropna()})
    return ", ".join(values) or "–"
