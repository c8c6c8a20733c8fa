"""Commands as a user runs them, in a subprocess from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

#: The repository's root folder, where a user runs the README's commands.
ROOT = Path(__file__).parents[1]


def run_command(
    command: Sequence[str | os.PathLike[str]],
    *,
    env: dict[str, str] | None = None,
    unset: tuple[str, ...] = (),
    inherit: bool = True,
    timeout: float = 600,
    cwd: Path | None = ROOT,
) -> subprocess.CompletedProcess[str]:
    """`command` from the repository root (`cwd`; None: the test's own working folder), its
    output captured as text; the environment is the test's, plus `env`, less `unset`
    (`inherit=False`: `env` alone, as a user's bare shell has it)."""
    environment = None  # the test's own, untouched
    if env or unset or not inherit:
        base = os.environ if inherit else {}
        environment = {k: v for k, v in {**base, **(env or {})}.items() if k not in unset}
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=environment
    )


def console_script(name: str) -> str:
    """The installed console script `name` beside this Python (sheetsweep-transcribe, ray)."""
    return str(Path(sys.executable).parent / name)


def sweep_script(*args: str) -> list[str]:
    """`platform/sweep.py ARGS` with this Python."""
    return [sys.executable, "platform/sweep.py", *args]


def sweep_command(study: str | Path, folder: Path, *extra: str) -> list[str]:
    """`platform/sweep.py` into `folder`'s own SQLite store and Tune storage."""
    return sweep_script(
        "--study",
        str(study),
        "--tracking-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--storage",
        str(folder / "tune"),
        *extra,
    )


def report_command(experiment: str, tracking_uri: str, out: Path) -> list[str]:
    """`python -m analysis report` of `experiment` in `tracking_uri`, written to `out`."""
    return [
        sys.executable,
        "-m",
        "analysis",
        "report",
        "--experiment",
        experiment,
        "--tracking-uri",
        tracking_uri,
        "--out",
        str(out),
    ]
