"""A study becomes a Ray Tune run: searcher, scheduler, resources, MLflow, resume.

Resuming does not rely on Tune alone (a killed driver can lose the trials started after
Tune's last snapshot): every planned trial has a deterministic key, finished keys are
read back from MLflow and reported instead of retrained, and a grid's lost trials are
run again at the end.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import ray
import torch
from mlflow.entities import Metric
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import ConcurrencyLimiter, Repeater
from ray.tune.search.optuna import OptunaSearch

from search_spaces.study import Dimension, Study, StudyError
from search_spaces.tags import ran_label
from search_spaces.tracking import (
    HTTP_LIMITS,
    STATUS,
    MlflowTrialLogger,
    SweepRuns,
    check_tracking,
    child_runs,
    close_from_results,
    close_orphans,
    finished_trials,
    open_sweep,
    run_name,
)
from trainables.data.dataset import DatasetInfo, DatasetSpec, build_dataset
from trainables.data.instruments import find_soundfont
from trainables.tracking_uri import default_tracking_uri
from trainables.training.config import TrialConfig
from trainables.training.hardware import detect_hardware
from trainables.training.identity import trial_config, trial_key
from trainables.training.precision import PrecisionUnsupported, check_supported
from trainables.training.tune_trainable import train_in_tune

log = logging.getLogger(__name__)

#: Tune snapshots the experiment after every checkpoint (`num_to_keep=1`): that snapshot is
#: what lets a killed sweep resume from each trial's last epoch, and with epochs of seconds
#: Tune would warn about it after every one.
TUNE_QUIET = {"TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0"}


@dataclass
class SweepOptions:
    tracking_uri: str = field(default_factory=default_tracking_uri)
    # Tune's results and checkpoints: a folder, or shared storage (s3://, gs://, a mounted
    # NFS path) that every node of a multi-node cluster reaches.
    storage: str | Path = "runs/tune"
    address: str | None = None  # a Ray cluster to join; None starts Ray in this process


@dataclass
class SweepSummary:
    study: Study
    runs: SweepRuns
    results: pd.DataFrame  # one row per trial of this launch, from Tune
    best: dict[str, Any] | None  # the best config's mean metrics over seeds
    counts: dict[str, int]
    unlogged: list[str]
    lost: list[str]

    def ran_on(self) -> list[str]:
        """Each device of this launch's trained trials with the precision and memory format
        they ran in (trials read back from MLflow trained nothing here)."""
        columns = ["ran_device", "ran_device_capability", "ran_precision", "ran_memory_format"]
        if not set(columns) <= set(self.results.columns):
            return []
        ways = self.results[columns].dropna().drop_duplicates()
        return [ran_label(*way) for way in ways.itertuples(index=False)]


def grid_configs(study: Study) -> list[TrialConfig]:
    """Every planned trial of a grid study: the product of the choices, times the seeds."""
    configs = []
    for values in itertools.product(*(d.values for d in study.space)):
        chosen = {}
        for dimension, value in zip(study.space, values, strict=True):
            chosen.update(value if isinstance(value, dict) else {dimension.name: value})
        for seed in study.seeds:
            configs.append(
                TrialConfig.from_dict(
                    {**study.fixed, **chosen, "seed": seed}, source=str(study.source)
                )
            )
    return configs


def _tune_dimension(dimension: Dimension):
    low_high = dimension.values
    return {
        "choice": lambda: tune.choice(list(dimension.values)),
        "uniform": lambda: tune.uniform(*low_high),
        "loguniform": lambda: tune.loguniform(*low_high),
        "int": lambda: tune.randint(int(low_high[0]), int(low_high[1]) + 1),
    }[dimension.kind]()


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


class ClusterUnreachable(StudyError):
    """The Ray cluster named by --address could not be joined."""


def join_cluster(address: str) -> None:
    """Join a running cluster. `ray start --head` turns on Ray's token authentication,
    which the driver only sends with RAY_AUTH_MODE=token set before it starts."""
    try:
        ray.init(address=address)
    except (ConnectionError, RuntimeError) as error:
        hint = ""
        if os.environ.get("RAY_AUTH_MODE") != "token":
            hint = (
                " If the cluster uses token authentication (the default of `ray start`), "
                "run with RAY_AUTH_MODE=token and its token in ~/.ray/auth_token."
            )
        raise ClusterUnreachable(
            f"could not join the Ray cluster at {address}: {str(error).splitlines()[0]}.{hint}"
        ) from None


def check_local_resources(study: Study) -> None:
    """Before starting Ray here: can this machine run one trial at all?"""
    cpus, gpus = os.cpu_count() or 1, torch.cuda.device_count()
    if study.cpu > cpus or study.gpu > gpus:
        raise StudyError(
            f"{study.source}: each trial asks for {study.cpu:g} CPU and {study.gpu:g} GPU; "
            f"this machine has {cpus} CPU and {gpus} GPU. Lower `resources` or pass "
            f"--address of a cluster that has them"
        )


def check_local_precision(study: Study) -> None:
    """Before starting Ray here: can this machine's trial device run every precision the
    study asks for? (`auto` always can.)"""
    device = torch.device("cuda" if study.gpu > 0 and torch.cuda.is_available() else "cpu")
    hardware = detect_hardware(device)
    asked = {study.fixed.get("precision", "auto")}
    for dimension in study.space:
        for value in dimension.values if dimension.kind == "choice" else ():
            bundle = value if isinstance(value, dict) else {dimension.name: value}
            asked.add(bundle.get("precision", "auto"))
    for precision in sorted(asked):
        try:
            check_supported(precision, hardware)
        except PrecisionUnsupported as error:
            raise StudyError(f"{study.source}: {error}") from None


def check_cluster_resources(study: Study) -> None:
    """After joining a cluster: some node must fit one trial."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if not any(n.get("CPU", 0) >= study.cpu and n.get("GPU", 0) >= study.gpu for n in nodes):
        largest = [(n.get("CPU", 0), n.get("GPU", 0)) for n in nodes]
        raise StudyError(
            f"{study.source}: no node can run a trial of {study.cpu:g} CPU and "
            f"{study.gpu:g} GPU; the nodes have (CPU, GPU) {largest}"
        )


