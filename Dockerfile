# syntax=docker/dockerfile:1
# The protective-order exchange engine as a container.
#
#   docker build -t po-engine .
#   docker run --rm \
#     -v "$PWD/config:/app/config:ro" -v "$PWD/mappings:/app/config/mappings:ro" \
#     -v po-engine-var:/app/var \
#     -e ENGINE_AMQP_URL=amqps://... -p 9464:9464 po-engine            # engine run
#   docker run --rm -v "$PWD/orders:/in:ro" po-engine check /in/order.json
#
# Three stages: `build` makes the wheel (from the sdist, as a release does; the wheel carries
# the schemas, layout, deadline rules, example mappings and demo orders, engine/resources.py),
# `install` puts that wheel and its dependencies in a virtualenv, `runtime` is that
# virtualenv alone: no source tree, no editable install, no build tools.
# Inside: /app/config the configuration (engine.yaml, mounted read-only), /app/var the spool
# and the SQLite ledger (a volume). Relative paths in engine.yaml (var/spool,
# sqlite:///var/ledger.db, config/mappings) resolve against /app, the config folder's parent.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: the sdist and the wheel from it ---------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m pip install "build>=1.0"
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY engine ./engine
# The resource folders the build carries into the wheel (engine.resources.BUNDLES).
COPY schemas ./schemas
COPY config ./config
COPY tests/fixtures/orders ./tests/fixtures/orders
RUN python -m build --outdir /dist .

# --- install: the wheel (not editable) and its dependencies in a virtualenv --------------
FROM ${PYTHON_IMAGE} AS install
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/engine
COPY --from=build /dist /dist
# Every dependency ships as a wheel (lxml, psycopg[binary]), so no compiler is needed.
RUN /opt/engine/bin/pip install --upgrade pip \
 && /opt/engine/bin/pip install /dist/po_engine-*.whl \
 && /opt/engine/bin/engine --version

# --- runtime: the virtualenv only, run as an unprivileged user ---------------------------
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
COPY --from=install /opt/engine /opt/engine
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
