"""The fastest precision and memory format the trial's device has, never a slower one.

`precision: auto` and `memory_format: auto` (the defaults) are resolved once per worker
process, device and model shape:

- CPU: bf16 autocast only where the CPU has native bf16 (AVX-512-BF16 or AMX) **and** a
  few timed training steps of the trial's own model say it beats fp32. Where bf16 is
  emulated (AVX2 and AVX-512 without BF16) it was 7-14x slower than fp32, so it is not
  even timed there.
- CUDA: bf16 where the GPU supports it natively (Ampere and later), else fp16 autocast
  with a gradient scaler.
- The memory format (channels_last or contiguous) is picked by the same timed check.

The explicit values stay, for comparisons; one the device cannot run is a clear error.
What was resolved is a record of the run (logged, tagged in MLflow), never part of the
trial's identity: a study resumed on another machine does not train again.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from trainables.engraving import HEIGHT, WIDTH
from trainables.errors import ConfigError
from trainables.losses import loss_fn
from trainables.model import ModelConfig, SheetMusicNet

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
MEMORY_FORMATS = ("auto", "channels_last", "contiguous")
#: CPU flags of native bf16 arithmetic; without them oneDNN emulates bf16, slowly.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
#: The CPU flags worth recording beside a result: they decide bf16 speed.
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
#: CPU flags to treat as absent (space- or comma-separated), for every process that
#: inherits the variable: `SHEETSWEEP_HIDE_CPU_FLAGS=avx512_bf16,amx_bf16` makes a CPU with
#: native bf16 decide as one without, so the AVX2 path can be measured on either kind.
HIDE_FLAGS_ENV = "SHEETSWEEP_HIDE_CPU_FLAGS"
#: A reduced precision must beat fp32 by this factor to be chosen: it costs accuracy, so
#: a gain inside timing noise is no gain.
REDUCED_PRECISION_MARGIN = 1.1
#: The timed check: a warm-up step, then this many interleaved rounds, on a batch of at
#: most CHECK_BATCH samples, so it costs seconds even for the widest CPU models.
CHECK_ROUNDS = 3
CHECK_BATCH = 8


class PrecisionUnsupported(ConfigError):
    """The config asks for a precision the device cannot run."""


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


def check_supported(precision: str, hardware: Hardware) -> None:
    """Refuse an explicit precision this device cannot train in."""
    if precision == "fp16" and hardware.device == "cpu":
        raise PrecisionUnsupported(
            "field 'precision': 'fp16' needs a CUDA GPU (fp16 autocast with a gradient "
            f"scaler); this trial runs on {hardware.describe()}: use auto, bf16 or fp32"
        )
    if precision == "bf16" and hardware.device == "cuda" and not hardware.native_bf16:
        raise PrecisionUnsupported(
            f"field 'precision': 'bf16' is not supported by {hardware.describe()} "
            "(bf16 needs compute capability 8.0 or later): use auto, fp16 or fp32"
        )


def candidates(precision: str, memory_format: str, hardware: Hardware) -> list[Mode]:
    """The modes worth timing for the requested precision and memory format."""
    if precision not in PRECISIONS:
        raise ConfigError(f"field 'precision': {precision!r}, expected one of {list(PRECISIONS)}")
    if memory_format not in MEMORY_FORMATS:
        raise ConfigError(
            f"field 'memory_format': {memory_format!r}, expected one of {list(MEMORY_FORMATS)}"
        )
    if precision != "auto":
        check_supported(precision, hardware)
        precisions = [precision]
    elif hardware.device == "cuda":
        precisions = ["bf16" if hardware.native_bf16 else "fp16"]
    else:
        precisions = ["bf16", "fp32"] if hardware.native_bf16 else ["fp32"]
    layouts = [True, False] if memory_format == "auto" else [memory_format == "channels_last"]
    return [Mode(p, cl) for p in precisions for cl in layouts]


def choose(step_seconds: dict[Mode, float]) -> Mode:
    """The fastest mode; a reduced precision only if it beats the fastest fp32 mode by
    REDUCED_PRECISION_MARGIN (where fp32 was timed at all)."""
    fastest = min(step_seconds, key=step_seconds.get)
    fp32 = {m: s for m, s in step_seconds.items() if m.precision == "fp32"}
    if fastest.precision == "fp32" or not fp32:
        return fastest
    best_fp32 = min(fp32, key=fp32.get)
    if step_seconds[fastest] * REDUCED_PRECISION_MARGIN <= step_seconds[best_fp32]:
        return fastest
    return best_fp32


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

    def train_step(
        self,
        model: Callable[[torch.Tensor], torch.Tensor],
        features: torch.Tensor,
        truth: torch.Tensor,
        criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
    ) -> torch.Tensor:
        """One optimiser step in this mode, the loss in fp32: what `train_trial` runs per
        batch, and so what the timed check times."""
        with self.autocast():
            prediction = model(self.layout(features))
        loss = criterion(prediction, truth)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return loss

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


def time_modes(
    model: ModelConfig,
    loss: str,
    modes: list[Mode],
    hardware: Hardware,
    device: torch.device,
    batch_size: int,
    rounds: int = CHECK_ROUNDS,
) -> dict[Mode, float]:
    """Median seconds of one training step of `model` in each mode, interleaved."""
    criterion = loss_fn(loss)
    batch = min(batch_size, CHECK_BATCH)
    gpus = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=gpus, device_type="cuda"):
        torch.manual_seed(0)
        features = torch.randn(batch, 1, model.n_mels, model.n_frames, device=device)
        truth = torch.rand(batch, 1, HEIGHT, WIDTH, device=device)
        steps = {
            m: _step(model, criterion, Execution(m, hardware, ""), features, truth) for m in modes
        }
        for step in steps.values():
            step()  # warm-up: oneDNN and cuDNN pick their kernels on the first call
        seconds: dict[Mode, list[float]] = {m: [] for m in modes}
        for _ in range(rounds):
            for mode, step in steps.items():
                _sync(device)
                started = time.perf_counter()
                step()
                _sync(device)
                seconds[mode].append(time.perf_counter() - started)
    return {m: statistics.median(s) for m, s in seconds.items()}


def _step(
    config: ModelConfig,
    criterion: Callable,
    execution: Execution,
    features: torch.Tensor,
    truth: torch.Tensor,
) -> Callable[[], None]:
    """One training step as `train_trial` takes it, in `execution`'s mode."""
    net = execution.place(SheetMusicNet(config), features.device)
    optimizer = torch.optim.Adam(net.parameters())
    scaler = execution.grad_scaler()
    inputs = execution.layout(features)
    return lambda: execution.train_step(net, inputs, truth, criterion, optimizer, scaler)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


