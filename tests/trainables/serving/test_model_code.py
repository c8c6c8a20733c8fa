"""A model's stored code runs only when it is code this package ships, or when the user
says they trust it; the refusal happens before any of it runs."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.trainables.serving.test_model_logged_before_stages import FIXTURE
from trainables.serving.model_code import EARLIER_CODE, UntrustedModelCode, main, sha256
from trainables.serving.sheet_model import SheetModel, load_reader
from trainables.training.artifacts import MODEL
from trainables.training.export import CODE_SHA256, MODEL_CODE

#: What the tampered code does when it runs: leave a file beside the model.
PAYLOAD = '\nimport pathlib; pathlib.Path(__file__).with_name("ran").write_text("ran")\n'


@pytest.fixture
def logged(quick_trial, tmp_path):
    """A copy of the quick trial's MLflow Model, free to tamper with."""
    _, _, out = quick_trial
    return shutil.copytree(out / MODEL, tmp_path / "model")


def test_a_logged_model_records_the_hash_of_the_code_it_stores(logged):
    metadata = yaml.safe_load((logged / "MLmodel").read_text())["metadata"]
    assert metadata[CODE_SHA256] == sha256(logged / MODEL_CODE.name) == sha256(MODEL_CODE)
    assert isinstance(load_reader(str(logged)), SheetModel)


def test_tampered_code_is_refused_before_it_runs_unless_trusted(logged):
    code = logged / MODEL_CODE.name
    code.write_text(code.read_text() + PAYLOAD)
    with pytest.raises(UntrustedModelCode, match="sheet_model_code.py .* is not the code"):
        load_reader(str(logged))
    assert not (logged / "ran").exists()
    assert isinstance(load_reader(str(logged), trust_model_code=True), SheetModel)
    assert (logged / "ran").read_text() == "ran"


def test_a_loader_or_code_path_other_than_mlflows_code_model_is_refused(logged):
    description = yaml.safe_load((logged / "MLmodel").read_text())
    pyfunc = description["flavors"]["python_function"]
    pyfunc["loader_module"], pyfunc["code"] = "evil_loader", "code"
    (logged / "MLmodel").write_text(yaml.safe_dump(description))
    with pytest.raises(UntrustedModelCode) as refused:
        load_reader(str(logged))
    assert "its loader is 'evil_loader'" in str(refused.value)
    assert "adds code folder 'code' to Python's path" in str(refused.value)


def test_the_check_command_names_trusted_and_refused_code(logged, capsys):
    assert main([str(logged)]) == 0
    assert "(installed)'s" in capsys.readouterr().out
    code = logged / MODEL_CODE.name
    code.write_text(code.read_text() + PAYLOAD)
    assert main([str(logged)]) == 2
    assert "--trust-model-code" in capsys.readouterr().err
    assert not (logged / "ran").exists()


def test_the_code_an_earlier_release_stored_is_trusted():
    assert sha256(FIXTURE / "model" / MODEL_CODE.name) in EARLIER_CODE
    assert isinstance(load_reader(str(FIXTURE / "model")), SheetModel)
