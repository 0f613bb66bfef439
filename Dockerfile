# db-adapter container image.
#   build:  docker build -t db-adapter .        (or scripts/docker-check, which uses podman)
#   run:    docker run --rm -p 8080:8080 -e DATABASE_URL=postgresql://user:pass@host:5432/db db-adapter
#           docker run --rm -p 3000:3000 -e PGRST_DB_URI=postgresql://... -e PGRST_SERVER_PORT=3000 \
#               -e PGRST_DB_SCHEMAS=api -e PGRST_DB_ANON_ROLE=web_anon db-adapter
#           docker run --rm -p 8080:8080 -v "$PWD/db-adapter.conf:/app/db-adapter.conf:ro" \
#               db-adapter --config /app/db-adapter.conf serve
# Everything can come from the environment (DBA_*, PGRST_*, DATABASE_URL; no file needed). The
# server listens on server.port (8080 unless DBA_SERVER_PORT, PGRST_SERVER_PORT, the file or
# `serve --port N` say otherwise); the HEALTHCHECK (`db-adapter health`) reads the same
# configuration, so it follows the port. The image runs as the unprivileged user dba (10001).
#
# The runtime image is FROM scratch: the stripped binary, the shared libraries it links (found
# with ldd in the build stage), the CA certificates, and passwd/group/nsswitch files. No shell,
# no package manager, no curl: `db-adapter health` is the health check tool.

FROM debian:bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config ca-certificates \
        libmicrohttpd-dev libpq-dev libjansson-dev libconfig-dev libpg-query-dev libssl-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG DBA_GIT_COMMIT=unknown
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDBA_BUILD_TESTS=OFF \
        -DDBA_GIT_COMMIT="$DBA_GIT_COMMIT" \
    && cmake --build build -j"$(nproc)" \
    && strip --strip-all build/db-adapter
# The runtime tree: the binary and every library ldd resolves, at their real (merged /usr)
# paths, with the /lib and /lib64 links the dynamic loader path needs.
RUN set -eu; R=/rootfs; \
    mkdir -p "$R/usr/local/bin" "$R/etc/ssl/certs" "$R/tmp" "$R/app"; \
    chmod 1777 "$R/tmp"; \
    cp build/db-adapter "$R/usr/local/bin/db-adapter"; \
    for so in $(ldd build/db-adapter | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do \
        dir=$(realpath "$(dirname "$so")"); \
        mkdir -p "$R$dir"; \
        cp -L "$so" "$R$dir/$(basename "$so")"; \
        strip --strip-unneeded "$R$dir/$(basename "$so")" 2>/dev/null || true; \
    done; \
    for l in lib lib64 lib32; do \
        if [ -L "/$l" ]; then ln -s "$(readlink "/$l")" "$R/$l"; fi; \
    done; \
    cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/"; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\ndba:x:10001:10001:db-adapter:/app:/sbin/nologin\n' >"$R/etc/passwd"; \
    printf 'root:x:0:\ndba:x:10001:\n' >"$R/etc/group"; \
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$R/etc/nsswitch.conf"; \
    chown 10001:10001 "$R/app"; \
    "$R/usr/local/bin/db-adapter" --version

FROM scratch
COPY --from=build /rootfs/ /
ENV PATH=/usr/local/bin
WORKDIR /app
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["db-adapter", "health"]
ENTRYPOINT ["db-adapter"]
CMD ["serve"]
