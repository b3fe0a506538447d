//! Helpers for Tickstream's integration tests: a real server on port 0 and real clients.
//!
//! # Layout
//!
//! - [`TestServer`]: starts the server library on loopback port 0 (wss, ws and the ops
//!   listener), stops it on drop.
//! - [`TestClient`]: a connected, joined client with a verifying replica.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use tickstream_bot::client::{Client, Incoming};
use tickstream_bot::connect::{ConnectOptions, connect};
use tickstream_server::{Config, Server, ServerHandle};
use tickstream_shared::{
    ClientMsg, EntityState, Input, Join, Replica, ServerMsg, Tick, Update, Welcome,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The longest any single step of a test may wait; generous, because it bounds a test on a
/// loaded two-core machine rather than measuring anything.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// A server running in the test's runtime on loopback port 0.
pub struct TestServer {
    /// Where wss clients connect.
    pub wss_url: String,
    /// Where plain ws clients connect.
    pub ws_url: String,
    /// The ops listener (`/metrics`, `/healthz`, `/readyz`). The Prometheus recorder is
    /// process-wide: every test server in one test binary reports into the same series.
    pub metrics_addr: SocketAddr,
    /// A look into the running server.
    pub handle: ServerHandle,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server with the default configuration.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(|_| {}).await
    }

    /// Starts a server with the default configuration changed by `edit`; listeners are always
    /// on loopback port 0 (never the default ops port 9100, which parallel tests would share).
    pub async fn start_with(edit: impl FnOnce(&mut Config)) -> anyhow::Result<Self> {
        let mut config = Config::default();
        edit(&mut config);
        config.server.listen = "127.0.0.1:0".parse()?;
        config.server.ws_listen = Some("127.0.0.1:0".parse()?);
        config.server.metrics_listen = Some("127.0.0.1:0".parse()?);
        config.validate()?;
        let server = Server::bind(config).await?;
        let wss = server.wss_addr()?;
        let ws = server.ws_addr().context("ws listener enabled")??;
        let metrics_addr = server.metrics_addr().context("ops listener enabled")??;
        let handle = server.handle();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            wss_url: format!("wss://{wss}/ws"),
            ws_url: format!("ws://{ws}/ws"),
            metrics_addr,
            handle,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        self.begin_stop();
        self.stopped().await;
    }

    /// Starts the drain, as SIGTERM does in the binary, without waiting for it.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits (within [`STEP_TIMEOUT`]) until the server's run has ended; true if it did.
    pub async fn stopped(&mut self) -> bool {
        match self.task.take() {
            Some(task) => tokio::time::timeout(STEP_TIMEOUT, task).await.is_ok(),
            None => true,
        }
    }

    /// The options for a client that trusts the test server's self-signed certificate.
    #[must_use]
    pub fn options() -> ConnectOptions {
        ConnectOptions {
            insecure: true,
            ..ConnectOptions::default()
        }
    }

    /// A connected client over wss that has joined `room` and received its welcome.
    pub async fn join(&self, room: &str) -> anyhow::Result<TestClient> {
        TestClient::join(&self.wss_url, room).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A joined client that applies every update to a verifying replica.
pub struct TestClient {
    /// The connection.
    pub client: Client,
    /// The server's welcome.
    pub welcome: Welcome,
    /// The view as applied so far (checksums verified).
    pub replica: Replica,
    /// The view after each update, by tick, for the last [`TestClient::keep_history`] ticks
    /// (none by default: a view of a big world is a megabyte, and memory tests measure RSS).
    pub history: BTreeMap<Tick, Vec<EntityState>>,
    history_len: usize,
    /// Updates applied.
    pub updates: u64,
    /// The gap between consecutive update ticks, largest seen.
    pub max_tick_gap: u32,
    next_seq: u32,
}

impl TestClient {
    /// Connects to `url`, joins `room` and waits for the welcome.
    pub async fn join(url: &str, room: &str) -> anyhow::Result<Self> {
        let mut client = tokio::time::timeout(STEP_TIMEOUT, connect(url, &TestServer::options()))
            .await
            .context("connect timed out")??;
        client
            .send(&ClientMsg::Join(Join { room: room.into() }))
            .await?;
        let welcome = match tokio::time::timeout(STEP_TIMEOUT, client.recv()).await?? {
            Incoming::Msg(ServerMsg::Welcome(w)) => w,
            other => bail!("expected a welcome, got {other:?}"),
        };
        Ok(Self {
            client,
            welcome,
            replica: Replica::new(),
            history: BTreeMap::new(),
            history_len: 0,
            updates: 0,
            max_tick_gap: 0,
            next_seq: 1,
        })
    }

    /// Keeps the view after each of the last `ticks` updates in [`TestClient::history`].
    pub fn keep_history(&mut self, ticks: usize) {
        self.history_len = ticks;
    }

    /// Receives the next message, within [`STEP_TIMEOUT`].
    pub async fn recv(&mut self) -> anyhow::Result<Incoming> {
        Ok(tokio::time::timeout(STEP_TIMEOUT, self.client.recv())
            .await
            .context("nothing received in time")??)
    }

    /// Receives until the next update and applies it (verifying the checksum); other
    /// messages (pongs) are skipped.
    pub async fn next_update(&mut self) -> anyhow::Result<Update> {
        loop {
            match self.recv().await? {
                Incoming::Msg(ServerMsg::Update(u)) => {
                    if let Some(prev) = self.replica.tick() {
                        self.max_tick_gap = self.max_tick_gap.max(u.tick.0 - prev.0);
                    }
                    self.replica
                        .apply(&u)
                        .with_context(|| format!("update for tick {:?}", u.tick))?;
                    self.updates += 1;
                    if self.history_len > 0 {
                        self.history
                            .insert(u.tick, self.replica.entities().to_vec());
                    }
                    while self.history.len() > self.history_len {
                        self.history.pop_first();
                    }
                    return Ok(u);
                }
                Incoming::Msg(ServerMsg::Pong(_)) => {}
                other => bail!("expected an update, got {other:?}"),
            }
        }
    }

    /// Applies updates for `window` and returns how many arrived: the update rate a client
    /// kept while something else happened on the server.
    pub async fn updates_during(&mut self, window: Duration) -> anyhow::Result<u64> {
        let start = std::time::Instant::now();
        let before = self.updates;
        while start.elapsed() < window {
            self.next_update().await?;
        }
        Ok(self.updates - before)
    }

    /// Sends an input with the next sequence number; returns that number.
    pub async fn input(&mut self, dx: f32, dy: f32) -> anyhow::Result<u32> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.client
            .send(&ClientMsg::Input(Input {
                seq,
                dx,
                dy,
                buttons: 0,
            }))
            .await?;
        Ok(seq)
    }

    /// Reads updates until one acknowledges `seq`.
    pub async fn until_acked(&mut self, seq: u32) -> anyhow::Result<Update> {
        loop {
            let u = self.next_update().await?;
            if u.ack_seq >= seq {
                return Ok(u);
            }
        }
    }

    /// This client's own entity, as its replica holds it.
    pub fn own(&self) -> anyhow::Result<EntityState> {
        self.replica
            .get(self.welcome.entity)
            .copied()
            .context("own entity is in view")
    }

    /// Reads until the connection closes; returns the close code and reason. Messages before
    /// the close are ignored except an `Error`, whose code must match the close frame's.
    pub async fn until_closed(&mut self) -> anyhow::Result<(u16, String, Option<u16>)> {
        let mut error_code = None;
        loop {
            match self.recv().await? {
                Incoming::Close { code, reason } => return Ok((code, reason, error_code)),
                Incoming::Msg(ServerMsg::Error(e)) => error_code = Some(e.code),
                Incoming::Msg(_) => {}
            }
        }
    }
}

/// A GET over plain HTTP/1.1 (the ops listener, Prometheus' API): the status and the body,
/// within [`STEP_TIMEOUT`].
pub async fn http_get(addr: SocketAddr, path_and_query: &str) -> anyhow::Result<(u16, String)> {
    Ok(tickstream_bot::http::get(addr, path_and_query, STEP_TIMEOUT).await?)
}

/// A WebSocket upgrade written by hand on a raw TCP socket (plain ws), for tests that need
/// to control the bytes: from a chosen local address, with extra header lines, and then
/// frames of their own making.
pub struct RawUpgrade {
    /// The HTTP status of the answer (101 when upgraded).
    pub status: u16,
    /// The connection, positioned after the answer's headers.
    pub stream: tokio::net::TcpStream,
}

impl RawUpgrade {
    /// Sends an upgrade request for `ws_url` (`ws://HOST:PORT/ws`) from `local` (an IPv4
    /// address to bind, for example `127.0.0.2`, or `None`), with `extra` header lines (each
    /// ending in `\r\n`), and reads the answer's headers.
    pub async fn send(ws_url: &str, local: Option<&str>, extra: &str) -> anyhow::Result<Self> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr: SocketAddr = ws_url
            .trim_start_matches("ws://")
            .trim_end_matches("/ws")
            .parse()?;
        let socket = tokio::net::TcpSocket::new_v4()?;
        if let Some(local) = local {
            socket.bind(format!("{local}:0").parse()?)?;
        }
        let mut stream = socket.connect(addr).await?;
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: tickstream.v2\r\n{extra}\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            tokio::time::timeout(STEP_TIMEOUT, stream.read_exact(&mut b)).await??;
            head.push(b[0]);
        }
        let status = String::from_utf8_lossy(&head)
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        Ok(Self { status, stream })
    }
}

/// Reads `client` until the server's `Error` message and returns its code (what a client
/// refused before or at `Join` receives first).
pub async fn error_code(client: &mut Client) -> anyhow::Result<u16> {
    loop {
        match tokio::time::timeout(STEP_TIMEOUT, client.recv()).await?? {
            Incoming::Msg(ServerMsg::Error(e)) => return Ok(e.code),
            Incoming::Msg(_) => {}
            Incoming::Close { code, reason } => {
                bail!("closed with {code} ({reason:?}) before an error message")
            }
        }
    }
}

/// The resident set size of this process, in bytes (Linux `/proc/self/statm`).
pub fn rss_bytes() -> anyhow::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .context("statm has a resident field")?
        .parse()?;
    Ok(pages * 4096)
}
