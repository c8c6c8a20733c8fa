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

import logging
import statistics
import time
from collections.abc import Callable

import torch

from trainables.errors import ConfigError
from trainables.image_size import HEIGHT, WIDTH
from trainables.model.losses import loss_fn
from trainables.model.net import ModelConfig, SheetMusicNet
from trainables.training.hardware import Hardware, detect_hardware
from trainables.training.step import Execution, Mode, train_step

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
MEMORY_FORMATS = ("auto", "channels_last", "contiguous")
#: A reduced precision must beat fp32 by this factor to be chosen: it costs accuracy, so
#: a gain inside timing noise is no gain.
REDUCED_PRECISION_MARGIN = 1.1
#: The timed check: a warm-up step, then this many interleaved rounds, on a batch of at
#: most CHECK_BATCH samples, so it costs seconds even for the widest CPU models.
CHECK_ROUNDS = 3
CHECK_BATCH = 8


class PrecisionUnsupported(ConfigError):
    """The config asks for a precision the device cannot run."""


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
    return lambda: train_step(net, inputs, truth, criterion, optimizer, scaler, execution)


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
