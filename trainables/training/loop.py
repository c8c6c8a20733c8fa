"""Train one config: the whole dataset as tensors on the device, metrics every epoch.

Each batch is one optimiser step (trainables/training/step.py) in the precision and memory
format trainables/training/precision.py chose for this device."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from trainables.keys import LOWEST_MIDI, register_of
from trainables.model.losses import loss_fn
from trainables.model.metrics import (
    nearest_target,
    psnr_per_sample,
    ssim_per_sample,
    summarize,
)
from trainables.model.net import SheetMusicNet
from trainables.training.config import TrialConfig
from trainables.training.data import Split, TrialData
from trainables.training.memory import TrialTooLarge, check_fits
from trainables.training.precision import resolve_execution, restore_execution
from trainables.training.step import Execution, train_step


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the trial cannot go on."""


def trial_execution(config: TrialConfig, n_frames: int, device: torch.device) -> Execution:
    """The precision and memory format this trial trains in on `device` (see
    trainables/training/precision.py): resolved once per process and model shape."""
    return resolve_execution(
        config.precision,
        config.memory_format,
        config.model(n_frames),
        config.loss,
        config.batch_size,
        device,
    )


def build_model(
    config: TrialConfig, n_frames: int, device: torch.device, execution: Execution
) -> SheetMusicNet:
    torch.manual_seed(config.seed)
    return execution.place(SheetMusicNet(config.model(n_frames)), device)


@torch.no_grad()
def predict(
    model: SheetMusicNet, features: torch.Tensor, execution: Execution, batch_size: int = 64
) -> torch.Tensor:
    """Predicted images (N, 1, 162, 300) float32 for standardised features."""
    model.eval()
    outputs = []
    for start in range(0, features.shape[0], batch_size):
        with execution.autocast():
            outputs.append(model(execution.layout(features[start : start + batch_size])).float())
    return torch.cat(outputs)


@torch.no_grad()
def evaluate(
    model: SheetMusicNet,
    split: Split,
    targets: torch.Tensor,
    config: TrialConfig,
    execution: Execution,
) -> tuple[float, pd.DataFrame]:
    """(mean loss, per-sample frame: midi, register, predicted_midi, correct, psnr, ssim)."""
    criterion = loss_fn(config.loss)
    losses, psnr, ssim, nearest = [], [], [], []
    for start in range(0, len(split), 64):
        features = split.features[start : start + 64]
        truth = targets[split.keys[start : start + 64]]
        prediction = predict(model, features, execution)
        losses.append(float(criterion(prediction, truth)) * features.shape[0])
        psnr.append(psnr_per_sample(prediction, truth).cpu())
        ssim.append(ssim_per_sample(prediction, truth).cpu())
        nearest.append(nearest_target(prediction, targets).cpu())
    midi = split.keys.cpu().numpy() + LOWEST_MIDI
    predicted = torch.cat(nearest).numpy() + LOWEST_MIDI
    scores = pd.DataFrame(
        {
            "midi": midi,
            "register": [register_of(int(m)).value for m in midi],
            "predicted_midi": predicted,
            "correct": midi == predicted,
            "psnr": torch.cat(psnr).numpy(),
            "ssim": torch.cat(ssim).numpy(),
        }
    )
    return sum(losses) / len(split), scores


@dataclass
class EpochResult:
    epoch: int  # 1-based
    metrics: dict[str, float]
    scores: pd.DataFrame  # per clean test sample
    model: SheetMusicNet
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler  # fp16's loss scale; a no-op in bf16 and fp32
    generator: torch.Generator  # the batch order's state, for an exact resume
    execution: Execution  # the precision and memory format it trains in, and on what

    def state(self) -> dict:
        """What `train_trial(resume=...)` needs to go on after this epoch."""
        return {
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
            "generator": self.generator.get_state(),
            "execution": self.execution.state(),
        }


def lr_schedule(
    config: TrialConfig, optimizer: torch.optim.Optimizer, steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """Stepped once per batch. Cosine annealing to 0 over the whole trial lets the last
    epochs settle on sharp staff lines that a constant rate keeps shaking."""
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


def train_trial(
    config: TrialConfig, data: TrialData, resume: dict | None = None
) -> Iterator[EpochResult]:
    """Train `config.epochs` epochs of Adam, yielding test metrics after each.

    Seeded: the same config and data give the same numbers on the same device.
    `resume` is an `EpochResult.state()`: training goes on after that epoch, in the
    precision and memory format it started in.
    """
    device = data.train.features.device
    check_fits(config, data)
    if resume is not None and "execution" in resume:
        execution = restore_execution(resume["execution"], device)
    else:
        execution = trial_execution(config, data.n_frames, device)
    model = build_model(config, data.n_frames, device, execution)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scaler = execution.grad_scaler()
    criterion = loss_fn(config.loss)
    generator = torch.Generator().manual_seed(config.seed)
    n = len(data.train)
    steps_per_epoch = math.ceil(n / config.batch_size)
    schedule = lr_schedule(config, optimizer, steps=config.epochs * steps_per_epoch)
    first_epoch = 1
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        schedule.load_state_dict(resume["schedule"])
        if resume.get("scaler"):
            scaler.load_state_dict(resume["scaler"])
        generator.set_state(resume["generator"])
        first_epoch = resume["epoch"] + 1
    for epoch in range(first_epoch, config.epochs + 1):
        started = time.perf_counter()
        model.train()
        total, seen = torch.zeros((), device=device), 0
        for batch in torch.randperm(n, generator=generator).split(config.batch_size):
            batch = batch.to(device)
            features = data.train.features[batch]
            truth = data.targets[data.train.keys[batch]]
            try:
                loss = train_step(model, features, truth, criterion, optimizer, scaler, execution)
                schedule.step()
            except torch.OutOfMemoryError as error:
                raise TrialTooLarge(
                    f"out of memory on {device} at width={config.width}, batch_size="
                    f"{config.batch_size}: {str(error).splitlines()[0]}"
                ) from None
            total += loss.detach() * batch.shape[0]  # no host sync per step
            seen += batch.shape[0]
        train_loss = float(total) / seen
        if not np.isfinite(train_loss):
            raise TrainingDiverged(
                f"training loss became {train_loss} in epoch {epoch} "
                f"(loss={config.loss}, lr={config.lr}, batch_size={config.batch_size})"
            )
        train_seconds = time.perf_counter() - started
        test_loss, scores = evaluate(model, data.test, data.targets, config, execution)
        metrics = {
            "train_loss": train_loss,
            "test_loss": test_loss,
            **summarize(scores, "test"),
            "baseline_psnr": data.baseline_psnr,
            "train_samples_per_s": seen / train_seconds,
        }
        if data.noisy_test is not None:
            _, noisy_scores = evaluate(model, data.noisy_test, data.targets, config, execution)
            metrics.update(summarize(noisy_scores, "noisy_test"))
        metrics["epoch_time_s"] = time.perf_counter() - started
        metrics = {k: (float(v) if np.isfinite(v) else float("nan")) for k, v in metrics.items()}
        yield EpochResult(
            epoch, metrics, scores, model, optimizer, schedule, scaler, generator, execution
        )
