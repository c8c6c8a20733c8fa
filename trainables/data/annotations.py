"""annotations.csv: one row a sample, checked against the data contract on load."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from trainables.errors import DatasetError
from trainables.keys import is_piano_key, note_name, register_of
from trainables.text_files import read_utf8

COLUMNS = ("audio_path", "midi", "note", "register", "instrument", "velocity", "split")
SPLITS = ("train", "test")


def row_label(index: int) -> str:
    """'row N' for the frame's row `index`, as a spreadsheet numbers the CSV's lines."""
    return f"row {index + 2}"  # the header is line 1


def check_annotations(frame: pd.DataFrame, root: Path, source: Path) -> pd.DataFrame:
    """Validate a frame read from `source`; returns it typed. Raises `DatasetError`."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(f"{source}: missing column(s) {missing}; expected {list(COLUMNS)}")
    if frame.empty:
        raise DatasetError(f"{source}: no rows")
    frame = frame.loc[:, list(COLUMNS)].copy()
    for column in ("audio_path", "note", "register", "instrument", "split"):
        blank = frame[column].isna() | (frame[column].astype(str).str.strip() == "")
        if blank.any():
            raise DatasetError(f"{source}: {row_label(int(np.argmax(blank)))}: empty {column!r}")
        frame[column] = frame[column].astype(str)
    for column in ("midi", "velocity"):
        numbers = pd.to_numeric(frame[column], errors="coerce")
        bad = ~np.isfinite(numbers) | (numbers != numbers.round())  # "inf" parses as a float
        if bad.any():
            i = int(np.argmax(bad))
            raise DatasetError(
                f"{source}: {row_label(i)}: {column}={frame[column].iloc[i]!r}, expected an integer"
            )
        frame[column] = numbers.astype(int)
    resolved_root = root.resolve()
    for i, row in enumerate(frame.itertuples(index=False)):
        where = f"{source}: {row_label(i)}"
        if not is_piano_key(row.midi):
            raise DatasetError(f"{where}: midi={row.midi} is not a piano key (expected 21-108)")
        if row.note != note_name(row.midi):
            raise DatasetError(
                f"{where}: note={row.note!r} does not match midi={row.midi} "
                f"(expected {note_name(row.midi)!r}, sharps only)"
            )
        if row.register != register_of(row.midi).value:
            raise DatasetError(
                f"{where}: register={row.register!r}, expected "
                f"{register_of(row.midi).value!r} for {row.note}"
            )
        if row.split not in SPLITS:
            raise DatasetError(f"{where}: split={row.split!r}, expected one of {SPLITS}")
        path = Path(row.audio_path)
        if path.is_absolute() or not (root / path).resolve().is_relative_to(resolved_root):
            raise DatasetError(
                f"{where}: audio_path={row.audio_path!r} leaves the dataset root {root}"
            )
    duplicated = frame.duplicated(subset=["audio_path"], keep="first")
    if duplicated.any():
        i = int(np.argmax(duplicated))
        raise DatasetError(
            f"{source}: {row_label(i)}: duplicate audio_path {frame['audio_path'].iloc[i]!r}"
        )
    duplicated = frame.duplicated(subset=["instrument", "midi", "velocity"], keep="first")
    if duplicated.any():
        i = int(np.argmax(duplicated))
        row = frame.iloc[i]
        raise DatasetError(
            f"{source}: {row_label(i)}: duplicate sample (instrument={row.instrument!r}, "
            f"midi={row.midi}, velocity={row.velocity})"
        )
    return frame.reset_index(drop=True)


def read_csv_text(path: Path) -> pd.DataFrame:
    """Every cell as text (blank -> NaN), UTF-8 only: what the contract is checked on."""
    try:
        text = read_utf8(path, DatasetError)
    except OSError as error:
        raise DatasetError(f"{path}: cannot be read ({error.strerror or error})") from error
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DatasetError(f"{path}: not a readable CSV file: {error}") from error


def load_annotations(root: Path, check_files: bool = True) -> pd.DataFrame:
    """Read and validate `<root>/annotations.csv`."""
    source = root / "annotations.csv"
    if not source.is_file():
        raise DatasetError(f"{source} does not exist: build or import a dataset first")
    frame = check_annotations(read_csv_text(source), root, source)
    if check_files:
        for i, path in enumerate(frame["audio_path"]):
            if not (root / path).is_file():
                raise DatasetError(f"{source}: {row_label(i)}: audio file {root / path} is missing")
    return frame


def stratified_split(frame: pd.DataFrame, test_fraction: float, seed: int) -> pd.Series:
    """Same share of test samples for every key: round(n * fraction) per key, seeded."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction={test_fraction}, expected between 0 and 1")
    rng = np.random.default_rng(seed)
    split = pd.Series("train", index=frame.index)
    for _, rows in frame.groupby("midi", sort=True):
        n_test = max(1, round(len(rows) * test_fraction)) if len(rows) > 1 else 0
        chosen = rng.permutation(rows.index.to_numpy())[:n_test]
        split.loc[chosen] = "test"
    return split


def instrument_split(frame: pd.DataFrame, held_out: list[str]) -> pd.Series:
    """Whole instruments held out for testing (never seen in training)."""
    unknown = sorted(set(held_out) - set(frame["instrument"]))
    if unknown:
        raise DatasetError(
            f"held-out instrument(s) {unknown} are not in the dataset "
            f"(it has {sorted(frame['instrument'].unique())})"
        )
    return frame["instrument"].isin(held_out).map({True: "test", False: "train"})
