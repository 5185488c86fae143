#!/usr/bin/env bash
# Times an atlas build on flowers17 stage by stage and compares our UMAP with Python's umap-learn
# (installed with scikit-learn into the cached benchmark venv on first use).
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_dir"
bash scripts/setup.sh
cache_dir="${ACTIVATION_ATLAS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/activation-atlas}"
venv="$cache_dir/bench-venv"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
if ! "$venv/bin/python" -c "import umap, sklearn" 2>/dev/null; then
    echo "[bench] installing umap-learn and scikit-learn into $venv" >&2
    "$venv/bin/pip" install --quiet umap-learn scikit-learn
fi
cargo bench --locked --bench atlas_build -- --python "$venv/bin/python" "$@"
