# db-adapter container image.
#   build:  docker build -t db-adapter .        (or scripts/docker-check, which uses podman)
#   run:    docker run --rm -p 8080:8080 -e DATABASE_URL=postgresql://user:pass@host:5432/db db-adapter
#           docker run --rm -p 8080:8080 -v "$PWD/db-adapter.conf:/app/db-adapter.conf:ro" \
#               db-adapter --config /app/db-adapter.conf serve
# The server listens on port 8080 unless the configuration or `serve --port N` says otherwise.

FROM debian:bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config \
        libmicrohttpd-dev libpq-dev libjansson-dev libconfig-dev libpg-query-dev libssl-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDBA_BUILD_TESTS=OFF \
    && cmake --build build -j"$(nproc)" \
    && strip build/db-adapter

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libmicrohttpd12 libpq5 libjansson4 libconfig9 libpg-query1504.0 libssl3 zlib1g ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --user-group --home-dir /app --shell /usr/sbin/nologin dba
COPY --from=build /src/build/db-adapter /usr/local/bin/db-adapter
WORKDIR /app
USER dba
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["db-adapter"]
CMD ["serve"]
