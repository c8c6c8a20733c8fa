"""The smoke study's model leaves the lab: registered as `smoke@champion` by the README's
first command, then loaded by URI in a fresh process to transcribe a user's recording,
scored on an imported folder of recordings, and shown in the report.

The smoke model is trained for plumbing, not to read notes (its margins are hundredths of
a dB), so a transcription in a fresh process is checked against what the same model reads
here; tests/trainables/test_sheet_model.py pins that a user's recording reads as the
dataset's copy of the note.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from mlflow.entities import LoggedModelOutput
from mlflow.tracking import MlflowClient

import mlflow
from analysis.__main__ import main as report_main
from search_spaces.evaluate_cli import main as evaluate_main
from search_spaces.register_cli import main as register_main
from search_spaces.tags import (
    CONDITION,
    DATASET_NAME,
    EVALUATION,
    MODEL_RUN,
    MODEL_URI,
    ROLE,
    STATUS,
)
from tests.commands import console_script, run_command
from tests.processes import free_port, start, stop, wait_for
from tests.trainables.data.test_onsets import as_recording
from trainables.data.audio import read_wav
from trainables.data.cli import main as dataset_main
from trainables.exit_codes import Exit
from trainables.serving.sheet_model import image_from_png_base64, load_reader
from trainables.serving.transcribe_cli import main as transcribe_main

CHAMPION = "models:/smoke@champion"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def store(smoke_launch, tmp_path_factory) -> str:
    """A copy of the smoke launch's store (its artifacts stay where they are): the tests
    here add versions and runs that the other tests' store must not see."""
    folder, _ = smoke_launch
    copy = tmp_path_factory.mktemp("store") / "mlflow.db"
    shutil.copyfile(folder / "mlflow.db", copy)
    return f"sqlite:///{copy}"


@pytest.fixture(scope="module")
def champion(store) -> object:
    mlflow.set_tracking_uri(store)
    return load_reader(CHAMPION)


def test_the_launch_registered_its_best_trial_as_champion(smoke_launch, store):
    _, result = smoke_launch
    assert "registered as version 1 of 'smoke'; alias champion -> version 1" in result.stdout
    client = MlflowClient(store)
    version = client.get_model_version_by_alias("smoke", "champion")
    trials = client.search_runs(
        [client.get_experiment_by_name("smoke").experiment_id],
        f"tags.`{ROLE}` = 'trial' and tags.`{STATUS}` = 'finished'",
    )
    best = max(trials, key=lambda r: r.data.metrics["test_psnr"])  # the study's metric
    assert version.run_id == best.info.run_id
    assert float(version.tags["test_psnr"]) == pytest.approx(best.data.metrics["test_psnr"], 1e-3)
    assert version.tags["dataset_hash"] == best.data.tags["dataset_hash"]
    assert version.source == f"models:/{best.outputs.model_outputs[0].model_id}"


def test_registering_after_the_fact_reuses_the_version_and_names_a_bad_study(store, capsys):
    assert register_main(["--experiment", "smoke", "--name", "smoke", "--tracking-uri", store]) == 0
    assert "already version 1 of 'smoke'" in capsys.readouterr().out
    assert register_main(["--experiment", "smoke", "--name", "piano", "--tracking-uri", store]) == 0
    assert "registered as version 1 of 'piano'" in capsys.readouterr().out
    assert register_main(["--experiment", "nope", "--name", "x", "--tracking-uri", store]) == 2
    assert "no experiment 'nope'" in capsys.readouterr().err


def test_a_held_out_trial_is_never_champion_over_one_that_heard_every_piano(store, tmp_path):
    """A held-out trial scores pianos it never heard, often better than the champion's
    split; it is still a measurement, and the model shipped is one that heard them all."""
    copy = tmp_path / "mlflow.db"
    shutil.copyfile(store.removeprefix("sqlite:///"), copy)
    client = MlflowClient(f"sqlite:///{copy}")
    experiment = client.get_experiment_by_name("smoke").experiment_id
    champion = client.get_model_version_by_alias("smoke", "champion")
    model_id = champion.source.removeprefix("models:/")
    held = client.create_run(experiment, tags={ROLE: "trial", STATUS: "finished"})
    client.log_param(held.info.run_id, "held_out", "TimGM6mb-p1")
    client.log_metric(held.info.run_id, "test_psnr", 99.0)  # the smoke study's metric
    client.log_outputs(held.info.run_id, [LoggedModelOutput(model_id, 1)])

    args = ["--experiment", "smoke", "--name", "shipped", "--tracking-uri", f"sqlite:///{copy}"]
    assert register_main(args) == 0
    assert client.get_model_version_by_alias("shipped", "champion").run_id == champion.run_id


