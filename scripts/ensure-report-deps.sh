#!/usr/bin/env bash
# Installs what rendering reports needs on Debian when it is missing: a font that covers Hangul
# (fonts-noto-cjk; embedded in every PDF, so Korean product and customer names print), Chromium
# and its headless shell (kaleido draws the charts as vector SVG with the shell), and
# poppler-utils (pdftoppm draws a report's first-page preview). `make run` calls this; without
# root or sudo it says what is missing and the app still starts (a report then says so instead
# of drawing its charts).
set -euo pipefail

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromium-headless-shell >/dev/null || missing+=(chromium-headless-shell)
fc-list :lang=ko 2>/dev/null | grep -q . || missing+=(fonts-noto-cjk)
command -v pdftoppm >/dev/null || missing+=(poppler-utils)
[ "${#missing[@]}" = 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then
  run_root() { "$@"; }
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  run_root() { sudo "$@"; }
else
  echo "== reports need ${missing[*]}: install them (apt-get install ${missing[*]}) for charts and Hangul in PDFs" >&2
  exit 0
fi
echo "== installing ${missing[*]} (reports: charts and Hangul in PDFs)"
run_root apt-get update -q
run_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
