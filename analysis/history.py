"""Per-epoch metric history of trials, read from MLflow, and each metric's best value over it."""

from __future__ import annotations

import pandas as pd
from mlflow.tracking import MlflowClient

#: Metrics whose per-epoch history is read: for the learning curves and the best epoch.
HISTORY_METRICS = ("train_loss", "test_loss", "test_psnr", "test_note_acc", "test_ssim")
#: Direction of "best" for the history metrics (losses fall, scores rise).
LOWER_IS_BETTER = frozenset({"train_loss", "test_loss"})


def read_history(client: MlflowClient, trials: pd.DataFrame) -> pd.DataFrame:
    rows = [
        {"run_id": run_id, "metric": metric, "epoch": int(m.step), "value": float(m.value)}
        for run_id in trials["run_id"]
        for metric in HISTORY_METRICS
        for m in client.get_metric_history(run_id, metric)
    ]
    history = pd.DataFrame(rows, columns=["run_id", "metric", "epoch", "value"])
    # a retried trial may log an epoch twice: keep the last write
    return history.drop_duplicates(["run_id", "metric", "epoch"], keep="last")


def with_best(trials: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """`best_<metric>` over the history (max, min for losses), `epochs_done`, `best_epoch`."""
    out = trials.set_index("run_id")
    for metric, values in history.groupby("metric"):
        per_run = values.groupby("run_id")["value"]
        out[f"best_{metric}"] = per_run.min() if metric in LOWER_IS_BETTER else per_run.max()
    if len(history):
        out["epochs_done"] = history.groupby("run_id")["epoch"].max().astype("Int64")
        psnr = history[history["metric"] == "test_psnr"]
        if len(psnr):
            best_rows = psnr.loc[psnr.groupby("run_id")["value"].idxmax()]
            out["best_epoch"] = best_rows.set_index("run_id")["epoch"].astype("Int64")
    for metric in HISTORY_METRICS:  # a run without history: best is the final value
        if metric in out:
            best = out.get(f"best_{metric}", pd.Series(index=out.index, dtype=float))
            out[f"best_{metric}"] = best.fillna(out[metric])
    return out.reset_index()
