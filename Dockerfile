# syntax=docker/dockerfile:1
# Nexus image: granian serving backend.wsgi (HTTP only) on port 8000. The same image runs the
# WebSocket server (Daphne), the Celery worker and beat: docker-compose.yml overrides the
# command for each, and puts a proxy in front that sends WebSocket upgrades to Daphne and
# everything else here. Build: docker build -t nexus .

# Both stages must use the same interpreter: the virtualenv's python links to /usr/local/bin.
ARG PYTHON_IMAGE=python:3.12-slim

# --- builder: resolve the locked dependencies into /opt/venv --------------------------------
FROM ${PYTHON_IMAGE} AS builder
# uv pinned to the version the Makefile uses, so the image and `make` resolve uv.lock alike.
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/uv
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python
WORKDIR /src
COPY pyproject.toml uv.lock ./
# --frozen: install exactly uv.lock, fail if it is stale; --no-dev: no test or lint tools.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

# --- runtime: no uv, no compiler, no package caches -----------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=backend.settings \
    PORT=8000
# granian's worker processes (it reads GRANIAN_WORKERS itself, so the command leaves --workers
# out): one per core of the target host, two by default. Several processes share events only
# through a real channel layer, which is why every multi-process deployment
# (docker-compose.yml) sets REDIS_URL.
ENV GRANIAN_WORKERS=2
RUN groupadd --system --gid 10001 nexus \
    && useradd --system --uid 10001 --gid nexus --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin nexus \
    && install --directory --owner nexus --group nexus /var/lib/nexus
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
# The code stays owned by root: the service user can run it but not rewrite it.
COPY manage.py ./
COPY backend ./backend
COPY scripts/container_healthcheck.py ./scripts/
# Static files are collected at build time into STATIC_ROOT (served by WhiteNoise). With DEBUG
# off settings demand a SECRET_KEY; this one exists only for this command and is not kept.
RUN DEBUG=false SECRET_KEY=collectstatic-at-build-time-only \
        python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q backend
USER nexus
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["python", "/app/scripts/container_healthcheck.py", "web"]
# HTTP only, over WSGI (decisions 0010 and 0014). --blocking-threads 1: one request at a time
# per process, so requests queue in arrival order instead of sharing the GIL; connections and
# HTTP parsing stay in granian's Rust runtime (--runtime-mode st: one thread for it). --no-ws:
# WSGI cannot upgrade a connection, WebSockets are Daphne's behind the proxy, which also bounds
# how long a request body may take (granian has no timeout for it). --respawn-failed-workers: a
# crashed worker is replaced instead of taking the whole server down. X-Forwarded-For is
# trusted from the addresses in FORWARDED_ALLOW_IPS (backend/core/proxy.py), 127.0.0.1 unless
# set.
CMD ["granian", "--interface", "wsgi", "--host", "0.0.0.0", "--port", "8000", \
     "--blocking-threads", "1", "--runtime-mode", "st", "--no-ws", "--respawn-failed-workers", \
     "backend.wsgi:application"]
