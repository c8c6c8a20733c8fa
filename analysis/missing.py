"""Which finished runs lack a file the report reads: their test scores (what each clean
test note was read as) or their per-key scores.

Such a run is left out of the tables built on that file, which say so; `sheetsweep-report`
names it and exits INCOMPLETE (trainables/exit_codes.py). A run is compared by id with
the rows read, so a study read back from a published folder is checked the same way.
"""

from __future__ import annotations

import pandas as pd

from analysis.runs import Runs
from trainables.training.artifacts import PER_KEY_PSNR, TEST_SCORES

MISSING_COLUMNS = ("experiment", "run_id", "run_name", "file")


def without_rows(runs: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """The runs of `runs` with no row in `rows` (a per-run artifact stacked by run_id)."""
    return runs[~runs["run_id"].isin(rows["run_id"])]


def missing_files(runs: Runs) -> pd.DataFrame:
    """One row per finished trial or evaluation and file of it that the report lacks."""
    checks = (
        (runs.finished, runs.test_scores, TEST_SCORES),
        (runs.finished, runs.per_key, PER_KEY_PSNR),
        (runs.evaluations, runs.evaluation_scores, TEST_SCORES),
    )
    frames = [
        lacking[["experiment", "run_id", "run_name"]].assign(file=name)
        for group, rows, name in checks
        if len(lacking := without_rows(group, rows))
    ]
    if not frames:
        return pd.DataFrame(columns=list(MISSING_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(MISSING_COLUMNS)]
