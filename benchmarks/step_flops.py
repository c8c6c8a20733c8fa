"""How far a training step is from what the CPU can do: the default trial's and the `best`
study's (width 8, kernel 3, constant-Q rows, batch 16).

FLOPs per sample of one training step (forward and backward of the model, counted
by `torch.utils.flop_counter`: convolutions and matrix products, not the elementwise ops),
the FLOP/s the step achieves in fp32 eager and in the platform's default way (`auto`), and
their share of two ceilings:

- the CPU's peak for the instructions the step uses: cores x clock x FLOPs per cycle per
  core, the cycle's FLOPs from the CPU's family and flags (`peak`, each rule says where
  it comes from);
- what a large matrix product reaches here (oneDNN's GEMM, 2048 x 2048, fp32 and bf16):
  the best a convolution lowered to matrix products can hope for.

    python -m benchmarks.step_flops [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks import common
from benchmarks.step_throughput import Trainer, compare
from trainables.training.config import TrialConfig

STUDIES = common.ROOT / "search_spaces" / "studies"

NAME = "step_flops"
TITLE = "The training step against the CPU's limit"
CPUINFO = Path("/proc/cpuinfo")


def cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (vendor, family, MHz, flags)."""
    fields = {}
    for line in CPUINFO.read_text().split("\n\n")[0].splitlines():
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return fields


def peak(info: dict[str, str]) -> dict[str, Any]:
    """FLOPs per cycle per core for fp32 and bf16, and why: from the vendor, the family and
    the flags. Vendors' figures: AMD Zen 4 (family 25 with AVX-512) runs 512-bit vectors on
    two 256-bit FMA pipes, 32 fp32 FLOPs a cycle; Zen 5 (family 26) has full 512-bit pipes,
    64; Intel Xeons with AVX-512 have two 512-bit FMA units, 64 (one on some models: 32);
    AVX2 with FMA, two 256-bit units, 32. AVX512_BF16's dot product (VDPBF16PS) does two
    bf16 products per fp32 lane: twice the fp32 figure; AMX's tile unit 1024 bf16 FLOPs a
    cycle. Without native bf16, bf16 runs through fp32 arithmetic: the fp32 figure."""
    flags = set(info.get("flags", "").split())
    vendor, family = info.get("vendor_id", ""), int(info.get("cpu family", "0"))
    if vendor == "AuthenticAMD" and "avx512f" in flags:
        fp32 = 64 if family >= 26 else 32
        why = f"AMD family {family}: {'512' if fp32 == 64 else 'two 256'}-bit FMA pipes"
    elif "avx512f" in flags:
        fp32, why = 64, "Intel AVX-512: two 512-bit FMA units (one on some models: half)"
    elif "fma" in flags:
        fp32, why = 32, "AVX2: two 256-bit FMA units"
    else:
        fp32, why = 8, "SSE: no FMA"
    if "amx_bf16" in flags:
        bf16, bf16_why = 1024, "AMX tiles"
    elif "avx512_bf16" in flags:
        bf16, bf16_why = 2 * fp32, "AVX512_BF16 dot products: twice fp32"
    else:
        bf16, bf16_why = fp32, "no native bf16: fp32 arithmetic"
    return {"fp32": fp32, "bf16": bf16, "fp32_why": why, "bf16_why": bf16_why}


def gemm_flops(dtype: torch.dtype, n: int, min_s: float) -> float:
    """FLOP/s of an n x n matrix product in `dtype` on this process's threads."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)  # warm-up: oneDNN picks its kernel
    return 2 * n**3 * common.rate(lambda: torch.mm(a, b), torch.device("cpu"), min_s, 3)


def flops_per_sample(trainer: Trainer) -> float:
    """Counted FLOPs of one training step (forward + backward), per sample."""
    with FlopCounterMode(display=False) as counter:
        trainer.step()
    return counter.get_total_flops() / trainer.batch


def profile_shares(trainer: Trainer, steps: int) -> dict[str, float]:
    """Share of a step's CPU time in batch norm, in convolutions, and in the rest
    (`torch.profiler`, self time of each operator, forward and backward)."""
    from torch.profiler import ProfilerActivity, profile

    trainer.step()
    with profile(activities=[ProfilerActivity.CPU]) as profiled:
        for _ in range(steps):
            trainer.step()
    shares = {"batch norm": 0.0, "convolutions": 0.0, "the rest": 0.0}
    for event in profiled.key_averages():
        name = event.key
        kind = (
            "batch norm"
            if "batch_norm" in name
            else "convolutions"
            if "convolution" in name
            else "the rest"
        )
        shares[kind] += event.self_cpu_time_total
    total = sum(shares.values())
    return {kind: value / total for kind, value in shares.items()}


def models(quick: bool) -> dict[str, tuple[TrialConfig, int]]:
    """The models whose step is measured, and their batch: the default trial's and the
    `best` study's (width 8, kernel 3, constant-Q, batch 16), as their trials train."""
    best = TrialConfig.from_yaml(STUDIES / "best.yaml")
    if quick:
        return {"default": (TrialConfig().replace(width=4), 8), "best": (best, 4)}
    return {"default": (TrialConfig(), 32), "best": (best, best.batch_size)}


