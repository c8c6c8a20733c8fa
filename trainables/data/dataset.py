"""Build a dataset folder: rendered wavs, 88 engraved targets, annotations.csv, a manifest.

    <root>/audio/<instrument>/<note>_v<velocity>.wav
    <root>/targets/<note>.png
    <root>/annotations.csv
    <root>/dataset.json      what was built from what, and the dataset hash

The same inputs give the same bytes and hash; building again with the same inputs is a
no-op, and building with other inputs into a folder that holds a dataset is refused.
A dataset of real recordings is imported by trainables/data/recordings.py, into the same layout
with the same manifest, through the shared helpers here (`up_to_date`, `clear_root`,
`finish_dataset`, `file_sha256`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
from tqdm import tqdm

from trainables.data.annotations import (
    COLUMNS,
    instrument_split,
    load_annotations,
    stratified_split,
)
from trainables.data.audio import SILENCE_PEAK
from trainables.data.engraving import engrave_targets
from trainables.data.instruments import (
    DEFAULT_SOUNDFONT,
    PIANO_PRESETS,
    Instrument,
    NoteTiming,
    preset_names,
)
from trainables.data.rendering import DEFAULT_RENDERER, check_renderer, render_notes
from trainables.errors import DatasetError, SoundFontError
from trainables.keys import KEYS

log = logging.getLogger(__name__)
MANIFEST = "dataset.json"
#: A note this far below its instrument's median peak is dropped as (nearly) silent.
RELATIVE_SILENCE_DB = -40.0
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
    renderer: str = DEFAULT_RENDERER

    def instruments(self) -> list[Instrument]:
        return [Instrument(sf, preset) for sf in self.soundfonts for preset in self.presets]

    def describe(self) -> dict:
        """JSON form for the manifest: SoundFonts by name and content hash, not by path."""
        described = asdict(self)
        described["soundfonts"] = {sf.name: file_sha256(sf) for sf in self.soundfonts}
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


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, as hex."""
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
    """Fail on a missing SoundFont or preset, or an unknown renderer, before rendering."""
    check_renderer(spec.renderer)
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
    existing = up_to_date(root, description, overwrite)
    if existing is None:
        clear_root(root)
    return existing


def up_to_date(root: Path, description: dict, overwrite: bool) -> DatasetInfo | None:
    """The dataset in `root` if it was built from the same inputs; refuses other inputs
    unless `overwrite`. Touches nothing, so an import can check before reading any audio."""
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        return None
    manifest = json.loads(manifest_path.read_text())
    built_from = manifest.get("spec", {})
    if "renderer" in description and "renderer" not in built_from:  # built before the choice
        built_from = {**built_from, "renderer": DEFAULT_RENDERER}
    if built_from == description:
        return _info(root, manifest, built=False)
    if not overwrite:
        changed = sorted(k for k in description if built_from.get(k) != description[k])
        raise DatasetError(
            f"{root} already holds a dataset built from other inputs (differs in "
            f"{changed}); choose another --root or pass --overwrite"
        )
    return None


def clear_root(root: Path) -> None:
    """Remove a dataset's audio, targets, cache and manifest from `root`; create `root`."""
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
            notes = list(render_notes(instrument, spec.velocities, timing, renderer=spec.renderer))
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
    return finish_dataset(root, frame, timing.hold_s + timing.release_s, description, dropped)


def finish_dataset(
    root: Path,
    frame: pd.DataFrame,
    duration_s: float,
    description: dict,
    dropped: list[str],
    counts: dict[str, int] | None = None,
) -> DatasetInfo:
    """Write annotations.csv and the manifest (with the dataset hash) for the audio in `root`."""
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
