"""The Ray Tune trainable: one trial = one TrialConfig, reported to Tune every epoch.

A trial never talks to MLflow: the driver logs what Tune reports (one writer, no runs
left behind by a killed worker). Every trial has a deterministic key; a key the study has
already finished in MLflow is reported from there instead of being trained again.

The sweep reuses each trial's worker process for the next trial (Tune's `reuse_actors`):
the next trial skips the process start and imports, and keeps the data on the device
when it trains on the same features.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import ray
import torch
from ray import tune

from trainables.data.dataset import DatasetSpec, ensure_dataset
from trainables.model.metrics import EPOCH_METRICS
from trainables.training.artifacts import write_trial_artifacts
from trainables.training.config import TrialConfig
from trainables.training.data import TrialData, pick_device, prepare_data
from trainables.training.identity import ARTIFACTS, RAN_PREFIX, trial_config, trial_key
from trainables.training.loop import TrainingDiverged, train_trial
from trainables.training.memory import TrialTooLarge
from trainables.training.precision import PrecisionUnsupported

STATE = "state.pt"
HISTORY = "history.csv"


#: The last trial's data in this worker, under what `prepare_data` read to make it.
_last_data: dict[tuple, TrialData] = {}


def trial_data(
    root: Path, dataset_hash: str, config: TrialConfig, device: torch.device
) -> TrialData:
    """`prepare_data`, kept for the worker's next trial: the last trial's data is reused
    when the dataset, features, noise (its seed included) and split agree; training only
    reads it."""
    noise = config.noise if config.noise.any else None
    # the noisy test audio and the augmented copies are drawn with the trial's seed
    test_noise = (config.test_snr_db, config.seed) if config.test_snr_db is not None else None
    augment = (config.augmentations, config.seed) if config.augment else None
    key = (
        str(root.resolve()),
        dataset_hash,
        config.features,
        noise,
        test_noise,
        augment,
        config.held_out,
        device,
    )
    if key not in _last_data:
        _last_data.clear()  # one dataset on the device at a time
        _last_data[key] = prepare_data(root, config, device)
    return _last_data[key]


def train_in_tune(
    tune_config: dict[str, Any],
    *,
    study: str,
    data_root: str,
    dataset_spec: DatasetSpec | None,
    dataset_hash: str,
    seeds: tuple[int, ...],
    finished: dict[str, dict[str, float]],
    artifact_epochs: tuple[int, ...],
    threads: int,
) -> None:
    config = trial_config(tune_config, seeds)
    key = trial_key(study, dataset_hash, config)
    if key in finished:  # trained by an earlier launch of this study: report, don't retrain
        tune.report({**finished[key], "epoch": config.epochs, "trial_key": key, "reused": 1})
        return
    torch.set_num_threads(max(1, threads))
    _log_to_worker_output()
    ensure_dataset(Path(data_root), dataset_spec, dataset_hash)
    data = trial_data(Path(data_root), dataset_hash, config, pick_device())
    device = data.targets.device
    resume, history = None, []
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:  # a retry after a failure, or a restored sweep
        with checkpoint.as_directory() as folder:
            resume = torch.load(Path(folder) / STATE, map_location=device, weights_only=True)
            history = pd.read_csv(Path(folder) / HISTORY).to_dict("records")
    try:
        _train_and_report(config, data, resume, history, key, artifact_epochs)
    except (TrainingDiverged, TrialTooLarge, PrecisionUnsupported) as error:
        # Deterministic: retrying would fail the same way. Stop the trial with its reason.
        status = {TrainingDiverged: "diverged", TrialTooLarge: "too_large"}.get(
            type(error), "failed"
        )
        tune.report(
            {
                **dict.fromkeys(EPOCH_METRICS, float("nan")),
                "epoch": len(history),
                "trial_key": key,
                "reused": 0,
                "stop_status": status,
                "stop_reason": str(error),
            }
        )


def _train_and_report(
    config: TrialConfig,
    data,
    resume: dict | None,
    history: list,
    key: str,
    artifact_epochs: tuple[int, ...],
) -> None:
    for result in train_trial(config, data, resume=resume):
        history.append({"epoch": result.epoch, **result.metrics})
        with tempfile.TemporaryDirectory() as folder:
            torch.save(result.state(), Path(folder) / STATE)
            pd.DataFrame(history).to_csv(Path(folder) / HISTORY, index=False)
            if result.epoch in artifact_epochs or result.epoch == config.epochs:
                write_trial_artifacts(
                    Path(folder) / ARTIFACTS,
                    config,
                    pd.DataFrame(history),
                    result.scores,
                    result.model,
                    data,
                    result.execution,
                    final=result.epoch == config.epochs,
                )
            ran = {RAN_PREFIX + k: v for k, v in result.execution.record().items()}
            if config.held_out is not None:  # what a held-out test kept out of training
                ran[RAN_PREFIX + "left_out"] = ", ".join(data.left_out) or "none"
            tune.report(
                {
                    **result.metrics,
                    **ran,
                    "epoch": result.epoch,
                    "trial_key": key,
                    "reused": 0,
                    "node_id": ray.get_runtime_context().get_node_id(),
                },
                checkpoint=tune.Checkpoint.from_directory(folder),
            )


def _log_to_worker_output() -> None:
    """Ray forwards a worker's stderr to the driver: let the trial's own INFO lines (the
    precision it chose) through, once per worker, and keep MLflow's saving of the model
    (a progress bar and a line per trial) out of the sweep's output."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logger = logging.getLogger("trainables")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
