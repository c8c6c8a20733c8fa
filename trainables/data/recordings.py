"""Import real recordings into a dataset folder the trainables read like a rendered one.

An import reads a folder of recordings (WAV or FLAC, any rate and channels) and an
annotations file naming each one's key and instrument; it fills in the columns the data
contract needs, stores each recording as a mono window under `<root>/audio/`, engraves the
88 targets, makes a stratified split unless the annotations bring one, and writes
annotations.csv and the manifest as `trainables.data.dataset` does for a rendered dataset.

Each recording is cut from its detected onset: real takes start after differing lengths of
silence and never last the same, but the model sees one fixed window, starting at the note
as a rendered note does; so a recording is stored as `duration_s` from its onset, cut or
padded with silence, and one without a detectable note is left out by name.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import soundfile
from tqdm import tqdm

from trainables.data.annotations import (
    check_annotations,
    read_csv_text,
    row_label,
    stratified_split,
)
from trainables.data.audio import read_wav
from trainables.data.dataset import (
    IMPORT_COUNTS,
    DatasetInfo,
    clear_root,
    file_sha256,
    finish_dataset,
    up_to_date,
)
from trainables.data.engraving import engrave_targets
from trainables.data.instruments import NoteTiming
from trainables.data.onsets import NoNoteFound, RecordingTooShort, cut_window
from trainables.errors import DatasetError
from trainables.keys import PITCH_CLASSES, is_piano_key, midi_from_name, note_name, register_of

log = logging.getLogger(__name__)
#: An imported recording is cut to the rendered notes' length unless told otherwise.
IMPORT_DURATION_S = NoteTiming().hold_s + NoteTiming().release_s


def import_recordings(
    source: Path,
    annotations: Path,
    root: Path,
    test_fraction: float = 0.2,
    seed: int = 0,
    overwrite: bool = False,
    duration_s: float = IMPORT_DURATION_S,
) -> DatasetInfo:
    """Turn a folder of real recordings and its annotations into a dataset folder.

    The annotations need `audio_path` (relative to `source`), `instrument`, and `midi` (a
    number or a name like C4) or `note`; `note`, `register` and `velocity` (0 = unknown)
    are filled in when absent, `split` is made stratified by key when absent. Real takes
    never last the same, the model's window does: each recording (WAV or FLAC, any rate
    and channels) is stored as `duration_s` of mono audio from its detected onset, padded
    with silence if it ends first. A recording without a detectable note is left out by
    name; one that does not decode stops the import.
    """
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise DatasetError(f"duration {duration_s} s: expected a positive number of seconds")
    frame, generate_split = _read_import_annotations(source, annotations)
    stored_paths = _stored_paths(frame["audio_path"], annotations)
    if generate_split and not 0 < test_fraction < 1:
        raise DatasetError(f"test fraction {test_fraction}: expected between 0 and 1")
    description = {
        "annotations": file_sha256(annotations),
        "recordings": _recordings_sha256(source, frame["audio_path"], annotations),
        "duration_s": duration_s,
        "test_fraction": test_fraction,
        "seed": seed,
    }
    existing = up_to_date(root, description, overwrite)
    if existing is not None:
        return existing
    windows, dropped, counts = _cut_recordings(source, frame["audio_path"], duration_s)
    kept = [window is not None for window in windows]
    if not any(kept):
        raise DatasetError(
            f"{annotations}: none of its {len(frame)} recording(s) holds a detectable note: "
            + _first(dropped)
        )
    if dropped:
        log.warning("left out %d recording(s): %s", len(dropped), "; ".join(dropped))
    frame["audio_path"] = stored_paths
    frame = frame[kept].reset_index(drop=True)
    if generate_split:  # after leaving out: every key that is left keeps its test share
        frame["split"] = stratified_split(frame, test_fraction, seed)
    clear_root(root)
    kept_windows = [window for window in windows if window is not None]
    for relative, (audio, rate) in zip(frame["audio_path"], kept_windows, strict=True):
        _write_window(root / relative, audio, rate)
    engrave_targets(root / "targets")
    return finish_dataset(root, frame, duration_s, description, dropped, counts)


def _first(messages: list[str], n: int = 5) -> str:
    more = f"; and {len(messages) - n} more" if len(messages) > n else ""
    return "; ".join(messages[:n]) + more


def _read_import_annotations(source: Path, annotations: Path) -> tuple[pd.DataFrame, bool]:
    """The annotations with every contract column filled in and checked (`audio_path`
    still relative to `source`); and whether the split is still to be made."""
    if not annotations.is_file():
        raise DatasetError(f"annotations file {annotations} does not exist")
    frame = read_csv_text(annotations)
    for column in ("audio_path", "instrument"):
        if column not in frame.columns:
            raise DatasetError(f"{annotations}: missing column {column!r}")
    if "midi" not in frame.columns and "note" not in frame.columns:
        raise DatasetError(f"{annotations}: missing column 'midi' (or 'note', e.g. C4)")
    frame["midi"] = _midi_column(frame, annotations)
    midi = pd.to_numeric(frame["midi"], errors="coerce")
    if "note" not in frame.columns:
        frame["note"] = [note_name(int(m)) if _is_key(m) else "?" for m in midi]
    frame["note"] = [v.strip() if isinstance(v, str) else v for v in frame["note"]]
    if "register" not in frame.columns:
        frame["register"] = [register_of(int(m)).value if _is_key(m) else "?" for m in midi]
    if "velocity" not in frame.columns:
        frame["velocity"] = "0"
    generate_split = "split" not in frame.columns
    if generate_split:
        frame["split"] = "train"
    return check_annotations(frame, source, annotations), generate_split


def _midi_column(frame: pd.DataFrame, annotations: Path) -> list[str]:
    """`midi` as text of a number, from a number or a note name in `midi`, or from `note`.
    Numbers are left as written: check_annotations says what is wrong with them."""
    column = "midi" if "midi" in frame.columns else "note"
    values = []
    for i, value in enumerate(frame[column]):
        text = "" if pd.isna(value) else str(value).strip()
        if not text:
            raise DatasetError(f"{annotations}: {row_label(i)}: empty {column!r}")
        if column == "midi" and _is_number(text):
            values.append(text)
            continue
        try:
            values.append(str(midi_from_name(text)))
        except ValueError:
            number = "a MIDI number (21-108) or " if column == "midi" else ""
            raise DatasetError(
                f"{annotations}: {row_label(i)}: {column}={text!r}, expected {number}a piano "
                f"key's note name like 'C4' or 'A#0' (A0-C8, sharps only){_flat_hint(text)}"
            ) from None
    return values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_key(midi: float) -> bool:
    return not np.isnan(midi) and float(midi).is_integer() and is_piano_key(int(midi))


def _flat_hint(text: str) -> str:
    """'Bb3' -> "; write 'A#3'": the contract names every key with a sharp."""
    match = re.fullmatch(r"([A-G])b(-?\d)", text)
    if match is None:
        return ""
    letter, octave = match.groups()
    midi = (int(octave) + 1) * 12 + PITCH_CLASSES.index(letter) - 1
    return f"; write {note_name(midi)!r}" if is_piano_key(midi) else ""


def _stored_paths(source_paths: pd.Series, annotations: Path) -> list[str]:
    """`audio/<path>.wav` for each recording; two recordings may not end up in one file."""
    stored: dict[str, int] = {}
    for i, relative in enumerate(source_paths):
        path = "audio/" + PurePosixPath(relative).with_suffix(".wav").as_posix()
        if path in stored:
            raise DatasetError(
                f"{annotations}: {row_label(i)}: audio_path={relative!r} and "
                f"{row_label(stored[path])}: {source_paths.iloc[stored[path]]!r} would both be "
                f"stored as {path}; rename one"
            )
        stored[path] = i
    return list(stored)


def _recordings_sha256(source: Path, paths: pd.Series, annotations: Path) -> str:
    """One sha256 over every recording's bytes: replacing a take imports it again."""
    digest = hashlib.sha256()
    for i, relative in enumerate(paths):
        path = source / relative
        if not path.is_file():
            raise DatasetError(f"{annotations}: {row_label(i)}: recording {path} does not exist")
        digest.update(f"{relative}\0{file_sha256(path)}\0".encode())
    return digest.hexdigest()


