"""Step throughput of SheetMusicNet: precision, memory format, torch.compile, and the loss.

One training step is the loop body of `trainables.training.loop.train_trial`: forward under the
config's autocast, the loss in fp32, backward, Adam. For every width and kernel the studies
use, the explicit ways run interleaved on the same synthetic batch (standardised features,
targets in [0, 1]): fp32 eager, bf16 autocast, channels_last, channels_last + bf16 (on a
GPU also channels_last + fp16), beside `auto`, the platform's default, in whichever way its
timed check chose on this machine (trainables/training/precision.py). Which way wins depends on the
hardware: bf16 pays only on CPUs with native bf16 (AVX-512-BF16, AMX). Then, for the default
model: torch.compile (compile time and steady state) against eager, and the SSIM loss (ours,
and torchmetrics' as it was before) against smooth L1.

    python -m benchmarks.step_throughput [--quick]
"""

from __future__ import annotations

import sys
import time
from typing import Any

import torch
from torchmetrics.functional.image import structural_similarity_index_measure

from benchmarks import common
from trainables.image_size import HEIGHT, WIDTH
from trainables.model.losses import LOSSES
from trainables.training.config import TrialConfig
from trainables.training.hardware import detect_hardware
from trainables.training.loop import build_model, trial_execution
from trainables.training.precision import PrecisionUnsupported
from trainables.training.step import train_step

NAME = "step_throughput"
TITLE = "Training step throughput of SheetMusicNet"
NOTE_S = 1.5  # the default dataset's note length: 94 frames at the default 16 kHz, hop 256
MODES = {
    "fp32 eager": {"precision": "fp32", "memory_format": "contiguous"},
    "bf16 autocast": {"precision": "bf16", "memory_format": "contiguous"},
    "channels_last": {"precision": "fp32", "memory_format": "channels_last"},
    "channels_last + bf16": {"precision": "bf16", "memory_format": "channels_last"},
    "channels_last + fp16": {"precision": "fp16", "memory_format": "channels_last"},  # CUDA
    "auto": {"precision": "auto", "memory_format": "auto"},  # the default: a timed choice
}
DEFAULT_MODE = "auto"


def torchmetrics_ssim_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The SSIM loss as it was before: torchmetrics' 11x11 Gaussian convolution."""
    return 1.0 - structural_similarity_index_measure(prediction, target, data_range=1.0)


class Trainer:
    """A model, its optimiser and one batch: `step()` is one training step."""

    def __init__(
        self,
        config: TrialConfig,
        target: torch.device,
        batch: int,
        loss=None,
        compile_model: bool = False,
    ):
        self.config, self.target = config, target
        frames = config.features.frames(NOTE_S)
        self.execution = trial_execution(config, frames, target)
        self.model = build_model(config, frames, target, self.execution)
        self.model.train()
        self.forward = torch.compile(self.model) if compile_model else self.model
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.scaler = self.execution.grad_scaler()
        fn = loss or LOSSES[config.loss]
        self.loss = lambda p, t: fn(p.float(), t.float())
        generator = torch.Generator().manual_seed(0)
        height = config.features.height  # mel filters or constant-Q bins
        features = torch.randn(batch, 1, height, frames, generator=generator)
        truth = torch.rand(batch, 1, HEIGHT, WIDTH, generator=generator)
        self.features = self.execution.layout(features.to(target))
        self.truth = truth.to(target)
        self.batch = batch

    def step(self) -> None:
        train_step(
            self.forward,
            self.features,
            self.truth,
            self.loss,
            self.optimizer,
            self.scaler,
            self.execution,
        )

    def samples_per_s(self, min_s: float) -> float:
        return self.batch * common.rate(self.step, self.target, min_s)


def ways(config: TrialConfig, target: torch.device, batch: int) -> dict[str, Trainer]:
    """A trainer for each way in MODES that this device can run."""
    trainers = {}
    for mode, changes in MODES.items():
        try:
            trainers[mode] = Trainer(config.replace(**changes), target, batch)
        except PrecisionUnsupported:  # fp16 on a CPU, bf16 on a pre-Ampere GPU
            continue
    return trainers


