# postplan image: multi-stage, runs as a non-root user. docs/deploy.md explains each knob.
#
#   DOCKER_BUILDKIT=1 docker build -t postplan:dev \
#     --build-arg BASE_IMAGE=python:3.11-slim-bookworm .
#
# BASE_IMAGE is any Debian/Ubuntu-like image with python3 (3.11+) and its venv module: the
# official python:3.11-slim-bookworm, or one bootstrapped from the Debian archive with
# debootstrap where no registry is reachable (scripts/image_test.sh does that).
# Dependencies come from requirements/runtime.lock only (exact versions, sha256 hashes).
# PIP_INDEX_URL / PIP_EXTRA_INDEX_URL pass a package mirror through; a TLS-intercepting proxy's
# CA bundle is handed in as the BuildKit secret `pip-ca` (never stored in a layer).
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ARG PIP_INDEX_URL=
ARG PIP_EXTRA_INDEX_URL=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_DEFAULT_TIMEOUT=120
RUN python3 -m venv /opt/postplan
COPY requirements/runtime.lock /src/requirements/runtime.lock
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi; \
    if [ -n "$PIP_INDEX_URL" ]; then export PIP_INDEX_URL; else unset PIP_INDEX_URL; fi; \
    if [ -n "$PIP_EXTRA_INDEX_URL" ]; then export PIP_EXTRA_INDEX_URL; \
    else unset PIP_EXTRA_INDEX_URL; fi; \
    /opt/postplan/bin/pip install --require-hashes -r /src/requirements/runtime.lock
COPY pyproject.toml README.md LICENSE /src/
COPY postplan /src/postplan
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi; \
    if [ -n "$PIP_INDEX_URL" ]; then export PIP_INDEX_URL; else unset PIP_INDEX_URL; fi; \
    if [ -n "$PIP_EXTRA_INDEX_URL" ]; then export PIP_EXTRA_INDEX_URL; \
    else unset PIP_EXTRA_INDEX_URL; fi; \
    /opt/postplan/bin/pip install --no-deps /src \
    && /opt/postplan/bin/python -m compileall -q /opt/postplan/lib

FROM ${BASE_IMAGE}
# ffprobe/ffmpeg: inspection of uploaded videos and their derived frames (docs/media.md).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid, so volumes and Kubernetes securityContext can name it.
RUN groupadd --gid 10001 postplan \
    && useradd --uid 10001 --gid postplan --home-dir /var/lib/postplan --create-home \
       --shell /usr/sbin/nologin postplan \
    && install -d -o postplan -g postplan /var/lib/postplan/flags /var/lib/postplan/spool
COPY --from=build /opt/postplan /opt/postplan
ENV PATH=/opt/postplan/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SPOOL_DIR=/var/lib/postplan/spool \
    LOG_FORMAT=json
WORKDIR /var/lib/postplan
USER postplan:postplan
EXPOSE 8000
# Liveness only; readiness (/readyz) is for the load balancer.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=2)"]
ENTRYPOINT ["postplan"]
CMD ["serve", "--host", "127.0.0.1", "--port", "8000"]
