from pathlib import Path

import pytest
import yaml

from trainables.errors import ConfigError
from trainables.training.config import TrialConfig


def test_defaults_are_valid_and_round_trip():
    config = TrialConfig()
    assert TrialConfig.from_dict(config.to_dict()) == config


def test_cli_and_yaml_values_are_coerced():
    config = TrialConfig.from_dict(
        {
            "kernel": 3,
            "lr": "1e-4",
            "batch_size": "16",
            "snr_low_db": "null",
            "snr_mid_db": "10",
            "memory_format": "contiguous",
        }
    )
    assert config.kernel == "3" and config.lr == 1e-4 and config.batch_size == 16
    assert config.snr_low_db is None and config.snr_mid_db == 10.0
    assert config.memory_format == "contiguous"


def test_precision_and_memory_format_default_to_auto_and_are_checked():
    config = TrialConfig()
    assert (config.precision, config.memory_format) == ("auto", "auto")
    with pytest.raises(ConfigError, match=r"field 'precision': 'fp8', expected one of \['auto'"):
        TrialConfig(precision="fp8")
    with pytest.raises(ConfigError, match=r"field 'memory_format': 'nhwc', expected one of"):
        TrialConfig(memory_format="nhwc")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"loss": "l3"}, r"field 'loss': 'l3', expected one of \['mse', 'smooth_l1', 'ssim'\]"),
        ({"kernel": 7}, r"field 'kernel': '7', expected one of \['3', '5', 'mixed'\]"),
        ({"lr": 0}, "field 'lr': 0.0, expected a positive number"),
        ({"lr": -0.1}, "field 'lr': -0.1"),
        ({"batch_size": 0}, "field 'batch_size': 0, expected a positive integer"),
        ({"batch_size": 2.5}, "field 'batch_size': 2.5 is not a valid int"),
        ({"epochs": "many"}, "field 'epochs': 'many' is not a valid int"),
        ({"learning_rate": 0.1}, r"unknown field\(s\) \['learning_rate'\]"),
        ({"f_max": 9000}, "field 'f_max'"),
        ({"lr": None}, "field 'lr' cannot be null"),
        (
            {"noise_colour": "grey"},
            r"field 'noise_colour': 'grey', expected one of \['white', 'pink', 'brown', 'mixed'\]",
        ),
    ],
)
def test_bad_values_name_the_field(values, message):
    with pytest.raises(ConfigError, match=message):
        TrialConfig.from_dict(values, source="trial.yaml")


def test_yaml_file_errors_name_the_file(tmp_path):
    path = tmp_path / "trial.yaml"
    path.write_text("loss: mse\nbatch_size: -4\n")
    with pytest.raises(ConfigError, match="trial.yaml: field 'batch_size'"):
        TrialConfig.from_yaml(path)
    path.write_text("- not\n- a mapping\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        TrialConfig.from_yaml(path)


def test_a_trial_config_that_is_not_utf8_names_the_file(tmp_path):
    path = tmp_path / "trial.yaml"
    path.write_bytes("# réglage de Léa\nloss: mse\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"trial.yaml: not UTF-8 text \(byte 0xe9 .*UTF-8"):
        TrialConfig.from_yaml(path)
    path.write_text("# réglage de Léa\nloss: mse\n", encoding="utf-8-sig")
    assert TrialConfig.from_yaml(path).loss == "mse"


def test_a_study_file_gives_its_fixed_configuration():
    study = Path(__file__).parents[3] / "search_spaces" / "studies" / "best.yaml"
    config = TrialConfig.from_yaml(study, {"epochs": "2"})
    fixed = yaml.safe_load(study.read_text())["fixed"]
    assert (config.kernel, config.width, config.top_db) == (
        fixed["kernel"],
        fixed["width"],
        fixed["top_db"],
    )
    assert config.epochs == 2  # overrides still win


def test_a_bad_field_of_a_study_file_names_its_fixed_section(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("name: x\nfixed:\n  batch_size: -4\n")
    with pytest.raises(ConfigError, match=r"study.yaml: fixed: field 'batch_size'"):
        TrialConfig.from_yaml(path)
