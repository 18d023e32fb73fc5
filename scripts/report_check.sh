#!/usr/bin/env bash
# make report-check: renders a `vps report` page as a person would see it, in headless Chromium (Debian's
# chromium, scripts/deps.sh report), to a PNG beside it, and checks that the picture is not blank: enough
# pixels that are not the white background and enough distinct colours (the plots, tables and GIFs).
#   scripts/report_check.sh [REPORT_HTML [PNG]]   (default out/demo/report/index.html, written by make demo)
set -euo pipefail
cd "$(dirname "$0")/.."
HTML=${1:-out/demo/report/index.html}
PNG=${2:-${HTML%.html}.png}
[ -f "$HTML" ] || { echo "report_check: $HTML not found (make demo writes out/demo/report/index.html)" >&2; exit 1; }
bash scripts/deps.sh report
rm -f "$PNG"
# --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start; the page is our own file.
timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,2400 \
  --screenshot="$PNG" "file://$(realpath "$HTML")" >/dev/null 2>&1 || true
[ -s "$PNG" ] || { echo "report_check: chromium wrote no screenshot of $HTML" >&2; exit 1; }
python3 scripts/png_not_blank.py "$PNG"