def _searcher_and_space(study: Study, configs: list[TrialConfig] | None):
    if configs is not None:  # exactly these trials
        return None, {"trial": tune.grid_search([c.to_dict() for c in configs])}, 1
    if study.searcher == "grid":
        space = {d.name: tune.grid_search(list(d.values)) for d in study.space}
        return None, {**study.fixed, **space, "seed": tune.grid_search(list(study.seeds))}, 1
    space = {d.name: _tune_dimension(d) for d in study.space}
    searcher = OptunaSearch(
        sampler=optuna.samplers.TPESampler(
            seed=study.optuna_seed, n_startup_trials=study.optuna_startup_trials
        ),
    )
    if len(study.seeds) > 1:  # each suggestion is trained once per seed; TPE sees the mean
        searcher = Repeater(searcher, repeat=len(study.seeds), set_index=True)
    if study.max_concurrent:
        searcher = ConcurrencyLimiter(searcher, max_concurrent=study.max_concurrent)
    return searcher, {**study.fixed, **space}, study.num_trials * len(study.seeds)


def _scheduler(study: Study):
    if study.scheduler != "asha":
        return None
    return ASHAScheduler(
        time_attr="epoch",
        max_t=study.epochs,
        grace_period=study.asha_grace_period,
        reduction_factor=study.asha_reduction_factor,
    )


def asha_rungs(study: Study) -> tuple[int, ...]:
    """Epochs where ASHA may stop a trial: artifacts are written there too."""
    if study.scheduler != "asha":
        return ()
    rungs, t = [], study.asha_grace_period
    while t < study.epochs:
        rungs.append(int(t))
        t = t * study.asha_reduction_factor
    return tuple(sorted(set(rungs)))


