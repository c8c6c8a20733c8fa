"""Train one config: the whole dataset as tensors on the device, metrics every epoch."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from trainables.config import TrialConfig
from trainables.dataset import open_dataset
from trainables.engraving import load_targets
from trainables.errors import DatasetError
from trainables.features import FeatureCache, NoiseSettings
from trainables.keys import LOWEST_MIDI, register_of
from trainables.losses import loss_fn
from trainables.metrics import (
    mean_image_psnr,
    nearest_target,
    psnr_per_sample,
    ssim_per_sample,
    summarize,
)
from trainables.model import SheetMusicNet
from trainables.precision import Execution, resolve_execution, restore_execution
from trainables.timbres import held_instruments, soundfont_of, twins_of

log = logging.getLogger(__name__)


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the trial cannot go on."""


class TrialTooLarge(MemoryError):
    """The config needs more memory than the device has."""


def available_memory(device: torch.device) -> int:
    """Bytes this process can still allocate on `device`."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    with open("/proc/meminfo") as meminfo:
        fields = dict(line.split(":", 1) for line in meminfo)
    return int(fields["MemAvailable"].split()[0]) * 1024


def training_memory(config: TrialConfig, n_frames: int) -> int:
    """Bytes one training step needs: weights, gradients and Adam's two moments, plus the
    activations a batch keeps for the backward pass (measured on the meta device)."""
    with torch.device("meta"):
        model = SheetMusicNet(config.model(n_frames))
        activations = 0

        def count(_module, _inputs, output) -> None:
            nonlocal activations
            activations += output.numel()

        hooks = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
        model(torch.empty(1, 1, config.features.height, n_frames))
        for hook in hooks:
            hook.remove()
    parameters = sum(p.numel() for p in model.parameters())
    return 16 * parameters + 2 * 4 * activations * config.batch_size


def check_fits(config: TrialConfig, data: TrialData) -> None:
    """Refuse a config too large for the device before it trains, with the numbers."""
    device = data.train.features.device
    needed, free = training_memory(config, data.n_frames), available_memory(device)
    if needed > 0.9 * free:
        raise TrialTooLarge(
            f"width={config.width}, bottleneck={config.bottleneck}, batch_size="
            f"{config.batch_size} needs about {needed / 2**30:.1f} GiB to train; "
            f"{device.type} has {free / 2**30:.1f} GiB free"
        )


@dataclass
class Split:
    features: torch.Tensor  # (N, 1, height, frames), standardised
    keys: torch.Tensor  # (N,) key index 0-87: selects the target image, never a model input

    def __len__(self) -> int:
        return self.keys.shape[0]


@dataclass
class TrialData:
    train: Split  # clean training samples, then their noisy and augmented copies
    test: Split  # clean test audio
    noisy_test: Split | None  # the test audio with noise (config.test_snr_db), if any
    targets: torch.Tensor  # (88, 1, 162, 300) in [0, 1]
    dataset_hash: str
    baseline_psnr: float  # the mean training image predicted for every test sample
    # what a model trained on this data needs to read new audio (trainables/sheet_model.py)
    mean: float  # of the training features, in dB: features are (x - mean) / std
    std: float
    duration_s: float  # the note length every sample lasts: the model's window
    root: Path  # the dataset folder (its 88 targets are bundled with a model)
    # instruments in neither split: twins of the held-out ones (trainables/timbres.py)
    left_out: tuple[str, ...]

    @property
    def n_frames(self) -> int:
        return self.train.features.shape[-1]


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def prepare_data(root: Path, config: TrialConfig, device: torch.device) -> TrialData:
    """Cached features (computed on first use) and targets, standardised, on `device`."""
    manifest, frame = open_dataset(root)
    cache = FeatureCache(root, manifest["dataset_hash"], manifest["duration_s"])
    paths = frame["audio_path"].tolist()
    clean = cache.clean(paths, config.features)
    keys = torch.tensor(frame["midi"].to_numpy() - LOWEST_MIDI)
    rows = split_rows(frame, config, root)
    is_train, is_test = torch.tensor(rows.train), torch.tensor(rows.test)
    if not is_train.any() or not is_test.any():
        raise DatasetError(f"{root}: the split needs both train and test samples")
    train_x, train_k = [clean[is_train]], [keys[is_train]]
    noisy_test = None
    if config.noise.any:
        noisy, has_copy = cache.noisy(paths, frame["midi"].tolist(), config.features, config.noise)
        copy_is_train = is_train[has_copy]
        train_x.append(noisy[copy_is_train])
        train_k.append(keys[has_copy][copy_is_train])
        copy_is_test = is_test[has_copy]
        noisy_test = Split(noisy[copy_is_test], keys[has_copy][copy_is_test])
    if config.test_snr_db is not None:
        snr = config.test_snr_db
        uniform = NoiseSettings(snr, snr, snr, seed=config.seed)
        noisy, _ = cache.noisy(paths, frame["midi"].tolist(), config.features, uniform)
        noisy_test = Split(noisy[is_test], keys[is_test])
    if config.augment:
        train_paths = [path for path, train in zip(paths, rows.train, strict=True) if train]
        train_x.append(
            cache.augmented(train_paths, config.features, config.augmentations, config.seed)
        )
        train_k.append(keys[is_train])
    train = Split(torch.cat(train_x), torch.cat(train_k))
    mean, std = train.features.mean(), train.features.std()

    def place(split: Split) -> Split:
        features = ((split.features - mean) / std).to(device)
        return Split(features, split.keys.to(device))

    targets = torch.from_numpy(load_targets(root / "targets")).to(device)
    test = Split(clean[is_test], keys[is_test])
    return TrialData(
        train=place(train),
        test=place(test),
        noisy_test=place(noisy_test) if noisy_test is not None and len(noisy_test) else None,
        targets=targets,
        dataset_hash=manifest["dataset_hash"],
        baseline_psnr=mean_image_psnr(targets, train.keys.to(device), test.keys.to(device)),
        mean=float(mean),
        std=float(std),
        duration_s=float(manifest["duration_s"]),
        root=root,
        left_out=rows.left_out,
    )


@dataclass(frozen=True)
class SplitRows:
    train: np.ndarray  # bool per annotation row
    test: np.ndarray
    left_out: tuple[str, ...]  # instruments in neither: held-out instruments' twins


def split_rows(frame: pd.DataFrame, config: TrialConfig, root: Path) -> SplitRows:
    """The dataset's split; or, with `held_out`, those instruments (or whole SoundFonts)
    to test on and every other instrument to train on, except the held-out ones' twins."""
    if config.held_out is None:
        return SplitRows(
            (frame["split"] == "train").to_numpy(), (frame["split"] == "test").to_numpy(), ()
        )
    held = held_instruments(frame, config.held_instruments)
    found = {soundfont_of(i) for i in held} | held
    unknown = sorted(set(config.held_instruments) - found)
    if unknown:
        raise DatasetError(
            f"{root}: held_out names {unknown}, which is no instrument or SoundFont of "
            f"the dataset; it has {sorted(set(frame['instrument']))}"
        )
    twins = twins_of(root, frame, held)
    for twin, of in twins.items():
        log.info(
            "held out %s: %s shares its samples with %s; left out of training",
            config.held_out,
            twin,
            ", ".join(of),
        )
    is_test = frame["instrument"].isin(held).to_numpy()
    is_train = ~is_test & ~frame["instrument"].isin(twins).to_numpy()
    return SplitRows(is_train, is_test, tuple(sorted(twins)))


def trial_execution(config: TrialConfig, n_frames: int, device: torch.device) -> Execution:
    """The precision and memory format this trial trains in on `device` (see
    trainables/precision.py): resolved once per process and model shape."""
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
                loss = execution.train_step(model, features, truth, criterion, optimizer, scaler)
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
