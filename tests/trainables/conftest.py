"""One real trial, trained once per session: its artifacts and its MLflow Model are read by
the training tests and the model-loading tests alike."""

from __future__ import annotations

import pytest

from trainables.training.config import TrialConfig
from trainables.training.trial import run_trial

#: Small and fast, but the real model, features, losses and loop: 4 epochs lift the test
#: PSNR by about 7 dB and the first notes are read (13 s in fp32 on a 2-core AMD EPYC).
QUICK = dict(
    width=4, bottleneck=64, n_mels=64, n_fft=1024, hop_length=512, batch_size=16, lr=2e-3, epochs=4
)


@pytest.fixture(scope="session")
def quick_trial(small_root, tmp_path_factory):
    """(config, TrialOutcome, artifact folder) of QUICK trained on the small dataset."""
    out = tmp_path_factory.mktemp("trial")
    config = TrialConfig(**QUICK)
    return config, run_trial(config, small_root, out), out
