"""`sheetsweep-dataset import` of real recordings: any length, rate, channels and lead-in
silence; each cut to the note length from its onset, the ones without a note left out."""

import json

import numpy as np
import pandas as pd
import pytest
import soundfile

from trainables.data.annotations import load_annotations
from trainables.data.audio import load_waveforms
from trainables.data.cli import main
from trainables.data.recordings import import_recordings
from trainables.errors import DatasetError

#: Room noise under every take, -80 dBFS RMS: a real recording is never digital silence.
ROOM_NOISE = 1e-4


@pytest.fixture(scope="module")
def note(small_root):
    """A rendered piano note, 1.5 s at 22.05 kHz: what the recordings are made of."""
    audio, rate = soundfile.read(small_root / "audio/TimGM6mb-p0/C4_v110.wav", dtype="float32")
    assert rate == 22050 and audio.shape == (33075,)
    return audio


def resample(audio, rate):
    """From 22.05 kHz to `rate` (linear: a test fixture, not a resampler)."""
    n = round(audio.shape[0] * rate / 22050)
    return np.interp(np.arange(n) / rate, np.arange(audio.shape[0]) / 22050, audio)


def take(note, rate, lead_s, tail_s=0.0, keep_s=1.5, seed=0):
    """A recording: `lead_s` of room noise, the note's first `keep_s`, `tail_s` of noise."""
    body = resample(note[: round(keep_s * 22050)], rate)
    audio = np.concatenate([np.zeros(round(lead_s * rate)), body, np.zeros(round(tail_s * rate))])
    noise = np.random.default_rng(seed).normal(0, ROOM_NOISE, audio.shape[0])
    return (audio + noise).astype(np.float32)


def level_db(audio):
    return 10 * np.log10(np.mean(np.asarray(audio, dtype=np.float64) ** 2) + 1e-12)


#: name -> (rate, lead-in s, tail s, seconds of the note kept, channels); with a 1.5 s
#: window, two go on past it (cut) and two end before it (padded).
TAKES = {
    "early.wav": (44100, 0.3, 0.7, 1.5, 2),  # 2.5 s, note at 0.3 s: cut
    "late/take.flac": (48000, 0.1, 1.0, 1.5, 1),  # 2.6 s FLAC at 48 kHz: cut
    "short.wav": (22050, 0.0, 0.0, 1.2, 1),  # 1.2 s, note at 0: padded
    "lead.wav": (22050, 0.3, 0.0, 0.9, 1),  # 1.2 s, note at 0.3 s: padded
}


def write_takes(folder, note, rows=None):
    """The four takes and an annotations file naming them (plus `rows`); its path."""
    for i, (name, (rate, lead, tail, keep, channels)) in enumerate(TAKES.items()):
        audio = take(note, rate, lead, tail, keep, seed=i)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(folder / name, np.stack([audio] * channels, axis=1), rate)
    midi = ["60", "62", "64", "65"]
    frame = pd.DataFrame({"audio_path": list(TAKES), "midi": midi, "instrument": "studio"})
    frame = pd.concat([frame, pd.DataFrame(rows or [])], ignore_index=True)
    frame.to_csv(folder / "notes.csv", index=False)
    return folder / "notes.csv"


@pytest.fixture
def takes(tmp_path, note):
    folder = tmp_path / "takes"
    folder.mkdir()
    return folder, write_takes(folder, note)


