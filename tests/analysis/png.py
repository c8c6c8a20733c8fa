"""What a non-trivial figure is: a real PNG of some size, with something drawn on it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def assert_real_png(data: bytes | Path, min_width: int = 600, min_height: int = 300) -> None:
    raw = data.read_bytes() if isinstance(data, Path) else data
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(raw)).convert("L")
    assert image.width >= min_width and image.height >= min_height
    pixels = np.asarray(image, dtype=float)
    assert pixels.std() > 10  # not a blank canvas
    assert (pixels < 128).mean() > 0.005  # some ink: text, lines, points
