#!/usr/bin/env bash
# Installs the app for the current user so it opens by double-click, with no terminal, and keeps
# working when the build cache or the checkout is gone:
#   ~/.local/bin/activation-atlas (stripped), the libtorch libraries it loads under
#   ~/.local/lib/activation-atlas (the binary's RPATH looks there first), its model, descriptions
#   and assets under ~/.local/share/activation-atlas, the launcher, icons (48-512 px and SVG) and
#   the AppStream metainfo. scripts/uninstall-desktop.sh removes all of it.
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_dir"
app_id="io.github.activation_atlas.ActivationAtlas"
bash scripts/setup.sh
cargo build --release --locked --bin activation-atlas
binary="${CARGO_TARGET_DIR:-target}/release/activation-atlas"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
bin_dir="$HOME/.local/bin"
lib_dir="$HOME/.local/lib/activation-atlas"
share_dir="$data_home/activation-atlas"
mkdir -p "$bin_dir" "$lib_dir" "$share_dir" "$data_home/applications" "$data_home/metainfo"

# Every shared library the binary resolves outside the system's own folders (libtorch, its
# OpenMP and CUDA runtimes), copied beside each other.
ldd "$binary" | awk '/=> \// { print $3 }' | while read -r lib; do
    case "$lib" in
        /lib/*|/lib64/*|/usr/lib/*|/usr/lib64/*) ;;
        *) install -m 644 "$lib" "$lib_dir/$(basename "$lib").new" && mv "$lib_dir/$(basename "$lib").new" "$lib_dir/$(basename "$lib")" ;;
    esac
done
install -s -m 755 "$binary" "$bin_dir/activation-atlas.new"
mv "$bin_dir/activation-atlas.new" "$bin_dir/activation-atlas"
for dir in weights descriptions assets; do
    rm -rf "$share_dir/$dir"
    cp -r "$dir" "$share_dir/$dir"
done

sed "s|@EXEC@|$bin_dir/activation-atlas|" "assets/$app_id.desktop" > "$data_home/applications/$app_id.desktop"
install -m 644 "assets/$app_id.metainfo.xml" "$data_home/metainfo/$app_id.metainfo.xml"
for size in 48 64 128 256 512; do
    mkdir -p "$data_home/icons/hicolor/${size}x${size}/apps"
    install -m 644 "assets/icons/icon-$size.png" "$data_home/icons/hicolor/${size}x${size}/apps/$app_id.png"
done
mkdir -p "$data_home/icons/hicolor/scalable/apps"
install -m 644 assets/icons/activation-atlas.svg "$data_home/icons/hicolor/scalable/apps/$app_id.svg"
# The launcher of earlier versions had another name.
rm -f "$data_home/applications/activation-atlas.desktop" "$data_home/icons/hicolor/256x256/apps/activation-atlas.png"
command -v update-desktop-database >/dev/null && update-desktop-database "$data_home/applications" 2>/dev/null || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q "$data_home/icons/hicolor" 2>/dev/null || true
echo "installed: $bin_dir/activation-atlas ($(du -sh "$lib_dir" | cut -f1) of libraries in $lib_dir) and the launcher 'Activation Atlas' (激活地图集)"
