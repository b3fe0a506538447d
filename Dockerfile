# syntax=docker/dockerfile:1
#
# The tickstream-server image: built with the Rust toolchain, run on a slim Debian as a
# non-root user. From the repository root:
#
#   docker build -t registry.example.com/tickstream-server:0.1.0 .
#
# docs/DEPLOY.md runs it as an Agones Fleet (deploy/agones/).

# ---- build: the README's build command, with the registry and target cached between builds
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p tickstream-server \
    && install -D -m 0755 target/release/tickstream-server /out/tickstream-server

# ---- run: the binary (web client compiled in), the assets beside it, no shell login, no root
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin tickstream
COPY --from=build /out/tickstream-server /usr/local/bin/tickstream-server
# The default config, the reference scenarios, the Grafana dashboard and the alert rules.
COPY assets /usr/share/tickstream/assets
USER 10001:10001
# wss:// for players; plain-HTTP ops (/metrics, /healthz, /readyz, /rooms) for the cluster.
EXPOSE 7443 7444
ENTRYPOINT ["/usr/local/bin/tickstream-server"]
CMD ["--config", "/usr/share/tickstream/assets/config.toml", "--listen", "0.0.0.0:7443", "--metrics-listen", "0.0.0.0:7444", "--log-format", "json"]