def _tuner(
    study: Study,
    options: SweepOptions,
    runs: SweepRuns,
    dataset: DatasetInfo,
    configs: list[TrialConfig] | None,
    name: str,
    restore: bool,
) -> tune.Tuner:
    trainable = tune.with_resources(
        tune.with_parameters(
            train_in_tune,
            study=study.name,
            data_root=str(dataset.root.resolve()),
            dataset_spec=dataset_spec(study),
            dataset_hash=dataset.dataset_hash,
            seeds=study.seeds,
            finished=runs.finished,
            artifact_epochs=asha_rungs(study),
            threads=max(1, int(study.cpu)),
        ),
        {"cpu": study.cpu, "gpu": study.gpu},
    )
    searcher, param_space, num_samples = _searcher_and_space(study, configs)
    storage = str(options.storage)
    if "://" not in storage:
        storage = str(Path(storage).resolve())
    path = f"{storage}/{name}"
    if restore and tune.Tuner.can_restore(path):
        log.info("resuming the Tune experiment at %s", path)
        # Errored trials start again from scratch: relaunching is how a fixed bug is retried.
        return tune.Tuner.restore(
            path, trainable, resume_unfinished=True, restart_errored=True, param_space=param_space
        )
    searched = study.searched_fields
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=study.metric,
            mode=study.mode,
            search_alg=searcher,
            scheduler=_scheduler(study),
            num_samples=num_samples,
            max_concurrent_trials=study.max_concurrent or None,
            reuse_actors=True,
            trial_name_creator=lambda t: run_name(
                trial_config(t.config, study.seeds).to_dict(), searched
            ).replace(" ", ","),
            trial_dirname_creator=lambda t: f"trial_{t.trial_id}",
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=storage,
            failure_config=tune.FailureConfig(max_failures=study.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=[MlflowTrialLogger(runs, study.name, dataset, study.seeds, searched)],
            verbose=1,
        ),
    )


def dataset_spec(study: Study) -> DatasetSpec:
    return DatasetSpec(
        soundfonts=tuple(find_soundfont(name) for name in study.dataset.soundfonts),
        presets=study.dataset.presets,
        velocities=study.dataset.velocities,
        test_fraction=study.dataset.test_fraction,
        held_out_instruments=study.dataset.held_out_instruments,
        renderer=study.dataset.renderer,
    )


def start_ray(options: SweepOptions) -> None:
    """Join the cluster at `options.address`, or start Ray in this process."""
    if ray.is_initialized():
        return
    if options.address:
        join_cluster(options.address)
    else:
        ray.init(  # "local": a Ray of its own, even where `ray start` runs a cluster here
            address="local",
            num_cpus=os.cpu_count(),
            num_gpus=torch.cuda.device_count(),
            include_dashboard=False,
        )


def _rerun_lost_trials(
    study: Study, options: SweepOptions, runs: SweepRuns, dataset: DatasetInfo, grid, name: str
) -> tune.Tuner | None:
    """A tuner for the grid's planned trials that neither MLflow nor this launch of Tune
    knows (a killed driver's trials started after Tune's last snapshot), or None."""
    try:
        runs.finished = finished_trials(runs.client, runs.experiment_id)
    except Exception as error:  # MLflow went away: Tune's results are all there is
        log.warning("MLflow unreachable after the sweep (%s)", str(error).splitlines()[0][:200])
        return None
    digest = dataset.dataset_hash
    seen = {trial_key(study.name, digest, trial_config(r.config, study.seeds)) for r in grid}
    known = runs.finished.keys() | seen
    missing = [c for c in grid_configs(study) if trial_key(study.name, digest, c) not in known]
    if not missing:
        return None
    log.warning("%d planned trial(s) missing after resume; running them", len(missing))
    return _tuner(study, options, runs, dataset, missing, name, restore=False)


