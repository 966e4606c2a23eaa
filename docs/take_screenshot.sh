#!/usr/bin/env bash
# Screenshot of the app processing the bundled sample video, on a real X server (Xvfb).
# Needs Debian packages: apt-get install -y xvfb imagemagick libxcb-cursor0 libxkbcommon-x11-0
#   libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 libegl1 libgl1
# Usage: docs/take_screenshot.sh [OUT.png] [extra emocam arguments...]
set -euo pipefail
out=${1:-docs/screenshot.png}
shift || true
display=:77
Xvfb "$display" -screen 0 1600x900x24 -nolisten tcp &
xvfb=$!
trap 'kill "$xvfb" 2>/dev/null || true' EXIT
sleep 1
DISPLAY=$display emocam --video "$(python -c 'from emocam.resources import sample_video_path as p; print(p())')" "$@" &
app=$!
sleep "${SCREENSHOT_DELAY:-12}"
DISPLAY=$display import -window root "$out"
# The window does not fill the virtual screen: keep the window, not the black around it.
convert "$out" -trim +repage "$out"
kill "$app"
wait "$app" 2>/dev/null || true
echo "wrote $out"
