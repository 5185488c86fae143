#!/usr/bin/env bash
# EfficientNet-Lite0 forward and Grad-CAM speed, side by side with PyTorch 2.13 (installed from
# PyPI into the same cached venv scripts/bench-train.sh uses, on first use), and prints both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python="$(bash scripts/torch-python.sh)"
cargo bench --locked --bench network_forward -- --python "$python" "$@"
