"""What the trial's device can do: the CPU's name and speed flags (less those
`SHEETSWEEP_HIDE_CPU_FLAGS` hides), or the GPU's name and compute capability."""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

#: CPU flags of native bf16 arithmetic; without them oneDNN emulates bf16, slowly.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
#: The CPU flags worth recording beside a result: they decide bf16 speed.
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
#: CPU flags to treat as absent (space- or comma-separated), for every process that
#: inherits the variable: `SHEETSWEEP_HIDE_CPU_FLAGS=avx512_bf16,amx_bf16` makes a CPU with
#: native bf16 decide as one without, so the AVX2 path can be measured on either kind.
HIDE_FLAGS_ENV = "SHEETSWEEP_HIDE_CPU_FLAGS"


@dataclass(frozen=True)
class Hardware:
    """What decides the fastest precision: the device and what its arithmetic can do."""

    device: str  # cpu | cuda
    name: str  # "AMD EPYC", "NVIDIA H100 80GB HBM3"
    capability: str  # CPU: its speed flags; CUDA: compute capability, "sm_90"
    native_bf16: bool

    def describe(self) -> str:
        return f"{self.device}: {self.name} ({self.capability or 'no AVX2/AVX-512'})"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The instruction-set extensions among SPEED_FLAGS that this CPU has, less those
    `SHEETSWEEP_HIDE_CPU_FLAGS` hides."""
    hidden = hidden_cpu_flags()
    return [f for f in present_cpu_flags() if f not in hidden]


def hidden_cpu_flags() -> list[str]:
    """The flags of this CPU that `SHEETSWEEP_HIDE_CPU_FLAGS` hides from the choice."""
    names = set(os.environ.get(HIDE_FLAGS_ENV, "").replace(",", " ").split())
    return [f for f in present_cpu_flags() if f in names]


@functools.cache
def present_cpu_flags() -> tuple[str, ...]:
    """The instruction-set extensions among SPEED_FLAGS that /proc/cpuinfo lists (read
    once per process: every trial's precision check and record asks)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ()
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if "flags" in ln), [])
    return tuple(f for f in SPEED_FLAGS if f in flags)


def detect_hardware(device: torch.device) -> Hardware:
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(index)
        return Hardware(
            device="cuda",
            name=torch.cuda.get_device_name(index),
            capability=f"sm_{major}{minor}",
            native_bf16=torch.cuda.is_bf16_supported(including_emulation=False),
        )
    flags, hidden = cpu_flags(), hidden_cpu_flags()
    return Hardware(
        device="cpu",
        name=cpu_name(),
        # what the choice saw, and what it was told to ignore: a record must not claim
        # the hardware lacks what it has
        capability=" ".join(flags) + (f"; hidden: {' '.join(hidden)}" if hidden else ""),
        native_bf16=any(f in flags for f in NATIVE_BF16_FLAGS),
    )
