"""One configuration, scored: a study that repeats a single config over seeds (`best`).

Per-register PSNR and note accuracy with intervals, beside the thesis and the mean-image
baseline; how the config generalises (noisy test audio, pianos held out of training, and
any dataset its models were scored on with `sheetsweep-evaluate`); the keys it still gets
wrong and what it read them as; the worst keys, drawn.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from analysis import thesis
from analysis.runs import Runs, noise_label, varying_fields
from analysis.tables import REGISTERS, Table, interval_text, summarize_groups
from trainables.keys import note_name
from trainables.training.artifacts import WORST_KEYS

#: Fields a scored study may vary besides the seed: where it is tested, not what is trained.
TEST_SET_FIELDS = ("held_out",)
#: The thesis's PSNR per register, read off its per-key plot (it gave no table).
THESIS_REGISTER_PSNR = {"all": "19.14", "low": "12–13", "mid": "20–23", "high": "–"}
#: What `error_kind` calls a wrong prediction, in the order the tables show them.
ERROR_KINDS = ("octave", "neighbour", "octave + neighbour", "other")


@dataclass(frozen=True)
class Scorecard:
    study: str
    registers: Table
    generalisation: Table
    confusions: Table
    summary: str  # one paragraph: the headline numbers and the kinds of errors
    worst_keys_png: bytes | None  # the worst run's worst-keys grid
    evaluation_errors: Table | None = None  # the kinds of errors per evaluation, if any
    held_out_errors: Table | None = None  # the kinds of errors per held-out set, if any


def is_single_config(trials: pd.DataFrame) -> bool:
    """True when the finished trials differ only by seed and test set."""
    finished = trials[trials["status"] == "finished"]
    return len(finished) > 0 and not set(varying_fields(finished)) - set(TEST_SET_FIELDS)


def scorecard(runs: Runs, study: str) -> Scorecard:
    trials = runs.finished[runs.finished["experiment"] == study]
    # scored on the dataset's own split where the study has it, else on its held-out pianos
    split = trials[trials["held_out"].isna()]
    split = split if len(split) else trials
    scores = runs.test_scores[runs.test_scores["run_id"].isin(split["run_id"])]
    confusions = confusion_list(scores)
    worst = split.loc[split["test_psnr"].idxmin()]
    evaluations = latest_evaluations(runs.evaluations, study)
    return Scorecard(
        study=study,
        registers=register_table(split, study),
        generalisation=generalisation_table(trials, study, evaluations),
        confusions=_confusion_table(confusions, study, n_runs=len(split)),
        summary=_summary(split, scores, confusions),
        worst_keys_png=_artifact(runs, worst["run_id"], WORST_KEYS),
        evaluation_errors=(
            evaluation_errors_table(evaluations, runs.evaluation_scores, study)
            if len(evaluations)
            else None
        ),
        held_out_errors=(
            held_out_errors_table(trials, runs.test_scores, study)
            if trials["held_out"].notna().any()
            else None
        ),
    )


def register_table(trials: pd.DataFrame, study: str) -> Table:
    """Clean test audio of the dataset's split: overall and per register, over seeds."""
    rows = []
    for register in ("all", *REGISTERS):
        suffix = "" if register == "all" else f"_{register}"
        psnr, acc = f"test_psnr{suffix}", f"test_note_acc{suffix}"
        groups = summarize_groups(trials.assign(register=register), ["register"], (psnr, acc))
        group = groups.iloc[0]
        rows.append(
            {
                "register": register,
                "n": int(group["n"]),
                "psnr_mean": group[f"{psnr}_mean"],
                "psnr_ci_low": group[f"{psnr}_ci_low"],
                "psnr_ci_high": group[f"{psnr}_ci_high"],
                "note_acc_mean": group[f"{acc}_mean"],
                "note_acc_ci_low": group[f"{acc}_ci_low"],
                "note_acc_ci_high": group[f"{acc}_ci_high"],
                "thesis_psnr": THESIS_REGISTER_PSNR[register],
                "baseline_psnr": group["baseline_psnr"] if register == "all" else float("nan"),
            }
        )
    data = pd.DataFrame(rows)
    display = pd.DataFrame(
        {
            "register": data["register"],
            "n seeds": data["n"],
            "test PSNR (dB)": _texts(data, "psnr"),
            "note accuracy": _texts(data, "note_acc", percent=True),
            "thesis PSNR (dB)": data["thesis_psnr"],
            "mean-image baseline (dB)": [
                "–" if pd.isna(v) else f"{v:.2f}" for v in data["baseline_psnr"]
            ],
        }
    )
    held = trials["held_out"].dropna().unique()
    audio = f"what was held out ({'; '.join(held)})" if len(held) else "the dataset's split"
    return Table(
        f"registers_{study}",
        f"Per-register scores: {study}",
        f"Clean test audio of {audio}; mean over seeds [95% t-interval]. "
        "The thesis's register figures are read off its per-key plot.",
        data,
        display,
    )


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
            "PSNR (dB)": _texts(data, "psnr"),
            "note accuracy": _texts(data, "note_acc", percent=True),
            **{
                f"note accuracy {register}": _texts(data, f"note_acc_{register}", percent=True)
                for register in REGISTERS
            },
            **{f"PSNR {register} (dB)": _texts(data, f"psnr_{register}") for register in REGISTERS},
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
    model = runs["model_run_id"].fillna(runs["model_uri"])
    latest = ~runs.assign(model=model).duplicated(["model", "dataset_hash"], keep="last")
    return runs[latest].reset_index(drop=True)


