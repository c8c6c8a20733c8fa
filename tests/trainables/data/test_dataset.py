import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile

from tests.conftest import SMALL_SPEC
from trainables.data.annotations import COLUMNS, load_annotations
from trainables.data.dataset import DatasetSpec, build_dataset, dataset_hash
from trainables.data.recordings import import_recordings
from trainables.errors import DatasetError, SoundFontError


def test_annotations_follow_the_contract(small_root):
    frame = load_annotations(small_root)
    assert tuple(frame.columns) == COLUMNS
    assert len(frame) == 88 * 2 * 2
    assert set(frame["instrument"]) == {"TimGM6mb-p0", "TimGM6mb-p1"}
    assert set(frame["velocity"]) == {60, 110}
    assert frame["audio_path"].str.startswith("audio/").all()
    assert not frame["audio_path"].str.startswith("/").any()


def test_split_is_stratified_by_key(small_root):
    frame = load_annotations(small_root)
    test_per_key = frame[frame["split"] == "test"].groupby("midi").size()
    assert len(test_per_key) == 88 and (test_per_key == 1).all()  # round(4 * 0.2) each


def test_same_inputs_give_same_bytes_and_hash(small_dataset, tmp_path):
    again = build_dataset(tmp_path / "again", SMALL_SPEC)
    assert again.dataset_hash == small_dataset.dataset_hash == dataset_hash(again.root)
    for name in ("annotations.csv", "audio/TimGM6mb-p1/C4_v60.wav", "targets/A#0.png"):
        assert (again.root / name).read_bytes() == (small_dataset.root / name).read_bytes()


def test_second_build_is_a_no_op(small_dataset):
    wav = small_dataset.root / "audio/TimGM6mb-p0/A0_v60.wav"
    before = wav.stat().st_mtime_ns
    again = build_dataset(small_dataset.root, SMALL_SPEC)
    assert not again.built
    assert again.dataset_hash == small_dataset.dataset_hash
    assert wav.stat().st_mtime_ns == before


def test_other_inputs_into_a_built_folder_are_refused(small_dataset):
    with pytest.raises(DatasetError, match="differs in.*velocities.*--overwrite"):
        build_dataset(small_dataset.root, DatasetSpec(presets=(0, 1), velocities=(60,)))
    assert load_annotations(small_dataset.root).shape[0] == 352  # nothing lost


def test_held_out_instruments_split(tmp_path):
    spec = DatasetSpec(presets=(0, 1), velocities=(90,), held_out_instruments=("TimGM6mb-p1",))
    info = build_dataset(tmp_path / "holdout", spec)
    frame = load_annotations(info.root)
    assert set(frame.loc[frame["split"] == "test", "instrument"]) == {"TimGM6mb-p1"}
    assert set(frame.loc[frame["split"] == "train", "instrument"]) == {"TimGM6mb-p0"}


def test_unknown_held_out_instrument_is_named(tmp_path):
    spec = DatasetSpec(presets=(0,), velocities=(90,), held_out_instruments=("Steinway",))
    with pytest.raises(DatasetError, match="'Steinway'"):
        build_dataset(tmp_path / "x", spec)


def test_missing_preset_fails_before_rendering(tmp_path):
    with pytest.raises(SoundFontError, match=r"no bank-0 preset\(s\) \[200\]"):
        build_dataset(tmp_path / "x", DatasetSpec(presets=(0, 200), velocities=(90,)))
    assert not (tmp_path / "x").exists()


@pytest.fixture
def copy_root(small_root, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(small_root, root, ignore=shutil.ignore_patterns("cache"))
    return root


def rewrite(root, edit):
    frame = pd.read_csv(root / "annotations.csv", dtype=str)
    frame = edit(frame)
    frame.to_csv(root / "annotations.csv", index=False)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.drop(columns=["split"]), r"missing column\(s\) \['split'\]"),
        (
            lambda f: f.assign(midi=f["midi"].where(f.index != 3, "120")),
            "row 5: midi=120 is not a piano key",
        ),
        (
            lambda f: f.assign(midi=f["midi"].where(f.index != 0, "sixty")),
            "row 2: midi='sixty', expected an integer",
        ),
        (
            lambda f: f.assign(note=f["note"].where(f.index != 1, "Bb0")),
            "row 3: note='Bb0' does not match",
        ),
        (
            lambda f: f.assign(register=f["register"].where(f.index != 2, "high")),
            "row 4: register='high', expected 'low'",
        ),
        (
            lambda f: f.assign(split=f["split"].where(f.index != 0, "validation")),
            "row 2: split='validation'",
        ),
        (
            lambda f: f.assign(audio_path=f["audio_path"].where(f.index != 0, "../../etc/passwd")),
            "row 2: audio_path='../../etc/passwd' leaves the dataset root",
        ),
        (
            lambda f: f.assign(audio_path=f["audio_path"].where(f.index != 0, "/etc/passwd")),
            "leaves the dataset root",
        ),
        (lambda f: pd.concat([f, f.iloc[[7]]]), "row 354: duplicate audio_path"),
        (lambda f: f.iloc[0:0], "no rows"),
    ],
)
def test_bad_annotations_name_the_row_and_field(copy_root, edit, message):
    rewrite(copy_root, edit)
    with pytest.raises(DatasetError, match=message):
        load_annotations(copy_root)


