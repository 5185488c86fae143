#!/usr/bin/env bash
# Responsiveness and memory under load, on flowers17:
#   1. UI-thread frame times while training (60 s), while the panel builds an atlas, and with both;
#   2. peak resident memory of a command-line atlas build (the default build, icons 10/20/40).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
flowers="${ACTIVATION_ATLAS_FLOWERS17:-../shared/data/flowers17}"
cargo bench --locked --bench frame_time -- --seconds 60
cargo bench --locked --bench frame_time -- --atlas
cargo bench --locked --bench frame_time -- --both
cargo build --release --locked --quiet
out="$(mktemp -d)"
/usr/bin/time -f "peak memory of 'atlas build' on flowers17: %M KB (%e s)" \
    "${CARGO_TARGET_DIR:-target}/release/activation-atlas" atlas build --data "$flowers" --out "$out/flowers17.atlas" >/dev/null
rm -rf "$out"
