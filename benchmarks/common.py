"""What every benchmark shares: the machine it ran on, timing, and its results file.

A benchmark module has `NAME`, `TITLE`, `run(quick) -> dict` (its figures, JSON-ready) and
`render(result) -> str` (Markdown); `main` gives it the command line

    python -m benchmarks.<module> [--quick] [--out DIR]

Results go to `benchmarks/results/<cpu|gpu>/<NAME>.json`; a `--quick` run writes to a
temporary folder instead, so tiny sizes never overwrite the figures in the README.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from trainables.training.hardware import cpu_name, hidden_cpu_flags, present_cpu_flags

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
_DEFAULT_DATA = ROOT / "data" / "default"


def default_data() -> Path:
    """The default dataset (`sheetsweep-dataset build`), built here on first use: a fresh
    clone has none, and building it costs seconds."""
    from trainables.data.dataset import DatasetSpec, build_dataset

    return build_dataset(_DEFAULT_DATA, DatasetSpec()).root


def smoke_data() -> Path:
    """The smoke study's dataset, built as the study builds it on first use."""
    from search_spaces.preflight import dataset_spec
    from search_spaces.study import load_study
    from trainables.data.dataset import build_dataset

    study = load_study("smoke")
    return build_dataset(ROOT / study.dataset.root, dataset_spec(study)).root


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_kind() -> str:
    """`gpu` or `cpu`: which section of the README a result belongs to."""
    return "gpu" if torch.cuda.is_available() else "cpu"


def cpus() -> int:
    """CPUs this process may use (a container's share, not the host's count)."""
    return len(os.sched_getaffinity(0))


def machine() -> dict[str, Any]:
    """Where a figure came from: recorded with every result."""
    info: dict[str, Any] = {
        "cpu": cpu_name(),
        "cores": cpus(),
        "cpu_flags": present_cpu_flags(),
        "cpu_flags_hidden": hidden_cpu_flags(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "device": "cpu",
    }
    if torch.cuda.is_available():
        index = torch.cuda.current_device()
        info["device"] = f"cuda: {torch.cuda.get_device_name(index)}"
        info["gpus"] = torch.cuda.device_count()
        info["gpu_memory_gib"] = round(
            torch.cuda.get_device_properties(index).total_memory / 2**30, 1
        )
    return info


def machine_line(info: dict[str, Any]) -> str:
    """One line under each table: CPU model, cores, torch, device."""
    flags = ", ".join(info.get("cpu_flags", [])) or "no AVX-512"
    if info.get("cpu_flags_hidden"):
        flags += f"; hidden from the precision choice: {', '.join(info['cpu_flags_hidden'])}"
    line = (
        f"{info['cpu']} ({info['cores']} cores; {flags}), torch {info['torch']}, "
        f"device {info['device']}"
    )
    if "gpus" in info:
        line += f" x{info['gpus']}, {info['gpu_memory_gib']} GiB"
    return line


def sync(target: torch.device) -> None:
    """Wait for queued GPU work, so a timer measures it."""
    if target.type == "cuda":
        torch.cuda.synchronize(target)


def interleaved(
    ways: dict[str, Callable[[], float]], rounds: int
) -> dict[str, dict[str, float | list[float]]]:
    """Run each way once per round, in turn, and keep each way's median.

    Each callable does its own timing and returns a rate (higher is better). Alternating
    the ways inside one run means a neighbour's load hits them alike, so their ratio holds.
    """
    rates: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, way in ways.items():
            rates[name].append(way())
    return {
        name: {"median": statistics.median(values), "rounds": values}
        for name, values in rates.items()
    }


def timed_steps(step: Callable[[], None], target: torch.device, steps: int) -> float:
    """Seconds per call of `step`, averaged over `steps` calls after the queue drains."""
    sync(target)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    sync(target)
    return (time.perf_counter() - started) / steps


def rate(step: Callable[[], None], target: torch.device, min_s: float, min_steps: int = 2) -> float:
    """Calls of `step` per second, over at least `min_steps` calls and `min_s` seconds."""
    sync(target)
    started, calls = time.perf_counter(), 0
    while calls < min_steps or time.perf_counter() - started < min_s:
        step()
        calls += 1
    sync(target)
    return calls / (time.perf_counter() - started)


def linear_fit(xs: list[float], ys: list[float]) -> dict[str, float]:
    """Least squares y = intercept + slope * x, and R^2: is the growth linear?"""
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = mean_y - slope * mean_x
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    total = sum((y - mean_y) ** 2 for y in ys)
    return {
        "slope": slope,
        "intercept": intercept,
        "r2": 1.0 - residual / total if total > 0 else 1.0,
    }


def fmt(value: float | None, digits: int = 3) -> str:
    """A figure for a table: `digits` significant digits, '-' when missing."""
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if abs(value) >= 10**digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def results_folder(quick: bool, out: Path | None) -> Path:
    if out is not None:
        return out
    if quick:
        return Path(tempfile.gettempdir()) / "sheetsweep-benchmarks-quick" / device_kind()
    return RESULTS / device_kind()


def write_result(folder: Path, name: str, result: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


def main(module: Any, argv: list[str] | None = None) -> int:
    """The command line of one benchmark module."""
    parser = argparse.ArgumentParser(
        description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: seconds, for checks")
    parser.add_argument(
        "--out", type=Path, help="results folder (default: benchmarks/results/<cpu|gpu>)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(cpus())
    started = time.time()
    figures = module.run(quick=args.quick)
    result = {
        "benchmark": module.NAME,
        "title": module.TITLE,
        "quick": args.quick,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "wall_s": round(time.time() - started, 1),
        **figures,
    }
    path = write_result(results_folder(args.quick, args.out), module.NAME, result)
    print(module.render(result))
    print(f"\n{module.NAME}: {result['wall_s']} s; wrote {path}", file=sys.stderr)
    return 0
