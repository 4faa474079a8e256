#!/usr/bin/env bash
# `make image-test`: build the postplan image and run it against this machine's Postgres.
#
#  1. base image: BASE_IMAGE if given, else postplan-base:bookworm, bootstrapped once from the
#     Debian archive with debootstrap (no registry needed) and imported with `docker import`;
#  2. build (BuildKit, host network) with pip's index and CA bundle passed through;
#  3. checks: runs as a non-root user, `postplan --version`; `postplan migrate` into a fresh
#     database; `postplan serve` (host network, free port) answers /readyz; a generate stream
#     completes; `postplan smoke` from the image against it exits 0 (an empty database, flags off).
# Every step prints its wall time. Not part of `make test` (minutes, and needs dockerd + root).
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKER=${DOCKER:-docker}
TAG=${IMAGE_TAG:-postplan:dev}
BASE=${BASE_IMAGE:-postplan-base:bookworm}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
DB=postplan_image_test_$$
START=$(date +%s)

step() { printf '\n== %s\n' "$*"; STEP_START=$(date +%s.%N); }
took() { printf '   %s: %.1f s\n' "$1" "$(echo "$(date +%s.%N) - $STEP_START" | bc)"; }

if ! "$DOCKER" info >/dev/null 2>&1; then
  echo "image-test: docker daemon not reachable (start it: dockerd --iptables=false --bridge=none &)" >&2
  exit 2
fi

if ! "$DOCKER" image inspect "$BASE" >/dev/null 2>&1; then
  if [ "$BASE" != "postplan-base:bookworm" ]; then
    echo "image-test: base image $BASE not found" >&2; exit 2
  fi
  step "bootstrap $BASE from the Debian archive (debootstrap)"
  command -v debootstrap >/dev/null || { echo "apt-get install debootstrap first" >&2; exit 2; }
  mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
  mirror=${mirror:-http://deb.debian.org/debian}
  rootfs=$(mktemp -d /var/tmp/postplan-rootfs.XXXXXX)
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" "$mirror" >/dev/null
  tar -C "$rootfs" -c . | "$DOCKER" import - "$BASE" >/dev/null
  rm -rf "$rootfs"
  took "debootstrap + import"
fi

step "build $TAG on $BASE"
build_args=(--network host --build-arg "BASE_IMAGE=$BASE" -t "$TAG")
index=$(python3 -m pip config get global.index-url 2>/dev/null || true)
[ -n "${PIP_INDEX_URL:-$index}" ] && build_args+=(--build-arg "PIP_INDEX_URL=${PIP_INDEX_URL:-$index}")
# pip's CA bundle (a TLS-intercepting egress proxy needs its CA), as a secret: never in a layer.
ca=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
[ -s "$ca" ] && build_args+=(--secret "id=pip-ca,src=$ca")
DOCKER_BUILDKIT=1 "$DOCKER" build "${build_args[@]}" . >/tmp/postplan-image-build.log 2>&1 || {
  tail -40 /tmp/postplan-image-build.log >&2; exit 1; }
took "build"
"$DOCKER" image inspect "$TAG" --format '   image size: {{.Size}} bytes'

step "runs as non-root; --version"
uid=$("$DOCKER" run --rm --network host --entrypoint id "$TAG" -u)
[ "$uid" != "0" ] || { echo "the image runs as root" >&2; exit 1; }
echo "   uid $uid; $("$DOCKER" run --rm --network host "$TAG" --version)"
took "checks"

container=""
worker=""
cleanup() {
  [ -n "$container" ] && "$DOCKER" rm -f "$container" >/dev/null 2>&1 || true
  [ -n "$worker" ] && "$DOCKER" rm -f "$worker" >/dev/null 2>&1 || true
  psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "migrate a fresh database ($DB on $PGHOST:$PGPORT)"
psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -qc "CREATE DATABASE $DB" >/dev/null
url="postgresql://$PGUSER@$PGHOST:$PGPORT/$DB"
"$DOCKER" run --rm --network host -e "DATABASE_URL=$url" "$TAG" migrate
took "migrate"

step "serve (host network) until /readyz"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
container=$("$DOCKER" run -d --init --network host -e "DATABASE_URL=$url" -e DEPLOY_ID=image-test \
  "$TAG" serve --host 127.0.0.1 --port "$port")
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/readyz"; echo
took "start to ready"

step "generate (SSE) against the container"
curl -fsS -N -X POST "http://127.0.0.1:$port/v1/ai/calendar" -H 'content-type: application/json' \
  -H 'X-User-Id: image-test' --data @examples/brief.json > /tmp/postplan-image-stream.txt
entries=$(grep -c '^event: entry' /tmp/postplan-image-stream.txt || true)
grep -q '^event: done' /tmp/postplan-image-stream.txt || { echo "no done event" >&2; exit 1; }
echo "   $entries entry events, then done"
took "generate"

step "postplan smoke (from the image) on the empty database, flags off"
"$DOCKER" run --rm --network host "$TAG" smoke --base-url "http://127.0.0.1:$port" | tail -3
took "smoke"
curl -fsS "http://127.0.0.1:$port/metrics" | grep '^postplan_build_info'

step "worker (as in deploy/compose.yaml) serves its /metrics"
mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
worker=$("$DOCKER" run -d --init --network host -e "DATABASE_URL=$url" -e DEPLOY_ID=image-test \
  "$TAG" worker --metrics-port "$mport")
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$mport/metrics" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$mport/metrics" | grep -c '^postplan_publish_results_total' \
  | sed 's/^/   publish result series: /'
"$DOCKER" stop -t 20 "$worker" >/dev/null
echo "   worker stopped on SIGTERM with exit code $("$DOCKER" inspect -f '{{.State.ExitCode}}' "$worker")"
took "worker"

printf '\nimage-test: PASS in %s s\n' "$(( $(date +%s) - START ))"
