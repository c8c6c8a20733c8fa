"""Where MLflow runs are read and written: the `--tracking-uri` every command shares."""

import argparse
import os
from pathlib import Path


def default_tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI`, else a SQLite store in the working folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def add_tracking_uri(parser: argparse.ArgumentParser) -> None:
    """The `--tracking-uri` option every command that reads or writes MLflow shares."""
    parser.add_argument(
        "--tracking-uri",
        default=default_tracking_uri(),
        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db)",
    )