def test_duplicate_sample_under_another_path_is_caught(copy_root):
    def edit(frame):
        extra = frame.iloc[[0]].assign(audio_path="audio/copy.wav")
        return pd.concat([frame, extra])

    shutil.copy(copy_root / "audio/TimGM6mb-p0/A0_v60.wav", copy_root / "audio/copy.wav")
    rewrite(copy_root, edit)
    with pytest.raises(DatasetError, match="row 354: duplicate sample.*midi=21"):
        load_annotations(copy_root)


def test_missing_audio_file_is_named(copy_root):
    (copy_root / "audio/TimGM6mb-p0/A0_v60.wav").unlink()
    with pytest.raises(DatasetError, match="A0_v60.wav is missing"):
        load_annotations(copy_root)


def make_recordings(small_root, folder, n=12):
    """A folder of 'real recordings': copies of rendered notes, the first in 3 channels."""
    frame = load_annotations(small_root).iloc[:n]
    rows = []
    for i, row in enumerate(frame.itertuples()):
        audio, rate = soundfile.read(small_root / row.audio_path, dtype="float32")
        name = f"take{i:02d}.wav"
        if i == 0:
            soundfile.write(folder / name, np.stack([audio] * 3, axis=1), rate)
        else:
            soundfile.write(folder / name, audio, rate)
        rows.append(
            {
                "audio_path": name,
                "midi": row.midi,
                "velocity": row.velocity,
                "instrument": f"studio-{row.instrument}",
            }
        )
    pd.DataFrame(rows).to_csv(folder / "notes.csv", index=False)
    return folder / "notes.csv"


def test_import_recordings(small_root, tmp_path):
    source = tmp_path / "recordings"
    source.mkdir()
    notes = make_recordings(small_root, source)
    info = import_recordings(source, notes, tmp_path / "real")
    frame = load_annotations(info.root)
    assert len(frame) == 12 and set(frame["split"]) == {"train", "test"}
    assert frame["note"].tolist()[0] == "A0"
    assert (info.root / "targets" / "C8.png").is_file()
    assert info.duration_s == pytest.approx(1.5)
    again = import_recordings(source, notes, tmp_path / "real")
    assert not again.built and again.dataset_hash == info.dataset_hash


def test_import_stops_at_a_file_that_does_not_decode(small_root, tmp_path):
    source = tmp_path / "recordings"
    source.mkdir()
    notes = make_recordings(small_root, source)
    (source / "take03.wav").write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(DatasetError, match="take03.wav: not a readable wav file"):
        import_recordings(source, notes, tmp_path / "real")
    assert not (tmp_path / "real").exists()


def test_import_leaves_out_a_silent_or_shorter_take(small_root, tmp_path):
    """Recordings of other lengths are fitted to the note length; a silent one is named."""
    source = tmp_path / "recordings"
    source.mkdir()
    notes = make_recordings(small_root, source)
    (source / "take05.wav").write_bytes((source / "take05.wav").read_bytes()[:-4000])
    soundfile.write(source / "take03.wav", np.zeros(33075, dtype=np.float32), 22050)
    info = import_recordings(source, notes, tmp_path / "real")
    assert info.n_samples == 11 and info.no_note == 1 and info.padded >= 1
    assert len(info.dropped) == 1 and "take03.wav: no note: silent" in info.dropped[0]
    assert "audio/take03.wav" not in set(load_annotations(info.root)["audio_path"])
    assert soundfile.info(info.root / "audio/take05.wav").frames == 33075