def compare(trainers: dict[str, Trainer], rounds: int, min_s: float) -> dict[str, float]:
    """Median samples/s of each trainer, interleaved, after one warm-up step each."""
    for trainer in trainers.values():
        trainer.step()
    rates = common.interleaved(
        {name: (lambda t=t: t.samples_per_s(min_s)) for name, t in trainers.items()}, rounds
    )
    return {name: r["median"] for name, r in rates.items()}


def run(quick: bool) -> dict[str, Any]:
    target = common.device()
    gpu = target.type == "cuda"
    batch = 8 if quick else 32
    rounds = 1 if quick else 2
    min_s = 0.0 if quick else (1.0 if gpu else 0.1)
    widths = (4,) if quick else ((4, 8, 16, 32, 64) if gpu else (4, 8, 16))
    kernels = ("3",) if quick else ("3", "5", "mixed")
    default = TrialConfig()

    rows = []
    for width in widths:
        for kernel in kernels:
            config = default.replace(width=width, kernel=kernel)
            trainers = ways(config, target, batch)
            params = sum(p.numel() for p in trainers["fp32 eager"].model.parameters())
            auto = trainers["auto"].execution
            rates = compare(trainers, rounds, min_s)
            del trainers
            base = rates["fp32 eager"]
            rows.append(
                {
                    "width": width,
                    "kernel": kernel,
                    "parameters": params,
                    "samples_per_s": rates,
                    "ratio_vs_fp32_eager": {m: r / base for m, r in rates.items()},
                    "auto_chose": str(auto.mode),
                    "auto_check_s": auto.check_s,
                }
            )
            print(f"width {width} k{kernel}: {rates}; auto: {auto}", file=sys.stderr)

    default_model = default.replace(width=4) if quick else default
    compiled: dict[str, Any]
    if quick:
        compiled = {"skipped": "--quick (compiling takes 10-30 s on a CPU)"}
    else:
        compiled = compile_benchmark(default_model, target, batch, rounds, min_s)

    hardware = detect_hardware(target)
    losses = {
        "smooth_l1": Trainer(default_model.replace(loss="smooth_l1"), target, batch),
        "ssim": Trainer(default_model.replace(loss="ssim"), target, batch),
        "ssim (torchmetrics, before)": Trainer(
            default_model, target, batch, loss=torchmetrics_ssim_loss
        ),
    }
    loss_rates = compare(losses, rounds, min_s)
    return {
        "batch_size": batch,
        "n_mels": default.n_mels,
        "n_frames": default.features.frames(NOTE_S),
        "default_mode": DEFAULT_MODE,
        "native_bf16": hardware.native_bf16,
        "hardware": hardware.describe(),
        "rows": rows,
        "compile": compiled,
        "losses": {
            "model": {
                "width": default_model.width,
                "kernel": default_model.kernel,
                "mode": str(losses["smooth_l1"].execution.mode),
            },
            "samples_per_s": loss_rates,
            "cost_vs_smooth_l1": {k: loss_rates["smooth_l1"] / v for k, v in loss_rates.items()},
        },
    }


