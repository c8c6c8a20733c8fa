"""What a sweep plans and what it found, computed from data: the plan, the summary, as text.

Nothing here reads or writes MLflow: the runs come in as arguments, and what the summary
says is for the caller to print (and `search_spaces.sweep_tracking` to record).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from search_spaces.study import Study
from search_spaces.sweep_tracking import SweepRuns, is_server, run_name, runs_page
from search_spaces.tags import KEY, STATUS, ran_label
from search_spaces.tune_run import asha_rungs, grid_configs
from trainables.exit_codes import Exit
from trainables.training.identity import trial_config, trial_key

#: The best config's metrics the summary shows, when it has them.
SHOWN = (
    "test_psnr",
    "test_note_acc",
    "test_psnr_low",
    "test_psnr_mid",
    "test_psnr_high",
    "baseline_psnr",
)
#: A trial's states that answer it: trained to the end, or stopped by ASHA on purpose.
ANSWERED = ("finished", "pruned")


@dataclass
class SweepSummary:
    study: Study
    runs: SweepRuns
    results: pd.DataFrame  # one row per trial of this launch, from Tune
    best: dict[str, Any] | None  # the best config's mean metrics over seeds
    counts: dict[str, int]
    unlogged: list[str]
    lost: list[str]
    failed: list[str] = field(default_factory=list)  # trial runs not answered, and why
    missing: list[str] = field(default_factory=list)  # planned trials MLflow has no run of

    def exit_code(self) -> Exit:
        """NOT_RECORDED when MLflow lacks a planned trial or a write; else INCOMPLETE when a
        trial failed; else NO_RESULT when none finished; else OK (docs/exit_codes.md)."""
        if self.missing or self.unlogged:
            return Exit.NOT_RECORDED
        if self.failed:
            return Exit.INCOMPLETE
        return Exit.OK if self.best else Exit.NO_RESULT

    def ran_on(self) -> list[str]:
        """Each device of this launch's trained trials with the precision and memory format
        they ran in (trials read back from MLflow trained nothing here)."""
        columns = ["ran_device", "ran_device_capability", "ran_precision", "ran_memory_format"]
        if not set(columns) <= set(self.results.columns):
            return []
        ways = self.results[columns].dropna().drop_duplicates()
        return [ran_label(*way) for way in ways.itertuples(index=False)]


def describe_plan(study: Study) -> str:
    """The trial plan, as `--dry-run` prints it."""
    lines = [
        f"study {study.name}: {study.question}",
        f"optimises {study.metric} ({study.mode}); searcher {study.searcher}, "
        f"scheduler {study.scheduler}; {study.planned_trials} trials "
        f"({len(study.seeds)} seed(s) each); {study.cpu:g} CPU, {study.gpu:g} GPU per trial",
        f"dataset {study.dataset.root}; fixed {study.fixed}",
    ]
    if study.searcher == "grid":
        searched = study.searched_fields
        for i, config in enumerate(grid_configs(study), 1):
            lines.append(f"  {i:3d}. {run_name(config.to_dict(), searched)}")
    else:
        for d in study.space:
            lines.append(f"  {d.name}: {d.kind} {list(d.values)}")
        lines.append(
            f"  TPE seed {study.optuna_seed}, {study.optuna_startup_trials} random "
            f"start-up trials, {study.num_trials} configs x seeds {list(study.seeds)}"
        )
    return "\n".join(lines)


def plan_params(study: Study) -> dict[str, Any]:
    """The plan as the parent run's params record it (the report reads them back)."""
    return {
        "metric": study.metric,
        "mode": study.mode,
        "searcher": study.searcher,
        "scheduler": study.scheduler,
        "seeds": list(study.seeds),
        "planned_trials": study.planned_trials,
        "epochs": study.epochs,
        "asha_rungs": list(asha_rungs(study)),
        "fixed": study.fixed,
        "space": {d.name: [d.kind, list(d.values)] for d in study.space},
    }


def missing_trials(
    study: Study, dataset_hash: str, trials: list, results: pd.DataFrame
) -> list[str]:
    """The planned trials that have no run in MLflow (`trials`): this launch's Tune trials
    whose key no run carries, a grid's configs that never ran, and for a search the count
    of planned trials short."""
    recorded = {run.data.tags.get(KEY) for run in trials}
    searched = study.searched_fields
    configs = tune_configs(study, results)
    if study.searcher == "grid":
        configs += grid_configs(study)
    missing = dict.fromkeys(
        run_name(config.to_dict(), searched)
        for config in configs
        if trial_key(study.name, dataset_hash, config) not in recorded
    )
    short = study.planned_trials - len(recorded) - len(missing)
    if study.searcher != "grid" and short > 0:
        missing[f"{short} more planned trial(s), never started"] = None
    return list(missing)


