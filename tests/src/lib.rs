//! Helpers for Tickstream's integration tests: a real server on port 0 and real clients.
//!
//! # Layout
//!
//! - [`TestServer`]: starts the server library on loopback port 0 (wss, ws and the ops
//!   listener), stops it on drop.
//! - [`TestClient`]: a connected, joined client with a verifying replica.
//! - [`own_process!`]: runs a test in a process of its own, where the process-wide metrics
//!   recorder sees only that test's server; every counter assertion needs it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use tickstream_client::{ConnectOptions, connect};
use tickstream_client::{Connection, Incoming};
use tickstream_server::replay::serve::PlaybackSource;
use tickstream_server::sim::GameCatalog;
use tickstream_server::{Config, Server, ServerHandle};
use tickstream_shared::{
    ClientMsg, EntityId, EntityState, Follow, GameEvent, Input, Join, Replica, Resume, ServerMsg,
    Spectate, Spectating, Tick, Update, Update3, Welcome,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The environment variable that names the one test a child test process runs.
const OWN_PROCESS: &str = "TICKSTREAM_TEST_OWN_PROCESS";

/// Runs the calling test in a test process of its own; see [`run_in_own_process`]. Use it as
/// the first line of a test: `if own_process!() { return Ok(()); }`.
#[macro_export]
macro_rules! own_process {
    () => {{
        fn here() {}
        $crate::run_in_own_process(::std::any::type_name_of_val(&here))
    }};
}

/// The metrics recorder is process-wide: in a test binary that runs tests in parallel, a
/// counter can rise because of another test. A test that asserts on counters runs in a process
/// of its own instead: called in the shared process, this runs the same test binary again with
/// only that test (`--exact`), waits for it, fails if it failed, and returns true (the test is
/// done); called in that child process, it returns false (run the test's body). `here` is the
/// type name of a function nested in the test, as [`own_process!`] passes it.
pub fn run_in_own_process(here: &str) -> bool {
    // `e2e::flood::a_test::{{closure}}::here` → `flood::a_test`, as libtest names the test.
    let path = here.trim_end_matches("::here");
    let path = path.trim_end_matches("::{{closure}}");
    let name = path.split_once("::").map_or(path, |(_, rest)| rest);
    if std::env::var(OWN_PROCESS).is_ok_and(|v| v == name) {
        return false;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = std::process::Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(OWN_PROCESS, name)
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} in its own process failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// True in a test process started by [`run_in_own_process`].
#[must_use]
pub fn in_own_process() -> bool {
    std::env::var_os(OWN_PROCESS).is_some()
}

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
    /// process-wide: every test server in one process reports into the same series, so a
    /// test that reads counters runs in its own process ([`own_process!`]).
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
    /// on loopback port 0 (never the default ops port 7444, which parallel tests would share).
    pub async fn start_with(edit: impl FnOnce(&mut Config)) -> anyhow::Result<Self> {
        Self::start_with_games(edit, tickstream_server::builtin_games).await
    }

    /// [`TestServer::start_with`], with the games `games` makes from the final configuration
    /// (through [`Server::bind_with_games`]): a test's own game, such as one that fails on
    /// purpose, beside or instead of the built-in ones.
    pub async fn start_with_games(
        edit: impl FnOnce(&mut Config),
        games: impl FnOnce(&Config) -> GameCatalog,
    ) -> anyhow::Result<Self> {
        let config = Self::loopback_config(edit)?;
        let games = games(&config);
        Self::started(Server::bind_with_games(config, games).await?)
    }

    /// A server that plays the recording `source` back to spectators (what
    /// `tickstream-server replay FILE --serve` runs), on loopback port 0.
    pub async fn start_playback(source: PlaybackSource) -> anyhow::Result<Self> {
        Self::start_playback_with(source, |_| {}).await
    }

    /// [`TestServer::start_playback`] with the configuration changed by `edit`.
    pub async fn start_playback_with(
        source: PlaybackSource,
        edit: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Self> {
        let config = Self::loopback_config(edit)?;
        Self::started(Server::bind_playback(config, vec![std::sync::Arc::new(source)]).await?)
    }

    /// The default configuration changed by `edit`, listening on loopback port 0.
    fn loopback_config(edit: impl FnOnce(&mut Config)) -> anyhow::Result<Config> {
        let mut config = Config::default();
        edit(&mut config);
        config.server.listen = "127.0.0.1:0".parse()?;
        config.server.ws_listen = Some("127.0.0.1:0".parse()?);
        config.server.metrics_listen = Some("127.0.0.1:0".parse()?);
        config.validate()?;
        Ok(config)
    }

    /// Runs `server` until the test stops it.
    fn started(server: Server) -> anyhow::Result<Self> {
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

    /// [`TestServer::options`] offering only `tickstream.v2`: what [`TestClient`] speaks, as it
    /// inspects v2 deltas (changes by id) and so keeps v2 serving under test; v3 clients are
    /// the bots.
    #[must_use]
    pub fn options_v2() -> ConnectOptions {
        Self::options().protocol(2)
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

/// A spectator (protocol v6) that applies every update to a verifying replica.
pub struct TestSpectator {
    /// The connection.
    pub client: Connection,
    /// The server's answer to `Spectate`.
    pub spectating: Spectating,
    /// The view as applied so far (checksums verified).
    pub replica: Replica,
    /// Every event received, in order (checked: seqs contiguous from 1).
    pub events: Vec<GameEvent>,
    /// Updates applied.
    pub updates: u64,
}

impl TestSpectator {
    /// Connects to `url` with the newest protocol and spectates `room` following `follow`:
    /// the spectator after its `Spectating`, or the close code and reason the server answered
    /// with instead.
    pub async fn spectate(
        url: &str,
        room: &str,
        follow: Option<EntityId>,
    ) -> anyhow::Result<Result<Self, (u16, String)>> {
        let mut client = tokio::time::timeout(STEP_TIMEOUT, connect(url, &TestServer::options()))
            .await
            .context("connect timed out")??;
        let msg = ClientMsg::Spectate(Spectate {
            room: room.into(),
            follow,
        });
        client.send(&msg).await?;
        let spectating = loop {
            match tokio::time::timeout(STEP_TIMEOUT, client.recv()).await?? {
                Incoming::Msg(ServerMsg::Spectating(s)) => break s,
                Incoming::Msg(ServerMsg::Error(_)) => {}
                Incoming::Close { code, reason } => return Ok(Err((code, reason))),
                other => bail!("expected Spectating, got {other:?}"),
            }
        };
        Ok(Ok(Self {
            client,
            spectating,
            replica: Replica::new(),
            events: Vec::new(),
            updates: 0,
        }))
    }

    /// Receives until the next update and applies it (verifying the checksum); pongs are
    /// skipped. Returns the update and the tick it brought the view to.
    pub async fn next_update(&mut self) -> anyhow::Result<(Update3, Tick)> {
        loop {
            let got = tokio::time::timeout(STEP_TIMEOUT, self.client.recv())
                .await
                .context("no update in time")??;
            match got {
                Incoming::Msg(ServerMsg::Update3(u)) => {
                    self.replica
                        .apply3(&u)
                        .with_context(|| format!("spectator update {}", self.updates + 1))?;
                    for e in &u.events {
                        let want = self.events.last().map_or(1, |l| l.seq + 1);
                        anyhow::ensure!(e.seq == want, "event seq {} where {want} was due", e.seq);
                        self.events.push(e.clone());
                    }
                    self.updates += 1;
                    let tick = self
                        .replica
                        .tick()
                        .context("an applied update has a tick")?;
                    return Ok((u, tick));
                }
                Incoming::Msg(ServerMsg::Pong(_)) => {}
                other => bail!("expected an update, got {other:?}"),
            }
        }
    }

    /// Follows `entity` (`None`: the whole room) from the next update on.
    pub async fn follow(&mut self, entity: Option<EntityId>) -> anyhow::Result<()> {
        self.client
            .send(&ClientMsg::Follow(Follow { entity }))
            .await?;
        Ok(())
    }

    /// Receives until the connection ends: its close code and reason, and the code of the
    /// `Error` message before it (if any). Updates on the way are not applied.
    pub async fn until_closed(&mut self) -> anyhow::Result<(u16, String, Option<u16>)> {
        until_closed(&mut self.client).await
    }
}

/// Receives on `client` until the connection ends, each message within [`STEP_TIMEOUT`]:
/// the close code and reason, and the code of the `Error` message before it (if any).
pub async fn until_closed(client: &mut Connection) -> anyhow::Result<(u16, String, Option<u16>)> {
    let mut error = None;
    loop {
        let got = tokio::time::timeout(STEP_TIMEOUT, client.recv())
            .await
            .context("nothing received in time")??;
        match got {
            Incoming::Close { code, reason } => return Ok((code, reason, error)),
            Incoming::Msg(ServerMsg::Error(e)) => error = Some(e.code),
            Incoming::Msg(_) => {}
        }
    }
}

/// A joined client that applies every update to a verifying replica.
pub struct TestClient {
    /// The connection.
    pub client: Connection,
    /// The server's welcome.
    pub welcome: Welcome,
    /// The view as applied so far (checksums verified).
    pub replica: Replica,
    /// The view after each update, by tick, for the last [`TestClient::keep_history`] ticks
    /// (none by default: a view of a big world is a megabyte, and memory tests measure RSS).
    pub history: BTreeMap<u32, Vec<EntityState>>,
    history_len: usize,
    /// Every one-shot event received on this connection, in order (checked: seqs contiguous).
    pub events: Vec<GameEvent>,
    /// The seq of the last event received, across resumes (what `Resume` carries).
    pub last_event_seq: u32,
    /// Updates applied.
    pub updates: u64,
    /// The gap between consecutive update ticks, largest seen.
    pub max_tick_gap: u32,
    next_seq: u32,
}

impl TestClient {
    /// Connects to `url`, joins `room` and waits for the welcome.
    pub async fn join(url: &str, room: &str) -> anyhow::Result<Self> {
        let msg = ClientMsg::Join(Join { room: room.into() });
        match Self::enter(url, msg).await? {
            Ok(c) => Ok(c),
            Err((code, reason)) => bail!("join refused with {code}: {reason}"),
        }
    }

    /// Connects to `url` and sends `first` (a `Join` or a `Resume`): the client after its
    /// welcome, or the close code and reason the server answered with instead.
    pub async fn enter(url: &str, first: ClientMsg) -> anyhow::Result<Result<Self, (u16, String)>> {
        let mut client =
            tokio::time::timeout(STEP_TIMEOUT, connect(url, &TestServer::options_v2()))
                .await
                .context("connect timed out")??;
        client.send(&first).await?;
        let welcome = loop {
            match tokio::time::timeout(STEP_TIMEOUT, client.recv()).await?? {
                Incoming::Msg(ServerMsg::Welcome(w)) => break w,
                Incoming::Msg(ServerMsg::Error(_)) => {}
                Incoming::Close { code, reason } => return Ok(Err((code, reason))),
                other => bail!("expected a welcome, got {other:?}"),
            }
        };
        Ok(Ok(Self {
            client,
            welcome,
            replica: Replica::new(),
            history: BTreeMap::new(),
            history_len: 0,
            events: Vec::new(),
            last_event_seq: 0,
            updates: 0,
            max_tick_gap: 0,
            next_seq: 1,
        }))
    }

    /// Drops this connection the way a phone losing its network does (no close frame) and
    /// resumes on a new one with the welcome's token: the new client (fresh replica, the
    /// events so far and the input sequence carried over), or the refusal's code and reason.
    pub async fn drop_and_resume(
        self,
        url: &str,
        room: &str,
    ) -> anyhow::Result<Result<Self, (u16, String)>> {
        let (token, last_event_seq, events, next_seq) = (
            self.welcome.resume_token.clone(),
            self.last_event_seq,
            self.events,
            self.next_seq,
        );
        drop(self.client);
        let resume = ClientMsg::Resume(Resume {
            room: room.into(),
            token,
            last_event_seq,
        });
        Ok(Self::enter(url, resume).await?.map(|mut c| {
            c.events = events;
            c.last_event_seq = last_event_seq;
            c.next_seq = next_seq;
            c
        }))
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
                        self.max_tick_gap = self.max_tick_gap.max(u.tick.since(prev));
                    }
                    self.replica
                        .apply(&u)
                        .with_context(|| format!("update for tick {:?}", u.tick))?;
                    for e in &u.events {
                        anyhow::ensure!(
                            e.seq == self.last_event_seq + 1,
                            "event seq {} after {}: events must arrive in order without gaps",
                            e.seq,
                            self.last_event_seq
                        );
                        self.last_event_seq = e.seq;
                    }
                    self.events.extend(u.events.iter().cloned());
                    self.updates += 1;
                    if self.history_len > 0 {
                        self.history
                            .insert(u.tick.0, self.replica.entities().to_vec());
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
        until_closed(&mut self.client).await
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
        Self::send_request(ws_url, local, |addr| {
            format!(
                "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Protocol: tickstream.v2\r\n{extra}\r\n"
            )
        })
        .await
    }
}

/// Reads `client` until the server's `Error` message and returns its code (what a client
/// refused before or at `Join` receives first).
pub async fn error_code(client: &mut Connection) -> anyhow::Result<u16> {
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

/// The value of one series in a Prometheus text exposition, named exactly as it is rendered
/// (`tickstream_decode_errors_total`, `tickstream_disconnects_total{code="1002"}`); `None` when
/// the exposition does not have it.
#[must_use]
pub fn metric_value(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// The series `name{label="value"}`, as the exposition renders a series with one label.
#[must_use]
pub fn series(name: &str, label: &str, value: impl std::fmt::Display) -> String {
    format!("{name}{{{label}=\"{value}\"}}")
}

/// The disconnect counter of one close code: `tickstream_disconnects_total{code="1002"}`.
#[must_use]
pub fn disconnects(code: u16) -> String {
    series(tickstream_server::metrics::DISCONNECTS, "code", code)
}

/// The counter of connections refused before the upgrade for `reason`.
#[must_use]
pub fn rejected_connections(reason: &str) -> String {
    series(
        tickstream_server::metrics::REJECTED_CONNECTIONS,
        "reason",
        reason,
    )
}

impl TestServer {
    /// The current value of `series` (see [`metric_value`]) on this server's `/metrics`; 0 for
    /// a series that does not exist yet (labelled series appear at their first use). The
    /// recorder is process-wide, so this refuses to read it unless the test runs in its own
    /// process ([`own_process!`]); compare values over time ([`TestServer::baseline`]).
    pub async fn metric(&self, series: &str) -> anyhow::Result<f64> {
        anyhow::ensure!(
            in_own_process(),
            "metrics are process-wide: start the test with `if own_process!() {{ return Ok(()); }}`"
        );
        let (status, body) = http_get(self.metrics_addr, "/metrics").await?;
        anyhow::ensure!(status == 200, "/metrics answered {status}");
        Ok(metric_value(&body, series).unwrap_or(0.0))
    }

    /// The current values of `series`, to compare with after an attack.
    pub async fn baseline(&self, series: &[&str]) -> anyhow::Result<Baseline> {
        let mut values = Vec::with_capacity(series.len());
        for s in series {
            values.push(((*s).to_owned(), self.metric(s).await?));
        }
        Ok(Baseline {
            metrics_addr: self.metrics_addr,
            values,
        })
    }
}

/// Values of some series at one moment: [`Baseline::assert_rose`] checks that a counter moved
/// since, by at least an amount. Only a test in its own process ([`own_process!`]) can take
/// one, so nothing but that test moved it.
#[derive(Debug, Clone)]
pub struct Baseline {
    metrics_addr: SocketAddr,
    values: Vec<(String, f64)>,
}

impl Baseline {
    /// The value `series` had when the baseline was taken.
    pub fn before(&self, series: &str) -> anyhow::Result<f64> {
        self.values
            .iter()
            .find(|(s, _)| s == series)
            .map(|(_, v)| *v)
            .with_context(|| format!("{series} is not in the baseline"))
    }

    /// Asserts that `series` rose by at least `by` since the baseline, waiting up to
    /// [`STEP_TIMEOUT`] for it (a session's counters move as it ends, just after its peer
    /// read the close frame). `what` says what should have moved it.
    pub async fn assert_rose(&self, series: &str, by: f64, what: &str) -> anyhow::Result<()> {
        let before = self.before(series)?;
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        let now = loop {
            let (status, body) = http_get(self.metrics_addr, "/metrics").await?;
            anyhow::ensure!(status == 200, "/metrics answered {status}");
            let now = metric_value(&body, series).unwrap_or(0.0);
            if now >= before + by || tokio::time::Instant::now() >= deadline {
                break now;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(
            now >= before + by,
            "{what}: {series} should have risen by at least {by}, went from {before} to {now}"
        );
        Ok(())
    }
}

/// The shortest window a client's updates are watched over while something else happens.
pub const MIN_UPDATE_WINDOW: Duration = Duration::from_secs(1);

/// What a client received over a window.
struct UpdateFlow {
    /// Updates after the first one.
    got: u64,
    /// The ticks of the first and the last update.
    ticks: (Tick, Tick),
}

/// Asserts that updates kept arriving and the room's ticks advanced over the window; `what`
/// says what happened meanwhile. How many per second is the benchmark's question
/// (`tickstream-bench`), not a test's on a shared machine.
fn assert_updates_flowed(flow: &UpdateFlow, what: &str) {
    let (first, last) = flow.ticks;
    assert!(
        flow.got >= 2 && last.since(first) >= 2,
        "{what}: a well-behaved client should keep receiving updates of later ticks; got {} \
         after tick {}, up to tick {}",
        flow.got,
        first.0,
        last.0
    );
}

impl TestClient {
    /// Applies updates until `done(elapsed)`, counting those after the first.
    async fn count_updates(
        &mut self,
        mut done: impl FnMut(Duration) -> bool,
    ) -> anyhow::Result<UpdateFlow> {
        let first = self.next_update().await?.tick;
        let start = std::time::Instant::now();
        let before = self.updates;
        loop {
            let last = self.next_update().await?.tick;
            if done(start.elapsed()) {
                return Ok(UpdateFlow {
                    got: self.updates - before,
                    ticks: (first, last),
                });
            }
        }
    }

    /// Applies updates for `window` (at least [`MIN_UPDATE_WINDOW`]) and asserts that they kept
    /// arriving, each for a later tick.
    pub async fn assert_updates_flow(
        &mut self,
        window: Duration,
        what: &str,
    ) -> anyhow::Result<()> {
        let window = window.max(MIN_UPDATE_WINDOW);
        let flow = self.count_updates(|e| e >= window).await?;
        assert_updates_flowed(&flow, what);
        Ok(())
    }

    /// Reads this client's updates in the background until [`UpdateWatch::finish`], which
    /// asserts that they kept arriving the whole time: the well-behaved client of an attack
    /// test, watched while the attack runs.
    #[must_use]
    pub fn watch_updates(mut self) -> UpdateWatch {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = std::sync::Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let flow = self
                .count_updates(|e| {
                    e >= MIN_UPDATE_WINDOW && stopped.load(std::sync::atomic::Ordering::Acquire)
                })
                .await?;
            Ok((self, flow))
        });
        UpdateWatch { stop, task }
    }
}

/// A well-behaved client reading its updates in the background (see
/// [`TestClient::watch_updates`]).
pub struct UpdateWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: JoinHandle<anyhow::Result<(TestClient, UpdateFlow)>>,
}

impl UpdateWatch {
    /// Stops watching (after at least [`MIN_UPDATE_WINDOW`]), asserts that the client kept
    /// receiving updates of later ticks meanwhile, and returns it. `what` says what happened
    /// meanwhile.
    pub async fn finish(self, what: &str) -> anyhow::Result<TestClient> {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        let (client, flow) = tokio::time::timeout(STEP_TIMEOUT + MIN_UPDATE_WINDOW, self.task)
            .await
            .context("the watched client stopped receiving updates")??
            .with_context(|| format!("{what}: the watched client failed"))?;
        assert_updates_flowed(&flow, what);
        Ok(client)
    }
}

impl RawUpgrade {
    /// Like [`RawUpgrade::send`], with the whole request head of the caller's making:
    /// `request(addr)` returns it, from the request line to the blank line that ends it.
    pub async fn send_request(
        ws_url: &str,
        local: Option<&str>,
        request: impl FnOnce(SocketAddr) -> String,
    ) -> anyhow::Result<Self> {
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
        stream.write_all(request(addr).as_bytes()).await?;
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

/// One client frame written by hand: `first` is the FIN/RSV/opcode byte (`0x82` a final binary
/// frame, `0x89` a ping); masked with a fixed key unless `masked` is false.
#[must_use]
pub fn client_frame(first: u8, masked: bool, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first];
    let m = if masked { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => f.push(m | n as u8),
        n @ 126..=65535 => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        let key = [0x37, 0xFA, 0x21, 0x3D];
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// Reads one server frame (servers do not mask) within [`STEP_TIMEOUT`]: its opcode and
/// payload.
pub async fn read_server_frame(s: &mut tokio::net::TcpStream) -> anyhow::Result<(u8, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let read = async {
        let mut h = [0u8; 2];
        s.read_exact(&mut h).await?;
        let len = match h[1] & 0x7F {
            126 => u64::from(s.read_u16().await?),
            127 => s.read_u64().await?,
            n => u64::from(n),
        };
        anyhow::ensure!(len <= 1 << 24, "a frame of {len} bytes");
        let mut payload = vec![0u8; len as usize];
        s.read_exact(&mut payload).await?;
        Ok((h[0] & 0x0F, payload))
    };
    tokio::time::timeout(STEP_TIMEOUT, read).await?
}

/// Reads server frames until a close frame; returns its code. Pings and data are skipped.
pub async fn close_code_of(s: &mut tokio::net::TcpStream) -> anyhow::Result<u16> {
    loop {
        let (opcode, payload) = read_server_frame(s).await?;
        if opcode == 0x8 {
            anyhow::ensure!(payload.len() >= 2, "a close frame with a code");
            return Ok(u16::from_be_bytes([payload[0], payload[1]]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::metric_value;

    #[test]
    fn series_are_found_by_their_exact_name_and_labels() {
        let text = "# HELP x_total X.\n# TYPE x_total counter\nx_total 3\n\
                    y_total{code=\"1002\"} 7\ny_total{code=\"1009\"} 1\nx_total_more 9\n";
        assert_eq!(metric_value(text, "x_total"), Some(3.0), "unlabelled");
        assert_eq!(
            metric_value(text, "y_total{code=\"1009\"}"),
            Some(1.0),
            "labelled"
        );
        assert_eq!(
            metric_value(text, "y_total"),
            None,
            "a prefix is not a series"
        );
        assert_eq!(metric_value(text, "z_total"), None, "missing");
    }
}