def compile_benchmark(
    config: TrialConfig, target: torch.device, batch: int, rounds: int, min_s: float
) -> dict[str, Any]:
    """torch.compile of the default model: the first step's extra time, then steady state."""
    eager = Trainer(config, target, batch)
    eager.step()
    first_eager = time_one(eager)
    try:
        compiled = Trainer(config, target, batch, compile_model=True)
        first_compiled = time_one(compiled)  # the compile happens here
        time_one(compiled)  # a second graph can follow (the backward's, or a recompile)
    except Exception as error:  # no C++ compiler, an unsupported op: say so, don't fail
        return {"error": f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"}
    rates = compare({"eager": eager, "compiled": compiled}, rounds, min_s)
    return {
        "width": config.width,
        "kernel": config.kernel,
        "mode": f"{DEFAULT_MODE}: {eager.execution.mode}",
        "compile_s": max(0.0, first_compiled - first_eager),
        "samples_per_s": rates,
        "ratio_compiled_vs_eager": rates["compiled"] / rates["eager"],
    }


def _goal(row: dict[str, Any], native_bf16: bool) -> str:
    """With native bf16, auto must keep the 3x-over-fp32-eager path; without, it must never
    be slower than the fastest fp32 way (10% timing noise allowed)."""
    rates = row["samples_per_s"]
    if native_bf16:
        gain = row["ratio_vs_fp32_eager"][DEFAULT_MODE]
        return (
            f"Goal (native bf16): the default step (width 16, kernel 5, auto) at least 3x fp32 "
            f"eager: {common.fmt(gain)}x, **{'met' if gain >= 3 else 'NOT met'}**."
        )
    fastest = max(rates[m] for m in ("fp32 eager", "channels_last"))
    share = rates[DEFAULT_MODE] / fastest
    return (
        "Goal (no native bf16): the default step (width 16, kernel 5, auto) as fast as the "
        f"fastest fp32 way: {common.fmt(share)}x, **{'met' if share >= 0.9 else 'NOT met'}**."
    )


def time_one(trainer: Trainer) -> float:
    common.sync(trainer.target)
    started = time.perf_counter()
    trainer.step()
    common.sync(trainer.target)
    return time.perf_counter() - started


def render(result: dict[str, Any]) -> str:
    modes = [m for m in MODES if m in result["rows"][0]["samples_per_s"]]
    rows = []
    for row in result["rows"]:
        rates, ratios = row["samples_per_s"], row["ratio_vs_fp32_eager"]
        cells = [str(row["width"]), row["kernel"], f"{row['parameters'] / 1e6:.2f}M"]
        cells.append(common.fmt(rates["fp32 eager"]))
        for mode in modes[1:]:
            cells.append(f"{common.fmt(rates[mode])} ({common.fmt(ratios[mode])}x)")
        cells[-1] += f": {row['auto_chose']}"
        rows.append(cells)
    header = ["width", "kernel", "params", *[f"{m} samples/s" for m in modes]]
    header[-1] += " (the default) and its choice"
    default_rows = [r for r in result["rows"] if r["width"] == 16 and r["kernel"] == "5"]
    checks = [r["auto_check_s"] for r in result["rows"]]
    lines = [
        f"Batch {result['batch_size']}, {result['n_mels']}x{result['n_frames']} spectrograms; "
        "samples/s (ratio to fp32 eager), median of interleaved rounds. Hardware: "
        f"{result['hardware']}, native bf16: {'yes' if result['native_bf16'] else 'no'}. "
        f"`auto`'s timed check took {common.fmt(min(checks))}-{common.fmt(max(checks))} s "
        "per model, once per worker process.",
        "",
        common.table(header, rows),
        "",
    ]
    if default_rows:
        lines.append(_goal(default_rows[0], result["native_bf16"]))
    compiled = result["compile"]
    if "error" in compiled or "skipped" in compiled:
        lines.append(f"torch.compile: {compiled.get('error') or compiled.get('skipped')}.")
    else:
        lines.append(
            f"torch.compile (width {compiled['width']}, kernel {compiled['kernel']}, "
            f"{compiled['mode']}): compiling took {common.fmt(compiled['compile_s'])} s; "
            f"steady state {common.fmt(compiled['samples_per_s']['compiled'])} samples/s "
            f"against {common.fmt(compiled['samples_per_s']['eager'])} eager "
            f"(**{common.fmt(compiled['ratio_compiled_vs_eager'])}x**)."
        )
    losses = result["losses"]
    model = losses["model"]
    loss_rows = [
        [name, common.fmt(rate), f"{common.fmt(losses['cost_vs_smooth_l1'][name])}x"]
        for name, rate in losses["samples_per_s"].items()
    ]
    cost = losses["cost_vs_smooth_l1"]["ssim"]
    goal = "met" if cost <= 1.5 else "NOT met"
    lines += [
        "",
        f"Loss (width {model['width']}, kernel {model['kernel']}, {model['mode']}):",
        "",
        common.table(["loss", "samples/s", "step cost vs smooth L1"], loss_rows),
        "",
        f"Goal: an SSIM step costs at most 1.5x a smooth L1 step: {common.fmt(cost)}x, **{goal}**.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(common.main(sys.modules[__name__]))
