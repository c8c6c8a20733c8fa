"""`sheetsweep-dataset`: build the rendered note dataset, or import real recordings.

sheetsweep-dataset build              # pretty_midi's SoundFont, GM pianos 0-7
sheetsweep-dataset build --root data/fluid --soundfont /usr/share/sounds/sf2/FluidR3_GM.sf2
sheetsweep-dataset build --root data/holdout --held-out TimGM6mb-p7
sheetsweep-dataset import --recordings my_wavs/ --annotations my_wavs/notes.csv --root data/real
sheetsweep-dataset import --recordings takes/ --annotations takes/notes.csv --root data/takes \
    --duration 2.0   # every take cut to 2 s from its onset (default 1.5 s)
sheetsweep-dataset salamander --root data/salamander   # a real grand, 16 dynamics (npm)
sheetsweep-dataset merge --root data/ready --from data/pianos --from data/salamander \
    --test 'salamander-v03,salamander-v07' --train 'salamander-*'
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from trainables.data.dataset import DatasetInfo, DatasetSpec, build_dataset
from trainables.data.engraving import contact_sheet
from trainables.data.instruments import (
    DEFAULT_SOUNDFONT,
    PIANO_PRESETS,
    SOUNDFONT_FOLDERS,
    NoteTiming,
    find_soundfont,
)
from trainables.data.merge import merge_datasets, patterns
from trainables.data.recordings import IMPORT_DURATION_S, import_recordings
from trainables.data.rendering import DEFAULT_RENDERER, RENDERERS
from trainables.data.salamander import LICENCE, VELOCITIES, import_salamander
from trainables.errors import SheetsweepError
from trainables.keys import Key, midi_from_name


def int_list(text: str) -> tuple[int, ...]:
    """'0-7' or '40,80,120' -> a tuple of ints."""
    values: list[int] = []
    for part in text.split(","):
        low, sep, high = part.partition("-")
        try:
            values.extend(range(int(low), int(high) + 1) if sep else [int(low)])
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected e.g. 0-7 or 40,80,120") from None
    return tuple(values)


def report(info: DatasetInfo) -> None:
    state = "built" if info.built else "already up to date"
    print(f"dataset {info.root}: {state}, {info.n_samples} samples of {info.duration_s} s")
    if info.recordings:
        report_import(info)
    elif info.dropped:
        print(f"dropped {len(info.dropped)} nearly silent note(s): " + "; ".join(info.dropped))
    print(f"dataset hash {info.dataset_hash}")


def report_import(info: DatasetInfo) -> None:
    """How the recordings were fitted to the note length, and which were left out why."""
    print(
        f"imported {info.n_samples} of {info.recordings} recording(s), each cut to "
        f"{info.duration_s} s from its onset: {info.cut} cut short, "
        f"{info.padded} padded with silence"
    )
    if info.dropped:
        print(
            f"left out {len(info.dropped)} recording(s): {info.no_note} with no detectable "
            f"note, {info.too_short} too short"
        )
        for reason in info.dropped:
            print(f"  {reason}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="render notes from SoundFonts")
    build.add_argument("--root", type=Path, default=Path("data/default"))
    build.add_argument(
        "--soundfont",
        type=Path,
        action="append",
        help=f"an .sf2/.sf3 file, or the file name of one in {SOUNDFONT_FOLDERS[1]} or "
        f"{SOUNDFONT_FOLDERS[2]}; repeatable (default: {DEFAULT_SOUNDFONT.name})",
    )
    build.add_argument(
        "--presets",
        type=int_list,
        default=PIANO_PRESETS,
        help="bank-0 presets (default: 0-7, General MIDI's pianos)",
    )
    build.add_argument("--velocities", type=int_list, default=(40, 80, 120))
    build.add_argument("--hold", type=float, default=NoteTiming.hold_s, help="seconds held")
    build.add_argument(
        "--release",
        type=float,
        default=NoteTiming.release_s,
        help="seconds recorded after the release",
    )
    build.add_argument(
        "--renderer",
        choices=RENDERERS,
        default=DEFAULT_RENDERER,
        help="the SoundFont synthesizer; fluidsynth also applies the SoundFont's modulators, "
        f"which MuseScore General's pianos need (default: {DEFAULT_RENDERER})",
    )
    build.add_argument("--test-fraction", type=float, default=0.2)
    build.add_argument(
        "--held-out",
        action="append",
        default=[],
        metavar="INSTRUMENT",
        help="test on this whole instrument (e.g. TimGM6mb-p7); repeatable",
    )
    build.add_argument("--seed", type=int, default=0)
    build.add_argument(
        "--overwrite", action="store_true", help="replace a dataset built from other inputs"
    )
    preview = commands.add_parser("targets", help="write a contact sheet of some targets")
    preview.add_argument(
        "--keys",
        default="A0,A#0,C4,B5,C6,C8",
        help="note names, comma-separated (default: A0,A#0,C4,B5,C6,C8)",
    )
    preview.add_argument("--out", type=Path, default=Path("targets.png"))
    imported = commands.add_parser("import", help="import a folder of real recordings")
    imported.add_argument("--recordings", type=Path, required=True)
    imported.add_argument("--annotations", type=Path, required=True)
    imported.add_argument("--root", type=Path, required=True)
    imported.add_argument("--test-fraction", type=float, default=0.2)
    imported.add_argument("--seed", type=int, default=0)
    imported.add_argument(
        "--duration",
        type=float,
        default=IMPORT_DURATION_S,
        metavar="SECONDS",
        help="length every recording is cut to, from its detected onset; padded with silence "
        f"if it ends first (default: {IMPORT_DURATION_S}, the rendered notes' length)",
    )
    imported.add_argument("--overwrite", action="store_true")
    salamander = commands.add_parser(
        "salamander", help=f"fetch and import a real grand piano ({LICENCE})"
    )
    salamander.add_argument("--root", type=Path, default=Path("data/salamander"))
    salamander.add_argument(
        "--velocities", type=int_list, default=VELOCITIES, help="of 1-16 (default: all)"
    )
    salamander.add_argument("--overwrite", action="store_true")
    merge = commands.add_parser("merge", help="make one dataset of several")
    merge.add_argument("--root", type=Path, required=True)
    merge.add_argument(
        "--from", dest="sources", type=Path, action="append", required=True, help="repeatable"
    )
    merge.add_argument(
        "--test", type=patterns, default=(), help="instruments (names or patterns) tested"
    )
    merge.add_argument(
        "--train", type=patterns, default=(), help="instruments (names or patterns) trained on"
    )
    merge.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "targets":
        try:
            keys = [Key(midi_from_name(name.strip())) for name in args.keys.split(",")]
        except ValueError as error:
            print(f"error: --keys: {error}", file=sys.stderr)
            return 2
        print(f"wrote {contact_sheet(keys, args.out)}")
        return 0
    try:
        if args.command == "build":
            spec = DatasetSpec(
                soundfonts=tuple(
                    find_soundfont(sf) for sf in args.soundfont or [DEFAULT_SOUNDFONT]
                ),
                presets=args.presets,
                velocities=args.velocities,
                timing=NoteTiming(hold_s=args.hold, release_s=args.release),
                test_fraction=args.test_fraction,
                held_out_instruments=tuple(args.held_out),
                seed=args.seed,
                renderer=args.renderer,
            )
            info = build_dataset(args.root, spec, overwrite=args.overwrite)
        elif args.command == "merge":
            info = merge_datasets(args.root, args.sources, args.test, args.train, args.overwrite)
        elif args.command == "salamander":
            info = import_salamander(args.root, tuple(args.velocities), args.overwrite)
        else:
            info = import_recordings(
                args.recordings,
                args.annotations,
                args.root,
                test_fraction=args.test_fraction,
                seed=args.seed,
                overwrite=args.overwrite,
                duration_s=args.duration,
            )
    except SheetsweepError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report(info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