def run_sweep(study: Study, options: SweepOptions) -> SweepSummary:
    """Run (or resume) `study` to completion and return what it found."""
    if options.address is None:
        check_local_resources(study)
        check_local_precision(study)
    for name, value in {**HTTP_LIMITS, **TUNE_QUIET}.items():
        os.environ.setdefault(name, value)
    check_tracking(options.tracking_uri)
    dataset = build_dataset(study.dataset.root, dataset_spec(study))
    params = {
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
    runs = open_sweep(options.tracking_uri, study, dataset.dataset_hash, params)
    start_ray(options)
    check_cluster_resources(study)
    name = f"{study.name}-{study.digest()}"
    tuner = _tuner(study, options, runs, dataset, None, name, restore=True)
    grid = tuner.fit()
    frames, callbacks, trial_results = [grid.get_dataframe()], _callbacks(tuner), list(grid)
    if study.searcher == "grid":
        rerun = _rerun_lost_trials(study, options, runs, dataset, grid, f"{name}-fill")
        if rerun is not None:
            filled = rerun.fit()
            frames.append(filled.get_dataframe())
            callbacks += _callbacks(rerun)
            trial_results += list(filled)
    results = pd.concat(frames, ignore_index=True)
    try:
        close_from_results(runs, trial_results, study.epochs)
        lost = close_orphans(runs)
        return summarize(study, runs, results, callbacks, lost)
    except Exception as error:  # MLflow went away: Tune's results still say what happened
        log.warning(
            "MLflow unreachable at the end of the sweep (%s); summarising from Tune's results",
            str(error).splitlines()[0][:200],
        )
        return summarize_from_tune(study, runs, results, callbacks)


def _callbacks(tuner: tune.Tuner) -> list[MlflowTrialLogger]:
    """The MLflow callback instances a tuner ran with (for their `unlogged` notes)."""
    try:
        callbacks = tuner._local_tuner.get_run_config().callbacks or []
    except AttributeError:
        return []
    return [c for c in callbacks if isinstance(c, MlflowTrialLogger)]


def summarize_from_tune(
    study: Study, runs: SweepRuns, results: pd.DataFrame, callbacks: list[MlflowTrialLogger]
) -> SweepSummary:
    """The summary when MLflow cannot be read: counts and the best trial from Tune."""
    epochs = results["epoch"] if "epoch" in results else pd.Series(0, index=results.index)
    done = results[epochs >= study.epochs]
    counts = {"finished (per Tune)": len(done), "not finished (per Tune)": len(results) - len(done)}
    best = None
    if len(done) and study.metric in done:
        row = done.sort_values(study.metric, ascending=study.mode == "min").iloc[0]
        config = trial_config(
            {k.split("/")[-1]: v for k, v in row.items() if k.startswith("config/")},
            study.seeds,
        ).to_dict()
        best = {
            **{k: config[k] for k in study.searched_fields},
            **{k: row[k] for k in row.index if str(k).startswith("test_")},
            "n_seeds": 1,
        }
    unlogged = [note for c in callbacks for note in c.unlogged]
    unlogged.append("MLflow was unreachable when the sweep ended: parent run not closed")
    return SweepSummary(study, runs, results, best, counts, unlogged, [])


def summarize(
    study: Study,
    runs: SweepRuns,
    results: pd.DataFrame,
    callbacks: list[MlflowTrialLogger],
    lost: list[str],
) -> SweepSummary:
    client = runs.client
    children = child_runs(
        client, runs.experiment_id, f"tags.`mlflow.parentRunId` = '{runs.parent_run_id}'"
    )
    counts: dict[str, int] = {}
    for run in children:
        status = run.data.tags.get(STATUS, run.info.status.lower())
        counts[status] = counts.get(status, 0) + 1
    finished = [r for r in children if r.data.tags.get(STATUS) == "finished"]
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
        now = int(time.time() * 1000)
        client.log_batch(
            runs.parent_run_id,
            metrics=[
                Metric(f"best_{k}", float(v), now, 0)
                for k, v in best.items()
                if k.startswith("test_") and isinstance(v, float)
            ],
        )
    client.set_terminated(runs.parent_run_id, status="FINISHED" if finished else "FAILED")
    unlogged = [note for c in callbacks for note in c.unlogged]
    return SweepSummary(study, runs, results, best, counts, unlogged, lost)
