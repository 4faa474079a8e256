#!/usr/bin/env bash
# Create .venv and install postplan (and, with --test, everything the tests need) from the lock
# files: the exact versions and hashes in requirements/*.lock (scripts/lock.sh writes them), then
# postplan itself without dependencies, so two machines get the same environment.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "${1:-}" = "--test" ]; then
  .venv/bin/python -m pip install --quiet --require-hashes -r requirements/test.lock
  .venv/bin/python -m pip install --quiet --no-deps -e .
  # System tools the tests drive for real: Chromium (browser test), promtool (alert rules),
  # nginx (SSE through a proxy), PostgreSQL client tools (test-owned clusters), ffmpeg
  # (ffprobe/ffmpeg: media inspection and the test clips).
  need=()
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v promtool >/dev/null 2>&1 || need+=(prometheus)
  command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
  command -v pg_createcluster >/dev/null 2>&1 || need+=(postgresql-common)
  command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
  if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = "0" ]; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    else
      echo "warning: missing system packages (${need[*]}); install them with apt-get as root" >&2
    fi
  fi
else
  .venv/bin/python -m pip install --quiet --require-hashes -r requirements/runtime.lock
  .venv/bin/python -m pip install --quiet --no-deps -e .
  # ffprobe/ffmpeg inspect uploaded videos and make their frames; without them every video is
  # `rejected` with inspection_unavailable (images still work).
  if ! command -v ffprobe >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ]; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
    else
      echo "warning: ffmpeg is missing (video uploads will be rejected); apt-get install ffmpeg" >&2
    fi
  fi
fi
