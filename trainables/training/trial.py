"""One trial from start to finish: data, training, artifacts. The CLI and Ray Tune share it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from trainables.training.artifacts import write_trial_artifacts
from trainables.training.config import TrialConfig
from trainables.training.data import TrialData, pick_device, prepare_data
from trainables.training.loop import EpochResult, train_trial


@dataclass
class TrialOutcome:
    history: pd.DataFrame  # one row of metrics per epoch
    artifacts: list[Path]

    @property
    def final(self) -> dict[str, float]:
        return self.history.iloc[-1].to_dict()


def run_trial(
    config: TrialConfig,
    data_root: Path,
    out: Path,
    on_epoch: Callable[[EpochResult], None] | None = None,
    device: torch.device | None = None,
    data: TrialData | None = None,
) -> TrialOutcome:
    """Train `config` on the dataset at `data_root`, calling `on_epoch` after each epoch,
    and write the trial's artifacts into `out`."""
    device = device or pick_device()
    data = data or prepare_data(data_root, config, device)
    rows, last = [], None
    for result in train_trial(config, data):
        rows.append({"epoch": result.epoch, **result.metrics})
        if on_epoch is not None:
            on_epoch(result)
        last = result
    history = pd.DataFrame(rows)
    artifacts = write_trial_artifacts(
        out, config, history, last.scores, last.model, data, last.execution
    )
    return TrialOutcome(history, artifacts)
