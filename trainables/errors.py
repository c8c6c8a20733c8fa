"""Typed errors raised at the edges (loading a file, a SoundFont or a config).

Each message names the file, row or field and what was expected, so the user can fix
the input without reading a traceback.
"""


class SheetsweepError(Exception):
    """Base of every error this project raises on purpose."""


class SoundFontError(SheetsweepError):
    """A SoundFont is missing, unreadable, or lacks a requested preset."""


class DatasetError(SheetsweepError):
    """An annotations file, a wav file or a dataset folder breaks the data contract."""


class ConfigError(SheetsweepError):
    """A trial config or study holds an unknown key, a wrong type or a bad value."""


def first_line(error: BaseException, limit: int | None = None) -> str:
    """An error's first line (at most `limit` characters), or its type when it says nothing:
    what a one-line message quotes of an exception from a library."""
    text = str(error)
    return text.splitlines()[0][:limit] if text else type(error).__name__
