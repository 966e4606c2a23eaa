#!/usr/bin/env bash
# Screenshot of the app on a real X server: Xvfb the size of a 1366x768 laptop screen, with
# the openbox window manager (title bar and borders as on a desktop).
# Needs Debian packages: apt-get install -y xvfb openbox imagemagick plus the libraries in the
#   README's Linux paragraph (libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 ...)
# Usage: docs/take_screenshot.sh [OUT.png] [emocam arguments...]
#   default: the bundled sample video; docs/screenshot.png plays docs/crowd_video.py's clip:
#   python docs/crowd_video.py /tmp/crowd.mp4 && docs/take_screenshot.sh docs/screenshot.png \
#       --video /tmp/crowd.mp4
set -euo pipefail
out=${1:-docs/screenshot.png}
shift || true
if [ $# -eq 0 ]; then
    set -- --video "$(python -c 'from emocam.resources import sample_video_path as p; print(p())')"
fi
display=:77
Xvfb "$display" -screen 0 1366x768x24 -nolisten tcp &
xvfb=$!
trap 'kill "$xvfb" 2>/dev/null || true' EXIT
sleep 1
DISPLAY=$display openbox &
wm=$!
sleep 1
# A settings folder of its own: the window opens at its first-start size and place.
DISPLAY=$display XDG_CONFIG_HOME="$(mktemp -d)" emocam "$@" &
app=$!
sleep "${SCREENSHOT_DELAY:-8}"
DISPLAY=$display import -window root "$out"
kill "$app" "$wm"
wait "$app" 2>/dev/null || true
echo "wrote $out"