def tune_configs(study: Study, results: pd.DataFrame) -> list:
    """The TrialConfig of each trial in Tune's `results`."""
    return [
        trial_config(tune_config(row), study.seeds)
        for row in results.filter(like="config/").to_dict("records")
    ]


def tune_config(row: dict[str, Any]) -> dict[str, Any]:
    """A trial's config from its row of Tune's results (`config/...` columns, flattened)."""
    return {
        name.split("/")[-1]: value
        for name, value in row.items()
        if name.startswith("config/") and not (isinstance(value, float) and math.isnan(value))
    }


def summary_from_trials(
    study: Study,
    runs: SweepRuns,
    trials: list,
    results: pd.DataFrame,
    unlogged: list[str],
    lost: list[str],
    missing: list[str] | None = None,
) -> SweepSummary:
    """The summary from the sweep's trial runs in MLflow (`trials`, of every launch): counts
    by status, the runs that did not answer, and the best config by its mean over seeds of
    the finished trials."""
    counts: dict[str, int] = {}
    failed = []
    for run in trials:
        status = run.data.tags.get(STATUS, run.info.status.lower())
        counts[status] = counts.get(status, 0) + 1
        if status not in ANSWERED:
            failed.append(f"{run.info.run_name} ({status})")
    finished = [r for r in trials if r.data.tags.get(STATUS) == "finished"]
    best = None
    if finished:
        searched = study.searched_fields
        frame = pd.DataFrame(
            [{**{k: r.data.params.get(k) for k in searched}, **r.data.metrics} for r in finished]
        )
        means = frame.groupby(searched, dropna=False).mean(numeric_only=True).reset_index()
        means["n_seeds"] = frame.groupby(searched, dropna=False).size().to_numpy()
        ascending = study.mode == "min"
        best = means.sort_values(study.metric, ascending=ascending).iloc[0].to_dict()
    return SweepSummary(
        study, runs, results, best, counts, unlogged, lost, sorted(failed), missing or []
    )


def summary_from_tune(
    study: Study, runs: SweepRuns, results: pd.DataFrame, unlogged: list[str]
) -> SweepSummary:
    """The summary when MLflow cannot be read: counts and the best trial from Tune."""
    epochs = results["epoch"] if "epoch" in results else pd.Series(0, index=results.index)
    done = results[epochs >= study.epochs]
    counts = {"finished (per Tune)": len(done), "not finished (per Tune)": len(results) - len(done)}
    best = None
    if len(done) and study.metric in done:
        row = done.sort_values(study.metric, ascending=study.mode == "min").iloc[0]
        config = trial_config(tune_config(row.to_dict()), study.seeds).to_dict()
        best = {
            **{k: config[k] for k in study.searched_fields},
            **{k: row[k] for k in row.index if str(k).startswith("test_")},
            "n_seeds": 1,
        }
    unlogged = [*unlogged, "MLflow was unreachable when the sweep ended: parent run not closed"]
    missing = [  # none of this launch's trials can be confirmed
        run_name(config.to_dict(), study.searched_fields) + " (unconfirmed)"
        for config in tune_configs(study, results)
    ]
    return SweepSummary(study, runs, results, best, counts, unlogged, [], [], missing)


def summary_text(summary: SweepSummary) -> str:
    """The summary as a sweep prints it when it ends (it starts with an empty line)."""
    study, runs = summary.study, summary.runs
    lines = [
        f"\n== study {study.name}: {study.question}",
        "trials: " + ", ".join(f"{n} {state}" for state, n in sorted(summary.counts.items())),
    ]
    if summary.best:
        searched = study.searched_fields
        config = ", ".join(f"{k}={summary.best[k]}" for k in searched)
        metrics = ", ".join(f"{k}={summary.best[k]:.4g}" for k in SHOWN if k in summary.best)
        lines.append(
            f"best ({study.metric}, mean over {int(summary.best['n_seeds'])} seed(s)): "
            f"{config}\n  {metrics}"
        )
    ran = summary.ran_on()
    if ran:
        lines.append("ran on: " + "; ".join(ran))
    for note in summary.unlogged:
        lines.append(f"not in MLflow (kept in Tune's results): {note}")
    if summary.lost:
        lines.append(f"marked KILLED (lost by an interrupted launch): {summary.lost}")
    if summary.failed:
        lines.append("failed: " + "; ".join(summary.failed))
    if summary.missing:
        lines.append("planned, not recorded in MLflow: " + "; ".join(summary.missing))
    lines.append(
        f"MLflow: {runs.tracking_uri}, experiment {study.name!r} (id {runs.experiment_id}), "
        f"parent run {runs.parent_run_id}"
    )
    if not is_server(runs.tracking_uri):
        lines.append(f"  serve it: mlflow ui --backend-store-uri {runs.tracking_uri}")
    lines.append(f"  its runs: {runs_page(runs.tracking_uri, runs.experiment_id)}")
    return "\n".join(lines)
