#!/usr/bin/env bash
# Regenerate the lock files the bootstrap and the image install from:
#   requirements/runtime.lock  (pyproject.toml [project.dependencies])
#   requirements/test.lock     (the same plus the `test` extra)
# with uv: exact versions and sha256 hashes of every file PyPI has for them, resolved for every
# platform (--universal) on Python 3.11. `--keep-venv` pins what .venv has now (the set the
# suite last passed on) wherever pyproject.toml allows it; without it, the newest allowed.
# Needs uv (`pip install 'uv>=0.5,<1'`); nothing else uses it.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
if ! command -v "$UV" >/dev/null 2>&1; then
  echo "lock.sh: uv not found; pip install 'uv>=0.5,<1' (or set UV=/path/to/uv)" >&2
  exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
constraints=()
if [ "${1:-}" = "--keep-venv" ]; then
  .venv/bin/python -m pip freeze --exclude-editable | grep -v ' @ ' > "$tmp/tested.txt"
  constraints=(-c "$tmp/tested.txt")
fi
for name in runtime test; do
  extra=()
  [ "$name" = test ] && extra=(--extra test)
  "$UV" pip compile pyproject.toml "${extra[@]}" "${constraints[@]}" --universal \
    --python-version 3.11 --generate-hashes --no-header --quiet -o "$tmp/$name.lock"
  {
    echo "# $name dependencies of postplan, locked by scripts/lock.sh (uv pip compile): do not edit."
    echo "# Install: pip install --require-hashes -r requirements/$name.lock && pip install --no-deps ."
    grep -v '^    #   -c ' "$tmp/$name.lock"
  } > "requirements/$name.lock"
done
echo "wrote requirements/runtime.lock and requirements/test.lock"
