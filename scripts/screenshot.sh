#!/usr/bin/env bash
# Runs the real window under Xvfb and saves a screenshot (for docs and for checking what a person
# sees). Usage: scripts/screenshot.sh OUT.png [SECONDS] [-- APP ARGS]; a script in $XDOTOOL_SCRIPT
# (xdotool commands, one per line) is played after the window appears.
# Needs: xvfb xauth imagemagick xdotool (Debian packages).
set -euo pipefail
out="$1"; wait_secs="${2:-6}"
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
display=":$((90 + RANDOM % 9))"
Xvfb "$display" -screen 0 1280x860x24 >/dev/null 2>&1 &
xvfb_pid=$!
trap 'kill $app_pid $xvfb_pid 2>/dev/null || true' EXIT
sleep 1
DISPLAY="$display" "${CARGO_TARGET_DIR:-$repo_dir/target}/release/activation-atlas" "${@:3}" >/tmp/screenshot-app.log 2>&1 &
app_pid=$!
sleep "$wait_secs"
if [[ -n "${XDOTOOL_SCRIPT:-}" ]]; then
    while IFS= read -r line; do
        [[ -z "$line" ]] && continue
        if [[ "$line" == sleep* ]]; then sleep "${line#sleep }"; else DISPLAY="$display" xdotool $line; fi
    done < "$XDOTOOL_SCRIPT"
fi
DISPLAY="$display" import -window root "$out"
echo "saved $out"
