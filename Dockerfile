# syntax=docker/dockerfile:1
# A fedtrade stakeholder node (the `fedtrade` coordinator CLI is installed too).
#
#   docker build -t fedtrade .
#   docker run --read-only --tmpfs /tmp -v ./node:/config:ro -v ./keys:/keys:ro \
#       -v ./data:/data -p 50051:50051 fedtrade
#
# Configuration is by volume and environment; see docker/entrypoint.sh and
# the README ("Operating a node"). Everything is installed at build time: the running
# container downloads nothing.

# The base: any Debian-like image with python3 (3.11+) and pip; scripts/container-test
# builds one locally with mmdebstrap and passes it as --build-arg BASE=...
ARG BASE=python:3.11-slim-bookworm

# --- build: wheels of fedtrade and all its dependencies ---------------------
FROM ${BASE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY fedtrade/ fedtrade/
COPY trust/ trust/
COPY protos/ protos/
COPY protocol/ protocol/
COPY node/ node/
COPY coordinator/ coordinator/
COPY sim/ sim/
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# --- runtime -----------------------------------------------------------------
FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FEDTRADE_NODE_CONFIG=/config/node.yaml \
    FEDTRADE_NODE_LISTEN=0.0.0.0:50051 \
    FEDTRADE_LOG_FORMAT=json \
    FEDTRADE_RUN_DIR=/tmp

# A fixed uid/gid, so bind-mounted keys and data can be owned by it on the host
# (chown 10001:10001) and orchestrators can verify "not root" numerically.
RUN groupadd --system --gid 10001 fedtrade \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin fedtrade \
 && mkdir -p /config /keys /data \
 && chown 10001:10001 /data \
 && chmod 0700 /data

RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels fedtrade
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/fedtrade-entrypoint

USER 10001:10001
WORKDIR /data
# /config: trust config and public keys (read-only); /keys: private keys, TLS
# certificate and key (read-only, mode 0600, owned by 10001); /data: the store.
VOLUME ["/config", "/keys", "/data"]
# gRPC (NodeService, health, reflection) and Prometheus metrics.
EXPOSE 50051 9464
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["fedtrade-entrypoint", "health"]
ENTRYPOINT ["fedtrade-entrypoint"]
CMD ["serve"]
