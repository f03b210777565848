#!/usr/bin/env bash
# Set up everything the project needs on a fresh Debian/Ubuntu machine: system libraries and a virtualenv in .venv.
# Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# pyzbar loads the ZBar shared library at run time; pdftoppm renders PDFs back to images in tests.
[ "$(ldconfig -p 2>/dev/null | grep -c 'libzbar\.so\.0')" -gt 0 ] || need_apt+=(libzbar0)  # not grep -q: with pipefail its early exit fails the pipe
command -v pdftoppm >/dev/null 2>&1 || need_apt+=(poppler-utils)
# The browser tests drive Debian's chromium through Playwright (Playwright's own browser download is never used).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# PDFs embed their fonts (traceability/fonts.py): a CJK TrueType for the reports, DejaVu Sans for the labels.
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need_apt+=(fonts-wqy-microhei)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || need_apt+=(fonts-dejavu-core)
if [ "${#need_apt[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "bootstrap: installing system packages: ${need_apt[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# pip's build chatter goes to a log; it is shown only when the install fails.
log=$(mktemp)
if ! .venv/bin/python -m pip install -q -e '.[dev]' >"$log" 2>&1; then
  cat "$log" >&2
  echo "bootstrap: pip install failed" >&2
  exit 1
fi
rm -f "$log"
.venv/bin/python -c "import traceability, codes, pyzbar.pyzbar, zxingcpp, cv2" \
  || { echo "bootstrap: installation is incomplete" >&2; exit 1; }
echo "bootstrap: ready (.venv)" >&2
