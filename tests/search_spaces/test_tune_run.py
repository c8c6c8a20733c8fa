"""A study turned into Tune's trials: a grid's configs, bundles of fields chosen together."""

from search_spaces.study import load_study
from search_spaces.tune_run import grid_configs


def test_grid_sizes():
    assert load_study("loss").planned_trials == 3 * 3
    assert load_study("kernel").planned_trials == 3 * 3
    assert load_study("noise").planned_trials == 5 * 3
    loss_values = {c.loss for c in grid_configs(load_study("loss"))}
    assert loss_values == {"smooth_l1", "mse", "ssim"}


def test_noise_bundles_set_three_snrs_together():
    configs = grid_configs(load_study("noise"))
    settings = {(c.snr_low_db, c.snr_mid_db, c.snr_high_db) for c in configs}
    assert (10.0, 10.0, 10.0) in settings and (None, 10.0, 10.0) in settings
    assert len(settings) == 5
