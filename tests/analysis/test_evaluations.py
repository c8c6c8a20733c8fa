"""Evaluation runs (`sheetsweep-evaluate`: a trained model scored on some dataset): read
apart from the trials, shown as generalisation rows, their errors split by kind.

The runs are logged with MlflowClient as the contract in search_spaces/tags.py says, into
copies of the session's real smoke and best-mini stores.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from analysis.__main__ import main
from analysis.document import Heading
from analysis.generalisation import generalisation_table, latest_evaluations
from analysis.report import build_report
from analysis.runs import EVALUATION_COLUMNS, Runs
from analysis.scorecard import scorecard
from analysis.wrong_keys import evaluation_errors_table
from search_spaces.tags import (
    DATASET,
    DATASET_NAME,
    DATASET_ROOT,
    EVALUATION,
    MODEL_RUN,
    MODEL_URI,
    ROLE,
    STUDY,
)
from tests.analysis.conftest import Store
from trainables.exit_codes import Exit
from trainables.keys import register_of
from trainables.model.metrics import summarize
from trainables.training.artifacts import write_per_key_psnr, write_test_scores

#: The notes every fake evaluation scores: all three registers.
NOTES = (21, 33, 45, 50, 60, 64, 69, 72, 90, 108)
OCTAVE, NEIGHBOUR, OTHER = {60: 72}, {64: 65}, {69: 74}
UNKNOWN_RUN = "0" * 32  # a model trained outside the loaded studies


def scores_frame(wrong: dict[int, int], psnr: float) -> pd.DataFrame:
    """Per-note scores as `sheetsweep-evaluate` computes them: `wrong` maps a key to the
    key its prediction was read as; every other note is read right."""
    predicted = [wrong.get(m, m) for m in NOTES]
    return pd.DataFrame(
        {
            "midi": NOTES,
            "register": [register_of(m).value for m in NOTES],
            "predicted_midi": predicted,
            "correct": [p == m for p, m in zip(predicted, NOTES, strict=True)],
            "psnr": [psnr + i / 10 for i in range(len(NOTES))],
            "ssim": 0.8,
        }
    )


@dataclass(frozen=True)
class Evaluation:
    model_run: str
    model_uri: str
    dataset_name: str
    scores: pd.DataFrame
    artifacts: bool = True
    finish: bool = True


def log_evaluation(store: Store, study: str, evaluation: Evaluation, start: int) -> str:
    """One evaluation run, as the contract has it: tags, step-0 metrics, CSV artifacts."""
    client = MlflowClient(store.tracking_uri)
    experiment_id = client.get_experiment_by_name(study).experiment_id
    root = store.folder / "datasets" / evaluation.dataset_name
    run = client.create_run(
        experiment_id,
        start_time=start,
        run_name=f"evaluate {evaluation.model_uri} on {evaluation.dataset_name}",
        tags={
            ROLE: EVALUATION,
            STUDY: study,
            MODEL_URI: evaluation.model_uri,
            MODEL_RUN: evaluation.model_run,
            DATASET: f"hash-{evaluation.dataset_name}",
            DATASET_NAME: evaluation.dataset_name,
            DATASET_ROOT: str(root),
        },
    )
    run_id = run.info.run_id
    metrics = {**summarize(evaluation.scores, "test"), "n_notes": len(evaluation.scores)}
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()])
    if evaluation.artifacts:
        folder = store.folder / "artifacts" / run_id
        folder.mkdir(parents=True)
        write_test_scores(evaluation.scores, folder / "test_scores.csv")
        write_per_key_psnr(evaluation.scores, folder / "per_key_psnr.csv")
        client.log_artifacts(run_id, str(folder))
    if evaluation.finish:
        client.set_terminated(run_id, "FINISHED")
    return run_id


def copied(store: Store, folder: Path) -> Store:
    shutil.copy(store.folder / "mlflow.db", folder / "mlflow.db")
    return Store(f"sqlite:///{folder / 'mlflow.db'}", folder, store.experiments)


def model_runs(trials: pd.DataFrame, **params) -> list[tuple[str, str]]:
    """(run id, run name) of the finished trials with `params`, by seed."""
    finished = trials[trials["status"] == "finished"].sort_values("seed")
    for name, value in params.items():
        finished = finished[finished[name].astype(object) == value]
    return list(zip(finished["run_id"], finished["run_name"], strict=True))


@dataclass(frozen=True)
class Logged:
    store: Store
    runs: Runs
    ids: dict[str, str]  # what each evaluation stands for -> its run id
    names: dict[str, str]  # smooth_l1 seed 0 and 1, mse seed 0 -> the trial's run name


@pytest.fixture(scope="module")
def smoke_evaluated(smoke_store, smoke_runs, tmp_path_factory) -> Logged:
    """The smoke study's models scored on `real-piano` (smooth_l1 seeds 0 and 1, seed 0
    twice; mse seed 0), a registered model of unknown origin on `other-piano` without
    artifacts, and one evaluation still running."""
    store = copied(smoke_store, tmp_path_factory.mktemp("evaluated_smoke"))
    (l1_0, l1_0_name), (l1_1, l1_1_name) = model_runs(smoke_runs.trials, loss="smooth_l1")
    (mse_0, mse_0_name), _ = model_runs(smoke_runs.trials, loss="mse")
    evaluations = {
        "l1 seed 0, first": Evaluation(
            l1_0, f"runs:/{l1_0}/model", "real-piano", scores_frame(OTHER | OCTAVE, 15.0)
        ),
        "l1 seed 0": Evaluation(
            l1_0, f"runs:/{l1_0}/model", "real-piano", scores_frame(OCTAVE | NEIGHBOUR, 20.0)
        ),
        "l1 seed 1": Evaluation(
            l1_1, "models:/piano@champion", "real-piano", scores_frame(OCTAVE, 22.0)
        ),
        "mse seed 0": Evaluation(
            mse_0, f"runs:/{mse_0}/model", "real-piano", scores_frame({}, 18.0)
        ),
        "unknown": Evaluation(
            UNKNOWN_RUN,
            "models:/other@v1",
            "other-piano",
            scores_frame(OCTAVE | NEIGHBOUR | OTHER, 12.0),
            artifacts=False,
        ),
        "running": Evaluation(
            l1_1, f"runs:/{l1_1}/model", "real-piano", scores_frame({}, 30.0), finish=False
        ),
    }
    start = int(time.time() * 1000)
    ids = {
        key: log_evaluation(store, "smoke", evaluation, start + i)
        for i, (key, evaluation) in enumerate(evaluations.items())
    }
    names = {"l1 seed 0": l1_0_name, "l1 seed 1": l1_1_name, "mse seed 0": mse_0_name}
    return Logged(store, store.load(), ids, names)


def test_evaluations_are_read_apart_from_the_trials(smoke_evaluated, smoke_runs):
    runs, ids = smoke_evaluated.runs, smoke_evaluated.ids
    evaluations = runs.evaluations.set_index("run_id")
    assert list(runs.evaluations.columns) == list(EVALUATION_COLUMNS)
    assert set(evaluations.index) == {ids[k] for k in ids if k != "running"}
    assert not set(evaluations.index) & set(runs.trials["run_id"])
    pd.testing.assert_frame_equal(runs.counts(), smoke_runs.counts())  # 4 finished, 2 failed
    assert set(runs.trials["run_id"]) == set(smoke_runs.trials["run_id"])
    row = evaluations.loc[ids["l1 seed 1"]]
    assert row["model_run_name"] == smoke_evaluated.names["l1 seed 1"]
    assert row["model_uri"] == "models:/piano@champion" and row["n_notes"] == len(NOTES)
    assert (row["dataset_name"], row["dataset_hash"]) == ("real-piano", "hash-real-piano")
    assert row["experiment"] == "smoke" and row["run_name"].startswith("evaluate models:/piano")
    assert row["test_note_acc"] == pytest.approx(0.9)
    assert row["test_note_acc_mid"] == pytest.approx(4 / 5)  # C4 read as C5
    unknown = evaluations.loc[ids["unknown"]]
    assert unknown["model_run_name"] is None and unknown["model_config"] is None
    scored = runs.evaluation_scores.groupby("run_id").size()
    assert scored.to_dict() == {ids[k]: len(NOTES) for k in ids if k not in ("unknown", "running")}


def test_a_study_without_evaluations_has_an_empty_frame(smoke_runs):
    assert smoke_runs.evaluations.empty and list(smoke_runs.evaluations) == list(EVALUATION_COLUMNS)
    assert smoke_runs.evaluation_scores.empty


def test_models_of_one_config_on_one_dataset_share_a_row(smoke_evaluated):
    runs, names = smoke_evaluated.runs, smoke_evaluated.names
    evaluations = latest_evaluations(runs.evaluations, "smoke")
    assert smoke_evaluated.ids["l1 seed 0, first"] not in set(evaluations["run_id"])  # re-run
    table = generalisation_table(runs.trials, "smoke", evaluations)
    data = table.data.set_index("test_set")
    assert (data["source"] == "evaluation").all()  # smoke compares losses: no trial rows
    both = f"models {names['l1 seed 0']}, {names['l1 seed 1']} on real-piano (10 notes)"
    mse = f"model {names['mse seed 0']} on real-piano (10 notes)"
    assert list(data.index) == [both, mse, "model models:/other@v1 on other-piano (10 notes)"]
    assert data.loc[both, "n"] == 2 and data.loc[mse, "n"] == 1
    assert data.loc[both, "note_acc_mean"] == pytest.approx(0.85)  # 8 and 9 of 10
    assert data.loc[both, "note_acc_ci_low"] < 0.85 < data.loc[both, "note_acc_ci_high"]
    assert data.loc[both, "psnr_low_mean"] == pytest.approx(21.1)  # A0, A1, A2 at +0, .1, .2
    assert pd.isna(data.loc[mse, "psnr_ci_low"])
    display = table.display.set_index("test set")
    assert display.loc[mse, "note accuracy"] == "100.0%"  # one model: its value, no interval
    assert display.loc[both, "note accuracy"].startswith("85.0% [")


def test_wrong_predictions_are_split_by_kind(smoke_evaluated):
    runs, ids = smoke_evaluated.runs, smoke_evaluated.ids
    evaluations = latest_evaluations(runs.evaluations, "smoke")
    table = evaluation_errors_table(evaluations, runs.evaluation_scores, "smoke")
    data = table.data.set_index("run_id")
    kinds = ["wrong", "octave", "neighbour", "octave + neighbour", "other"]
    assert data.loc[ids["l1 seed 0"], kinds].tolist() == [2, 1, 1, 0, 0]
    assert data.loc[ids["l1 seed 1"], kinds].tolist() == [1, 1, 0, 0, 0]
    assert data.loc[ids["mse seed 0"], kinds].tolist() == [0, 0, 0, 0, 0]
    assert data.loc[ids["unknown"], kinds].isna().all()  # no scores logged: no counts
    display = table.display.set_index("run id")
    assert display.loc[ids["unknown"], "wrong"] == "–"
    assert display.loc[ids["l1 seed 0"], "note accuracy"] == "80.0%"


def test_the_report_shows_them_and_counts_no_evaluation_as_a_trial(
    smoke_evaluated, tmp_path: Path, capsys
):
    out = tmp_path / "report"
    argv = ["--experiment", "smoke", "--tracking-uri", smoke_evaluated.store.tracking_uri]
    code = main([*argv, "--out", str(out), "--no-log"])
    printed = capsys.readouterr()
    assert "smoke: 4 finished, 2 failed\n" in printed.out
    unknown = smoke_evaluated.ids["unknown"]  # logged no scores: its error kinds are missing
    assert code == Exit.INCOMPLETE and f"({unknown}) has no test_scores.csv" in printed.err
    assert printed.err.count("incomplete:") == 1
    text = (out / "report.md").read_text()
    assert "### Generalisation: smoke" in text
    names = smoke_evaluated.names
    row = next(line for line in text.splitlines() if f"model {names['mse seed 0']} on" in line)
    assert "real-piano (10 notes)" in row and "| 100.0% |" in row
    assert "Evaluations, wrong predictions by kind: smoke" in text
    assert "generalisation_smoke.csv" in {p.name for p in (out / "tables").iterdir()}
    overview = pd.read_csv(out / "tables" / "overview.csv").set_index("study").loc["smoke"]
    assert (overview["finished"], overview["failed"], overview["evaluations"]) == (4, 2, 5)


@pytest.fixture(scope="module")
def best_evaluated(best_store, best_runs, tmp_path_factory) -> Logged:
    """One best-mini model (the split's seed 0) scored on `real-piano`."""
    store = copied(best_store, tmp_path_factory.mktemp("evaluated_best"))
    trials = best_runs.trials
    (run_id, name), _ = model_runs(trials.assign(split=trials["held_out"].isna()), split=True)
    evaluation = Evaluation(
        run_id, f"runs:/{run_id}/model", "real-piano", scores_frame(OCTAVE | NEIGHBOUR, 20.0)
    )
    start = int(time.time() * 1000)
    ids = {"split seed 0": log_evaluation(store, "best-mini", evaluation, start)}
    return Logged(store, store.load(), ids, {"split seed 0": name})


def test_a_scored_config_gains_the_evaluation_row(best_evaluated):
    card = scorecard(best_evaluated.runs, "best-mini")
    data = card.generalisation.data
    assert list(data["source"]) == ["trials"] * 3 + ["evaluation"]
    row = data.iloc[-1]
    name = best_evaluated.names["split seed 0"]
    assert row["test_set"] == f"model {name} on real-piano (10 notes)"
    assert row["n"] == 1 and row["note_acc_mean"] == pytest.approx(0.8)
    assert card.evaluation_errors is not None
    assert card.evaluation_errors.data[["octave", "neighbour"]].iloc[0].tolist() == [1, 1]
    report = build_report(best_evaluated.runs)
    assert not any(
        isinstance(b, Heading) and b.text == "Generalisation: best-mini" for b in report.blocks
    )  # a scored config shows it once, in its scorecard
    assert sum(t.name == "generalisation_best-mini" for t in report.tables) == 1
    assert any(t.name == "evaluation_errors_best-mini" for t in report.tables)
