"""Run a study to completion, or resume it: the checks, MLflow's runs, Tune, the summary.

Resuming does not rely on Tune alone (a killed driver can lose the trials started after
Tune's last snapshot): every planned trial has a deterministic key, finished keys are
read back from MLflow and reported instead of retrained, and a grid's lost trials are
run again at the end.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from ray import tune

from search_spaces.preflight import (
    check_cluster_resources,
    check_local_precision,
    check_local_resources,
    dataset_spec,
    start_ray,
)
from search_spaces.study import Study
from search_spaces.summary import (
    SweepSummary,
    missing_trials,
    plan_params,
    summary_from_trials,
    summary_from_tune,
)
from search_spaces.sweep_tracking import (
    HTTP_LIMITS,
    TRACKING_ERRORS,
    SweepRuns,
    check_tracking,
    close_sweep,
    finished_trials,
    open_sweep,
    sweep_trials,
    tracking_failure,
)
from search_spaces.tracking import close_from_results, close_orphans
from search_spaces.tune_run import TUNE_QUIET, grid_configs, make_tuner, trial_loggers
from trainables.data.dataset import DatasetInfo, build_dataset
from trainables.data.merge import merge_datasets
from trainables.errors import first_line
from trainables.tracking_uri import default_tracking_uri
from trainables.training.identity import trial_config, trial_key

log = logging.getLogger(__name__)


@dataclass
class SweepOptions:
    tracking_uri: str = field(default_factory=default_tracking_uri)
    # Tune's results and checkpoints: a folder, or shared storage (s3://, gs://, a mounted
    # NFS path) that every node of a multi-node cluster reaches.
    storage: str | Path = "runs/tune"
    address: str | None = None  # a Ray cluster to join; None starts Ray in this process


def _rerun_lost_trials(
    study: Study, options: SweepOptions, runs: SweepRuns, dataset: DatasetInfo, grid, name: str
) -> tune.Tuner | None:
    """A tuner for the grid's planned trials that neither MLflow nor this launch of Tune
    knows (a killed driver's trials started after Tune's last snapshot), or None."""
    try:
        runs.finished = finished_trials(runs.client, runs.experiment_id)
    except TRACKING_ERRORS as error:
        if not tracking_failure(error):
            raise
        log.warning("MLflow unreachable after the sweep (%s)", first_line(error, 200))
        return None
    digest = dataset.dataset_hash
    seen = {trial_key(study.name, digest, trial_config(r.config, study.seeds)) for r in grid}
    known = runs.finished.keys() | seen
    missing = [c for c in grid_configs(study) if trial_key(study.name, digest, c) not in known]
    if not missing:
        return None
    log.warning("%d planned trial(s) missing after resume; running them", len(missing))
    return make_tuner(study, options.storage, runs, dataset, missing, name, restore=False)


def prepare_dataset(study: Study) -> DatasetInfo:
    """Build the study's rendered dataset, or merge its sources (a no-op once done)."""
    spec = dataset_spec(study)
    if spec is not None:
        return build_dataset(study.dataset.root, spec)
    ref = study.dataset
    return merge_datasets(ref.root, list(ref.merge), ref.test, ref.train)


def run_sweep(study: Study, options: SweepOptions) -> SweepSummary:
    """Run (or resume) `study` to completion and return what it found."""
    if options.address is None:
        check_local_resources(study)
        check_local_precision(study)
    for name, value in {**HTTP_LIMITS, **TUNE_QUIET}.items():
        os.environ.setdefault(name, value)
    check_tracking(options.tracking_uri)
    dataset = prepare_dataset(study)
    runs = open_sweep(options.tracking_uri, study, dataset.dataset_hash, plan_params(study))
    start_ray(options.address)
    check_cluster_resources(study)
    name = f"{study.name}-{study.digest()}"
    tuner = make_tuner(study, options.storage, runs, dataset, None, name, restore=True)
    grid = tuner.fit()
    frames, loggers, trial_results = [grid.get_dataframe()], trial_loggers(tuner), list(grid)
    if study.searcher == "grid":
        rerun = _rerun_lost_trials(study, options, runs, dataset, grid, f"{name}-fill")
        if rerun is not None:
            filled = rerun.fit()
            frames.append(filled.get_dataframe())
            loggers += trial_loggers(rerun)
            trial_results += list(filled)
    results = pd.concat(frames, ignore_index=True)
    unlogged = [note for logger in loggers for note in logger.unlogged]
    return summarise(study, runs, dataset.dataset_hash, trial_results, results, unlogged)


def summarise(
    study: Study,
    runs: SweepRuns,
    dataset_hash: str,
    trial_results: list,
    results: pd.DataFrame,
    unlogged: list[str],
) -> SweepSummary:
    """Close what the sweep left open in MLflow and summarise it from MLflow's runs; from
    Tune's results (`results`) only when MLflow cannot be reached."""
    try:
        close_from_results(runs, trial_results, study.epochs)
        lost = close_orphans(runs)
        trials = sweep_trials(runs)
    except TRACKING_ERRORS as error:
        if not tracking_failure(error):
            raise
        log.warning(
            "MLflow unreachable at the end of the sweep (%s); summarising from Tune's results",
            first_line(error, 200),
        )
        return summary_from_tune(study, runs, results, unlogged)
    missing = missing_trials(study, dataset_hash, trials, results)
    summary = summary_from_trials(study, runs, trials, results, unlogged, lost, missing)
    try:
        close_sweep(runs, summary.best)
    except TRACKING_ERRORS as error:
        if not tracking_failure(error):
            raise
        summary.unlogged.append(f"the parent run could not be closed ({first_line(error, 200)})")
    return summary
