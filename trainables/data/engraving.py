"""Engrave the 88 target images: one whole note in common time, clef by register.

verovio lays a page out around its content, so a note with ledger lines above the staff
pushes the staff down. To keep the staff on the same rows in every image, each SVG is
cropped to a fixed window measured from its own top staff line, at one fixed scale.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import cairosvg
import numpy as np
import verovio
from PIL import Image, ImageDraw

from trainables.image_size import HEIGHT, WIDTH
from trainables.keys import KEYS, PITCH_CLASSES, Key

_SCALE = 56  # verovio percent: a staff space of about 10 px in a 300 px wide image
_STAFF_TOP_MARGIN = 1200  # verovio units above the top staff line (room for 5 ledger lines)
_STAFF_LINE = re.compile(r'class="staff">\s*<path d="M0 (\d+) L(\d+) ')
_INNER_VIEWBOX = re.compile(r'(<svg class="definition-scale"[^>]*viewBox=")0 0 (\d+) (\d+)(")')
_OUTER_SVG = re.compile(r"^<svg [^>]*>", re.MULTILINE)
_PLACEHOLDER = re.compile(r'<g [^>]*class="[^"]*placeholder[^"]*">.*?</g>', re.DOTALL)


class Clef(Enum):
    """(shape, line, octave displacement place or None)."""

    BASS_8VB = ("F", 4, "below")
    BASS = ("F", 4, None)
    TREBLE = ("G", 2, None)
    TREBLE_8VA = ("G", 2, "above")


def clef_for(key: Key) -> Clef:
    """Bass 8vb for A0-B1, bass for C2-B3, treble for C4-B5, treble 8va for C6-C8."""
    if key.midi < 36:
        return Clef.BASS_8VB
    if key.midi < 60:
        return Clef.BASS
    if key.midi < 84:
        return Clef.TREBLE
    return Clef.TREBLE_8VA


def note_mei(key: Key) -> str:
    """MEI for one whole note of `key` (sounding pitch; verovio applies the clef's 8)."""
    shape, line, place = clef_for(key).value
    displacement = f' clef.dis="8" clef.dis.place="{place}"' if place else ""
    pname = PITCH_CLASSES[key.midi % 12][0].lower()
    accid = ' accid="s"' if key.is_black else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<mei xmlns="http://www.music-encoding.org/ns/mei" meiversion="5.0">
<meiHead><fileDesc><titleStmt><title/></titleStmt><pubStmt/></fileDesc></meiHead>
<music><body><mdiv><score>
<scoreDef meter.sym="common"><staffGrp>
<staffDef n="1" lines="5" clef.shape="{shape}" clef.line="{line}"{displacement}/>
</staffGrp></scoreDef>
<section><measure n="1" right="end"><staff n="1"><layer n="1">
<note pname="{pname}" oct="{key.octave}" dur="1"{accid}/>
</layer></staff></measure></section>
</score></mdiv></body></music></mei>"""


@dataclass
class Engraver:
    """A verovio toolkit set up once for the fixed page; `svg(key)` engraves one key."""

    def __post_init__(self) -> None:
        verovio.enableLog(verovio.LOG_OFF)
        self._toolkit = verovio.toolkit()
        self._toolkit.setOptions(
            {
                "scale": _SCALE,
                "pageWidth": WIDTH * 100 // _SCALE,
                "pageHeight": 3000,
                "adjustPageHeight": False,
                "pageMarginTop": 0,
                "pageMarginBottom": 0,
                "pageMarginLeft": 0,
                "pageMarginRight": 0,
                "header": "none",
                "footer": "none",
                "breaks": "auto",
                "minLastJustification": 0,  # justify the single measure across the page
                "svgViewBox": True,
            }
        )

    def svg(self, key: Key) -> str:
        if not self._toolkit.loadData(note_mei(key)):
            raise RuntimeError(f"verovio could not load the MEI of {key.name}")
        svg = self._toolkit.renderToSVG(1)
        staff = _STAFF_LINE.search(svg)
        viewbox = _INNER_VIEWBOX.search(svg)
        if staff is None or viewbox is None:
            raise RuntimeError(f"unexpected verovio SVG layout for {key.name}")
        page_width = int(viewbox.group(2))
        window_height = round(page_width * HEIGHT / WIDTH)
        top = int(staff.group(1)) - _STAFF_TOP_MARGIN
        svg = _INNER_VIEWBOX.sub(rf"\g<1>0 {top} {page_width} {window_height}\g<4>", svg, count=1)
        outer = f'<svg width="{WIDTH}px" height="{HEIGHT}px" viewBox="0 0 {WIDTH} {HEIGHT}" '
        svg = _OUTER_SVG.sub(
            outer + 'version="1.1" xmlns="http://www.w3.org/2000/svg" '
            'xmlns:xlink="http://www.w3.org/1999/xlink">',
            svg,
            count=1,
        )
        # cairosvg ignores verovio's CSS (`stroke: currentColor`, hidden placeholders):
        # draw the lines in black explicitly and drop the invisible placeholder mark.
        svg = _PLACEHOLDER.sub("", svg)
        return svg.replace("<path d=", '<path stroke="black" d=')

    def image(self, key: Key) -> np.ndarray:
        """Grayscale uint8 HEIGHT x WIDTH, white paper and dark ink."""
        png = cairosvg.svg2png(
            bytestring=self.svg(key).encode(),
            output_width=WIDTH,
            output_height=HEIGHT,
            background_color="white",
        )
        image = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
        if image.shape != (HEIGHT, WIDTH):
            raise RuntimeError(f"{key.name}: rendered {image.shape}, expected {(HEIGHT, WIDTH)}")
        return image


def engrave_targets(folder: Path) -> list[Path]:
    """Write `<folder>/<name>.png` for all 88 keys, e.g. `A#0.png`; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    engraver = Engraver()
    paths = []
    for key in KEYS:
        path = folder / f"{key.name}.png"
        Image.fromarray(engraver.image(key), mode="L").save(path, optimize=False)
        paths.append(path)
    return paths


def contact_sheet(keys: list[Key], path: Path, columns: int = 3) -> Path:
    """A labelled grid of the given keys' targets (the README's picture)."""
    engraver = Engraver()
    label = 14
    rows = -(-len(keys) // columns)
    sheet = Image.new("L", (columns * (WIDTH + 8), rows * (HEIGHT + label + 8)), 255)
    draw = ImageDraw.Draw(sheet)
    for i, key in enumerate(keys):
        x, y = (i % columns) * (WIDTH + 8), (i // columns) * (HEIGHT + label + 8)
        draw.text((x + 4, y + 1), f"{key.name} (MIDI {key.midi}, {clef_for(key).name})", fill=0)
        sheet.paste(Image.fromarray(engraver.image(key), mode="L"), (x, y + label))
        draw.rectangle((x, y + label, x + WIDTH - 1, y + label + HEIGHT - 1), outline=200)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def load_targets(folder: Path) -> np.ndarray:
    """The 88 targets as float32 (88, 1, HEIGHT, WIDTH) in [0, 1], in keyboard order."""
    images = []
    for key in KEYS:
        path = folder / f"{key.name}.png"
        if not path.is_file():
            raise FileNotFoundError(f"target image {path} is missing (88 expected in {folder})")
        image = np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255.0
        if image.shape != (HEIGHT, WIDTH):
            raise ValueError(f"{path}: shape {image.shape}, expected {(HEIGHT, WIDTH)}")
        images.append(image)
    return np.stack(images)[:, None]
