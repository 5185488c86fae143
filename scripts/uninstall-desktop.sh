#!/usr/bin/env bash
# Removes what scripts/install-desktop.sh installed. The user's own files (settings in
# ~/.config/activation-atlas, training runs, atlases, descriptions, downloaded data sets under
# ~/.local/share/activation-atlas, logs) stay unless --all is given.
set -euo pipefail
app_id="io.github.activation_atlas.ActivationAtlas"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
share_dir="$data_home/activation-atlas"
rm -f "$HOME/.local/bin/activation-atlas"
rm -rf "$HOME/.local/lib/activation-atlas"
rm -rf "$share_dir/weights" "$share_dir/descriptions" "$share_dir/assets"
rm -f "$data_home/applications/$app_id.desktop" "$data_home/metainfo/$app_id.metainfo.xml"
rm -f "$data_home/applications/activation-atlas.desktop"
for size in 48 64 128 256 512; do
    rm -f "$data_home/icons/hicolor/${size}x${size}/apps/$app_id.png"
done
rm -f "$data_home/icons/hicolor/scalable/apps/$app_id.svg" "$data_home/icons/hicolor/256x256/apps/activation-atlas.png"
if [[ "${1:-}" == "--all" ]]; then
    rm -rf "$share_dir" "${XDG_STATE_HOME:-$HOME/.local/state}/activation-atlas" "${XDG_CONFIG_HOME:-$HOME/.config}/activation-atlas"
fi
command -v update-desktop-database >/dev/null && update-desktop-database "$data_home/applications" 2>/dev/null || true
echo "uninstalled Activation Atlas$([[ "${1:-}" == "--all" ]] && echo ' and its user files')"