def test_transcribe_reads_a_44k_stereo_recording_in_a_fresh_process(
    store, champion, small_root, tmp_path
):
    audio, rate = read_wav(small_root / "audio/TimGM6mb-p0/C4_v110.wav")
    recording, user_rate = as_recording(audio, rate, silence_s=0.3, seconds=3.5)
    soundfile.write(tmp_path / "C4.wav", recording, user_rate)
    soundfile.write(tmp_path / "room.wav", np.zeros((user_rate, 2)), user_rate)
    soundfile.write(tmp_path / "click.wav", recording[13230:13300], user_rate)
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio")
    # this process's reading of the same file; that the recording reads as the dataset's
    # copy of the note does is pinned in tests/trainables/test_sheet_model.py
    expected = champion.read(recording, user_rate)
    files = ["C4.wav", "room.wav", "click.wav", "broken.wav"]
    result = transcribe(tmp_path, store, *files, "--model", CHAMPION, "--out", "out")
    # broken.wav could not be read, room.wav and click.wav hold no note: some files not read
    assert result.returncode == Exit.INCOMPLETE, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert f"C4.wav: {expected.note} (MIDI {expected.midi}), margin" in lines[0]
    assert "onset 0.30 s" in lines[0]
    assert "room.wav: not read: no note: silent" in lines[1]
    assert "click.wav: not read: lasts 0.002 s; the onset search needs at least" in lines[2]
    assert "broken.wav: not a readable wav file" in result.stderr
    table = pd.read_csv(tmp_path / "out" / "transcriptions.csv")
    assert list(table["file"]) == files[:3]
    assert table["note"][0] == expected.note and table["key"][0] == expected.midi
    assert table["margin_db"][0] >= 0 and table["note"][1:].isna().all()
    assert (tmp_path / "out" / "C4.png").stat().st_size > 5_000


def transcribe(folder: Path, store: str, *args: str) -> subprocess.CompletedProcess:
    """`sheetsweep-transcribe ARGS` in a fresh process in `folder`, as a user runs it."""
    return run_command(
        [console_script("sheetsweep-transcribe"), *args],
        env={"MLFLOW_TRACKING_URI": store, "PATH": str(BIN)},
        inherit=False,
        timeout=300,
        cwd=folder,  # no dataset here: the model carries what it needs
    )


def test_transcribe_names_a_missing_file_and_a_model_that_does_not_exist(store, tmp_path, capsys):
    take = tmp_path / "x.wav"
    asked = [str(take), "--model", "models:/nope@champion", "--out", str(tmp_path / "o")]
    assert transcribe_main([*asked, "--tracking-uri", store]) == 2
    assert f"no such file(s): {take}" in capsys.readouterr().err
    soundfile.write(take, np.zeros(4410), 44100)
    assert transcribe_main([*asked, "--tracking-uri", store]) == 2
    assert "model 'models:/nope@champion': cannot be loaded" in capsys.readouterr().err


def imported_recordings(small_root: Path, folder: Path) -> Path:
    """A user's folder: 12 keys across the keyboard as 44.1 kHz stereo takes of different
    lengths with silence before the note, annotated by note name; imported."""
    takes = folder / "takes"
    takes.mkdir()
    rows = []
    for i, note in enumerate(
        ["A0", "E1", "C2", "G2", "C3", "F#3", "C4", "A4", "E5", "C6", "G7", "C8"]
    ):
        audio, rate = read_wav(small_root / f"audio/TimGM6mb-p1/{note}_v60.wav")
        recording, user_rate = as_recording(
            audio, rate, silence_s=0.1 + 0.05 * i, seconds=2 + i / 10
        )
        soundfile.write(takes / f"take{i}.wav", recording, user_rate)
        rows.append({"audio_path": f"take{i}.wav", "midi": note, "instrument": "my-piano"})
    pd.DataFrame(rows).to_csv(takes / "notes.csv", index=False)
    root = folder / "my-piano"
    args = ["import", "--recordings", str(takes), "--annotations", str(takes / "notes.csv")]
    assert dataset_main([*args, "--root", str(root)]) == 0
    return root


