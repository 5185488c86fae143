#!/usr/bin/env bash
# Prepares everything (libtorch, font) and starts the desktop app. Extra arguments go to the app,
# e.g. `scripts/run-app.sh classify photo.jpg`.
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_dir"
bash scripts/setup.sh
cargo build --release --locked --bin activation-atlas
# Honour a CARGO_TARGET_DIR the user has set.
exec "${CARGO_TARGET_DIR:-target}/release/activation-atlas" "$@"
