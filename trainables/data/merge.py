"""Several datasets as one: a model that hears rendered SoundFonts and real recordings.

    sheetsweep-dataset merge --root data/ready --from data/pianos --from data/salamander \
        --test 'salamander-v03,salamander-v07,salamander-v11,salamander-v15' \
        --train 'salamander-*'

Every note keeps its source's split, except the instruments matched by `--test` (all their
notes are tested, never trained on) and by `--train` (all trained on); both take
comma-separated names or shell patterns, and the first rule that matches an instrument
wins. Audio is hard-linked (copied across file systems) to `audio/<instrument>/<file>`;
the sources must have the same 88 targets and note length, and no instrument in two of
them. The manifest names each source by its dataset hash, so merging again is a no-op
until a source changes.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from pathlib import Path

import pandas as pd

from trainables.data.dataset import (
    DatasetInfo,
    clear_root,
    finish_dataset,
    open_dataset,
    read_manifest,
    up_to_date,
)
from trainables.errors import DatasetError
from trainables.keys import KEYS


def patterns(text: str | None) -> tuple[str, ...]:
    """'salamander-v0[37], FluidR3_GM-p0' -> ('salamander-v0[37]', 'FluidR3_GM-p0')."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def merged_split(frame: pd.DataFrame, test: tuple[str, ...], train: tuple[str, ...]) -> pd.Series:
    """Each note's split: the first of `test`, `train` whose pattern matches its instrument,
    else the split it came with. A pattern that matches no instrument is an error."""
    instruments = sorted(frame["instrument"].unique())
    split = frame["split"].copy()
    assigned: set[str] = set()
    for value, rules in (("test", test), ("train", train)):
        for pattern in rules:
            matched = fnmatch.filter(instruments, pattern)
            if not matched:
                raise DatasetError(
                    f"--{value} {pattern!r} matches no instrument of the merged datasets "
                    f"(they have {instruments})"
                )
            for name in sorted(set(matched) - assigned):
                split[frame["instrument"] == name] = value
            assigned.update(matched)
    return split


def _same_targets(first: Path, other: Path) -> None:
    for key in KEYS:
        name = f"targets/{key.name}.png"
        if (first / name).read_bytes() != (other / name).read_bytes():
            raise DatasetError(
                f"{other / name} differs from {first / name}: datasets engraved with other "
                "targets cannot be merged"
            )


def _link(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, destination)
    except OSError:  # another file system
        shutil.copy2(source, destination)


def merge_datasets(
    root: Path,
    sources: list[Path],
    test: tuple[str, ...] = (),
    train: tuple[str, ...] = (),
    overwrite: bool = False,
) -> DatasetInfo:
    """Write the dataset made of `sources` into `root` (see the module's docstring)."""
    if len(sources) < 2:
        raise DatasetError(f"merging needs two datasets or more, got {[str(s) for s in sources]}")
    description = {  # from the manifests alone: merging again reads no annotations
        "merged": {str(source): read_manifest(source)["dataset_hash"] for source in sources},
        "test": list(test),
        "train": list(train),
    }
    existing = up_to_date(root, description, overwrite)
    if existing is not None:
        return existing
    opened = {source: open_dataset(source) for source in sources}
    lengths = {manifest["duration_s"] for manifest, _ in opened.values()}
    if len(lengths) > 1:
        raise DatasetError(f"the datasets' notes last {sorted(lengths)} s: merge equal lengths")
    owner: dict[str, Path] = {}
    for source, (_, frame) in opened.items():
        for name in frame["instrument"].unique():
            if name in owner:
                raise DatasetError(f"instrument {name!r} is in both {owner[name]} and {source}")
            owner[name] = source
    first = sources[0]
    for source in sources[1:]:
        _same_targets(first, source)

    frames, links = [], []
    for source, (_, frame) in opened.items():
        frame = frame.copy()
        relative = [
            f"audio/{instrument}/{Path(path).name}"
            for instrument, path in zip(frame["instrument"], frame["audio_path"], strict=True)
        ]
        pairs = zip(frame["audio_path"], relative, strict=True)
        links += [(source / old, new) for old, new in pairs]
        frame["audio_path"] = relative
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    frame["split"] = merged_split(frame, test, train)  # checked before `root` is touched

    clear_root(root)
    shutil.copytree(first / "targets", root / "targets")
    for old, new in links:
        _link(old, root / new)
    return finish_dataset(root, frame, lengths.pop(), description, dropped=[])