def test_evaluate_scores_an_imported_folder_and_the_report_shows_it(
    store, champion, small_root, tmp_path, capsys
):
    root = imported_recordings(small_root, tmp_path)
    capsys.readouterr()
    asked = ["--model", CHAMPION, "--data", str(root), "--conditions", "clean,phone"]
    code = evaluate_main([*asked, "--tracking-uri", store])
    out = capsys.readouterr().out
    assert code == (Exit.INCOMPLETE if "not read: " in out else Exit.OK)
    assert "of 12 read):" in out.split(f"{CHAMPION} on my-piano, clean (")[1].splitlines()[0]
    assert f"{CHAMPION} on my-piano, phone (" in out
    for register, n in (("low", 4), ("mid", 5), ("high", 3)):
        assert any(line.split()[:2] == [register, str(n)] for line in out.splitlines()), out
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("smoke")
    both = client.search_runs([experiment.experiment_id], f"tags.`{ROLE}` = '{EVALUATION}'")
    assert sorted(r.data.tags[CONDITION] for r in both) == ["clean", "phone"]
    (run,) = [r for r in both if r.data.tags[CONDITION] == "clean"]
    assert run.data.tags[MODEL_URI] == CHAMPION and run.data.tags[DATASET_NAME] == "my-piano"
    assert run.data.tags[MODEL_RUN] == champion.run_id
    assert run.data.metrics["n_notes"] == 12
    assert 0 <= run.data.metrics["test_note_acc_low"] <= 1
    linked = client.get_run(run.info.run_id).inputs.model_inputs
    assert [m.model_id for m in linked] == [champion.model_id]
    assert run.inputs.dataset_inputs[0].dataset.name == "my-piano"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"test_scores.csv", "per_key_psnr.csv", "worst_keys.png"} <= artifacts
    report = tmp_path / "report"
    assert (
        report_main(
            ["--experiment", "smoke", "--tracking-uri", store, "--out", str(report), "--no-log"]
        )
        == 0
    )
    text = (report / "report.md").read_text()
    assert "Generalisation: smoke" in text and "on my-piano (12 notes" in text
    assert "on my-piano, phone (12 notes" in text


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_mlflow_models_serve_answers_the_readme_request(store, champion, small_root, tmp_path):
    """`mlflow models serve -m models:/smoke@champion` on loopback, asked as the README
    asks: one note's samples and rate in, the key and the image out."""
    port = free_port()
    serve = ["models", "serve", "-m", CHAMPION, "--env-manager", "local", "--host", "127.0.0.1"]
    server = start(
        [str(BIN / "mlflow"), *serve, "--port", str(port)],
        tmp_path / "serve.log",
        env={"MLFLOW_TRACKING_URI": store, "PATH": f"{BIN}:{os.environ['PATH']}"},
    )
    try:
        wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/ping"), "the model server", 180)
        audio, rate = read_wav(small_root / "audio/TimGM6mb-p1/G2_v110.wav")
        recording, user_rate = as_recording(audio, rate, silence_s=0.3, seconds=3.5)
        request = {  # the README's request: a mono note's samples and its rate
            "dataframe_records": [
                {"samples": recording.mean(axis=1).tolist(), "sample_rate": user_rate},
                {"samples": [0.0] * 4410, "sample_rate": 44100},
            ]
        }
        asked = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps(request).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(asked, timeout=120) as response:
            note, silence = json.load(response)["predictions"]
        too_long = {"dataframe_records": [{"samples": [0.0] * 8000 * 31, "sample_rate": 8000}]}
        asked = urllib.request.Request(
            asked.full_url, json.dumps(too_long).encode(), asked.headers, method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(asked, timeout=120)
        assert refused.value.code == 400
        assert "row 0: 31.0 s long, more than the 30 s" in refused.value.read().decode()
    finally:
        stop(server)
    expected = champion.read(recording.mean(axis=1), user_rate)
    assert note["found"] and note["note"] == expected.note and note["midi"] == expected.midi
    assert note["onset_s"] == pytest.approx(0.3, abs=0.005)
    assert image_from_png_base64(note["image_png"]).shape == (162, 300)
    assert not silence["found"] and "no note: silent" in silence["reason"]