def _cut_recordings(
    source: Path, paths: pd.Series, duration_s: float
) -> tuple[list[tuple[np.ndarray, int] | None], list[str], dict[str, int]]:
    """(window, rate) per recording, None for one left out; what was left out and why;
    the counts the manifest keeps."""
    windows: list[tuple[np.ndarray, int] | None] = []
    dropped: list[str] = []
    counts = dict.fromkeys(IMPORT_COUNTS, 0)
    for relative in tqdm(paths, desc="cutting recordings", unit="file"):
        path = source / relative
        audio, rate = read_wav(path)
        try:
            window = cut_window(audio, rate, duration_s, source=str(path))
        except (NoNoteFound, RecordingTooShort) as error:
            counts["no_note" if isinstance(error, NoNoteFound) else "too_short"] += 1
            dropped.append(str(error))
            windows.append(None)
            continue
        counts["cut"] += int(window.cut_s > 0)
        counts["padded"] += int(window.padded_s > 0)
        windows.append((window.audio, rate))
    counts["recordings"] = len(windows)
    return windows, dropped, counts


def _write_window(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    # FLOAT, not PCM_16: the window is the recording's own samples (24-bit, or float above
    # full scale) mixed to mono, kept as read: no second quantisation, no clipping.
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, audio, sample_rate, subtype="FLOAT")
