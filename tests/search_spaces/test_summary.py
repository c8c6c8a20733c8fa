"""The plan and the summary a sweep prints."""

from search_spaces.study import load_study
from search_spaces.summary import describe_plan


def test_plan_of_an_optuna_study_names_the_space():
    text = describe_plan(load_study("full"))
    assert "lr: loguniform [0.0001, 0.01]" in text and "TPE seed 12345" in text
