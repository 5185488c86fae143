#!/usr/bin/env bash
# A fine-tuning epoch of EfficientNet-Lite0, side by side with the same fine-tuning in PyTorch
# 2.13 (installed from PyPI into the cached venv scripts/bench-train.sh uses, on first use):
# default layout, channels-last, and channels-last under bfloat16 autocast.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python="$(bash scripts/torch-python.sh)"
cargo bench --locked --bench finetune_epoch -- --python "$python" "$@"
