# syntax=docker/dockerfile:1
# The protective-order exchange engine as a container.
#
#   docker build -t po-engine .
#   docker run --rm \
#     -v "$PWD/config:/app/config:ro" -v "$PWD/mappings:/app/mappings:ro" \
#     -v po-engine-var:/app/var \
#     -e ENGINE_AMQP_URL=amqps://... -p 9464:9464 po-engine            # engine run
#   docker run --rm -v "$PWD/orders:/in:ro" po-engine check /in/order.json
#
# Layout inside: /app holds the engine beside its schemas (engine/niem and engine/clets find
# them at ../schemas), /app/config the configuration (engine.yaml, mounted read-only), /app/var
# the spool and the SQLite ledger (a volume). Relative paths in engine.yaml (var/spool,
# sqlite:///var/ledger.db, mappings) resolve against /app, the config folder's parent.

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: a virtual environment with the engine and its dependencies ----------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/engine
WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY schemas ./schemas
# Installed in place (editable) at the same path the runtime image uses, so the engine keeps
# finding schemas/ beside engine/; every dependency ships as a wheel (lxml, psycopg[binary]),
# so no compiler is needed.
RUN /opt/engine/bin/pip install --upgrade pip \
 && /opt/engine/bin/pip install --editable . \
 && /opt/engine/bin/python -m compileall -q /app/engine

# --- runtime: the venv and the source tree, run as an unprivileged user ------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="po-engine" \
      org.opencontainers.image.description="Carries court protective orders to the state DOJ registry (CARPOS via CLETS, NCIC) in time." \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/engine/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENGINE_CONFIG=/app/config/engine.yaml \
    ENGINE_HEALTH_PORT=9464
RUN groupadd --system --gid 10001 engine \
 && useradd --system --uid 10001 --gid engine --home-dir /app --no-create-home \
            --shell /usr/sbin/nologin engine \
 && mkdir -p /app/config /app/var/spool \
 && chown -R engine:engine /app/var
COPY --from=builder /opt/engine /opt/engine
COPY --from=builder /app /app
WORKDIR /app
USER engine:engine
VOLUME ["/app/config", "/app/var"]
# Prometheus metrics, /healthz and /readyz (engine.yaml metrics_port; keep the two equal).
EXPOSE 9464
# /healthz answers while the process runs; slim has no curl, so python asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('ENGINE_HEALTH_PORT', '9464') + '/healthz', timeout=4)"]
# `engine run` stops cleanly on SIGTERM (docker stop).
ENTRYPOINT ["engine"]
CMD ["run"]
