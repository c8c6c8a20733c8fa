"""`sheetsweep-transcribe`: read the note in each recording with a trained model.

    sheetsweep-transcribe my_note.wav      # the model shipped with the package
    sheetsweep-transcribe my_note.wav --model models:/piano@champion --out transcriptions
    sheetsweep-transcribe takes/*.flac --model runs:/<run id>/model --out transcriptions

WAV or FLAC, any sample rate, channel count and length: the note's onset is found and the
model's window cut from there (padded if the recording ends first). For each file it
writes `<name>.png`, the predicted sheet image beside the engraved target of the key it
read, and a line of `transcriptions.csv` (file, key, note, margin to the runner-up key in
dB). A file without a note (silence, noise only) says so instead of guessing.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
from pathlib import Path

import mlflow
from trainables.data.audio import read_wav
from trainables.errors import SheetsweepError
from trainables.exit_codes import Exit
from trainables.keys import LOWEST_MIDI, note_name
from trainables.serving.model_code import add_trust_model_code
from trainables.serving.ready import READY_MODEL
from trainables.serving.sheet_model import Reading, SheetModel, load_reader
from trainables.tracking_uri import add_tracking_uri
from trainables.training.artifacts import save_image_rows

CSV_NAME = "transcriptions.csv"
CSV_COLUMNS = ("file", "key", "note", "margin_db", "onset_s", "padded_s", "image", "reason")


def save_transcription(reading: Reading, reader: SheetModel, path: Path) -> Path:
    """The predicted image beside the engraved target of the key it was read as."""
    target = reader.targets[reading.midi - LOWEST_MIDI].reshape(reading.image.shape).numpy()
    panels = (
        (f"{Path(reading.source).name}: read as {reading.note}", reading.image),
        (f"engraved {reading.note} (margin {reading.margin_db:.1f} dB)", target),
    )
    return save_image_rows([panels], path, size=(7.2, 2.3))


def image_names(paths: list[Path]) -> list[str]:
    """`<stem>.png` per file, numbered where two files share a stem."""
    stems = [p.stem for p in paths]
    return [
        f"{stem}.png" if stems.count(stem) == 1 else f"{stem}-{i + 1}.png"
        for i, stem in enumerate(stems)
    ]


def csv_row(reading: Reading, image: Path | None) -> dict[str, object]:
    if not reading.found:
        return {"file": reading.source, "reason": reading.reason}
    return {
        "file": reading.source,
        "key": reading.midi,
        "note": reading.note,
        "margin_db": f"{reading.margin_db:.2f}",
        "onset_s": f"{reading.onset_s:.3f}",
        "padded_s": f"{reading.padded_s:.3f}",
        "image": image,
    }


def describe(reading: Reading, image: Path | None) -> str:
    if not reading.found:
        return f"{reading.source}: not read: {reading.reason.removeprefix(reading.source + ': ')}"
    padded = f", padded {reading.padded_s:.2f} s" if reading.padded_s else ""
    return (
        f"{reading.source}: {reading.note} (MIDI {reading.midi}), margin "
        f"{reading.margin_db:.1f} dB over {note_name(reading.runner_up)}, onset "
        f"{reading.onset_s:.2f} s{padded} -> {image}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("recordings", nargs="+", type=Path, help="WAV or FLAC files")
    parser.add_argument(
        "--model",
        default=str(READY_MODEL),
        help="an MLflow model URI: models:/NAME@champion, runs:/<run id>/model, a folder "
        "(default: the model shipped with the package, trainables/serving/ready_model)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("transcriptions"),
        help="folder for images and CSV (default: transcriptions)",
    )
    add_tracking_uri(parser)  # where models:/ and runs:/ resolve
    add_trust_model_code(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(args.tracking_uri)
    missing = [str(p) for p in args.recordings if not p.is_file()]
    if missing:
        print(f"error: no such file(s): {', '.join(missing)}", file=sys.stderr)
        return Exit.BAD_INPUT
    try:
        reader = load_reader(args.model, trust_model_code=args.trust_model_code)
    except SheetsweepError as error:
        print(f"error: {error}", file=sys.stderr)
        return Exit.BAD_INPUT
    recordings, failed = [], 0
    for path in args.recordings:
        try:
            audio, rate = read_wav(path)
        except SheetsweepError as error:  # the others are still read
            print(f"error: {error}", file=sys.stderr)
            failed += 1
            continue
        recordings.append((audio, rate, str(path)))
    args.out.mkdir(parents=True, exist_ok=True)
    names = image_names([Path(source) for _, _, source in recordings])
    rows = []
    readings = reader.read_many(recordings)
    for reading, name in zip(readings, names, strict=True):
        image = save_transcription(reading, reader, args.out / name) if reading.found else None
        print(describe(reading, image))
        rows.append(csv_row(reading, image))
    with open(args.out / CSV_NAME, "w", newline="") as table:
        writer = csv.DictWriter(table, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out / CSV_NAME}")
    read = sum(reading.found for reading in readings)
    if not read:
        return Exit.NO_RESULT
    return Exit.INCOMPLETE if failed or read < len(readings) else Exit.OK


if __name__ == "__main__":
    raise SystemExit(main())
