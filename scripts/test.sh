#!/usr/bin/env bash
# Install what the tests need, then lint, type-check and run the whole suite
# (SQLite and the machine's PostgreSQL; in-process and real uvicorn; browser and fault tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --test

# PostgreSQL must be up: start the machine's cluster if it is installed but stopped.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
fi

echo "== ruff"
.venv/bin/ruff check postplan tests bench scripts
echo "== mypy (strict)"
.venv/bin/mypy
echo "== pytest"
mkdir -p artifacts
# Two processes (pytest-xdist; each has its own Postgres database and temp files): the suite
# waits on sockets, subprocesses and sleeps far more than on the CPU, so two halve the wall time
# on a 2-core machine. PYTEST_WORKERS=0 runs it in one process.
.venv/bin/pytest -n "${PYTEST_WORKERS:-2}" "$@"
