"""The onset search: the project's detector against the libraries' on the same files.

    python -m benchmarks.onsets [--quick]

`trainables/data/onsets.py` (`find_onset`) cuts every real recording at its note's onset
and refuses a file with no note. Here it runs beside librosa's onset detection
(`librosa.onset.onset_detect`, its defaults, backtracked to the energy minimum before the
onset, the first onset taken; none found = refused) and torchaudio's `functional.vad` (the
closest torchaudio has: it trims the silence before the first sound) on the same files:

- notes, each as cut right at its onset and with 0.3 s of silence before it, each clean
  and with white noise at 10 dB SNR (the test condition `white-10db`): real recordings
  (Salamander's Yamaha C5, every soft low note, dynamics 1-4 of the low keys, and others
  drawn at random) and rendered SoundFont notes (acoustic presets 0-3 and electric / FM
  pianos 4-5);
- files with no note, which must be refused: digital silence, steady white, pink and brown
  noise at -60 to -15 dBFS, and snippets of a note too short to search (20-90 ms).

Every draw is seeded; the detectors run on each file in turn (their order rotated), single
threaded. librosa comes with the dev tools (`pip install -e '.[dev]'`): without it, its
rows say so. Without the Salamander dataset (`sheetsweep-dataset salamander`), the real
notes are left out; without `data/pianos`, the default dataset's notes stand in.
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from benchmarks import common
from trainables.data.audio import read_wav
from trainables.data.onsets import NoNoteFound, RecordingTooShort, find_onset, to_mono
from trainables.features.augment import coloured
from trainables.features.conditions import COLOURS, CONDITIONS

NAME = "onsets"
TITLE = "Onset search: the project's detector against librosa and torchaudio"

SEED = 0
SALAMANDER = common.ROOT / "data" / "salamander"
PIANOS = common.ROOT / "data" / "pianos"
#: The silence put before a note: its true onset.
LEAD_S = 0.3
NOISE = "white-10db"
#: A detector's onset this close to the true one cuts the window at the note.
TOLERANCE_S = 0.05
SOFT_DYNAMICS = ("salamander-v01", "salamander-v02", "salamander-v03", "salamander-v04")
ELECTRIC_PRESETS = ("p4", "p5")
CASES = ("cut at its onset", f"cut at its onset, {NOISE}", f"{LEAD_S} s of silence first")
CASES += (f"{LEAD_S} s of silence first, {NOISE}",)
GROUPS = (
    "real: soft low (low keys, dynamics 1-4)",
    "real: other keys and dynamics",
    "rendered: acoustic pianos (presets 0-3)",
    "rendered: electric / FM pianos (presets 4-5)",
)
NEGATIVES = ("silence", "steady noise", "too short")
PROJECT, LIBROSA, STRONGEST, HYBRID, VAD = (
    "project: find_onset",
    "librosa: onset_detect, first onset",
    "librosa: onset_detect, strongest onset",
    "project's refusal + librosa's strongest onset",
    "torchaudio: functional.vad",
)


# --- the detectors: an onset in seconds, or None for "no note here" ---


def project_onset(audio: np.ndarray, rate: int) -> float | None:
    try:
        return find_onset(audio, rate).time_s
    except (NoNoteFound, RecordingTooShort):
        return None


def librosa_onset(audio: np.ndarray, rate: int) -> float | None:
    import librosa

    with warnings.catch_warnings():  # n_fft larger than a short file
        warnings.simplefilter("ignore")
        found = librosa.onset.onset_detect(y=audio, sr=rate, units="time", backtrack=True)
    return float(found[0]) if len(found) else None


def librosa_strongest_onset(audio: np.ndarray, rate: int) -> float | None:
    """The onset librosa finds strongest, backtracked: one note per file, so one onset."""
    import librosa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        strength = librosa.onset.onset_strength(y=audio, sr=rate)
        peaks = librosa.onset.onset_detect(onset_envelope=strength, sr=rate)
    if not len(peaks):
        return None
    strongest = peaks[np.argmax(strength[peaks])]
    frame = librosa.onset.onset_backtrack(np.array([strongest]), strength)[0]
    return float(librosa.frames_to_time(frame, sr=rate))


def vad_onset(audio: np.ndarray, rate: int) -> float | None:
    import torchaudio.functional as AF

    kept = AF.vad(torch.from_numpy(audio)[None], rate).shape[-1]
    return (audio.shape[0] - kept) / rate if kept else None


def librosa_version() -> str | None:
    try:
        import librosa
    except ImportError:
        return None
    return librosa.__version__


# --- the files ---


def pick_notes(quick: bool, rng: np.random.Generator) -> list[dict[str, Any]]:
    """The notes: (path, group), seeded; real ones only where Salamander is on disk."""
    notes = []
    real, rendered = (4, 4) if quick else (120, 120)
    if (SALAMANDER / "annotations.csv").is_file():
        table = pd.read_csv(SALAMANDER / "annotations.csv")
        soft = (table.register == "low") & table.instrument.isin(SOFT_DYNAMICS)
        first = table[soft]  # every soft low note; a few at --quick sizes
        if quick:
            first = first.sample(n=min(real // 2, len(first)), random_state=rng)
        rest = table[~soft].sample(n=real - len(first), random_state=rng)
        for rows, group in ((first, GROUPS[0]), (rest, GROUPS[1])):
            notes += [{"path": SALAMANDER / p, "group": group} for p in rows.audio_path]
    root = PIANOS if (PIANOS / "annotations.csv").is_file() else common.default_data()
    table = pd.read_csv(root / "annotations.csv")
    electric = table.instrument.str.rsplit("-", n=1).str[-1].isin(ELECTRIC_PRESETS)
    for mask, group in ((~electric, GROUPS[2]), (electric, GROUPS[3])):
        if mask.any():
            rows = table[mask].sample(n=min(rendered // 2, int(mask.sum())), random_state=rng)
            notes += [{"path": root / p, "group": group} for p in rows.audio_path]
    return notes


def note_cases(note: dict[str, Any]) -> list[dict[str, Any]]:
    """One note as the four files: cut at its onset or after silence, clean or noisy."""
    audio, rate = read_wav(note["path"])
    audio = to_mono(audio)
    lead = np.concatenate([np.zeros(round(LEAD_S * rate), np.float32), audio])
    files = []
    for case, (signal, truth, noisy) in zip(
        CASES,
        ((audio, 0.0, False), (audio, 0.0, True), (lead, LEAD_S, False), (lead, LEAD_S, True)),
        strict=True,
    ):
        if noisy:
            key = f"{note['path'].relative_to(common.ROOT)}:{case}"
            signal = np.ascontiguousarray(CONDITIONS[NOISE].apply(signal, rate, key)[0])
        files.append(
            {
                "name": f"{note['path'].relative_to(common.ROOT)} [{case}]",
                "group": note["group"],
                "case": case,
                "truth_s": truth,
                "audio": signal.astype(np.float32),
                "rate": rate,
            }
        )
    return files


def negative_files(quick: bool, rng: np.random.Generator, notes: list[dict]) -> list[dict]:
    """Files with no note: silence, steady noise, a note's first 20-90 ms."""
    rates = (22050, 44100, 48000)
    silences, noises, shorts = (2, 3, 2) if quick else (10, 30, 10)
    files = []
    for i in range(silences):
        rate = int(rng.choice(rates))
        audio = np.zeros(round(rng.uniform(0.5, 3.0) * rate), np.float32)
        files.append({"name": f"silence {i}", "kind": NEGATIVES[0], "audio": audio, "rate": rate})
    colours = ("white", "pink", "brown")
    for i in range(noises):
        rate, colour = int(rng.choice(rates)), colours[i % 3]
        level_db = rng.uniform(-60.0, -15.0)
        white = torch.randn(
            round(rng.uniform(0.5, 3.0) * rate),
            generator=torch.Generator().manual_seed(int(rng.integers(2**31))),
        )
        noise = coloured(white, rate, COLOURS[colour])
        noise = (noise / noise.pow(2).mean().sqrt() * 10 ** (level_db / 20)).numpy()
        files.append(
            {
                "name": f"{colour} noise at {level_db:.0f} dBFS, {noise.shape[0] / rate:.2f} s",
                "kind": NEGATIVES[1],
                "audio": noise.astype(np.float32),
                "rate": rate,
            }
        )
    for _ in range(shorts):
        note = notes[int(rng.integers(len(notes)))]
        audio, rate = read_wav(note["path"])
        seconds = rng.uniform(0.02, 0.09)
        files.append(
            {
                "name": f"{note['path'].name}: its first {seconds * 1000:.0f} ms",
                "kind": NEGATIVES[2],
                "audio": to_mono(audio)[: round(seconds * rate)],
                "rate": rate,
            }
        )
    return files


