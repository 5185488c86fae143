#!/usr/bin/env bash
# Prepares everything (libtorch, font) and runs the whole test suite. Tests that need real
# photographs read ../shared/data/flowers17 (or $ACTIVATION_ATLAS_FLOWERS17).
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_dir"
bash scripts/setup.sh
cargo test --release --locked "$@"
