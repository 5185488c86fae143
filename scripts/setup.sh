#!/usr/bin/env bash
# Prepares everything the build and the app need, idempotently:
#   1. libtorch 2.13.0 (CPU-only by default), assembled from PyPI wheels into a cache outside the
#      work tree, so fresh clones on the same machine reuse it;
#   2. the `.libtorch` link that `.cargo/config.toml` points `LIBTORCH` at;
#   3. a CJK font, so Chinese text renders.
# Opt-in CUDA build (machines with an NVIDIA GPU): ACTIVATION_ATLAS_CUDA=1 scripts/setup.sh
set -euo pipefail

repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="${ACTIVATION_ATLAS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/activation-atlas}"
torch_version="2.13.0"
python="${PYTHON:-python3}"

log() { printf '[setup] %s\n' "$*" >&2; }

need_python() {
    command -v "$python" >/dev/null || { log "python3 is required to fetch libtorch from PyPI"; exit 1; }
}

# CPU-only libtorch from the (CUDA) PyPI wheel: the CPU libraries plus the two small CUDA runtime
# libraries that libtorch_cpu.so names as NEEDED. About 490 MB instead of 4 GB.
prepare_cpu_libtorch() {
    local target="$cache_dir/libtorch-$torch_version-cpu"
    if [[ -f "$target/.complete" ]]; then
        echo "$target"; return
    fi
    need_python
    local wheels="$cache_dir/wheels"
    mkdir -p "$wheels"
    log "downloading torch==$torch_version and CUDA runtime wheels from PyPI (once, ~550 MB)"
    "$python" -m pip download --quiet --no-deps --dest "$wheels" \
        "torch==$torch_version" "nvidia-cuda-runtime==13.0.96" "nvidia-cuda-cupti==13.0.85" >&2
    log "assembling CPU-only libtorch in $target"
    rm -rf "$target.partial"
    "$python" - "$wheels" "$target.partial" "$torch_version" <<'PY' >&2
import glob, os, shutil, sys, zipfile
wheels, out, version = sys.argv[1:4]
lib_names = {"libc10.so", "libtorch.so", "libtorch_cpu.so", "libgomp.so.1", "libshm.so"}
cuda_names = {"libcudart.so.13", "libcupti.so.13"}
os.makedirs(os.path.join(out, "lib"))
def extract(zf, member, dest):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with zf.open(member) as src, open(dest, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
torch_wheel = glob.glob(os.path.join(wheels, f"torch-{version}-*.whl"))[0]
with zipfile.ZipFile(torch_wheel) as zf:
    for m in zf.namelist():
        if m.startswith("torch/lib/") and os.path.basename(m) in lib_names:
            extract(zf, m, os.path.join(out, "lib", os.path.basename(m)))
        elif m.startswith("torch/include/") and not m.endswith("/"):
            extract(zf, m, os.path.join(out, m[len("torch/"):]))
for pattern in ("nvidia_cuda_runtime-*.whl", "nvidia_cuda_cupti-*.whl"):
    with zipfile.ZipFile(glob.glob(os.path.join(wheels, pattern))[0]) as zf:
        for m in zf.namelist():
            if os.path.basename(m) in cuda_names:
                extract(zf, m, os.path.join(out, "lib", os.path.basename(m)))
missing = (lib_names | cuda_names) - set(os.listdir(os.path.join(out, "lib")))
if missing:
    sys.exit(f"libtorch assembly incomplete, missing: {sorted(missing)}")
PY
    touch "$target.partial/.complete"
    rm -rf "$target"
    mv "$target.partial" "$target"
    rm -rf "$wheels"
    echo "$target"
}

# Full CUDA libtorch: the torch wheel with all its nvidia-* dependencies (about 4 GB) in a venv.
prepare_cuda_libtorch() {
    local venv="$cache_dir/torch-$torch_version-cuda-venv"
    need_python
    if [[ ! -f "$venv/.complete" ]]; then
        log "installing torch==$torch_version with CUDA into $venv (about 4 GB)"
        "$python" -m venv "$venv"
        "$venv/bin/pip" install --quiet "torch==$torch_version" >&2
        touch "$venv/.complete"
    fi
    "$venv/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))'
}

# WenQuanYi Micro Hei: it covers the arrows and symbols the UI uses (the Droid fallback font some
# systems have does not), and the snapshot test pins it, so it is installed even where another
# CJK font is present.
has_cjk_font() {
    compgen -G "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc" >/dev/null
}

ensure_cjk_font() {
    if has_cjk_font; then return; fi
    local sudo=""
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    if command -v apt-get >/dev/null; then
        log "installing a CJK font (fonts-wqy-microhei) so Chinese text renders"
        $sudo apt-get update -qq >&2 || true
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq fonts-wqy-microhei fontconfig >&2 \
            || log "could not install fonts-wqy-microhei; Chinese text will show as boxes until a CJK font is installed"
    else
        log "no CJK font found: install one (e.g. WenQuanYi Micro Hei or Noto Sans CJK) for Chinese text"
    fi
}

# The GUI snapshot tests render with wgpu; on machines without a GPU that needs Mesa's software
# Vulkan driver (lavapipe).
ensure_software_renderer() {
    if compgen -G "/usr/share/vulkan/icd.d/lvp_icd*.json" >/dev/null; then return; fi
    local sudo=""
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    if command -v apt-get >/dev/null; then
        log "installing Mesa's software Vulkan driver (mesa-vulkan-drivers) for the snapshot tests"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mesa-vulkan-drivers >&2 \
            || { $sudo apt-get update -qq >&2 || true; DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mesa-vulkan-drivers >&2; } \
            || log "could not install mesa-vulkan-drivers; snapshot tests need a Vulkan or GL adapter"
    else
        log "no software Vulkan driver found: snapshot tests need a Vulkan or GL adapter"
    fi
}

mkdir -p "$cache_dir"
if [[ "${ACTIVATION_ATLAS_CUDA:-0}" == 1 ]]; then
    libtorch_dir="$(prepare_cuda_libtorch)"
else
    libtorch_dir="$(prepare_cpu_libtorch)"
fi
ln -sfn "$libtorch_dir" "$repo_dir/.libtorch"
log "libtorch: $libtorch_dir"
ensure_cjk_font
ensure_software_renderer