# --- the run ---


def run_detectors(
    detectors: dict[str, Callable[[np.ndarray, int], float | None]], files: list[dict]
) -> None:
    """Each detector on each file, in rotated order; its answer and time kept in the file."""
    names = list(detectors)
    for index, file in enumerate(files):
        file["found"], file["ms"] = {}, {}
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            file["found"][name] = detectors[name](file["audio"], file["rate"])
            file["ms"][name] = (time.perf_counter() - started) * 1000


def add_hybrid(files: list[dict]) -> None:
    """The project's refusal with librosa's onset: both answers already in hand."""
    for file in files:
        project, library = file["found"][PROJECT], file["found"][STRONGEST]
        file["found"][HYBRID] = None if project is None else library
        file["ms"][HYBRID] = file["ms"][PROJECT] + file["ms"][STRONGEST]


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


WHERE = ("cut at its onset", "after the silence")


def summary(values: list[float]) -> dict[str, Any]:
    """|onset error| in ms of the notes found."""
    return {
        "n": len(values),
        "median": percentile(values, 50),
        "p95": percentile(values, 95),
        "max": max(values) if values else None,
    }


def summarise(name: str, positives: list[dict], negatives: list[dict]) -> dict[str, Any]:
    found = [f for f in positives if f["found"][name] is not None]
    errors = {f["name"]: abs(f["found"][name] - f["truth_s"]) * 1000 for f in found}
    at_note = [f for f in found if errors[f["name"]] <= TOLERANCE_S * 1000]

    def errors_of(real: bool, lead: bool) -> list[float]:
        return [
            errors[f["name"]]
            for f in found
            if (f["truth_s"] > 0) == lead and f["group"].startswith("real") == real
        ]

    missed = [
        {
            "file": f["name"],
            "onset_s": None if f["found"][name] is None else round(f["found"][name], 4),
            "truth_s": f["truth_s"],
        }
        for f in positives
        if f not in at_note
    ]
    times = [f["ms"][name] for f in positives + negatives]
    return {
        "notes": len(positives),
        "found": len(found),
        "at_note": len(at_note),
        "error_ms": {
            f"{where}, {source}": summary(errors_of(source == "real", where == WHERE[1]))
            for where in WHERE
            for source in ("rendered", "real")
        },
        "by_group_case": {
            f"{group} | {case}": {
                "notes": sum(1 for f in positives if (f["group"], f["case"]) == (group, case)),
                "found": sum(1 for f in found if (f["group"], f["case"]) == (group, case)),
                "at_note": sum(1 for f in at_note if (f["group"], f["case"]) == (group, case)),
            }
            for group in GROUPS
            for case in CASES
        },
        "negatives": {
            kind: {
                "files": sum(1 for f in negatives if f["kind"] == kind),
                "refused": sum(
                    1 for f in negatives if f["kind"] == kind and f["found"][name] is None
                ),
            }
            for kind in NEGATIVES
        },
        "ms_per_file": {"median": statistics.median(times), "mean": statistics.fmean(times)},
        "not_at_note": missed[:15],
        "not_at_note_count": len(missed),
        "not_refused": [f["name"] for f in negatives if f["found"][name] is not None],
    }