def run(quick: bool) -> dict[str, Any]:
    target = common.device()
    if target.type != "cpu":
        return {"skipped": "a CPU benchmark: its peak is a CPU's"}
    rounds, min_s = (1, 0.0) if quick else (3, 0.5)
    info = cpuinfo()
    cycle = peak(info)
    cores, mhz = torch.get_num_threads(), float(info.get("cpu MHz", "nan"))
    ceiling = {kind: cores * mhz * 1e6 * cycle[kind] for kind in ("fp32", "bf16")}
    n = 512 if quick else 2048
    gemm = {kind: gemm_flops(dtype, n, min_s) for kind, dtype in _dtypes().items()}
    measured = {}
    for name, (config, batch) in models(quick).items():
        trainers = {
            "fp32 eager": Trainer(config.replace(precision="fp32"), target, batch),
            "auto": Trainer(config, target, batch),
        }
        if name == "best":  # the levers that might raise it, in the same interleaved run
            trainers[f"auto, batch {2 * batch}"] = Trainer(config, target, 2 * batch)
            trainers["auto, compiled"] = Trainer(config, target, batch, compile_model=True)
        flops = flops_per_sample(trainers["fp32 eager"])
        rates = compare(trainers, rounds, min_s)
        auto_kind = "bf16" if "bf16" in str(trainers["auto"].execution.mode) else "fp32"
        ways = {}
        for way in trainers:
            kind = "fp32" if way == "fp32 eager" else auto_kind
            achieved = flops * rates[way]
            ways[way] = {
                "arithmetic": kind,
                "samples_per_s": rates[way],
                "flops_per_s": achieved,
                "share_of_peak": achieved / ceiling[kind],
                "share_of_gemm": achieved / gemm[kind],
            }
        print(f"{name}: {flops / 1e9:.2f} GFLOP/sample; {ways}", file=sys.stderr)
        measured[name] = {
            "model": {
                "width": config.width,
                "kernel": config.kernel,
                "rows": config.features.height,
                "spectrogram": config.spectrogram,
            },
            "batch_size": batch,
            "auto_mode": str(trainers["auto"].execution.mode),
            "flops_per_sample": flops,
            "ways": ways,
            "profile": profile_shares(trainers["auto"], 2 if quick else 10),
        }
    return {
        "models": measured,
        "cores": cores,
        "clock_mhz": mhz,
        "flops_per_cycle": cycle,
        "peak_flops_per_s": ceiling,
        "gemm": {"n": n, "flops_per_s": gemm},
    }


def _dtypes() -> dict[str, torch.dtype]:
    return {"fp32": torch.float32, "bf16": torch.bfloat16}


def render(result: dict[str, Any]) -> str:
    if "skipped" in result:
        return f"Skipped: {result['skipped']}."
    cycle, peaks, gemm = result["flops_per_cycle"], result["peak_flops_per_s"], result["gemm"]
    rows = []
    for name, measured in result["models"].items():
        model = measured["model"]
        label = (
            f"{name}: width {model['width']}, kernel {model['kernel']}, {model['rows']} "
            f"{model['spectrogram']} rows, batch {measured['batch_size']}"
        )
        for way, value in measured["ways"].items():
            rows.append(
                [
                    label,
                    common.fmt(measured["flops_per_sample"] / 1e9),
                    way if way != "auto" else f"auto ({measured['auto_mode']})",
                    common.fmt(value["samples_per_s"]),
                    common.fmt(value["flops_per_s"] / 1e9),
                    f"{value['share_of_peak']:.1%}",
                    f"{value['share_of_gemm']:.1%}",
                ]
            )
    shares = "; ".join(
        f"{name}: " + ", ".join(f"{kind} {share:.0%}" for kind, share in m["profile"].items())
        for name, m in result["models"].items()
    )
    return "\n".join(
        [
            "One training step, forward and backward, FLOPs counted by "
            "`torch.utils.flop_counter` (convolutions and matrix products), for the default "
            "trial's model and the `best` study's:",
            "",
            common.table(
                [
                    "model",
                    "GFLOP per sample",
                    "way",
                    "samples/s",
                    "GFLOP/s",
                    "of peak",
                    "of a GEMM",
                ],
                rows,
            ),
            "",
            f"Peak: {result['cores']} cores x {result['clock_mhz']:.0f} MHz x FLOPs a cycle "
            f"per core: fp32 {cycle['fp32']} ({cycle['fp32_why']}), "
            f"{common.fmt(peaks['fp32'] / 1e9)} GFLOP/s; bf16 {cycle['bf16']} "
            f"({cycle['bf16_why']}), {common.fmt(peaks['bf16'] / 1e9)} GFLOP/s. A "
            f"{gemm['n']} x {gemm['n']} matrix product reaches "
            f"{common.fmt(gemm['flops_per_s']['fp32'] / 1e9)} GFLOP/s in fp32 and "
            f"{common.fmt(gemm['flops_per_s']['bf16'] / 1e9)} in bf16 here."
            + (
                " A product faster than the peak means the cores run above the clock the "
                "system reports (a virtual machine reports its nominal clock): the share of "
                "a GEMM is then the firmer measure of what is left."
                if any(gemm["flops_per_s"][k] > peaks[k] for k in peaks)
                else ""
            ),
            "",
            f"Where `auto`'s step spends its CPU time (`torch.profiler`, self time): {shares}.",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(common.main(sys.modules[__name__]))
