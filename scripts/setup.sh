#!/usr/bin/env bash
# Installs VoiceDesk on a fresh Debian 12 / Ubuntu 24.04 machine (as root, or a user with sudo).
#
#   scripts/setup.sh          system packages + .venv with the app (GUI, audio)
#   scripts/setup.sh --test   the same, plus what the test suite starts for real:
#                             coturn, Chromium, Janus, PulseAudio, the test extras, and
#                             pipecat's JS client (npm) bundled for the browser test
#
# Safe to run again: apt and pip skip what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

app_packages=(
  python3 python3-venv python3-pip
  libportaudio2 libasound2-plugins pulseaudio espeak-ng
  # Qt's runtime libraries (PySide6 wheels carry Qt, not these)
  libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0
  libxcb-render-util0 libxcb-image0
)
test_packages=(pulseaudio-utils coturn chromium janus iproute2 xvfb openssl)  # openssl: a certificate for coturn's TLS test

packages=("${app_packages[@]}")
[ "$want_tests" = 1 ] && packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# pipecat's JS client comes from npm: Debian's nodejs/npm unless a node is already there (a
# non-Debian nodejs package conflicts with Debian's npm)
if [ "$want_tests" = 1 ] && ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing nodejs npm" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# coturn's and janus's packages start system services we do not want; tests start their own.
if [ "$want_tests" = 1 ] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now coturn janus >/dev/null 2>&1 || true
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
extras="gui,audio,speech"
[ "$want_tests" = 1 ] && extras="gui,audio,speech,test"
.venv/bin/python -m pip install -q -e ".[$extras]"
if [ "$want_tests" = 1 ]; then
  # the versions in its lockfile, installed again only when the lockfile's content changed; the
  # bundle is rebuilt only when the page or the lockfile did (content, not mtimes: a checkout
  # touches files it does not change)
  js=tests/e2e/pipecat_js
  lock_sum=$(sha256sum "$js/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$js/node_modules/.voicedesk-lock.sha256" 2>/dev/null)" != "$lock_sum" ]; then
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$lock_sum" >"$js/node_modules/.voicedesk-lock.sha256"
  fi
  build_sum=$(cat "$js/page.js" "$js/package.json" "$js/package-lock.json" | sha256sum | cut -d' ' -f1)
  if [ ! -f "$js/dist/page.bundle.js" ] || [ "$(cat "$js/dist/.voicedesk-build.sha256" 2>/dev/null)" != "$build_sum" ]; then
    (cd "$js" && npm run --silent build)
    echo "$build_sum" >"$js/dist/.voicedesk-build.sha256"
  fi
fi
# An editable install leaves src/ without bytecode, and where PYTHONDONTWRITEBYTECODE is
# set (as on some CI and container images) every start would compile the app from
# source: ~0.05 s of the window's start-up (bench/startup.py). pip compiles what it installs.
.venv/bin/python -m compileall -q src/voicedesk >/dev/null
echo "setup: ready ($(.venv/bin/voicedesk --version))" >&2
