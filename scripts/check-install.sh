#!/usr/bin/env bash
# Checks the desktop install as CI can: the launcher and metainfo pass desktop-file-validate and
# appstreamcli (installed from Debian's packages when missing), then scripts/install-desktop.sh
# runs into a fresh HOME and the installed binary loads libtorch from beside itself, runs, and
# scripts/uninstall-desktop.sh leaves nothing behind.
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_dir"
app_id="io.github.activation_atlas.ActivationAtlas"
if ! command -v desktop-file-validate >/dev/null || ! command -v appstreamcli >/dev/null; then
    sudo=""; [[ "$(id -u)" == 0 ]] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq desktop-file-utils appstream >/dev/null \
        || { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq desktop-file-utils appstream >/dev/null; }
fi
desktop-file-validate "assets/$app_id.desktop"
appstreamcli validate --no-net "assets/$app_id.metainfo.xml"

home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
cache="${ACTIVATION_ATLAS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/activation-atlas}"
# The toolchain and the libtorch cache stay where they are; everything installed goes to $home.
env HOME="$home" XDG_DATA_HOME= XDG_STATE_HOME= CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" \
    ACTIVATION_ATLAS_CACHE="$cache" bash scripts/install-desktop.sh
installed="$home/.local/bin/activation-atlas"
libtorch="$(realpath "$(ldd "$installed" | awk '/libtorch_cpu/ { print $3 }')")"
[[ "$libtorch" == "$(realpath "$home/.local/lib/activation-atlas/libtorch_cpu.so")" ]] || { echo "libtorch comes from $libtorch, not from beside the install" >&2; exit 1; }
if file "$installed" | grep -q "not stripped"; then echo "the installed binary is not stripped" >&2; exit 1; fi
size="$(du -h "$installed" | cut -f1)"
(cd "$home" && HOME="$home" "$installed" classify "$repo_dir/assets/icons/icon-256.png" >/dev/null)
desktop-file-validate "$home/.local/share/applications/$app_id.desktop"
[[ -f "$home/.local/share/icons/hicolor/scalable/apps/$app_id.svg" ]]
HOME="$home" XDG_DATA_HOME= bash scripts/uninstall-desktop.sh >/dev/null
left="$(find "$home/.local" -type f -not -path '*/state/*' -not -path '*/share/activation-atlas/*' 2>/dev/null | grep -v 'mimeinfo.cache' || true)"
[[ -z "$left" ]] || { echo "left after uninstall: $left" >&2; exit 1; }
echo "install check passed (installed binary $size)"
