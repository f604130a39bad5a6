#!/usr/bin/env bash
# Run the tests that need the optional open_clip extra, in a venv of their own.
#
# open_clip_torch pulls torch 2.14.1 + torchvision 0.29.1 (a CUDA build, ~5.5 GB, taken by
# pip from this machine's local package index). The main venv keeps its CPU torch 2.13.0, so
# the extra lives in .venv-openclip. A constraints file pins torch/torchvision so that
# installing polyseek and its dependencies never swaps them for another build.
#
# Usage: bash .ci/openclip.sh [extra pytest args]
# Env:   OPENCLIP_VENV (default .venv-openclip), PYTHON (default python3).
set -euo pipefail

cd "$(dirname "$0")/.."
venv="${OPENCLIP_VENV:-.venv-openclip}"
python="${PYTHON:-python3}"
torch_version="2.14.1"
torchvision_version="0.29.1"
start=$(date +%s)

log() { echo "[openclip.sh +$(($(date +%s) - start))s] $*"; }

if [[ ! -x "$venv/bin/python" ]]; then
    log "creating $venv"
    "$python" -m venv "$venv"
fi
py="$venv/bin/python"

constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
printf 'torch==%s\ntorchvision==%s\n' "$torch_version" "$torchvision_version" >"$constraints"

pip_install() {
    # pip, not uv: pip takes the big torch wheels from the local index on disk. The local
    # indexes each hold only some projects; pip warns about every other one: drop that noise.
    "$py" -m pip install --quiet --progress-bar off -c "$constraints" "$@" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

log "installing torch==$torch_version torchvision==$torchvision_version"
pip_install "torch==$torch_version" "torchvision==$torchvision_version"
log "installing open_clip_torch"
pip_install open_clip_torch
log "installing polyseek (editable) with its dependencies and dev tools"
pip_install -e ".[open-clip,dev]"

"$py" - <<'PY'
import open_clip
import torch

print(f"torch {torch.__version__}, open_clip {open_clip.__version__}")
PY

log "running the openclip tests"
status=0
"$py" -m pytest -m openclip tests/unit/encoders -q "$@" || status=$?
log "done (pytest exit $status)"
exit "$status"
