"""Build a dataset folder: rendered wavs, 88 engraved targets, annotations.csv, a manifest.

    <root>/audio/<instrument>/<note>_v<velocity>.wav
    <root>/audio/<recording's path>.wav   (an import: each cut to the note length)
    <root>/targets/<note>.png
    <root>/annotations.csv
    <root>/dataset.json      what was built from what, and the dataset hash

The same inputs give the same bytes and hash; building again with the same inputs is a
no-op, and building with other inputs into a folder that holds a dataset is refused.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import math
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import soundfile
from tqdm import tqdm

from trainables.annotations import (
    COLUMNS,
    check_annotations,
    instrument_split,
    load_annotations,
    read_csv_text,
    stratified_split,
)
from trainables.audio import SILENCE_PEAK, read_wav
from trainables.engraving import engrave_targets
from trainables.errors import DatasetError, SoundFontError
from trainables.keys import (
    KEYS,
    PITCH_CLASSES,
    is_piano_key,
    midi_from_name,
    note_name,
    register_of,
)
from trainables.onsets import NoNoteFound, RecordingTooShort, cut_window
from trainables.soundfonts import (
    DEFAULT_SOUNDFONT,
    PIANO_PRESETS,
    Instrument,
    NoteTiming,
    preset_names,
    render_notes,
)

log = logging.getLogger(__name__)
MANIFEST = "dataset.json"
#: A note this far below its instrument's median peak is dropped as (nearly) silent.
RELATIVE_SILENCE_DB = -40.0
#: An imported recording is cut to the rendered notes' length unless told otherwise.
IMPORT_DURATION_S = NoteTiming().hold_s + NoteTiming().release_s
#: What the manifest of an import counts (all 0 for a rendered dataset).
IMPORT_COUNTS = ("recordings", "cut", "padded", "no_note", "too_short")


@dataclass(frozen=True)
class DatasetSpec:
    """Everything a rendered dataset is built from."""

    soundfonts: tuple[Path, ...] = (DEFAULT_SOUNDFONT,)
    presets: tuple[int, ...] = PIANO_PRESETS
    velocities: tuple[int, ...] = (40, 80, 120)
    timing: NoteTiming = field(default_factory=NoteTiming)
    test_fraction: float = 0.2
    held_out_instruments: tuple[str, ...] = ()
    seed: int = 0

    def instruments(self) -> list[Instrument]:
        return [Instrument(sf, preset) for sf in self.soundfonts for preset in self.presets]

    def describe(self) -> dict:
        """JSON form for the manifest: SoundFonts by name and content hash, not by path."""
        described = asdict(self)
        described["soundfonts"] = {sf.name: _file_sha256(sf) for sf in self.soundfonts}
        described["presets"] = list(self.presets)
        described["velocities"] = list(self.velocities)
        described["held_out_instruments"] = list(self.held_out_instruments)
        return described


@dataclass(frozen=True)
class DatasetInfo:
    root: Path
    dataset_hash: str
    n_samples: int
    duration_s: float
    built: bool  # False when the folder was already up to date
    dropped: tuple[str, ...] = ()
    # an import only: how many recordings were read, and how each was fitted to duration_s
    recordings: int = 0
    cut: int = 0  # went on past onset + duration_s: the rest left out
    padded: int = 0  # ended before onset + duration_s: silence added
    no_note: int = 0  # left out: silence or steady noise only
    too_short: int = 0  # left out: too short for the onset search


def _file_sha256(path: Path) -> str:
    with path.open("rb") as file:  # streamed: a folder of long takes need not fit in memory
        return hashlib.file_digest(file, "sha256").hexdigest()


def dataset_hash(root: Path) -> str:
    """sha256 over annotations.csv, every wav it names and the 88 targets."""
    digest = hashlib.sha256()
    annotations = root / "annotations.csv"
    digest.update(annotations.read_bytes())
    for relative in pd.read_csv(annotations, usecols=["audio_path"])["audio_path"]:
        digest.update(relative.encode())
        digest.update((root / relative).read_bytes())
    for key in KEYS:
        digest.update((root / "targets" / f"{key.name}.png").read_bytes())
    return digest.hexdigest()


def read_manifest(root: Path) -> dict:
    path = root / MANIFEST
    if not path.is_file():
        raise DatasetError(
            f"{root} holds no dataset ({MANIFEST} missing): run `sheetsweep-dataset build "
            f"--root {root}` or `sheetsweep-dataset import`"
        )
    return json.loads(path.read_text())


def _check_soundfonts(spec: DatasetSpec) -> None:
    """Fail on a missing SoundFont or preset before rendering anything."""
    for soundfont in spec.soundfonts:
        available = preset_names(soundfont)
        missing = [p for p in spec.presets if p not in available]
        if missing:
            raise SoundFontError(
                f"{soundfont} has no bank-0 preset(s) {missing} "
                f"(it defines {sorted(available)[:16]}...)"
            )
    names = [i.name for i in spec.instruments()]
    if len(set(names)) != len(names):
        raise SoundFontError(f"two SoundFonts share a file name: {sorted(names)}")


def _prepare_root(root: Path, description: dict, overwrite: bool) -> DatasetInfo | None:
    """The existing dataset if it was built from the same inputs, else clear the way."""
    existing = _up_to_date(root, description, overwrite)
    if existing is None:
        _clear(root)
    return existing


def _up_to_date(root: Path, description: dict, overwrite: bool) -> DatasetInfo | None:
    """The dataset in `root` if it was built from the same inputs; refuses other inputs
    unless `overwrite`. Touches nothing, so an import can check before reading any audio."""
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        return None
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("spec") == description:
        return _info(root, manifest, built=False)
    if not overwrite:
        changed = sorted(
            k for k in description if manifest.get("spec", {}).get(k) != description[k]
        )
        raise DatasetError(
            f"{root} already holds a dataset built from other inputs (differs in "
            f"{changed}); choose another --root or pass --overwrite"
        )
    return None


def _clear(root: Path) -> None:
    for sub in ("audio", "targets", "cache"):
        shutil.rmtree(root / sub, ignore_errors=True)
    (root / MANIFEST).unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)


def _info(root: Path, manifest: dict, built: bool) -> DatasetInfo:
    counts = {name: int(manifest.get(name, 0)) for name in IMPORT_COUNTS}
    return DatasetInfo(
        root,
        manifest["dataset_hash"],
        manifest["n_samples"],
        manifest["duration_s"],
        built=built,
        dropped=tuple(manifest.get("dropped", ())),
        **counts,
    )


def _write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16")


def build_dataset(root: Path, spec: DatasetSpec, overwrite: bool = False) -> DatasetInfo:
    """Render every (instrument, key, velocity), engrave the targets, split, hash."""
    _check_soundfonts(spec)
    description = spec.describe()
    existing = _prepare_root(root, description, overwrite)
    if existing is not None:
        return existing
    timing = spec.timing
    rows, dropped, clipped = [], [], 0
    total = len(spec.instruments()) * len(KEYS) * len(spec.velocities)
    with tqdm(total=total, desc="rendering notes", unit="note") as progress:
        for instrument in spec.instruments():
            notes = list(render_notes(instrument, spec.velocities, timing))
            peaks = np.array([np.abs(audio).max() for _, _, audio in notes])
            floor = max(np.median(peaks) * 10 ** (RELATIVE_SILENCE_DB / 20), SILENCE_PEAK)
            for (key, velocity, audio), peak in zip(notes, peaks, strict=True):
                progress.update()
                sample = f"{instrument.name} {key.name} velocity {velocity}"
                if peak < floor:
                    dropped.append(f"{sample} (peak {peak:.2g})")
                    continue
                clipped += int(peak > 1.0)
                relative = f"audio/{instrument.name}/{key.name}_v{velocity}.wav"
                _write_wav(root / relative, audio, timing.sample_rate)
                rows.append(
                    (relative, key.midi, key.name, key.register.value, instrument.name, velocity)
                )
    if dropped:
        log.warning("dropped %d nearly silent note(s): %s", len(dropped), "; ".join(dropped))
    if clipped:
        log.warning("%d note(s) clipped at full scale; lower NoteTiming.gain_db", clipped)
    engrave_targets(root / "targets")
    frame = pd.DataFrame(rows, columns=list(COLUMNS[:-1]))
    if spec.held_out_instruments:
        frame["split"] = instrument_split(frame, list(spec.held_out_instruments))
    else:
        frame["split"] = stratified_split(frame, spec.test_fraction, spec.seed)
    return _finish(root, frame, timing.hold_s + timing.release_s, description, dropped)


def _finish(
    root: Path,
    frame: pd.DataFrame,
    duration_s: float,
    description: dict,
    dropped: list[str],
    counts: dict[str, int] | None = None,
) -> DatasetInfo:
    frame.to_csv(root / "annotations.csv", index=False, lineterminator="\n")
    manifest = {
        "spec": description,
        "dataset_hash": dataset_hash(root),
        "n_samples": len(frame),
        "duration_s": duration_s,
        "dropped": dropped,
        **(counts or {}),
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return _info(root, manifest, built=True)


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
        "annotations": _file_sha256(annotations),
        "recordings": _recordings_sha256(source, frame["audio_path"], annotations),
        "duration_s": duration_s,
        "test_fraction": test_fraction,
        "seed": seed,
    }
    existing = _up_to_date(root, description, overwrite)
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
    _clear(root)
    kept_windows = [window for window in windows if window is not None]
    for relative, (audio, rate) in zip(frame["audio_path"], kept_windows, strict=True):
        _write_window(root / relative, audio, rate)
    engrave_targets(root / "targets")
    return _finish(root, frame, duration_s, description, dropped, counts)


def _first(messages: list[str], n: int = 5) -> str:
    more = f"; and {len(messages) - n} more" if len(messages) > n else ""
    return "; ".join(messages[:n]) + more


def _row(index: int) -> str:
    return f"row {index + 2}"  # the header is line 1


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
            raise DatasetError(f"{annotations}: {_row(i)}: empty {column!r}")
        if column == "midi" and _is_number(text):
            values.append(text)
            continue
        try:
            values.append(str(midi_from_name(text)))
        except ValueError:
            number = "a MIDI number (21-108) or " if column == "midi" else ""
            raise DatasetError(
                f"{annotations}: {_row(i)}: {column}={text!r}, expected {number}a piano "
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
    return not np.isnan(midi) and float(midi).is_integer() and 21 <= midi <= 108


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
                f"{annotations}: {_row(i)}: audio_path={relative!r} and "
                f"{_row(stored[path])}: {source_paths.iloc[stored[path]]!r} would both be "
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
            raise DatasetError(f"{annotations}: {_row(i)}: recording {path} does not exist")
        digest.update(f"{relative}\0{_file_sha256(path)}\0".encode())
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


def ensure_dataset(root: Path, spec: DatasetSpec | None, expected_hash: str) -> None:
    """Make sure this node holds the dataset the driver planned with.

    On a cluster each node builds a rendered dataset itself (it is deterministic and takes
    seconds) unless the root is on shared storage; a file lock keeps two trials on one node
    from building it at once. An imported dataset (`spec` None) must already be there.
    """
    if not (root / MANIFEST).is_file():
        if spec is None:
            raise DatasetError(f"{root} holds no dataset on this node; put it on shared storage")
        root.mkdir(parents=True, exist_ok=True)
        with open(root.parent / f".{root.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            build_dataset(root, spec)
    found = read_manifest(root)["dataset_hash"]
    if found != expected_hash:
        raise DatasetError(
            f"{root} on this node has dataset hash {found[:12]}, the sweep planned with "
            f"{expected_hash[:12]}: the nodes see different data"
        )


def open_dataset(root: Path) -> tuple[dict, pd.DataFrame]:
    """The manifest and the validated annotations of a built dataset."""
    return read_manifest(root), load_annotations(root)