def test_recordings_of_any_length_rate_and_lead_in_are_cut_at_their_onset(takes, note, tmp_path):
    source, notes = takes
    info = import_recordings(source, notes, tmp_path / "real")
    assert (info.n_samples, info.recordings, info.cut, info.padded) == (4, 4, 2, 2)
    assert info.dropped == () and info.duration_s == 1.5
    frame = load_annotations(info.root)
    assert frame["audio_path"].tolist() == [
        "audio/early.wav",
        "audio/late/take.wav",
        "audio/short.wav",
        "audio/lead.wav",
    ]
    for stored, (rate, *_) in zip(frame["audio_path"], TAKES.values(), strict=True):
        meta = soundfile.info(info.root / stored)
        assert (meta.samplerate, meta.channels, meta.frames) == (rate, 1, round(1.5 * rate))
    # the take with 0.3 s of room noise before the note starts at the note
    ten_ms = 441
    recorded, _ = soundfile.read(source / "early.wav", dtype="float32")
    stored, _ = soundfile.read(info.root / "audio/early.wav", dtype="float32")
    assert level_db(recorded[:ten_ms]) < -75  # the recording itself starts silent
    assert abs(level_db(stored[:ten_ms]) - level_db(resample(note, 44100)[:ten_ms])) < 3
    # the short take: the note, then silence up to 1.5 s
    short, _ = soundfile.read(info.root / "audio/short.wav", dtype="float32")
    assert level_db(short[: 22050 // 100]) > -40 and not short[round(1.21 * 22050) :].any()
    manifest = json.loads((info.root / "dataset.json").read_text())
    assert (manifest["duration_s"], manifest["cut"], manifest["padded"]) == (1.5, 2, 2)
    # the rest of the platform reads them as it reads rendered notes
    assert load_waveforms(info.root, frame["audio_path"].tolist(), 1.5, 22050).shape == (
        4,
        33075,
    )


def test_same_inputs_are_a_no_op_other_bytes_or_duration_are_not(takes, note, tmp_path):
    source, notes = takes
    first = import_recordings(source, notes, tmp_path / "real")
    again = import_recordings(source, notes, tmp_path / "real")
    assert not again.built and again.dataset_hash == first.dataset_hash
    assert (again.cut, again.padded, again.recordings) == (2, 2, 4)
    with pytest.raises(DatasetError, match=r"differs in \['duration_s'\]"):
        import_recordings(source, notes, tmp_path / "real", duration_s=1.0)
    soundfile.write(source / "short.wav", take(note, 22050, 0.2, keep_s=0.8, seed=9), 22050)
    with pytest.raises(DatasetError, match=r"differs in \['recordings'\].*--overwrite"):
        import_recordings(source, notes, tmp_path / "real")
    replaced = import_recordings(source, notes, tmp_path / "real", overwrite=True)
    assert replaced.built and replaced.dataset_hash != first.dataset_hash


def test_recordings_without_a_note_are_left_out_and_named(tmp_path, note, capsys):
    source = tmp_path / "takes"
    source.mkdir()
    rng = np.random.default_rng(1)
    soundfile.write(source / "silence.wav", np.zeros(22050, dtype=np.float32), 22050)
    soundfile.write(source / "noise.wav", rng.normal(0, 0.05, 44100).astype(np.float32), 44100)
    soundfile.write(source / "click.wav", take(note, 22050, 0.0, keep_s=0.02), 22050)
    extra = [
        {"audio_path": name, "midi": midi, "instrument": "studio"}
        for name, midi in (("silence.wav", "67"), ("noise.wav", "69"), ("click.wav", "71"))
    ]
    notes = write_takes(source, note, extra)
    root = tmp_path / "real"
    argv = ["import", "--recordings", str(source), "--annotations", str(notes)]
    assert main([*argv, "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"dataset {root}: built, 4 samples of 1.5 s" in out
    assert "imported 4 of 7 recording(s), each cut to 1.5 s from its onset: " in out
    assert "2 cut short, 2 padded with silence" in out
    assert "left out 3 recording(s): 2 with no detectable note, 1 too short" in out
    assert f"  {source / 'silence.wav'}: no note: silent" in out
    assert f"  {source / 'noise.wav'}: no note: its level varies by only" in out
    assert f"  {source / 'click.wav'}: lasts 0.020 s; the onset search needs" in out
    manifest = json.loads((root / "dataset.json").read_text())
    assert (manifest["no_note"], manifest["too_short"], len(manifest["dropped"])) == (2, 1, 3)
    assert len(load_annotations(root)) == 4
    assert main([*argv, "--root", str(root)]) == 0  # up to date: the same report
    assert "already up to date" in (out := capsys.readouterr().out) and "click.wav" in out


def test_duration_option_sets_the_stored_length(takes, tmp_path, capsys):
    source, notes = takes
    root = tmp_path / "real"
    argv = ["import", "--recordings", str(source), "--annotations", str(notes)]
    assert main([*argv, "--root", str(root), "--duration", "0.5"]) == 0
    assert "4 samples of 0.5 s" in capsys.readouterr().out
    assert soundfile.info(root / "audio/early.wav").frames == 22050
    assert json.loads((root / "dataset.json").read_text())["duration_s"] == 0.5
    assert main([*argv, "--root", str(tmp_path / "x"), "--duration", "-1"]) == 2
    assert "error: duration -1.0 s: expected a positive" in capsys.readouterr().err


def test_nothing_left_is_an_error(tmp_path):
    source = tmp_path / "takes"
    source.mkdir()
    for name in ("a.wav", "b.wav"):
        soundfile.write(source / name, np.zeros(22050, dtype=np.float32), 22050)
    rows = {"audio_path": ["a.wav", "b.wav"], "midi": ["60", "61"], "instrument": "x"}
    pd.DataFrame(rows).to_csv(source / "notes.csv", index=False)
    with pytest.raises(DatasetError, match=r"none of its 2 recording\(s\).*a.wav: no note"):
        import_recordings(source, source / "notes.csv", tmp_path / "real")
    assert not (tmp_path / "real").exists()


def test_note_names_beside_midi_numbers(takes, tmp_path):
    source, notes = takes
    frame = pd.read_csv(notes, dtype=str).assign(midi=["60", "D4", "A#0", "C8"])
    frame.to_csv(notes, index=False)
    info = import_recordings(source, notes, tmp_path / "named")
    imported = load_annotations(info.root)
    assert imported["midi"].tolist() == [60, 62, 22, 108]
    assert imported["note"].tolist() == ["C4", "D4", "A#0", "C8"]
    assert imported["register"].tolist() == ["mid", "mid", "low", "high"]
    frame.drop(columns=["midi"]).assign(note=["C4", "D4", "A#0", "C8"]).to_csv(notes, index=False)
    info = import_recordings(source, notes, tmp_path / "notes")
    assert load_annotations(info.root)["midi"].tolist() == [60, 62, 22, 108]


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("midi", "H4", r"notes.csv: row 3: midi='H4', expected a MIDI number \(21-108\) or"),
        ("midi", "Bb3", r"row 3: midi='Bb3', expected .*sharps only\); write 'A#3'"),
        ("midi", "C9", r"row 3: midi='C9', expected .*A0-C8"),
        ("note", "Bb3", r"row 3: note='Bb3', expected a piano key's note name.*'A#3'"),
        ("note", "60", r"row 3: note='60', expected a piano key's note name"),
    ],
)
def test_a_bad_note_name_names_file_row_and_value(tmp_path, column, value, message):
    names = ["C4", value, "E4"]
    frame = pd.DataFrame({"audio_path": ["a.wav", "b.wav", "c.wav"], "instrument": "x"})
    frame.assign(**{column: names}).to_csv(tmp_path / "notes.csv", index=False)
    with pytest.raises(DatasetError, match=message):
        import_recordings(tmp_path, tmp_path / "notes.csv", tmp_path / "real")


def test_two_recordings_stored_under_one_name_are_refused(takes, note, tmp_path):
    source, notes = takes
    soundfile.write(source / "short.flac", take(note, 22050, 0.0), 22050)
    frame = pd.read_csv(notes, dtype=str)
    extra = {"audio_path": "short.flac", "midi": "70", "instrument": "studio"}
    pd.concat([frame, pd.DataFrame([extra])]).to_csv(notes, index=False)
    with pytest.raises(DatasetError, match=r"row 6: audio_path='short.flac' and row 4: "):
        import_recordings(source, notes, tmp_path / "real")


LATIN_1 = "audio_path,midi,instrument\nshort.wav,60,Érard\n".encode("latin-1")
E_ACUTE_AT = LATIN_1.index(b"\xc9")  # 40


def test_annotations_that_are_not_utf8_name_the_file(takes, tmp_path):
    source, notes = takes
    notes.write_bytes(LATIN_1)
    message = rf"notes.csv: not UTF-8 text \(byte 0xc9 at offset {E_ACUTE_AT}\); save it as UTF-8"
    with pytest.raises(DatasetError, match=message):
        import_recordings(source, notes, tmp_path / "real")
    notes.write_bytes(LATIN_1.decode("latin-1").encode("utf-16"))
    with pytest.raises(DatasetError, match="notes.csv: not UTF-8 .*looks like UTF-16.*as UTF-8"):
        import_recordings(source, notes, tmp_path / "real")
    root = tmp_path / "root"
    root.mkdir()
    (root / "annotations.csv").write_bytes(LATIN_1)
    with pytest.raises(DatasetError, match=r"annotations.csv: not UTF-8.*save it as UTF-8"):
        load_annotations(root)


def test_annotations_with_a_utf8_bom_are_read(takes, small_root, tmp_path):
    source, notes = takes
    frame = pd.read_csv(notes, dtype=str).assign(instrument="Érard")
    frame.to_csv(notes, index=False, encoding="utf-8-sig")
    assert notes.read_bytes().startswith(b"\xef\xbb\xbf")
    info = import_recordings(source, notes, tmp_path / "real")
    assert set(load_annotations(info.root)["instrument"]) == {"Érard"}
    root = tmp_path / "root"
    root.mkdir()
    text = (small_root / "annotations.csv").read_text(encoding="utf-8")
    (root / "annotations.csv").write_text(text, encoding="utf-8-sig")
    assert len(load_annotations(root, check_files=False)) == 352