TimeModes = Callable[[list[Mode]], dict[Mode, float]]

#: Resolved executions of this process, by what decides them.
_resolved: dict[tuple, Execution] = {}


def resolve(
    precision: str,
    memory_format: str,
    hardware: Hardware,
    time_candidates: TimeModes,
) -> Execution:
    """The mode to train in: the requested one, or the fastest `time_candidates` finds
    among the modes this hardware makes worth timing."""
    modes = candidates(precision, memory_format, hardware)
    if len(modes) == 1:
        return Execution(modes[0], hardware, "requested" if precision != "auto" else "only choice")
    started = time.perf_counter()
    seconds = time_candidates(modes)
    check_s = time.perf_counter() - started
    chosen = choose(seconds)
    fastest_fp32 = min((s for m, s in seconds.items() if m.precision == "fp32"), default=None)
    timings = ", ".join(f"{m} {s * 1e3:.0f} ms" for m, s in sorted(seconds.items(), key=str))
    gain = ""
    if fastest_fp32 and chosen.precision != "fp32":
        gain = f"; {fastest_fp32 / seconds[chosen]:.2f}x the fastest fp32"
    how = f"timed check in {check_s:.1f} s, median step: {timings}{gain}"
    if precision == "auto" and hardware.device == "cpu" and not hardware.native_bf16:
        how += "; no native bf16 on this CPU, so bf16 was not tried"
    return Execution(chosen, hardware, how, check_s)


def resolve_execution(
    precision: str,
    memory_format: str,
    model: ModelConfig,
    loss: str,
    batch_size: int,
    device: torch.device,
) -> Execution:
    """`resolve` for a trial's model on `device`, cached per process and model shape, and
    said once in the log."""
    key = (precision, memory_format, model, loss, min(batch_size, CHECK_BATCH), str(device))
    if key not in _resolved:
        hardware = detect_hardware(device)
        if precision == "bf16" and hardware.device == "cpu" and not hardware.native_bf16:
            log.warning(
                "precision bf16 on %s: no native bf16, so it is emulated and typically "
                "7-14x slower than fp32 (use precision auto or fp32 unless comparing)",
                hardware.describe(),
            )
        _resolved[key] = resolve(
            precision,
            memory_format,
            hardware,
            lambda modes: time_modes(model, loss, modes, hardware, device, batch_size),
        )
        log.info("precision %s, memory_format %s -> %s", precision, memory_format, _resolved[key])
    return _resolved[key]


def restore_execution(state: dict[str, object], device: torch.device) -> Execution:
    """The mode a checkpointed trial started in, on this device."""
    mode = Mode(str(state["precision"]), bool(state["channels_last"]))
    hardware = detect_hardware(device)
    check_supported(mode.precision, hardware)
    return Execution(mode, hardware, "resumed in the mode the trial started in")
