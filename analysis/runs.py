"""MLflow child runs of one or several studies, as tidy pandas frames.

Everything the analysis shows comes from here, and only from MLflow: params typed back
to numbers, final and best metrics, per-epoch history, and the per-key PSNR artifacts.
Trials are told apart by the sweep's status tag (finished, pruned, failed, lost), so a
pruned trial's early numbers never sit in a table beside finished ones. Evaluation runs
(`sheetsweep-evaluate`: a trained model scored on some dataset) share the experiment but
are not trials: they get their own frames and never enter a trial's table or count.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from analysis.artifacts import artifact_tables
from analysis.configs import HYPERPARAMETERS, config_labels
from analysis.history import read_history, with_best
from search_spaces.tags import (
    COMMIT,
    CONDITION,
    DATASET,
    DATASET_NAME,
    DATASET_ROOT,
    ERROR,
    EVALUATION,
    KEY,
    MODEL_RUN,
    MODEL_URI,
    PARENT,
    RAN_FIELDS,
    ROLE,
    STATUS,
    ran_tag,
)
from trainables.errors import SheetsweepError
from trainables.model.metrics import REGISTER_METRICS
from trainables.training.artifacts import PER_KEY_PSNR, TEST_SCORES
from trainables.training.config import TrialConfig

#: The trial states a sweep writes; `running` is a trial of a sweep still in progress.
STATES = ("finished", "pruned", "failed", "lost", "running")
#: A param a run lacks (logged before its field existed) reads as the field's default,
#: which is how that run trained.
PARAM_DEFAULTS = {name: str(value) for name, value in TrialConfig().to_dict().items()}
PER_KEY_COLUMNS = ("run_id", "midi", "note", "register", "psnr", "ssim", "note_acc", "n")
TEST_SCORE_COLUMNS = ("run_id", "midi", "note", "register", "predicted_midi", "correct", "psnr")
#: An evaluation's scores also say which instrument of its dataset each note is, and
#: whether the model found no note in it.
EVALUATION_SCORE_COLUMNS = (*TEST_SCORE_COLUMNS, "instrument", "refused")
#: What an evaluation run logs: `summarize(scores, "test")` over every note of a dataset.
EVALUATION_METRICS = ("test_psnr", "test_ssim", "test_note_acc", *REGISTER_METRICS)
EVALUATION_COLUMNS = (
    "experiment",
    "run_id",
    "run_name",
    "start_time",
    "model_uri",
    "model_run_id",
    "model_run_name",  # the trial's run name when that trial is loaded, else None
    "model_config",  # its config label within its study (as `config_labels`), else None
    "dataset_name",
    "dataset_hash",
    "dataset_root",
    "condition",  # the recording condition scored under (trainables/features/conditions.py)
    "n_notes",  # every note of the dataset, read or not
    "n_not_read",  # notes the model found no note in: counted as misses
    *EVALUATION_METRICS,
)
_RUN_STATUS = {
    "FINISHED": "finished",
    "FAILED": "failed",
    "KILLED": "lost",
    "RUNNING": "running",
    "SCHEDULED": "running",
}


class AnalysisError(SheetsweepError):
    """The runs asked for cannot be analysed (unknown, empty or stale experiment)."""


class ExperimentNotFoundError(AnalysisError):
    """No experiment of that name in the tracking store."""


class EmptyExperimentError(AnalysisError):
    """The experiment exists but holds no trial runs, or none that finished."""


@dataclass(frozen=True)
class Runs:
    """The trials of some studies: one row per child run, plus their long frames; and,
    apart from them, the evaluation runs logged in the same experiments."""

    tracking_uri: str
    experiments: pd.DataFrame  # experiment, experiment_id, question, parent_run_ids
    trials: pd.DataFrame  # one row per child run: ids, status, params, final and best metrics
    history: pd.DataFrame  # run_id, metric, epoch, value
    per_key: pd.DataFrame  # run_id, midi, note, register, psnr, ssim, note_acc, n
    # one row per clean test sample of the finished trials: what each prediction was read as;
    # a run that logged no scores has no rows (analysis/missing.py names it)
    test_scores: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(TEST_SCORE_COLUMNS))
    )
    # one row per finished evaluation run (a model scored on a dataset): not trials
    evaluations: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(EVALUATION_COLUMNS))
    )
    # every note an evaluation scored, as `test_scores` (run_id is the evaluation's)
    evaluation_scores: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(EVALUATION_SCORE_COLUMNS))
    )

    @property
    def finished(self) -> pd.DataFrame:
        return self.trials[self.trials["status"] == "finished"]

    def counts(self) -> pd.DataFrame:
        """Trials per experiment and state, every state a column (zeros kept); a state
        the sweep writes beyond the known ones (say `diverged`) gets a column too."""
        table = pd.crosstab(self.trials["experiment"], self.trials["status"])
        extra = sorted(set(table.columns) - set(STATES))
        return table.reindex(columns=[*STATES, *extra], fill_value=0)


def load_runs(tracking_uri: str, experiments: list[str] | tuple[str, ...]) -> Runs:
    """Read every trial of `experiments` (study names) from the store at `tracking_uri`,
    and, apart from the trials, their finished evaluation runs and per-note scores.

    Raises ExperimentNotFoundError for an unknown name and EmptyExperimentError for an
    experiment without trial runs, naming the experiment and the store either way.
    """
    if not experiments:
        raise AnalysisError("name at least one experiment (study) to analyse")
    if tracking_uri.startswith("sqlite:///"):  # MLflow would create an empty store there
        path = Path(tracking_uri.removeprefix("sqlite:///"))
        if not path.is_file():
            raise AnalysisError(f"no MLflow store at {tracking_uri} ({path} does not exist)")
    client = MlflowClient(tracking_uri)
    found, rows, evaluated = [], [], []
    for name in dict.fromkeys(experiments):
        experiment = _experiment(client, tracking_uri, name)
        children = _search(client, experiment.experiment_id, f"tags.`{ROLE}` = 'trial'")
        if not children:
            total = len(_search(client, experiment.experiment_id, ""))
            raise EmptyExperimentError(
                f"experiment {name!r} at {tracking_uri} holds no trial runs ({total} run(s) in "
                "all): run the study first, e.g. `python platform/sweep.py --study "
                f"{name} --tracking-uri {tracking_uri}`"
            )
        parents = _search(
            client,
            experiment.experiment_id,
            f"tags.`{ROLE}` = 'sweep'",
            order_by=["attributes.start_time DESC"],
        )
        latest = parents[0].data.params if parents else {}
        planned = [
            int(p.data.params["planned_trials"])
            for p in parents
            if p.data.params.get("planned_trials", "").isdigit()
        ]
        found.append(
            {
                "experiment": name,
                "experiment_id": experiment.experiment_id,
                "question": experiment.tags.get("question", ""),
                "parent_run_ids": [p.info.run_id for p in parents],
                "searcher": latest.get("searcher"),
                "metric": latest.get("metric"),
                "mode": latest.get("mode", "max"),
                "space": latest.get("space"),  # {name: [kind, values]}, as Python literals
                "epochs": latest.get("epochs"),
                "asha_rungs": latest.get("asha_rungs"),
                "planned_trials": sum(planned) if planned else None,  # over all sweeps
            }
        )
        rows += [_trial_row(client, name, run) for run in children]
        evaluated += _search(
            client,
            experiment.experiment_id,
            f"tags.`{ROLE}` = '{EVALUATION}' and attributes.status = 'FINISHED'",
        )
    trials = pd.DataFrame(rows)
    trials = typed_trials(trials)
    history = read_history(client, trials)
    trials = with_best(trials, history)
    per_key = artifact_tables(
        client, trials[trials["status"].isin(["finished", "pruned"])], PER_KEY_PSNR, PER_KEY_COLUMNS
    )
    test_scores = artifact_tables(
        client, trials[trials["status"] == "finished"], TEST_SCORES, TEST_SCORE_COLUMNS
    )
    names = {e["experiment_id"]: e["experiment"] for e in found}
    evaluations = _evaluations(evaluated, names, trials)
    evaluation_scores = artifact_tables(client, evaluations, TEST_SCORES, EVALUATION_SCORE_COLUMNS)
    return Runs(
        tracking_uri,
        pd.DataFrame(found),
        trials.reset_index(drop=True),
        history,
        per_key,
        test_scores,
        evaluations,
        evaluation_scores,
    )


def require_finished(runs: Runs) -> None:
    """A stale experiment (every trial failed, lost or still running) is an error."""
    counts = runs.counts()
    stale = [name for name, row in counts.iterrows() if row["finished"] == 0]
    if stale:
        states = {name: {s: int(n) for s, n in counts.loc[name].items() if n} for name in stale}
        errors = runs.trials.loc[runs.trials["experiment"].isin(stale), "error"].dropna()
        first = f"; first error: {errors.iloc[0].strip().splitlines()[-1]}" if len(errors) else ""
        raise EmptyExperimentError(
            f"no finished trials in experiment(s) {stale} at {runs.tracking_uri} "
            f"(trials by state: {states}){first}"
        )


def _experiment(client: MlflowClient, tracking_uri: str, name: str):
    try:
        experiment = client.get_experiment_by_name(name)
    except MlflowException as error:
        raise AnalysisError(f"cannot read the tracking store {tracking_uri}: {error}") from error
    if experiment is None or experiment.lifecycle_stage == "deleted":
        known = sorted(e.name for e in client.search_experiments())
        state = "is deleted" if experiment is not None else "does not exist"
        raise ExperimentNotFoundError(
            f"experiment {name!r} {state} at {tracking_uri}; experiments there: {known}"
        )
    return experiment


def _search(
    client: MlflowClient, experiment_id: str, query: str, order_by: list[str] | None = None
) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id], query, max_results=1000, order_by=order_by, page_token=token
        )
        runs += list(page)
        token = page.token
        if not token:
            return runs


def _trial_row(client: MlflowClient, experiment: str, run) -> dict[str, Any]:
    tags, info = run.data.tags, run.info
    status = tags.get(STATUS) or _RUN_STATUS.get(info.status, info.status.lower())
    return {
        "experiment": experiment,
        "run_id": info.run_id,
        "run_name": info.run_name,
        "parent_run_id": tags.get(PARENT),
        "trial_key": tags.get(KEY),
        "dataset_hash": tags.get(DATASET),
        "git_commit": tags.get(COMMIT),
        "status": status,
        "run_status": info.status,
        "error": tags.get(ERROR),
        "start_time": pd.to_datetime(info.start_time, unit="ms", utc=True),
        "end_time": pd.to_datetime(info.end_time, unit="ms", utc=True) if info.end_time else pd.NaT,
        **{name: run.data.params.get(name, PARAM_DEFAULTS[name]) for name in HYPERPARAMETERS},
        **{f"ran_{name}": tags.get(ran_tag(name)) for name in RAN_FIELDS},
        **run.data.metrics,
    }


def _evaluations(runs: list, experiments: dict[str, str], trials: pd.DataFrame) -> pd.DataFrame:
    """One row per evaluation run, its model named as the trial that trained it (when that
    trial is among `trials`), so a table can say `loss=mse seed=0` rather than a run id."""
    finished = trials[trials["status"] == "finished"]
    names = finished.set_index("run_id")["run_name"]
    configs = pd.Series(config_labels(finished, with_study=False).values, index=names.index)
    rows = [
        {
            "experiment": experiments[run.info.experiment_id],
            "run_id": run.info.run_id,
            "run_name": run.info.run_name,
            "start_time": pd.to_datetime(run.info.start_time, unit="ms", utc=True),
            "model_uri": run.data.tags.get(MODEL_URI),
            "model_run_id": run.data.tags.get(MODEL_RUN),
            "dataset_name": run.data.tags.get(DATASET_NAME),
            "dataset_hash": run.data.tags.get(DATASET),
            "dataset_root": run.data.tags.get(DATASET_ROOT),
            "condition": run.data.tags.get(CONDITION, "clean"),
            **run.data.metrics,
        }
        for run in runs
    ]
    frame = pd.DataFrame(rows).reindex(columns=list(EVALUATION_COLUMNS))
    frame["model_run_name"] = _or_none(frame["model_run_id"].map(names))
    frame["model_config"] = _or_none(frame["model_run_id"].map(configs))
    frame["n_notes"] = pd.to_numeric(frame["n_notes"]).astype("Int64")
    frame["n_not_read"] = pd.to_numeric(frame["n_not_read"]).astype("Int64")
    metrics = list(EVALUATION_METRICS)
    frame[metrics] = frame[metrics].astype(float)
    return frame


def _or_none(values: pd.Series) -> pd.Series:
    """Missing as None (not NaN), as the trials frame keeps a missing tag."""
    values = values.astype(object)
    return values.where(values.notna(), None)


def typed_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """Params are strings in MLflow: numbers back to numbers, "None" to missing."""
    hints = typing.get_type_hints(TrialConfig)
    typed = trials.copy()
    for name in HYPERPARAMETERS:
        hint = hints[name]
        optional = isinstance(hint, types.UnionType) and type(None) in hint.__args__
        base = next(a for a in hint.__args__ if a is not type(None)) if optional else hint
        raw = typed[name].where(~typed[name].isin(["None", "null", ""]), None)
        if base is bool:
            typed[name] = raw.map({"True": True, "False": False}, na_action="ignore")
        elif base is int:
            typed[name] = pd.to_numeric(raw, errors="coerce").astype("Int64")
        elif base is float:
            typed[name] = pd.to_numeric(raw, errors="coerce").astype(float)
        else:
            typed[name] = raw.astype(object)
    return typed
