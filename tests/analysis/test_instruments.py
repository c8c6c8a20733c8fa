"""The per-instrument table: a dynamic's misses and refusals are its own, never hidden."""

from __future__ import annotations

import pandas as pd

from analysis.instruments import evaluation_instruments_table, has_instruments


def scores_of(run_id: str, rows: list[tuple[str, int, float, bool]]) -> pd.DataFrame:
    """(instrument, midi, predicted midi or NaN for refused, correct) per note."""
    return pd.DataFrame(
        {
            "run_id": run_id,
            "instrument": [r[0] for r in rows],
            "midi": [r[1] for r in rows],
            "predicted_midi": [r[2] for r in rows],
            "correct": [r[3] for r in rows],
            "refused": [pd.isna(r[2]) for r in rows],
        }
    )


EVALUATIONS = pd.DataFrame(
    {
        "run_id": ["a", "b"],
        "model_run_name": ["seed=0", "seed=0"],
        "model_uri": ["models:/m@champion"] * 2,
        "dataset_name": ["salamander", "salamander"],
        "condition": ["clean", "phone"],
        "n_notes": [4, 4],
        "n_not_read": [0, 1],
    }
)
SCORES = pd.concat(
    [
        scores_of("a", [("v01", 21, 21, True), ("v01", 60, 60, True), ("v16", 21, 21, True),
                        ("v16", 60, 60, True)]),
        scores_of("b", [("v01", 21, float("nan"), False), ("v01", 60, 60, True),
                        ("v16", 21, 33, False), ("v16", 60, 60, True)]),
    ],
    ignore_index=True,
)  # fmt: skip


def test_each_instrument_of_each_evaluation_has_its_row():
    table = evaluation_instruments_table(EVALUATIONS, SCORES, "s")
    rows = table.data.set_index(["condition", "instrument"])
    assert rows.loc[("clean", "v01"), "note_acc"] == 1.0
    assert rows.loc[("phone", "v01"), ["notes", "read_right", "refused"]].tolist() == [2, 1, 1]
    assert rows.loc[("phone", "v16"), ["read_right", "refused", "note_acc"]].tolist() == [1, 0, 0.5]
    assert list(table.display["note accuracy"]) == ["100.0%", "100.0%", "50.0%", "50.0%"]
    assert table.display["evaluation"].str.contains("phone").sum() == 2


def test_only_datasets_of_several_instruments_get_the_table():
    assert has_instruments(SCORES)
    assert not has_instruments(SCORES.assign(instrument="one piano"))
    assert not has_instruments(SCORES.drop(columns="instrument"))
