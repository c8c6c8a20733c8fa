"""A study file: the shipped studies load and plan, and a broken one gets one clear message."""

from pathlib import Path

import pytest
import yaml

from search_spaces.study import STUDIES_DIR, StudyError, load_study, parse_study
from search_spaces.tune_run import grid_configs

SHIPPED = sorted(p.stem for p in STUDIES_DIR.glob("*.yaml"))


def test_the_five_studies_ship():
    assert {"smoke", "loss", "kernel", "noise", "full"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_study_loads_and_plans(name):
    study = load_study(name)
    assert study.name == name
    assert study.question and study.planned_trials >= 1
    text = (STUDIES_DIR / f"{name}.yaml").read_text()
    assert text.startswith("#") and f"--study {name}" in text.splitlines()[1] + text
    if study.searcher == "grid":
        configs = grid_configs(study)
        assert len(configs) == study.planned_trials
        assert len({tuple(sorted(c.to_dict().items())) for c in configs}) == len(configs)


def test_full_study_is_optuna_with_asha():
    study = load_study("full")
    assert (study.searcher, study.scheduler) == ("optuna", "asha")
    assert study.optuna_seed == 12345
    kinds = {d.name: d.kind for d in study.space}
    assert kinds["lr"] == "loguniform" and kinds["loss"] == "choice"


def base() -> dict:
    return yaml.safe_load((STUDIES_DIR / "smoke.yaml").read_text())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.update(epochz=3), r"unknown field\(s\) \['epochz'\]"),
        (lambda s: s.pop("metric"), r"missing or empty field\(s\) \['metric'\]"),
        (lambda s: s.update(seeds="0,1"), "field 'seeds': '0,1' is not a list"),
        (lambda s: s.update(seeds=[]), "field 'seeds'"),
        (lambda s: s.update(mode="maximise"), "field 'mode': 'maximise'"),
        (lambda s: s.update(metric="accuracy"), "field 'metric': 'accuracy'"),
        (lambda s: s.update(space={}), "field 'space' is empty"),
        (lambda s: s["space"].update(loss={"choice": []}), "space.loss.choice: expected a non"),
        (lambda s: s["space"].update(loss={"choice": ["l1", "mse"]}), "field 'loss': 'l1'"),
        (
            lambda s: s["space"].update(kernel={"choice": [3, 7]}) or s["fixed"].pop("kernel"),
            "field 'kernel': '7'",
        ),
        (lambda s: s["space"].update(lr={"uniform": [0.1, 0.01]}), "low 0.1 must be below"),
        (lambda s: s["space"].update(lr={"loguniform": [0, 0.01]}), "must be positive"),
        (lambda s: s["space"].update(lr={"normal": [0, 1]}), "unknown distribution 'normal'"),
        (
            lambda s: s["space"].update(lr={"uniform": [0.001, 0.01]}) or s["fixed"].pop("lr"),
            "needs 'choice'",
        ),
        (lambda s: s["fixed"].update(loss="mse"), r"\['loss'\] both fixed and searched"),
        (lambda s: s["fixed"].update(seed=3), "set repeats with 'seeds"),
        (lambda s: s["fixed"].update(batch_size=0), "field 'batch_size': 0"),
        (lambda s: s["fixed"].update(lr=-1), "field 'lr'"),
        (lambda s: s.update(resources={"cpu": 0}), "expected cpu > 0"),
        (lambda s: s.update(resources={"gpus": 1}), r"unknown field\(s\) \['gpus'\]"),
        (lambda s: s.update(resources={"cpu": 1, "gpu": 1.5}), "fractions only below one"),
        (lambda s: s.update(scheduler="hyperband"), "field 'scheduler': 'hyperband'"),
        (
            lambda s: s.setdefault("dataset", {}).update(renderer="timidity"),
            r"dataset.renderer: 'timidity', expected one of \['tinysoundfont', 'fluidsynth'\]",
        ),
        (
            lambda s: s.update(dataset={"merge": ["data/a", "data/b"], "presets": [0]}),
            r"a merged dataset \(merge\) is not rendered: drop \['presets'\]",
        ),
        (
            lambda s: s.update(dataset={"test": ["salamander-v03"]}),
            "test and train split a merged dataset: add merge",
        ),
        (
            lambda s: s.update(dataset={"merge": "data/a,data/b"}),
            "dataset.merge",
        ),
    ],
)
def test_bad_studies_fail_with_a_clear_message(edit, message, tmp_path):
    raw = base()
    edit(raw)
    with pytest.raises(StudyError, match=message):
        parse_study(raw, tmp_path / "bad.yaml")


def test_bad_yaml_and_unknown_names(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(StudyError, match="broken.yaml: not a readable YAML"):
        load_study(path)
    with pytest.raises(StudyError, match="no study named 'lossy'.*'loss'"):
        load_study("lossy")


def test_a_study_that_is_not_utf8_names_the_file(tmp_path):
    text = (STUDIES_DIR / "smoke.yaml").read_text(encoding="utf-8")
    text = text.replace("question: Does", "question: Déjà, does", 1)
    path = tmp_path / "latin.yaml"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(StudyError, match=r"latin.yaml: not UTF-8 text \(byte 0xe9 .*UTF-8"):
        load_study(path)
    path.write_text(text, encoding="utf-8-sig")  # a BOM is fine
    assert load_study(path).question.startswith("Déjà, does")


def test_best_study_holds_each_of_its_soundfonts_out_once_beside_the_model_that_heard_all():
    study = load_study("best")
    configs = grid_configs(study)
    held = [c.held_out for c in configs]
    soundfonts = {Path(name).stem for name in study.dataset.soundfonts}
    # FluidR3Mono is FluidR3 GM in mono: held out with it (trainables/data/timbres.py)
    assert None in held and set(held) - {None} == soundfonts - {"FluidR3Mono_GM"}
    assert len(held) == len(set(held)) and {c.seed for c in configs} == {0}
    assert len({c.replace(held_out=None) for c in configs}) == 1  # one configuration
    # MuseScore General's acoustic pianos need FluidSynth (trainables/data/fluidsynth_notes.py)
    assert study.dataset.renderer == load_study("timbre").dataset.renderer == "fluidsynth"
    assert load_study("timbre").fixed == study.fixed  # its seeds repeat `best`'s held-out trials
    noisiest = min(c.snr_low_db for c in grid_configs(load_study("noise")) if c.snr_low_db)
    assert {configs[0].snr_low_db, configs[0].snr_mid_db, configs[0].snr_high_db} == {noisiest}
