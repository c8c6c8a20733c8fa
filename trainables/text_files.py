"""Reading the text files a user writes (annotations, studies, trial configs) as UTF-8.

A file saved by a spreadsheet or an old editor is often Latin-1 or UTF-16; Python's own
UnicodeDecodeError names neither the file nor the fix, so every reader goes through here.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from trainables.errors import SheetsweepError


def read_utf8(path: Path, error: type[SheetsweepError]) -> str:
    """The text of `path`, UTF-8 with or without a BOM; `error` names the file otherwise.

    An OSError is left to the caller, which knows what the file is for.
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as decode_error:
        offset = decode_error.start
        raise error(
            f"{path}: not UTF-8 text (byte 0x{data[offset]:02x} at offset {offset}"
            f"{_looks_like(data)}); save it as UTF-8"
        ) from None


def _looks_like(data: bytes) -> str:
    """A hint for the one common case that is easy to recognise: a UTF-16 file."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return ", it looks like UTF-16"
    return ""
