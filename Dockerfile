# syntax=docker/dockerfile:1
# Rift's container image: dependencies compiled in a layer of their own (cargo-chef), so a
# source change rebuilds only Rift; the runtime image is distroless (no shell, no package
# manager) and runs as a non-root user.
#
#   docker build -t rift .
#   docker run --rm -p 50051:50051 -p 8000:8000 -e RIFT_REDIS_URL=redis://redis:6379 \
#     -v "$PWD/tokens.txt:/run/secrets/rift_tokens:ro" rift

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.73
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin rift

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /src/target/release/rift /usr/local/bin/rift
# Off loopback Rift needs tokens (or --allow-unauthenticated); mount a tokens file here.
# RIFT_TOKENS_FILE names a path, not a secret: the tokens stay in the mounted file.
# hadolint ignore=DL3064
ENV RIFT_GRPC_ADDR=0.0.0.0:50051 \
    RIFT_HTTP_ADDR=0.0.0.0:8000 \
    RIFT_TOKENS_FILE=/run/secrets/rift_tokens \
    RIFT_LOG_FORMAT=json
EXPOSE 50051 8000
# distroless' nonroot user, by number so every runtime resolves it.
USER 65532:65532
# Readiness: the gRPC health service for rift.v1.Rift, which follows memory availability.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/rift", "health", "--addr", "http://127.0.0.1:50051"]
ENTRYPOINT ["/usr/local/bin/rift"]
CMD ["serve"]
