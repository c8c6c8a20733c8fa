"""A study as a Ray Tune run: its planned trials, searcher, scheduler, param space and tuner.

A grid is Tune's grid search over the choices and the seeds; an optuna study is TPE,
repeated once per seed (TPE sees the mean); ASHA stops trials early. The tuner trains
`train_in_tune` with the study's resources per trial and logs to MLflow through
`MlflowTrialLogger`.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import optuna
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import ConcurrencyLimiter, Repeater
from ray.tune.search.optuna import OptunaSearch

from search_spaces.preflight import dataset_spec
from search_spaces.study import Dimension, Study
from search_spaces.sweep_tracking import SweepRuns, run_name
from search_spaces.tracking import MlflowTrialLogger
from trainables.data.dataset import DatasetInfo
from trainables.training.config import TrialConfig
from trainables.training.identity import trial_config
from trainables.training.tune_trainable import train_in_tune

log = logging.getLogger(__name__)

#: Tune snapshots the experiment after every checkpoint (`num_to_keep=1`): that snapshot is
#: what lets a killed sweep resume from each trial's last epoch, and with epochs of seconds
#: Tune would warn about it after every one.
TUNE_QUIET = {"TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0"}


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


def asha_rungs(study: Study) -> tuple[int, ...]:
    """Epochs where ASHA may stop a trial: artifacts are written there too."""
    if study.scheduler != "asha":
        return ()
    rungs, t = [], study.asha_grace_period
    while t < study.epochs:
        rungs.append(int(t))
        t = t * study.asha_reduction_factor
    return tuple(sorted(set(rungs)))


def _tune_dimension(dimension: Dimension):
    low_high = dimension.values
    return {
        "choice": lambda: tune.choice(list(dimension.values)),
        "uniform": lambda: tune.uniform(*low_high),
        "loguniform": lambda: tune.loguniform(*low_high),
        "int": lambda: tune.randint(int(low_high[0]), int(low_high[1]) + 1),
    }[dimension.kind]()


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


def make_tuner(
    study: Study,
    storage: str | Path,
    runs: SweepRuns,
    dataset: DatasetInfo,
    configs: list[TrialConfig] | None,
    name: str,
    restore: bool,
) -> tune.Tuner:
    """The study's Tune experiment `name` under `storage`: all its trials (`configs` None)
    or exactly `configs`; with `restore`, the experiment there resumed if it can be."""
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
    storage = str(storage)
    if "://" not in storage:
        storage = str(Path(storage).resolve())
    path = f"{storage}/{name}"
    if restore and tune.Tuner.can_restore(path):
        log.info("resuming the Tune experiment at %s", path)
        try:
            # Errored trials start again from scratch: relaunching is how a fixed bug is retried.
            return tune.Tuner.restore(
                path,
                trainable,
                resume_unfinished=True,
                restart_errored=True,
                param_space=param_space,
            )
        except (ImportError, AttributeError) as error:
            # Tune pickles the trainable and the callbacks by module path: a sheetsweep whose
            # modules moved cannot unpickle them. MLflow knows every finished trial by its
            # key, so a fresh experiment in the same place trains only what is missing.
            log.warning(
                "the Tune experiment at %s was saved by another version of sheetsweep and "
                "cannot be restored (%s: %s); starting it afresh there: the trials MLflow "
                "has finished are reported from MLflow, not trained again",
                path,
                type(error).__name__,
                error,
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


def trial_loggers(tuner: tune.Tuner) -> list[MlflowTrialLogger]:
    """The MLflow callback instances a tuner ran with (for their `unlogged` notes)."""
    try:
        callbacks = tuner._local_tuner.get_run_config().callbacks or []
    except AttributeError:
        return []
    return [c for c in callbacks if isinstance(c, MlflowTrialLogger)]
