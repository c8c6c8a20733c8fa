"""How one configuration generalises: its scores on each test set, mean and interval.

The trials' own test audio (the dataset's split, clean and with noise, and each set of
pianos held out of training), and the datasets its trained models were scored on with
`sheetsweep-evaluate` (the latest evaluation of each model on each dataset).
"""

from __future__ import annotations

import pandas as pd

from analysis.configs import noise_label, varying_fields
from analysis.tables import REGISTERS, Table, interval_text, summarize_groups

#: Fields a scored study may vary besides the seed: where it is tested, not what is trained.
TEST_SET_FIELDS = ("held_out",)


def is_single_config(trials: pd.DataFrame) -> bool:
    """True when the finished trials differ only by seed and test set."""
    finished = trials[trials["status"] == "finished"]
    return len(finished) > 0 and not set(varying_fields(finished)) - set(TEST_SET_FIELDS)


def generalisation_table(
    trials: pd.DataFrame, study: str, evaluations: pd.DataFrame | None = None
) -> Table:
    """One config on clean, noisy and held-out-instrument test audio, and its models on
    the datasets `sheetsweep-evaluate` scored them on. The trials' own test sets are shown
    only for a study of one config (several configs averaged say nothing), so a comparison
    study gets the evaluation rows alone."""
    rows = _test_set_rows(trials) if is_single_config(trials) else []
    evaluated = evaluation_rows(evaluations) if evaluations is not None else []
    data = pd.DataFrame([*rows, *evaluated])
    display = pd.DataFrame(
        {
            "test set": data["test_set"],
            "n": data["n"],
            "PSNR (dB)": interval_texts(data, "psnr"),
            "note accuracy": interval_texts(data, "note_acc", percent=True),
            **{
                f"note accuracy {register}": interval_texts(
                    data, f"note_acc_{register}", percent=True
                )
                for register in REGISTERS
            },
            **{
                f"PSNR {register} (dB)": interval_texts(data, f"psnr_{register}")
                for register in REGISTERS
            },
        }
    )
    captions = []
    if rows:
        captions.append(
            "The same configuration scored on other test audio: with white noise at the SNR "
            "it trained with, and on whole piano presets or SoundFonts that were never in its "
            "training set (trained without them, and without their twins: instruments that "
            "share their samples); n = seeds."
        )
    if evaluated:
        captions.append(
            "`model … on …`: trained models scored by `sheetsweep-evaluate` on every note of "
            "another dataset (the latest evaluation of each model on each dataset); models "
            "of one config on one dataset share a row, n = models."
        )
    return Table(
        f"generalisation_{study}",
        f"Generalisation: {study}",
        " ".join([*captions, "Mean [95% t-interval]; none for n = 1."]),
        data,
        display,
    )


def latest_evaluations(evaluations: pd.DataFrame, study: str) -> pd.DataFrame:
    """The study's evaluation runs, the latest one per model and dataset: scoring a model
    twice on the same notes must not count it as two models."""
    runs = evaluations[evaluations["experiment"] == study].sort_values("start_time")
    runs = runs.assign(condition=runs["condition"].fillna("clean"))  # logged before conditions
    model = runs["model_run_id"].fillna(runs["model_uri"])
    keys = ["model", "dataset_hash", "condition"]
    latest = ~runs.assign(model=model).duplicated(keys, keep="last")
    return runs[latest].reset_index(drop=True)


def evaluation_rows(evaluations: pd.DataFrame) -> list[dict]:
    """One row per dataset and model config (a model of unknown config alone): the mean
    over models, as `_test_set_row` gives it for seeds."""
    if evaluations.empty:
        return []
    model = evaluations["model_run_id"].fillna(evaluations["model_uri"])
    keyed = evaluations.assign(config=evaluations["model_config"].fillna(model), seed=None)
    return [
        _test_set_row(evaluation_label(group), group, "test", source="evaluation")
        for _, group in keyed.groupby(
            ["dataset_hash", "condition", "config"], dropna=False, sort=False
        )
    ]


def _test_set_rows(trials: pd.DataFrame) -> list[dict]:
    """The trials' own test sets: the split, clean and noisy, and each held-out set."""
    rows = []
    split = trials[trials["held_out"].isna()]
    if len(split):
        rows.append(_test_set_row("clean test audio (stratified split)", split, "test"))
        if "noisy_test_psnr" in split and split["noisy_test_psnr"].notna().any():
            label = f"noisy test audio, SNR {noise_label(split.iloc[0])} (low/mid/high)"
            rows.append(_test_set_row(label, split, "noisy_test"))
    for held_out, group in trials[trials["held_out"].notna()].groupby("held_out"):
        rows.append(_test_set_row(f"held out: {held_out}", group, "test"))
    return rows


def evaluation_label(group: pd.DataFrame) -> str:
    """`model loss=mse seed=0 on real-piano, phone (88 notes, 2 not read)`: the model by its
    trial's run name, else by the URI it was given; `models a, b on ...` for a row of
    several; the recording condition unless clean; the notes it found no note in."""
    models = list(dict.fromkeys(group["model_run_name"].fillna(group["model_uri"])))
    datasets = ", ".join(dict.fromkeys(group["dataset_name"].fillna("?").astype(str)))
    condition = group.get("condition", pd.Series(dtype=object)).fillna("clean")
    under = "".join(f", {c}" for c in dict.fromkeys(condition) if c != "clean")
    notes = "/".join(str(n) for n in dict.fromkeys(group["n_notes"].dropna().astype(int)))
    refused = group.get("n_not_read", pd.Series(dtype="Int64")).dropna()
    missed = f", {int(refused.sum())} not read" if len(refused) and refused.sum() else ""
    noun = "model" if len(models) == 1 else "models"
    return (
        f"{noun} {', '.join(map(str, models))} on {datasets}{under} ({notes or '?'} notes{missed})"
    )


def _test_set_row(label: str, runs: pd.DataFrame, prefix: str, source: str = "trials") -> dict:
    """Mean and interval of `runs`' metrics under `prefix` (n = runs: seeds or models)."""
    metrics = [f"{prefix}_psnr", f"{prefix}_note_acc"] + [
        f"{prefix}_{score}_{register}" for score in ("note_acc", "psnr") for register in REGISTERS
    ]
    present = [m for m in metrics if m in runs]
    group = summarize_groups(runs.assign(test_set=label), ["test_set"], present).iloc[0]
    row = {"test_set": label, "source": source, "n": int(group["n"])}
    for metric in metrics:
        name = metric.removeprefix(f"{prefix}_")
        for part in ("mean", "ci_low", "ci_high"):
            row[f"{name}_{part}"] = group.get(f"{metric}_{part}", float("nan"))
    return row


def interval_texts(data: pd.DataFrame, metric: str, percent: bool = False) -> list[str]:
    return [_text(row, metric, percent) for _, row in data.iterrows()]


def _text(row: pd.Series, metric: str, percent: bool) -> str:
    """Mean [interval]; one evaluated model has no interval to miss, so just its value."""
    text = interval_text(
        row[f"{metric}_mean"], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"], percent
    )
    if row.get("source") == "evaluation" and row["n"] == 1:
        return text.removesuffix(" [no interval]")
    return text
