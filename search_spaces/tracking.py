"""MLflow for a sweep's trials: a child run per trial, written as Tune reports, closed after.

A Tune callback turns what trials report into child runs, found again by their trial key so
that a relaunched sweep reuses runs instead of making new ones. After the sweep, the runs
that a killed driver left open are closed from Tune's results, and the rest marked lost.
The experiment and the parent run are `search_spaces.sweep_tracking`'s.

Tune pickles the callback into its experiment (`tuner.pkl`) by this module's name: keep
`MlflowTrialLogger` here, or sweeps interrupted before a move no longer resume.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from ray.tune import Callback

from search_spaces.logged_models import dataset_input, log_trial_outputs
from search_spaces.sweep_tracking import (
    TRACKING_ERRORS,
    SweepRuns,
    child_runs,
    git_commit,
    run_name,
    tracking_failure,
)
from search_spaces.tags import (
    COMMIT,
    DATASET,
    ERROR,
    KEY,
    NODE,
    PARENT,
    ROLE,
    STATUS,
    STUDY,
    ran_tag,
)
from trainables.data.dataset import DatasetInfo
from trainables.training.identity import ARTIFACTS, RAN_PREFIX, trial_config, trial_key

log = logging.getLogger(__name__)

#: After a failed write, the callback leaves MLflow alone this long.
DOWN_BACKOFF_S = 30.0
#: What Tune adds to a result that is bookkeeping, not a metric of the model.
NOT_METRICS = {"epoch", "trial_key", "reused", "node_id", "stop_status", "stop_reason"}


class MlflowTrialLogger(Callback):
    """Tune callback: child run per trial, metrics per epoch, artifacts at the end.

    MLflow going away mid-sweep must not stop the sweep: a write the store could not take
    is logged as a warning, remembered in `unlogged` (the sweep's exit status says so),
    and the trial goes on (Tune keeps its results). Any other error is a bug: it is raised.
    """

    def __init__(
        self,
        runs: SweepRuns,
        study_name: str,
        dataset: DatasetInfo,
        seeds: tuple[int, ...],
        searched: list[str],
    ):
        self.tracking_uri = runs.tracking_uri
        self.experiment_id = runs.experiment_id
        self.parent_run_id = runs.parent_run_id
        self.study_name = study_name
        self.dataset = dataset
        self.dataset_hash = dataset.dataset_hash
        self.seeds = seeds
        self.searched = searched
        self.commit = git_commit()
        self._runs: dict[str, str | None] = {}  # Tune trial id -> MLflow run id
        # Tune trial id -> the last epoch its run already holds (from an earlier launch)
        self._logged: dict[str, int] = {}
        self._checkpoints: dict[str, Any] = {}
        self._reused: set[str] = set()
        self._down_until = 0.0
        self.unlogged: list[str] = []

    def __getstate__(self) -> dict:  # Tune pickles callbacks into its experiment state
        return {**self.__dict__, "_checkpoints": {}}

    def _client(self) -> MlflowClient:
        return MlflowClient(self.tracking_uri)

    def _guard(self, what: str, trial, action) -> None:
        """Run one MLflow write; on failure note it and skip writes for a while, so a dead
        server costs the sweep seconds, not a retry storm per epoch."""
        if time.monotonic() < self._down_until:
            self.unlogged.append(f"{trial}: {what} skipped (MLflow unreachable)")
            return
        try:
            action()
        except TRACKING_ERRORS as error:
            if not tracking_failure(error):
                raise
            self._down_until = time.monotonic() + DOWN_BACKOFF_S
            reason = str(error).splitlines()[0][:300] if str(error) else ""
            message = f"{trial}: could not {what} in MLflow ({type(error).__name__}: {reason})"
            log.warning(message)
            self.unlogged.append(message)

    def _run_for(self, trial) -> str:
        """Reuse the run of this trial key (from a retry or an earlier launch), or create."""
        config = trial_config(trial.config, self.seeds)
        key = trial_key(self.study_name, self.dataset_hash, config)
        client = self._client()
        existing = child_runs(client, self.experiment_id, f"tags.`{KEY}` = '{key}'")
        if existing:
            run_id = existing[0].info.run_id
            client.update_run(run_id, status="RUNNING")
            # A trial resumed from a checkpoint older than the last epoch it logged trains
            # those epochs again (to the same numbers): they are not logged twice.
            steps = [m.step for m in client.get_metric_history(run_id, "train_loss")]
            self._logged[trial.trial_id] = max(steps, default=0)
            return run_id
        run = client.create_run(
            self.experiment_id,
            run_name=run_name(config.to_dict(), self.searched),
            tags={
                PARENT: self.parent_run_id,
                ROLE: "trial",
                STUDY: self.study_name,
                KEY: key,
                DATASET: self.dataset_hash,
                COMMIT: self.commit,
                "tune_trial_id": trial.trial_id,
            },
        )
        params = [Param(k, str(v)) for k, v in config.to_dict().items()]
        client.log_batch(run.info.run_id, params=params)
        trained_on = dataset_input(
            self.dataset.root, self.dataset_hash, self.dataset.n_samples, "training"
        )
        client.log_inputs(run.info.run_id, datasets=[trained_on])
        return run.info.run_id

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if result.get("reused"):
            self._reused.add(trial.trial_id)
            return

        def log_epoch():
            if self._runs.get(trial.trial_id) is None:
                self._runs[trial.trial_id] = self._run_for(trial)
            step = int(result["epoch"])
            if step <= self._logged.get(trial.trial_id, 0):
                return
            now = int(time.time() * 1000)
            metrics = [
                Metric(k, float(v), now, step)
                for k, v in result.items()
                if k not in NOT_METRICS and _is_model_metric(k, v)
            ]
            tags = [RunTag(NODE, str(result["node_id"]))] if "node_id" in result else []
            tags += [
                RunTag(ran_tag(k.removeprefix(RAN_PREFIX)), str(v))
                for k, v in result.items()
                if k.startswith(RAN_PREFIX)
            ]
            self._client().log_batch(self._runs[trial.trial_id], metrics=metrics, tags=tags)

        self._guard(f"log epoch {result.get('epoch')}", trial, log_epoch)

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        self._checkpoints[trial.trial_id] = checkpoint

    def _close(self, trial, status: str, tags: dict[str, str]) -> None:
        run_id = self._runs.get(trial.trial_id)
        if trial.trial_id in self._reused or run_id is None:
            return
        client = self._client()
        checkpoint = self._checkpoints.get(trial.trial_id)
        if checkpoint is not None:
            step = int((trial.last_result or {}).get("epoch", 0))
            with checkpoint.as_directory() as folder:
                artifacts = Path(folder) / ARTIFACTS
                if artifacts.is_dir():
                    log_trial_outputs(client, run_id, self.experiment_id, artifacts, step)
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        client.set_terminated(run_id, status=status)

    def on_trial_complete(self, iteration, trials, trial, **info):
        last = trial.last_result or {}
        if last.get("stop_status"):  # diverged or too large: stopped by the trial itself
            tags = {STATUS: str(last["stop_status"]), ERROR: str(last.get("stop_reason"))}
            self._guard("close the run", trial, lambda: self._close(trial, "FAILED", tags))
            return
        epochs = int(trial_config(trial.config, self.seeds).epochs)
        state = "finished" if int(last.get("epoch", 0)) >= epochs else "pruned"
        self._guard("close the run", trial, lambda: self._close(trial, "FINISHED", {STATUS: state}))

    def on_trial_error(self, iteration, trials, trial, **info):
        if self._runs.get(trial.trial_id) is None:
            self._guard(
                "open a run",
                trial,
                lambda: self._runs.__setitem__(trial.trial_id, self._run_for(trial)),
            )
        reason = _error_text(trial)
        self._guard(
            "close the run",
            trial,
            lambda: self._close(trial, "FAILED", {STATUS: "failed", ERROR: reason[-4000:]}),
        )


def _is_model_metric(name: str, value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (
            name.startswith(("test_", "train_", "noisy_test_"))
            or name in ("baseline_psnr", "epoch_time_s")
        )
    )


def _error_text(trial) -> str:
    for attribute in ("error_message", "error_msg"):
        text = getattr(trial, attribute, None)
        if text:
            return str(text)
    path = getattr(trial, "error_file", None)
    if path and Path(path).is_file():
        return Path(path).read_text()
    return "unknown error"


def close_from_results(runs: SweepRuns, results: list, epochs: int) -> list[str]:
    """Close the runs of trials that Tune finished but a killed driver never closed.

    Tune may have saved a trial as terminated just before its driver was killed, before
    the MLflow callback closed the run: on relaunch Tune does not run it again, so its
    run is closed here from Tune's result, with the artifacts of its last checkpoint.
    """
    client = runs.client
    closed = []
    for result in results:
        metrics = result.metrics or {}
        if result.error is not None or metrics.get("reused") or "trial_key" not in metrics:
            continue
        open_runs = child_runs(
            client,
            runs.experiment_id,
            f"tags.`{KEY}` = '{metrics['trial_key']}' and attributes.status = 'RUNNING'",
        )
        for run in open_runs:
            if metrics.get("stop_status"):
                tags = {STATUS: str(metrics["stop_status"]), ERROR: str(metrics["stop_reason"])}
                status = "FAILED"
            else:
                state = "finished" if int(metrics.get("epoch", 0)) >= epochs else "pruned"
                tags, status = {STATUS: state}, "FINISHED"
            if result.checkpoint is not None:
                with result.checkpoint.as_directory() as folder:
                    artifacts = Path(folder) / ARTIFACTS
                    if artifacts.is_dir():
                        step = int(metrics.get("epoch", 0))
                        log_trial_outputs(
                            client, run.info.run_id, runs.experiment_id, artifacts, step
                        )
            client.log_batch(run.info.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
            client.set_terminated(run.info.run_id, status=status)
            closed.append(run.info.run_id)
    return closed


def close_orphans(runs: SweepRuns) -> list[str]:
    """Child runs of this parent still RUNNING after the sweep: lost trials, marked KILLED."""
    client = runs.client
    orphans = child_runs(
        client,
        runs.experiment_id,
        f"tags.`{PARENT}` = '{runs.parent_run_id}' and attributes.status = 'RUNNING'",
    )
    for run in orphans:
        client.set_tag(run.info.run_id, STATUS, "lost")
        client.set_terminated(run.info.run_id, status="KILLED")
    return [run.info.run_id for run in orphans]