def cpu_kind() -> str:
    """The project's two CPU kinds (benchmarks/README.md): by the native bf16 flags."""
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    return "bf16 CPU" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "AVX2 CPU"


def run(quick: bool) -> dict[str, Any]:
    torch.set_num_threads(1)  # one file at a time, as the importer and the reader run it
    rng = np.random.default_rng(SEED)
    notes = pick_notes(quick, rng)
    positives = [file for note in notes for file in note_cases(note)]
    negatives = negative_files(quick, rng, notes)
    detectors = {PROJECT: project_onset, VAD: vad_onset}
    version = librosa_version()
    if version is not None:
        detectors[LIBROSA] = librosa_onset
        detectors[STRONGEST] = librosa_strongest_onset
        librosa_onset(positives[0]["audio"], positives[0]["rate"])  # numba compiles once
    run_detectors(detectors, positives + negatives)
    if version is not None:
        add_hybrid(positives + negatives)
    order = [d for d in (PROJECT, LIBROSA, STRONGEST, HYBRID, VAD) if d in positives[0]["found"]]
    return {
        "cpu_kind": cpu_kind(),
        "threads": 1,
        "seed": SEED,
        "librosa": version,
        "sources": {
            source: sorted(
                {
                    str(n["path"].parent.relative_to(common.ROOT))
                    for n in notes
                    if n["group"].startswith(source)
                }
            )
            for source in ("real", "rendered")
        },
        "notes_by_group": {g: sum(1 for n in notes if n["group"] == g) for g in GROUPS},
        "lead_s": LEAD_S,
        "noise": NOISE,
        "tolerance_s": TOLERANCE_S,
        "detectors": {name: summarise(name, positives, negatives) for name in order},
    }


