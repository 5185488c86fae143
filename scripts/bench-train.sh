#!/usr/bin/env bash
# Times training epochs on flowers17 in the Rust engine and in a PyTorch 2.13 twin (installed from
# PyPI into a cached venv on first use, about 4 GB), and prints both and their ratio.
# Usage: scripts/bench-train.sh [--epochs N] [--threads N]
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_dir"
bash scripts/setup.sh
python="$(bash scripts/torch-python.sh)"
cargo bench --locked --bench train_epoch -- --python "$python" "$@"
