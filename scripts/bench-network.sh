#!/usr/bin/env bash
# EfficientNet-Lite0 forward and Grad-CAM speed, side by side with PyTorch 2.13 (installed from
# PyPI into the same cached venv scripts/bench-train.sh uses, on first use), and prints both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/activation-atlas"
venv="$cache_dir/bench-venv"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "[bench] installing torch==2.13.0 into $venv" >&2
    "$venv/bin/pip" install --quiet "torch==2.13.0"
fi
cargo bench --locked --bench network_forward -- --python "$venv/bin/python" "$@"
