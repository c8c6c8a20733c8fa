"""Training one trial: its config, prepared data and splits, the loop and its step,
hardware and precision, artifacts and export, the Ray trainable and the trial CLI."""