def evaluation_rows(evaluations: pd.DataFrame) -> list[dict]:
    """One row per dataset and model config (a model of unknown config alone): the mean
    over models, as `_test_set_row` gives it for seeds."""
    if evaluations.empty:
        return []
    model = evaluations["model_run_id"].fillna(evaluations["model_uri"])
    keyed = evaluations.assign(config=evaluations["model_config"].fillna(model), seed=None)
    return [
        _test_set_row(_evaluation_label(group), group, "test", source="evaluation")
        for _, group in keyed.groupby(["dataset_hash", "config"], dropna=False, sort=False)
    ]


def evaluation_errors_table(evaluations: pd.DataFrame, scores: pd.DataFrame, study: str) -> Table:
    """Per evaluation run, its wrong predictions by kind: does a model on new audio miss
    by an octave (a harmonic read as the fundamental) or by a key (pitch resolution)?
    A run whose scores artifact is missing shows no counts, not zeros."""
    runs = evaluations.reset_index(drop=True)
    split = error_split(scores).reindex(runs["run_id"]).reset_index(drop=True).astype("Int64")
    columns = ["run_id", "model_uri", "model_run_name", "dataset_name", "n_notes", "test_note_acc"]
    data = pd.concat([runs[columns], split], axis=1)
    counts = split.astype(object).where(split.notna(), "–")
    display = pd.DataFrame(
        {
            "evaluation": [_evaluation_label(runs.iloc[[i]]) for i in range(len(runs))],
            "note accuracy": [f"{v:.1%}" for v in runs["test_note_acc"]],
            **{column: counts[column] for column in ("wrong", *ERROR_KINDS)},
            "run id": runs["run_id"],
        }
    )
    return Table(
        f"evaluation_errors_{study}",
        f"Evaluations, wrong predictions by kind: {study}",
        "Each evaluation's notes whose prediction is nearest another key's target; "
        "`octave`: a multiple of 12 semitones off, `neighbour`: one or two semitones off, "
        "`octave + neighbour`: both, `other`: the rest.",
        data,
        display,
    )


def held_out_errors_table(trials: pd.DataFrame, scores: pd.DataFrame, study: str) -> Table:
    """Per held-out set (a SoundFont or presets never heard), its wrong predictions by kind
    over the seeds, and the twins kept out of training with it."""
    held = trials[trials["held_out"].notna()]
    split = error_split(scores[scores["run_id"].isin(held["run_id"])])
    rows = []
    for held_out, group in held.groupby("held_out", sort=False):
        counts = split.reindex(group["run_id"]).fillna(0).astype(int).sum()
        left_out = group.get("ran_left_out", pd.Series(dtype=object)).dropna()
        rows.append(
            {
                "held_out": held_out,
                "seeds": len(group),
                "notes": int(scores["run_id"].isin(group["run_id"]).sum()),
                **counts.to_dict(),
                "left_out": left_out.iloc[0] if len(left_out) else "not recorded",
            }
        )
    data = pd.DataFrame(rows)
    display = data.rename(
        columns={
            "held_out": "held out",
            "notes": "test notes (all seeds)",
            "left_out": "twins kept out of training",
        }
    )
    return Table(
        f"held_out_errors_{study}",
        f"Held out, wrong predictions by kind: {study}",
        "Clean test notes of each held-out set whose prediction is nearest another key's "
        "target, summed over seeds; `octave`: a multiple of 12 semitones off, `neighbour`: "
        "one or two semitones off, `octave + neighbour`: both, `other`: the rest. Twins "
        "share their samples with a held-out instrument (trainables/data/timbres.py).",
        data,
        display,
    )


def error_split(scores: pd.DataFrame) -> pd.DataFrame:
    """Wrong predictions per run (index) by `error_kind` (columns), and `wrong` in all;
    a run with none gets zeros as long as it has scores."""
    wrong = scores[~scores["correct"].astype(bool)]
    kinds = (wrong["predicted_midi"] - wrong["midi"]).map(error_kind)
    table = (
        wrong.assign(kind=kinds)
        .groupby(["run_id", "kind"])
        .size()
        .unstack("kind")
        .reindex(index=scores["run_id"].unique(), columns=list(ERROR_KINDS))
        .fillna(0)
        .astype(int)
    )
    table.insert(0, "wrong", table.sum(axis=1))
    table.columns.name = None
    return table


