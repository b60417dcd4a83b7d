# syntax=docker/dockerfile:1
#
# The `spektate` command in an image, serving a team by default:
#
#   docker build -t spektate .
#   docker build --build-arg VERSION=0.1.0 -t spektate:0.1.0 .   (as the release does)
#   docker run --rm -v spektate:/data spektate token create ci --scope write
#   docker run --read-only --tmpfs /tmp -v spektate:/data -p 4040:4040 spektate
#
# The store is SQLite in the volume /data unless SPEKTATE_STORE names another
# (postgres://..., azure-table:...); the token file is /data/tokens.json unless
# SPEKTATE_TOKENS names another. Every other path is read-only.

# Build: a release build of the `spektate` binary.
FROM rust:1.95-trixie AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p spektate-cli --bin spektate \
    && install -m 0755 target/release/spektate /usr/local/bin/spektate

# Run: the binary, the CA certificates it checks TLS servers with (GitHub, Azure DevOps,
# PostgreSQL with sslmode=verify-full), and curl for the health check (the binary has no
# probe command of its own).
FROM debian:trixie-slim
# The release workflow builds with --build-arg VERSION=X.Y.Z and tags the image X.Y.Z.
ARG VERSION=dev
LABEL org.opencontainers.image.title="spektate" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/spektate/spektate-rs" \
      org.opencontainers.image.licenses="MIT"
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 spektate \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home spektate \
    && mkdir /data \
    && chown 10001:10001 /data
COPY --from=build /usr/local/bin/spektate /usr/local/bin/spektate
ENV SPEKTATE_STORE=sqlite:/data/spektate.db \
    SPEKTATE_TOKENS=/data/tokens.json
VOLUME /data
WORKDIR /data
USER 10001:10001
EXPOSE 4040
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["curl", "--fail", "--silent", "--show-error", "--output", "/dev/null", "http://127.0.0.1:4040/api/health"]
ENTRYPOINT ["spektate"]
CMD ["serve", "--bind", "0.0.0.0", "--port", "4040", "--auth", "token"]
