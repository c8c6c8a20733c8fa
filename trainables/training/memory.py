"""Refuse a trial too large for its device before it trains: its memory need, measured
on the meta device, against what the device has free."""

from __future__ import annotations

import torch

from trainables.model.net import SheetMusicNet
from trainables.training.config import TrialConfig
from trainables.training.data import TrialData


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
