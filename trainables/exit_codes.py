"""The exit status of every sheetsweep command, so a script or CI can tell what happened.

Documented in docs/exit_codes.md; a command that finds several of these exits with the
highest.
"""

from enum import IntEnum


class Exit(IntEnum):
    OK = 0  # everything asked for was done and recorded
    NO_RESULT = 1  # it ran, but has nothing to show: no trial finished, no note read
    BAD_INPUT = 2  # refused before any work: a study, an argument, a file, a model
    INCOMPLETE = 3  # done, but part of it failed: a trial, a note, a run's scores missing
    NOT_RECORDED = 4  # done, but MLflow lacks part of it: a planned trial, a write refused
