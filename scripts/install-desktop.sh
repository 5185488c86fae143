#!/usr/bin/env bash
# Installs the app for the current user so it opens by double-click, with no terminal:
#   ~/.local/bin/activation-atlas, its model, descriptions and assets under
#   ~/.local/share/activation-atlas, a launcher in ~/.local/share/applications and the icon.
# libtorch stays in the cache prepared by scripts/setup.sh (the binary finds it by its RPATH).
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_dir"
bash scripts/setup.sh
cargo build --release --locked --bin activation-atlas
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
bin_dir="$HOME/.local/bin"
share_dir="$data_home/activation-atlas"
mkdir -p "$bin_dir" "$share_dir" "$data_home/applications" "$data_home/icons/hicolor/256x256/apps"
install -m 755 "${CARGO_TARGET_DIR:-target}/release/activation-atlas" "$bin_dir/activation-atlas.new"
mv "$bin_dir/activation-atlas.new" "$bin_dir/activation-atlas"
for dir in weights descriptions assets; do
    rm -rf "$share_dir/$dir"
    cp -r "$dir" "$share_dir/$dir"
done
sed "s|@EXEC@|$bin_dir/activation-atlas|" assets/activation-atlas.desktop > "$data_home/applications/activation-atlas.desktop"
install -m 644 assets/icon.png "$data_home/icons/hicolor/256x256/apps/activation-atlas.png"
command -v update-desktop-database >/dev/null && update-desktop-database "$data_home/applications" 2>/dev/null || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q "$data_home/icons/hicolor" 2>/dev/null || true
echo "installed: $bin_dir/activation-atlas and the launcher 'Activation Atlas' (激活地图集)"
