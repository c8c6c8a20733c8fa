"""One training step: the mode it runs in (precision and memory format on this hardware)
and the optimiser step itself."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch

from trainables.model.net import SheetMusicNet
from trainables.training.hardware import Hardware


@dataclass(frozen=True)
class Mode:
    """One way to run a training step."""

    precision: str  # bf16 | fp16 | fp32
    channels_last: bool

    @property
    def memory_format(self) -> str:
        return "channels_last" if self.channels_last else "contiguous"

    def __str__(self) -> str:
        return f"{self.precision} + {self.memory_format}"


@dataclass(frozen=True)
class Execution:
    """How a trial runs: the resolved mode on this hardware, and how it was chosen."""

    mode: Mode
    hardware: Hardware
    how: str  # "requested", or the timed check's result
    check_s: float = 0.0  # what the timed check cost

    @property
    def precision(self) -> str:
        return self.mode.precision

    @property
    def channels_last(self) -> bool:
        return self.mode.channels_last

    def autocast(self) -> contextlib.AbstractContextManager:
        dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}
        if self.precision not in dtypes:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.hardware.device, dtype=dtypes[self.precision])

    @property
    def scales_loss(self) -> bool:
        """fp16 gradients underflow without loss scaling; bf16 and fp32 need none."""
        return self.precision == "fp16"

    def grad_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.hardware.device, enabled=self.scales_loss)

    def layout(self, batch: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            return batch.contiguous(memory_format=torch.channels_last)
        return batch

    def place(self, model: SheetMusicNet, device: torch.device) -> SheetMusicNet:
        """`model` on `device`, its weights in this mode's memory format."""
        model = model.to(device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def record(self) -> dict[str, str]:
        """What ran, for MLflow tags and the trial's artifacts."""
        return {
            "precision": self.precision,
            "memory_format": self.mode.memory_format,
            "device": f"{self.hardware.device}: {self.hardware.name}",
            "device_capability": self.hardware.capability,
            "native_bf16": str(self.hardware.native_bf16).lower(),
            "chosen_by": self.how,
        }

    def state(self) -> dict[str, object]:
        """Kept in a checkpoint: a resumed trial goes on in the mode it started in."""
        return {"precision": self.precision, "channels_last": self.channels_last}

    def __str__(self) -> str:
        return f"{self.mode} on {self.hardware.describe()} ({self.how})"


def train_step(
    model: Callable[[torch.Tensor], torch.Tensor],
    features: torch.Tensor,
    truth: torch.Tensor,
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    execution: Execution,
) -> torch.Tensor:
    """One optimiser step in `execution`'s mode, the loss in fp32: what `train_trial` runs
    per batch, and so what the precision check times."""
    with execution.autocast():
        prediction = model(execution.layout(features))
    loss = criterion(prediction, truth)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss
