"""A model's code, checked before it runs.

A sheetsweep model is an MLflow "models from code" model: loading it executes the
`sheet_model_code.py` stored in its folder. Whoever can write to the artifact store could
put anything there, so before a model loads, its folder is read as data and its code
compared with the code this installed package stores (by SHA-256), or with one of the
versions earlier releases stored. Anything else is refused unless the caller says it
trusts the model's code (`--trust-model-code`, `load_reader(..., trust_model_code=True)`).

    python -m trainables.serving.model_code models:/piano@champion   # check, load nothing
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import sys
import tempfile
from pathlib import Path

import mlflow.artifacts
import yaml

import mlflow
from trainables.errors import SheetsweepError, first_line
from trainables.exit_codes import Exit
from trainables.tracking_uri import add_tracking_uri
from trainables.training.export import CODE_SHA256, MODEL_CODE, package_version

#: MLflow's loader for models from code: the only one that runs nothing but the code file.
LOADER = "mlflow.pyfunc.loaders.code_model"

#: The code earlier versions stored with their models, still trusted: SHA-256 -> release.
EARLIER_CODE = {
    "917028b037aba2304b9c2d0d7f6417340fc40b2e6d0bc0e072dadd9374cb800b": (
        "sheetsweep 0.1.0 before the stage sub-packages (imports trainables.sheet_model)"
    ),
}


class UntrustedModelCode(SheetsweepError):
    """A model whose stored code is not code this package ships."""


class ModelNotFound(SheetsweepError):
    """A model URI that does not resolve to a sheetsweep model."""


def model_folder(uri: str, staging: Path) -> Path:
    """The model at `uri` as a local folder (downloaded into `staging` unless it is one)."""
    from mlflow.exceptions import MlflowException

    folder = Path(uri)
    if not folder.is_dir():
        try:
            folder = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(staging)))
        except (MlflowException, OSError) as error:
            raise ModelNotFound(f"model {uri!r}: cannot be loaded ({first_line(error)})") from None
    if not (folder / "MLmodel").is_file():
        raise ModelNotFound(f"model {uri!r}: {folder} has no MLmodel file")
    return folder


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.cache
def trusted_code() -> dict[str, str]:
    """SHA-256 of each trusted `sheet_model_code.py` -> where it comes from."""
    return {sha256(MODEL_CODE): f"sheetsweep {package_version()} (installed)", **EARLIER_CODE}


def code_problems(folder: Path) -> list[str]:
    """What in the model folder (one `model_folder` found) would run code this package does
    not ship (empty: none)."""
    description = yaml.safe_load((folder / "MLmodel").read_text()) or {}
    pyfunc = (description.get("flavors") or {}).get("python_function") or {}
    problems = []
    if pyfunc.get("loader_module") != LOADER:
        problems.append(f"its loader is {pyfunc.get('loader_module')!r}, expected {LOADER!r}")
    if pyfunc.get("code"):
        problems.append(f"it adds code folder {pyfunc['code']!r} to Python's path")
    stored = Path(str(pyfunc.get("model_code_path") or "")).name
    if stored != MODEL_CODE.name:
        return [*problems, f"its code file is {stored!r}, expected {MODEL_CODE.name!r}"]
    digest = sha256(folder / stored)
    recorded = (description.get("metadata") or {}).get(CODE_SHA256)
    if digest not in trusted_code():
        logged_by = (description.get("metadata") or {}).get("sheetsweep_version", "unknown")
        problems.append(
            f"its {stored} (sha256 {digest[:12]}, logged by sheetsweep {logged_by}) is not "
            f"the code sheetsweep {package_version()} stores nor an earlier release's"
        )
    elif recorded is not None and recorded != digest:
        problems.append(f"its {stored} differs from the hash recorded when it was logged")
    return problems


def check_model_code(folder: Path, uri: str) -> str:
    """Where the model's code comes from; UntrustedModelCode when it is not trusted code."""
    problems = code_problems(folder)
    if problems:
        raise UntrustedModelCode(
            f"model {uri!r}: " + "; ".join(problems) + ". Loading it would run that code. "
            "Load it only if you trust whoever can write its artifact store: "
            "--trust-model-code (or load_reader(uri, trust_model_code=True))."
        )
    return trusted_code()[sha256(folder / MODEL_CODE.name)]


def add_trust_model_code(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust-model-code",
        action="store_true",
        help="load the model even if the code stored with it is not code this package "
        "ships (it runs on load): only for a store whose writers you trust",
    )


def main(argv: list[str] | None = None) -> int:

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="models:/NAME@ALIAS, runs:/<run id>/model, a folder")
    add_tracking_uri(parser)
    args = parser.parse_args(argv)
    mlflow.set_tracking_uri(args.tracking_uri)
    with tempfile.TemporaryDirectory() as staging:
        try:
            origin = check_model_code(model_folder(args.model, Path(staging)), args.model)
        except (ModelNotFound, UntrustedModelCode) as error:
            print(f"error: {error}", file=sys.stderr)
            return Exit.BAD_INPUT
    print(f"{args.model}: its code is {origin}'s")
    return Exit.OK


if __name__ == "__main__":
    raise SystemExit(main())
