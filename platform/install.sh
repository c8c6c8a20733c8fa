#!/usr/bin/env bash
# Install sheetsweep into ./.venv with everything it needs, on a fresh Debian/Ubuntu machine.
#
#   bash platform/install.sh          # system libraries (as root), then the project + dev tools
#
# System libraries: libcairo2 for cairosvg; portaudio19-dev so that pyaudio (which
# tinysoundfont imports) builds; libfluidsynth3 for the fluidsynth renderer. Torch is
# pinned in pyproject.toml (torch 2.14.1 + torchaudio 2.11.0, a CUDA build that also runs
# on the CPU).
set -euo pipefail
cd "$(dirname "$0")/.."

# EXTRA_PACKAGES: more Debian packages, e.g. the SoundFonts the slow tests use
needed=()
for package in libcairo2 portaudio19-dev libfluidsynth3 ${EXTRA_PACKAGES:-}; do
    dpkg -s "$package" >/dev/null 2>&1 || needed+=("$package")
done
if ((${#needed[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "install.sh: please install ${needed[*]} (e.g. sudo apt-get install -y ${needed[*]})" >&2
        exit 1
    fi
    echo "installing system packages: ${needed[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${needed[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# (the filter only hides a local package mirror's noise; pip's exit status still counts)
.venv/bin/python -m pip install --quiet --progress-bar off -e '.[dev]' \
    2> >(grep -v "^WARNING: Location" >&2)
.venv/bin/python -c "import torch, torchaudio, ray, mlflow, optuna, tinysoundfont, fluidsynth, verovio, cairosvg; \
print(f'sheetsweep installed: torch {torch.__version__}, torchaudio {torchaudio.__version__}, \
ray {ray.__version__}, mlflow {mlflow.__version__}, optuna {optuna.__version__}')"