def confusion_list(scores: pd.DataFrame) -> pd.DataFrame:
    """Each (key, read as) pair of wrong test predictions: how often, and what kind."""
    wrong = scores[~scores["correct"].astype(bool)]
    columns = ["midi", "note", "predicted_midi", "predicted", "semitones", "kind", "count", "runs"]
    if wrong.empty:
        return pd.DataFrame(columns=columns)
    table = (
        wrong.groupby(["midi", "predicted_midi"])
        .agg(count=("run_id", "size"), runs=("run_id", "nunique"))
        .reset_index()
    )
    table["note"] = table["midi"].map(note_name)
    table["predicted"] = table["predicted_midi"].map(note_name)
    table["semitones"] = table["predicted_midi"] - table["midi"]
    table["kind"] = table["semitones"].map(error_kind)
    return table.sort_values(["count", "midi"], ascending=[False, True])[columns]


def error_kind(semitones: int) -> str:
    """`octave` (a multiple of 12 away), `neighbour` (a tone or less away), `octave +
    neighbour` (a tone or less from a whole number of octaves away), or `other`."""
    if semitones % 12 == 0:
        return "octave"
    if abs(semitones) <= 2:
        return "neighbour"
    return "octave + neighbour" if semitones % 12 in (1, 2, 10, 11) else "other"


def _confusion_table(confusions: pd.DataFrame, study: str, n_runs: int) -> Table:
    display = pd.DataFrame(
        {
            "key": confusions["note"],
            "read as": confusions["predicted"],
            "semitones": [f"{s:+d}" for s in confusions["semitones"]],
            "kind": confusions["kind"],
            "wrong test samples": confusions["count"],
            "models": [f"{r} of {n_runs}" for r in confusions["runs"]],
        }
    )
    return Table(
        f"confusions_{study}",
        f"Keys read wrong: {study}",
        "Clean test samples whose prediction is nearest another key's target, over every "
        "seed of the models tested on the dataset's own split (in a study without one, on "
        "its held-out pianos: those are counted by kind in the held-out table); `models`: "
        "how many of them read it so. "
        "`octave`: a multiple of 12 semitones off, `neighbour`: one or two semitones off, "
        "`octave + neighbour`: both.",
        confusions,
        display,
    )


def _summary(trials: pd.DataFrame, scores: pd.DataFrame, confusions: pd.DataFrame) -> str:
    wrong = int(confusions["count"].sum())
    kinds = confusions.groupby("kind")["count"].sum().to_dict()
    kinds_text = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "none"
    return (
        f"Over {len(trials)} seed(s): test PSNR {trials['test_psnr'].mean():.2f} dB "
        f"(thesis {thesis.LOSS_PSNR['smooth_l1']:.2f} dB, mean-image baseline "
        f"{trials['baseline_psnr'].mean():.2f} dB); {wrong} of {len(scores)} clean test "
        f"predictions read as another key ({kinds_text})."
    )


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


def _evaluation_label(group: pd.DataFrame) -> str:
    """`model loss=mse seed=0 on real-piano (88 notes)`: the model by its trial's run name,
    else by the URI it was given; `models a, b on ...` for a row of several."""
    models = list(dict.fromkeys(group["model_run_name"].fillna(group["model_uri"])))
    datasets = ", ".join(dict.fromkeys(group["dataset_name"].fillna("?").astype(str)))
    notes = "/".join(str(n) for n in dict.fromkeys(group["n_notes"].dropna().astype(int)))
    noun = "model" if len(models) == 1 else "models"
    return f"{noun} {', '.join(map(str, models))} on {datasets} ({notes or '?'} notes)"


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


def _texts(data: pd.DataFrame, metric: str, percent: bool = False) -> list[str]:
    return [_text(row, metric, percent) for _, row in data.iterrows()]


def _text(row: pd.Series, metric: str, percent: bool) -> str:
    """Mean [interval]; one evaluated model has no interval to miss, so just its value."""
    text = interval_text(
        row[f"{metric}_mean"], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"], percent
    )
    if row.get("source") == "evaluation" and row["n"] == 1:
        return text.removesuffix(" [no interval]")
    return text


def _artifact(runs: Runs, run_id: str, name: str) -> bytes | None:
    client = MlflowClient(runs.tracking_uri)
    with tempfile.TemporaryDirectory() as folder:
        try:
            return Path(client.download_artifacts(run_id, name, folder)).read_bytes()
        except (MlflowException, OSError):
            return None