# --- the table ---


def score(figures: dict[str, Any]) -> int:
    """Notes cut at the note plus files with no note refused."""
    return figures["at_note"] + sum(n["refused"] for n in figures["negatives"].values())


def render(result: dict[str, Any]) -> str:
    detectors = result["detectors"]
    first = next(iter(detectors.values()))
    groups = result["notes_by_group"]
    negatives = first["negatives"]
    files = {kind: negatives.get(kind, {"files": 0})["files"] for kind in NEGATIVES}
    lines = [
        f"{sum(groups.values())} notes "
        f"({', '.join(f'{n} {g}' for g, n in groups.items() if n)}), "
        f"each as 4 files: cut at its onset, and after {result['lead_s']} s of silence, each "
        f"clean and at `{result['noise']}`; {first['notes']} files with a note. Files with "
        f"no note, to be refused: {files['silence']} of digital silence, "
        f"{files['steady noise']} of steady noise (white, pink and brown, -60 to -15 dBFS) "
        f"and {files['too short']} too short to search (a note's first 20-90 ms). A note is "
        f"found at the note when the onset is within {result['tolerance_s'] * 1000:.0f} ms "
        f"of the true one (0 s, or {result['lead_s']} s after the silence; a real note's "
        f"0 s is where the importer's onset search cut it, a rendered note's is its first "
        f"sample). One thread, on the {result['cpu_kind']}"
        + (f"; librosa {result['librosa']}." if result["librosa"] else "; librosa not installed.")
    ]

    def error(figures: dict[str, Any], key: str) -> str:
        e = figures["error_ms"][key]
        return f"{common.fmt(e['median'], 2)} / {common.fmt(e['p95'], 2)}" if e["n"] else "-"

    keys = list(first["error_ms"])
    rows = []
    for name, figures in detectors.items():
        refused = "; ".join(
            f"{v['refused']}/{v['files']} {k}" for k, v in figures["negatives"].items()
        )
        rows.append(
            [
                f"`{name}`",
                f"{figures['found']}/{figures['notes']}",
                f"**{figures['at_note']}**/{figures['notes']}",
                *(error(figures, key) for key in keys),
                refused,
                common.fmt(figures["ms_per_file"]["median"]),
            ]
        )
    lines.append(
        common.table(
            [
                "detector",
                "notes found",
                f"at the note (±{result['tolerance_s'] * 1000:.0f} ms)",
                *(f"error ms, {key}: median / p95" for key in keys),
                "no note: refused",
                f"ms per file ({result['cpu_kind']})",
            ],
            rows,
        )
    )
    lines.append(
        "Notes at the note (of found) by group and case, each cell `at the note (found) / notes`:"
    )
    names = list(detectors)
    rows = []
    for key in first["by_group_case"]:
        group, case = key.split(" | ")
        cells = [detectors[n]["by_group_case"][key] for n in names]
        if not cells[0]["notes"]:
            continue
        rows.append(
            [group, case] + [f"{c['at_note']} ({c['found']}) / {c['notes']}" for c in cells]
        )
    lines.append(common.table(["notes", "case", *(f"`{n}`" for n in names)], rows))
    taken = []
    for name, figures in detectors.items():
        noises = [n.split(" noise")[0] for n in figures["not_refused"] if " noise at " in n]
        if noises:
            counts = ", ".join(f"{noises.count(c)} {c}" for c in COLOURS if c in noises)
            taken.append(f"`{name}` {counts}")
    if taken:
        lines.append(f"Steady noise read as a note: {'; '.join(taken)}.")
    best = max(detectors, key=lambda n: score(detectors[n]))
    total = first["notes"] + sum(v["files"] for v in negatives.values())
    lines.append(
        "Notes at the note plus files with no note refused, of "
        f"{total}: "
        + ", ".join(f"`{n}` {score(f)}" for n, f in detectors.items())
        + f". Better: **`{best}`**."
    )
    return "\n\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(common.main(sys.modules[__name__]))
