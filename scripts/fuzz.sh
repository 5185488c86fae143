#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz / libFuzzer) of what the app reads from users' files:
#   image_input      any bytes as a picture
#   checkpoint_meta  a checkpoint's weights header and JSON sidecar
#   atlas_file       an atlas file, then rendering it
#   descriptions     a class description TOML file
#   state_dict       a PyTorch state dict (zip, legacy pickle, safetensors) for model import
#   timeline_file    an atlas timeline of a training run, then each frame's layout and cells
# Usage: scripts/fuzz.sh [TARGET|all] [SECONDS per target, default 600]
# Installs cargo-fuzz if missing. The machine's stable toolchain is used with RUSTC_BOOTSTRAP=1
# (libFuzzer's instrumentation needs unstable compiler flags). Seeds are made in fuzz/corpus/
# (not committed: they come from the shipped files and the data set); crashes land in
# fuzz/artifacts/TARGET/.
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_dir"
targets=(image_input checkpoint_meta atlas_file descriptions state_dict timeline_file)
which="${1:-all}"
seconds="${2:-600}"
flowers="${ACTIVATION_ATLAS_FLOWERS17:-$repo_dir/../shared/data/flowers17}"

log() { printf '[fuzz] %s\n' "$*" >&2; }

[[ -e .libtorch ]] || bash scripts/setup.sh
command -v cargo-fuzz >/dev/null || { log "installing cargo-fuzz"; cargo install cargo-fuzz --locked; }
export RUSTC_BOOTSTRAP=1
export LD_LIBRARY_PATH="$repo_dir/.libtorch/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# A temporary folder whose data/ links the first N photos of every class, with the app built
# (without the fuzzing environment, which would rebuild everything); prints the folder.
tiny_data() {
    local tiny class_dir photos
    tiny="$(mktemp -d)"
    for class_dir in "$flowers"/*/; do
        mkdir -p "$tiny/data/$(basename "$class_dir")"
        mapfile -t photos < <(find "$class_dir" -name '*.jpg' | sort)
        ln -s "${photos[@]:0:$1}" "$tiny/data/$(basename "$class_dir")/"
    done
    [[ -x target/release/activation-atlas ]] || env -u RUSTC_BOOTSTRAP cargo build --release --quiet >&2
    echo "$tiny"
}

seed() {
    local target="$1" dir="fuzz/corpus/$1"
    mkdir -p "$dir"
    [[ -n "$(ls -A "$dir")" ]] && return
    log "making seeds for $target"
    case "$target" in
        image_input)
            cp assets/icon.png "$dir/"
            local photos
            mapfile -t photos < <(find "$flowers" -name '*.jpg' | sort)
            cp "${photos[@]:0:4}" "$dir/"
            printf 'GIF89a\001\000\001\000\000\000\000;' > "$dir/tiny.gif"
            ;;
        state_dict)
            # The reader's test files: both torch.save formats, a wrapped checkpoint, a hostile pickle.
            cp tests/fixtures/networks/*.pth "$dir/"
            ;;
        checkpoint_meta)
            # A small weights file: just a header with the metadata copy, no tensors; the control
            # byte in front chooses the split point and whether the sidecar exists.
            python3 - "$dir" weights/flowers17.json <<'PY'
import json, struct, sys
out, sidecar = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
header = json.dumps({"__metadata__": {"activation_atlas": sidecar}}).encode()
weights = struct.pack("<Q", len(header)) + header
for control in (0, 1, 128, 200):
    open(f"{out}/seed-{control}", "wb").write(bytes([control]) + weights + sidecar.encode())
PY
            ;;
        atlas_file)
            # A tiny real atlas: one photo per class, four positions each, small grids.
            local tiny
            tiny="$(tiny_data 1)"
            target/release/activation-atlas atlas build --data "$tiny/data" --out "$dir/tiny.atlas" --samples 2 \
                --neighbors 5 --epochs 20 --grids 2,4 --icon-grids 2 --icon-steps 8 --no-paper-views >/dev/null
            rm -rf "$tiny"
            ;;
        descriptions)
            cp descriptions/flowers17.toml "$dir/"
            ;;
        timeline_file)
            # A tiny real timeline: two epochs on two photos per class, two positions each.
            local tiny
            tiny="$(tiny_data 2)"
            target/release/activation-atlas train --data "$tiny/data" --out "$tiny/run" --epochs 2 >/dev/null
            target/release/activation-atlas atlas timeline --run "$tiny/run" --data "$tiny/data" --out "$dir/tiny.timeline" \
                --samples 2 --epochs 20 >/dev/null
            rm -rf "$tiny"
            ;;
    esac
}

run() {
    local target="$1" max_len=65536
    seed "$target"
    if [[ "$target" == atlas_file ]]; then
        max_len=$(( $(stat -c %s "fuzz/corpus/atlas_file/tiny.atlas") * 2 ))
    fi
    log "fuzzing $target for $seconds s"
    cargo fuzz run --release "$target" "fuzz/corpus/$target" -- -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=4096
}

if [[ "$which" == all ]]; then
    for target in "${targets[@]}"; do run "$target"; done
else
    run "$which"
fi
