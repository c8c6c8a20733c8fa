"""The default precision against fp32, where users meet it: the smoke study end to end.

`precision: auto` must never be slower than fp32 in a way a user feels: on a CPU without
native bf16 it must train in fp32 (the goal: the smoke study with the defaults at most
1.3x its time with `--set precision=fp32`, the timed check included); on a CPU with native
bf16 it should be faster. The shipped smoke study runs through `platform/sweep.py` both
ways, back to back, each with its own tracking store; the figures are the sweeps' wall
times and the trials' summed epoch times, and what `auto` chose, read from the runs' tags.
On a CPU with native bf16 the default runs a third time with it hidden from the choice
(`SHEETSWEEP_HIDE_CPU_FLAGS`), so the path of a CPU without it is measured in the same run.

    python -m benchmarks.precision_default [--quick]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import common, sweeps
from search_spaces.study import STUDIES_DIR
from trainables.training.hardware import HIDE_FLAGS_ENV, NATIVE_BF16_FLAGS, detect_hardware

NAME = "precision_default"
TITLE = "The default precision (auto) against fp32: the smoke study"
GOAL = 1.3  # without native bf16: auto's wall time at most this times fp32's
WAYS = {"default (auto)": (), "--set precision=fp32": ("--set", "precision=fp32")}
HIDDEN = "default (auto), native bf16 hidden"


def run(quick: bool) -> dict[str, Any]:
    hardware = detect_hardware(common.device())
    extra = ("--set", "epochs=1", "--seeds", "0") if quick else ()
    ways = {name: (way, {}) for name, way in WAYS.items()}
    if hardware.device == "cpu" and hardware.native_bf16:
        ways[HIDDEN] = ((), {HIDE_FLAGS_ENV: ",".join(NATIVE_BF16_FLAGS)})
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-precision-") as tmp:
        for i, (name, (way, env)) in enumerate(ways.items()):
            folder = Path(tmp) / f"way{i}"
            launch = sweeps.run_sweep(STUDIES_DIR / "smoke.yaml", folder, *way, *extra, env=env)
            logged = sweeps.trial_runs(folder, "smoke")
            results[name] = {
                "wall_s": launch.wall_s,
                "epochs_s": float(logged["epoch_time_s"].sum()),
                "trials": int(logged["run_id"].nunique()),
                "ran": sorted(
                    set(zip(logged["ran_precision"], logged["ran_memory_format"], strict=True))
                ),
            }
    auto, fp32 = results["default (auto)"], results["--set precision=fp32"]
    figures = {
        "study": "smoke",
        "quick": quick,
        "hardware": hardware.describe(),
        "native_bf16": hardware.native_bf16,
        "ways": results,
        "wall_ratio_auto_vs_fp32": auto["wall_s"] / fp32["wall_s"],
        "epochs_ratio_auto_vs_fp32": auto["epochs_s"] / fp32["epochs_s"],
    }
    if HIDDEN in results:
        figures["wall_ratio_hidden_vs_fp32"] = results[HIDDEN]["wall_s"] / fp32["wall_s"]
    return figures


def render(result: dict[str, Any]) -> str:
    rows = [
        [
            name,
            ", ".join(f"{p} + {m}" for p, m in way["ran"]),
            str(way["trials"]),
            common.fmt(way["wall_s"]),
            common.fmt(way["epochs_s"]),
        ]
        for name, way in result["ways"].items()
    ]
    ratio = result["wall_ratio_auto_vs_fp32"]
    if result["native_bf16"]:
        epochs = common.fmt(result["epochs_ratio_auto_vs_fp32"])
        goal = (
            f"With native bf16, the default should beat fp32: its wall time is "
            f"**{common.fmt(ratio)}x** fp32's (the epochs {epochs}x)."
        )
        if "wall_ratio_hidden_vs_fp32" in result:
            goal += " " + _no_bf16_goal(
                result["wall_ratio_hidden_vs_fp32"], "with native bf16 hidden from the choice"
            )
    else:
        goal = _no_bf16_goal(ratio, "no native bf16")
    return "\n".join(
        [
            f"`platform/sweep.py --study smoke` as shipped, each way back to back, on "
            f"{result['hardware']}; wall time from launch to exit (the timed check included), "
            "and the trials' epochs summed.",
            "",
            common.table(["way", "trained in", "trials", "wall s", "epochs s"], rows),
            "",
            goal,
        ]
    )


def _no_bf16_goal(ratio: float, case: str) -> str:
    verdict = "met" if ratio <= GOAL else "NOT met"
    return (
        f"Goal ({case}): the default at most {GOAL}x fp32's wall time: "
        f"**{common.fmt(ratio)}x, {verdict}**."
    )


if __name__ == "__main__":
    raise SystemExit(common.main(sys.modules[__name__]))
