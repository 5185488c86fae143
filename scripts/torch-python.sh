#!/usr/bin/env bash
# Prints the Python of the cached benchmark venv, with PyTorch 2.13 installed from PyPI into it on
# first use (about 4 GB). The PyTorch peers of scripts/bench-train.sh and scripts/bench-network.sh
# run on it; scripts/bench-atlas.sh adds umap-learn to the same venv.
set -euo pipefail
cache_dir="${ACTIVATION_ATLAS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/activation-atlas}"
venv="$cache_dir/bench-venv"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv" >&2
# Check for torch itself, not for the venv: bench-atlas.sh may have made the venv without it.
if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "[bench] installing torch==2.13.0 into $venv" >&2
    "$venv/bin/pip" install --quiet "torch==2.13.0" >&2
fi
echo "$venv/bin/python"
