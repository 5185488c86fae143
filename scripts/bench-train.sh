#!/usr/bin/env bash
# Times training epochs on flowers17 in the Rust engine and in a PyTorch 2.13 twin (installed from
# PyPI into a cached venv on first use, about 4 GB), and prints both and their ratio.
# Usage: scripts/bench-train.sh [--epochs N] [--threads N]
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_dir"
bash scripts/setup.sh
cache_dir="${ACTIVATION_ATLAS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/activation-atlas}"
venv="$cache_dir/bench-venv"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
# The same venv serves scripts/bench-atlas.sh: check for torch itself, not for the venv.
if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "[bench] installing torch==2.13.0 into $venv" >&2
    "$venv/bin/pip" install --quiet "torch==2.13.0"
fi
cargo bench --locked --bench train_epoch -- --python "$venv/bin/python" "$@"
