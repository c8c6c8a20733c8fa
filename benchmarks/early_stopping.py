"""Early stopping: the `full` study with ASHA against without, shrunk, in compute to a goal.

Both runs are the shipped `full` study (Optuna TPE over loss, kernel, per-register noise,
learning rate and batch size, same TPE seed), shrunk the same way: the smoke study's
dataset (built afresh for each run in a temporary folder, so neither finds the other's
noisy-feature cache) and its small features, width 4, few trials and epochs, one CPU per
trial and one trial per core (on a GPU: four trials share it). They differ only in
`scheduler: asha` against `none`.

Goal PSNR: the lower of the two runs' best test PSNR (over every epoch each logged), the
best that both find. For each run: trial-epochs and wall seconds from launch until some
trial first reported it, and the totals.

    python -m benchmarks.early_stopping [--quick]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from benchmarks import common, sweeps
from benchmarks.platform_overhead import SMOKE
from search_spaces.study import STUDIES_DIR

NAME = "early_stopping"
TITLE = "Early stopping: the full study with ASHA vs without"


def shrunk_full_study(root: Path, scheduler: str, quick: bool, cores: int) -> dict[str, Any]:
    """The shipped `full` study with a small dataset, model, budget, and `scheduler`."""
    raw = yaml.safe_load((STUDIES_DIR / "full.yaml").read_text())
    smoke = yaml.safe_load((STUDIES_DIR / "smoke.yaml").read_text())
    # long enough that configs part ways (4 epochs left every trial at the baseline)
    num_trials, epochs = (3, 2) if quick else (6, 6)
    raw["name"] = f"bench-full-{scheduler}"
    raw["dataset"] = {**smoke["dataset"], "root": str(root)}
    features = {k: SMOKE[k] for k in ("bottleneck", "n_mels", "n_fft", "hop_length")}
    raw["fixed"] = {**raw["fixed"], **features, "width": 4, "epochs": epochs}
    raw["num_trials"] = num_trials
    raw["optuna"] = {
        **raw.get("optuna", {}),
        "n_startup_trials": min(raw["optuna"]["n_startup_trials"], num_trials // 2 or 1),
    }
    raw["scheduler"] = scheduler
    if quick:  # two epochs: ASHA may stop a trial after its first
        raw["asha"] = {**raw["asha"], "grace_period": 1}
    if common.device().type == "cuda":  # four trials share the GPU and the cores
        raw["resources"] = {"cpu": max(1, cores // 4), "gpu": 0.25}
        raw["max_concurrent"] = 4
    else:
        raw["resources"] = {"cpu": 1, "gpu": 0}
        raw["max_concurrent"] = cores
    raw["max_failures"] = 0
    return raw


def reach(logged, started: float, goal: float) -> dict[str, float]:
    """Trial-epochs and seconds from `started` until a logged epoch first scored `goal`."""
    hit = logged[logged["test_psnr"] >= goal - 1e-9].iloc[0]
    return {
        "trial_epochs": int((logged["logged"] <= hit["logged"]).sum()),
        "wall_s": float(hit["logged"] - started),
    }


def run(quick: bool) -> dict[str, Any]:
    cores = common.cpus()
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-asha-") as tmp:
        for scheduler in ("none", "asha"):
            folder = Path(tmp) / scheduler
            raw = shrunk_full_study(folder / "data", scheduler, quick, cores)
            study = sweeps.write_study(folder, raw)
            launch = sweeps.run_sweep(study, folder)
            logged = sweeps.trial_runs(folder, raw["name"])
            epochs_per_trial = logged.groupby("run_id")["epoch"].max()
            runs[scheduler] = {
                "launch": launch,
                "logged": logged,
                "summary": {
                    "trials": len(epochs_per_trial),
                    "stopped_early": int((epochs_per_trial < raw["fixed"]["epochs"]).sum()),
                    "trial_epochs": len(logged),
                    "wall_s": launch.wall_s,
                    "best_test_psnr": float(logged["test_psnr"].max()),
                },
            }
    goal = min(r["summary"]["best_test_psnr"] for r in runs.values())
    for r in runs.values():
        r["summary"]["to_goal"] = reach(r["logged"], r["launch"].started, goal)
    return {
        "study": "full (shrunk)",
        "shrunk": {
            "dataset": "smoke study's (3 GM pianos x 1 velocity), built per run",
            "width": 4,
            "epochs": raw["fixed"]["epochs"],
            "num_trials": raw["num_trials"],
            "asha": raw["asha"],
            "per_trial": ", ".join(f"{v:g} {k.upper()}" for k, v in raw["resources"].items()),
            "at_once": raw["max_concurrent"],
        },
        "goal_test_psnr": goal,
        "runs": {name: r["summary"] for name, r in runs.items()},
        "asha_saving_trial_epochs": runs["none"]["summary"]["to_goal"]["trial_epochs"]
        / runs["asha"]["summary"]["to_goal"]["trial_epochs"],
        "asha_saving_wall": runs["none"]["summary"]["to_goal"]["wall_s"]
        / runs["asha"]["summary"]["to_goal"]["wall_s"],
    }


def render(result: dict[str, Any]) -> str:
    rows = []
    for name, run_ in result["runs"].items():
        rows.append(
            [
                "ASHA" if name == "asha" else "no early stopping",
                f"{run_['trials']} ({run_['stopped_early']} stopped early)",
                common.fmt(run_["best_test_psnr"]),
                str(run_["to_goal"]["trial_epochs"]),
                common.fmt(run_["to_goal"]["wall_s"]),
                str(run_["trial_epochs"]),
                common.fmt(run_["wall_s"]),
            ]
        )
    shrunk = result["shrunk"]
    return "\n".join(
        [
            f"The `full` study shrunk: {shrunk['num_trials']} TPE trials, {shrunk['epochs']} "
            f"epochs, width {shrunk['width']}, {shrunk['dataset']}; ASHA {shrunk['asha']}; "
            f"{shrunk['per_trial']} per trial, {shrunk['at_once']} at once. Goal: "
            f"{common.fmt(result['goal_test_psnr'])} dB test PSNR, the lower of the two bests.",
            "",
            common.table(
                [
                    "scheduler",
                    "trials",
                    "best test PSNR dB",
                    "trial-epochs to goal",
                    "s to goal",
                    "trial-epochs in all",
                    "wall s in all",
                ],
                rows,
            ),
            "",
            "To the goal, no early stopping spent "
            f"{common.fmt(result['asha_saving_trial_epochs'])}x the trial-epochs and "
            f"{common.fmt(result['asha_saving_wall'])}x the wall time of ASHA.",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(common.main(sys.modules[__name__]))
