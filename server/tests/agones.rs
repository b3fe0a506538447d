//! The Agones lifecycle of the real binary, against an in-process stand-in for the SDK sidecar.
//!
//! Kubernetes and Agones' own local SDK server cannot run here, so [`Sidecar`] speaks the part
//! of the SDK's HTTP gateway the server uses, as Agones documents it ("REST Game Server Client
//! API" and `sdks/swagger/*.swagger.json`): `POST /ready`, `/health`, `/shutdown`,
//! `GET /gameserver`, the newline-delimited JSON stream of `GET /watch/gameserver`, and
//! `PATCH /v1beta1/counters/{name}` with `{"count": "N"}`. Its error answers are the ones
//! Agones' sources give (v1.56; see [`update_counter`]), not the ones its API comments
//! promise. It records every call and drives the server by changing the GameServer it reports
//! (labels, `Shutdown`).
//!
//! What is checked: Ready only after the listeners are bound; Health at the configured period;
//! the `players` and `rooms` Counters following players joining and leaving; an undeclared
//! Counter and a count beyond a Counter's capacity reported once and not pushed again;
//! allocation labels opening a room with its game; Shutdown from Agones draining every player
//! with 1001 and exit 0; a sidecar missing at start or dying mid-game costing nothing but
//! counted errors; `shutdown_when_empty`; and nothing at all tried with `[agones]` off.
#![cfg(feature = "agones")]

mod support;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use support::{
    STEP_TIMEOUT, ServerProcess, assert_all_closed_with_1001, http_get, join_and_wait_for_close,
};
use tickstream_client::{ConnectOptions, connect};
use tickstream_client::{Connection, Incoming as Received};
use tickstream_shared::{ClientMsg, Join, ServerMsg};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

/// The health period the tests configure, in milliseconds.
const HEALTH_PERIOD_MS: u64 = 300;

// ---------------------------------------------------------------------------------------------
// The stand-in sidecar.

/// One call the server made.
#[derive(Debug, Clone)]
struct Call {
    at: Instant,
    method: Method,
    path: String,
    body: String,
}

/// What the stand-in knows: the calls, the GameServer it reports, the Counters, the open
/// watch streams.
struct SidecarState {
    calls: Vec<Call>,
    state: String,
    labels: HashMap<String, String>,
    /// name → (count, capacity), as a Fleet's `spec.counters` declares them.
    counters: HashMap<String, (i64, i64)>,
    watchers: Vec<mpsc::UnboundedSender<Bytes>>,
}

impl SidecarState {
    fn game_server(&self) -> serde_json::Value {
        serde_json::json!({
            "object_meta": {
                "name": "tickstream-abcde-xyz12",
                "namespace": "default",
                "uid": "1234",
                "resource_version": "v1",
                "generation": "1",
                "creation_timestamp": "1531795395",
                "annotations": {},
                "labels": self.labels,
            },
            "status": {
                "state": self.state,
                "address": "203.0.113.7",
                "ports": [{ "name": "wss", "port": 7777 }],
            },
        })
    }

    /// Sends the GameServer to every watch stream, as the SDK does on every change.
    fn notify(&mut self) {
        let line = format!("{}\n", serde_json::json!({ "result": self.game_server() }));
        self.watchers
            .retain(|w| w.send(Bytes::from(line.clone())).is_ok());
    }
}

/// An in-process stand-in for the Agones SDK sidecar's HTTP gateway.
struct Sidecar {
    addr: SocketAddr,
    state: Arc<Mutex<SidecarState>>,
    task: JoinHandle<()>,
}

/// The Counters of `deploy/agones/fleet.yaml`'s GameServer template: name → capacity.
const FLEET_COUNTERS: &[(&str, i64)] = &[("players", 1000), ("rooms", 1)];

impl Sidecar {
    async fn start() -> anyhow::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    async fn start_on(addr: SocketAddr) -> anyhow::Result<Self> {
        Self::start_with(addr, FLEET_COUNTERS).await
    }

    /// A sidecar whose GameServer declares exactly `counters` (name → capacity), at zero.
    async fn start_with(addr: SocketAddr, counters: &[(&str, i64)]) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("the stand-in sidecar cannot listen on {addr}"))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(SidecarState {
            calls: Vec::new(),
            state: "Scheduled".into(),
            labels: HashMap::new(),
            counters: counters
                .iter()
                .map(|(name, capacity)| ((*name).to_owned(), (0, *capacity)))
                .collect(),
            watchers: Vec::new(),
        }));
        let shared = Arc::clone(&state);
        // The connections are tasks of this one: aborting it ends them all, as a sidecar
        // container that dies takes its sockets with it.
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&shared);
                conns.spawn(async move {
                    let service = service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(answer(req, &state).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
                while conns.try_join_next().is_some() {}
            }
        });
        Ok(Self { addr, state, task })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SidecarState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The calls to `path` so far.
    fn calls(&self, path: &str) -> Vec<Call> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.path == path)
            .cloned()
            .collect()
    }

    fn all_calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    fn counter(&self, name: &str) -> i64 {
        self.lock().counters.get(name).map_or(-1, |c| c.0)
    }

    /// The counts the server asked `counter` to take, in order.
    fn counts_asked(&self, counter: &str) -> Vec<String> {
        self.calls(&format!("/v1beta1/counters/{counter}"))
            .iter()
            .map(|c| {
                let body: serde_json::Value = serde_json::from_str(&c.body).unwrap_or_default();
                body["count"].as_str().unwrap_or("?").to_owned()
            })
            .collect()
    }

    /// What a GameServerAllocation does: labels from its `metadata`, state `Allocated`.
    fn allocate(&self, labels: &[(&str, &str)]) {
        let mut s = self.lock();
        for (k, v) in labels {
            s.labels.insert((*k).to_owned(), (*v).to_owned());
        }
        s.state = "Allocated".into();
        s.notify();
    }

    /// What Agones does when a Fleet scales down or the GameServer is deleted.
    fn shut_down(&self) {
        let mut s = self.lock();
        s.state = "Shutdown".into();
        s.notify();
    }

    /// The sidecar container dies: its listener and every connection go.
    fn kill(self) {
        self.task.abort();
        self.lock().watchers.clear();
    }
}

/// A response body fed by a channel: the watch stream.
struct ChannelBody(mpsc::UnboundedReceiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

type SidecarBody = BoxBody<Bytes, Infallible>;

fn json(status: StatusCode, value: &serde_json::Value) -> Response<SidecarBody> {
    let mut resp = Response::new(Full::new(Bytes::from(value.to_string())).boxed());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// The SDK's answers, as its HTTP gateway gives them.
async fn answer(req: Request<Incoming>, state: &Mutex<SidecarState>) -> Response<SidecarBody> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    s.calls.push(Call {
        at: Instant::now(),
        method: method.clone(),
        path: path.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let empty = serde_json::json!({});
    match (&method, path.as_str()) {
        (&Method::POST, "/ready") => {
            if s.state != "Allocated" && s.state != "Shutdown" {
                s.state = "Ready".into();
                s.notify();
            }
            json(StatusCode::OK, &empty)
        }
        (&Method::POST, "/health") => json(StatusCode::OK, &empty),
        (&Method::POST, "/shutdown") => {
            s.state = "Shutdown".into();
            s.notify();
            json(StatusCode::OK, &empty)
        }
        (&Method::GET, "/gameserver") => json(StatusCode::OK, &s.game_server()),
        (&Method::GET, "/watch/gameserver") => {
            let (tx, rx) = mpsc::unbounded_channel();
            let first = format!("{}\n", serde_json::json!({ "result": s.game_server() }));
            let _ = tx.send(Bytes::from(first));
            s.watchers.push(tx);
            let mut resp = Response::new(ChannelBody(rx).boxed());
            resp.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            resp
        }
        (&Method::PATCH, p) if p.starts_with("/v1beta1/counters/") => {
            let name = &p["/v1beta1/counters/".len()..];
            update_counter(&mut s.counters, name, &body)
        }
        // grpc-gateway's DefaultRoutingErrorHandler: NotFound → status 5, "Not Found".
        _ => grpc_error(StatusCode::NOT_FOUND, 5, "Not Found"),
    }
}

/// An error answer of Agones' HTTP gateway: grpc-gateway's `DefaultHTTPErrorHandler` writes
/// the `google.rpc.Status` through the SDK server's marshaler (`pkg/util/runtime/runtime.go`,
/// `NewServerMux`: proto names, unpopulated fields emitted, hence `"details":[]`) with the
/// HTTP status `HTTPStatusFromCode` maps the gRPC code to (Unknown → 500, InvalidArgument →
/// 400, NotFound → 404). (protojson may put a space after a colon or comma; a client must not
/// care, and this one writes none.)
fn grpc_error(status: StatusCode, code: i32, message: &str) -> Response<SidecarBody> {
    json(
        status,
        &serde_json::json!({ "code": code, "message": message, "details": [] }),
    )
}

/// `PATCH /v1beta1/counters/{name}` as Agones v1.56 answers it: `UpdateCounter` in
/// `pkg/sdkserver/sdkserver.go` refuses with plain Go errors (`errors.Errorf`), which gRPC
/// reports as `Unknown` and the gateway as HTTP **500** — an undeclared Counter with
/// `counter not found: NAME`, a count outside `[0, capacity]` with `out of range. Count must
/// be within range [0,Capacity]. Found Count: N, Capacity: C` (Agones' e2e test,
/// `test/e2e/gameserver_test.go`, expects `code = Unknown desc = counter not found`), although
/// the API's comments (`proto/sdk/beta/beta.proto`) promise NOT_FOUND and OUT_OF_RANGE. A body
/// the gateway cannot decode is its own InvalidArgument (400, `beta.pb.gw.go`).
fn update_counter(
    counters: &mut HashMap<String, (i64, i64)>,
    name: &str,
    body: &[u8],
) -> Response<SidecarBody> {
    let Ok(update) = serde_json::from_slice::<serde_json::Value>(body) else {
        return grpc_error(StatusCode::BAD_REQUEST, 3, "proto: syntax error");
    };
    // int64 travels as a string in protobuf's JSON mapping; protojson takes a number too.
    let count = match &update["count"] {
        serde_json::Value::Null => None,
        serde_json::Value::String(c) => Some(c.parse::<i64>().ok()),
        v => Some(v.as_i64()),
    };
    if count == Some(None) {
        return grpc_error(
            StatusCode::BAD_REQUEST,
            3,
            "proto: invalid value for int64 field",
        );
    }
    let Some(Some(count)) = count else {
        return grpc_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            2,
            &format!("invalid argument. Malformed CounterUpdateRequest: name:\"{name}\""),
        );
    };
    let Some(counter) = counters.get_mut(name) else {
        return grpc_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            2,
            &format!("counter not found: {name}"),
        );
    };
    let capacity = counter.1;
    if !(0..=capacity).contains(&count) {
        return grpc_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            2,
            &format!(
                "out of range. Count must be within range [0,Capacity]. Found Count: {count}, \
                 Capacity: {capacity}"
            ),
        );
    }
    counter.0 = count;
    json(
        StatusCode::OK,
        &serde_json::json!({
            "name": name,
            "count": count.to_string(),
            "capacity": capacity.to_string(),
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// A configuration file with `body`, unique to this test.
fn config_file(name: &str, body: &str) -> anyhow::Result<String> {
    let path = std::env::temp_dir().join(format!(
        "tickstream-agones-{name}-{}.toml",
        std::process::id()
    ));
    std::fs::write(&path, body)?;
    Ok(path.to_string_lossy().into_owned())
}

fn agones_config(name: &str, extra: &str) -> anyhow::Result<String> {
    config_file(
        name,
        &format!(
            "[agones]\nenabled = true\nhealth_period_ms = {HEALTH_PERIOD_MS}\n\
             request_timeout_ms = 250\n{extra}"
        ),
    )
}

/// Starts the server binary with the sidecar's port in `AGONES_SDK_HTTP_PORT`, as Agones
/// sets it.
fn start_server(config: &str, sidecar_port: u16) -> anyhow::Result<ServerProcess> {
    let port = sidecar_port.to_string();
    ServerProcess::start_with_env(
        &["--config", config],
        &[("AGONES_SDK_HTTP_PORT", port.as_str())],
    )
}

/// Polls `check` until it is true, for at most [`STEP_TIMEOUT`].
async fn eventually<F, Fut>(what: &str, server: &ServerProcess, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        if check().await? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "timed out waiting for: {what}; server log:\n{}",
                server.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The value of the series `series` (name and labels, exactly as exposed) in `/metrics`.
async fn metric(server: &ServerProcess, series: &str) -> anyhow::Result<f64> {
    let (status, body) = http_get(server.metrics, "/metrics").await?;
    assert_eq!(status, 200, "/metrics answers");
    let value = body
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .with_context(|| format!("no series {series} in:\n{body}"))?;
    Ok(value.trim().parse()?)
}

/// A player that joins `room` and can leave on purpose.
async fn join(server: &ServerProcess, room: &str) -> anyhow::Result<Connection> {
    let mut client = tokio::time::timeout(
        STEP_TIMEOUT,
        connect(&server.ws_url(), &ConnectOptions::default()),
    )
    .await
    .context("connect timed out")??;
    client
        .send(&ClientMsg::Join(Join { room: room.into() }))
        .await?;
    loop {
        match tokio::time::timeout(STEP_TIMEOUT, client.recv()).await?? {
            Received::Msg(ServerMsg::Welcome(_) | ServerMsg::Welcome4(_)) => return Ok(client),
            Received::Msg(_) => {}
            other => bail!("expected a welcome, got {other:?}"),
        }
    }
}

/// A player leaves for good: closes with 1000 and reads until the server's close answers it.
/// Dropping the socket right after the close frame, with updates still unread, would reset the
/// connection, and the reset can destroy the close frame on its way: the server would then see
/// a dropped player and keep it for its resume grace period.
async fn leave(mut client: Connection, reason: &str) -> anyhow::Result<()> {
    client.close(1000, reason).await?;
    tokio::time::timeout(STEP_TIMEOUT, async {
        loop {
            match client.recv().await {
                Ok(Received::Msg(_)) => {}
                Ok(Received::Close { .. }) | Err(_) => return,
            }
        }
    })
    .await
    .context("the server answers a close")
}

/// The position of the first log line containing `needle`.
fn log_position(server: &ServerProcess, needle: &str) -> Option<usize> {
    server.log_text().lines().position(|l| l.contains(needle))
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_health_labels_counts_and_shutdown_follow_the_sdk_contract() -> anyhow::Result<()> {
    let sidecar = Sidecar::start().await?;
    let config = agones_config("lifecycle", "")?;
    let mut server = start_server(&config, sidecar.addr.port())?;

    // Ready, once, after the listeners were bound.
    eventually("Ready", &server, || async {
        Ok(!sidecar.calls("/ready").is_empty())
    })
    .await?;
    // Log lines come through the child's stdout and may lag the calls they describe.
    eventually("Ready logged", &server, || async {
        Ok(server.logged("agones: marked Ready"))
    })
    .await?;
    let listening = log_position(&server, "listening for plain ws").context("a listener line")?;
    let ready = log_position(&server, "agones: marked Ready");
    assert!(
        ready.is_some_and(|r| r > listening),
        "Ready is logged after the listeners:\n{}",
        server.log_text()
    );
    tokio::net::TcpStream::connect(server.ws)
        .await
        .context("the game listener takes connections once Ready was sent")?;

    // Health, on its period.
    eventually("five health pings", &server, || async {
        Ok(sidecar.calls("/health").len() >= 5)
    })
    .await?;
    let pings = sidecar.calls("/health");
    let mut gaps: Vec<Duration> = pings.windows(2).map(|w| w[1].at - w[0].at).collect();
    gaps.sort();
    let median = gaps[gaps.len() / 2];
    assert!(
        median >= Duration::from_millis(HEALTH_PERIOD_MS / 2),
        "health pings keep their {HEALTH_PERIOD_MS} ms period (median gap {median:?}): {gaps:?}"
    );
    assert!(
        pings.iter().all(|c| c.method == Method::POST),
        "health pings are POSTs"
    );

    // The GameServer was read, and is being watched.
    eventually("the GameServer read and watched", &server, || async {
        Ok(!sidecar.calls("/gameserver").is_empty()
            && !sidecar.calls("/watch/gameserver").is_empty())
    })
    .await?;

    // An allocation's labels open the room with the game asked for.
    sidecar.allocate(&[
        ("tickstream.dev/room", "match-1"),
        ("tickstream.dev/game", "coins"),
    ]);
    eventually(
        "the allocated room is open with its game",
        &server,
        || async {
            let (_, body) = http_get(server.metrics, "/rooms").await?;
            let rooms: serde_json::Value = serde_json::from_str(&body)?;
            Ok(rooms["rooms"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["name"] == "match-1" && r["game"] == "coins"))
        },
    )
    .await?;
    // The log line follows the opening, through the child's stdout: it may lag /rooms.
    eventually("the opening is logged", &server, || async {
        Ok(server.logged("agones: opened the room the allocation asked for"))
    })
    .await?;

    // The Counters follow players joining and leaving.
    let mut staying = Vec::new();
    for _ in 0..2 {
        staying.push(join_and_wait_for_close(&server.ws_url(), "match-1").await?);
    }
    let leaving = join(&server, "match-1").await?;
    eventually("players = 3, rooms = 1", &server, || async {
        Ok(sidecar.counter("players") == 3 && sidecar.counter("rooms") == 1)
    })
    .await
    .with_context(|| {
        format!(
            "counters: players {}, rooms {}",
            sidecar.counter("players"),
            sidecar.counter("rooms")
        )
    })?;
    leave(leaving, "bye").await?;
    eventually("players = 2 after one left", &server, || async {
        Ok(sidecar.counter("players") == 2)
    })
    .await?;
    let pushes = sidecar.calls("/v1beta1/counters/players").len();
    tokio::time::sleep(Duration::from_millis(4 * HEALTH_PERIOD_MS)).await;
    assert_eq!(
        sidecar.calls("/v1beta1/counters/players").len(),
        pushes,
        "an unchanged count is not pushed again"
    );

    // Shutdown from Agones drains like SIGTERM: 1001 to every player, exit 0.
    sidecar.shut_down();
    let asked = Instant::now();
    assert_all_closed_with_1001(staying).await?;
    let status = server.exited(STEP_TIMEOUT).await?;
    assert!(
        status.success(),
        "exit status 0 after Agones' Shutdown: {status}"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "exited within the default 10 s grace period"
    );
    eventually(
        "the drain logged as Agones' and complete",
        &server,
        || async {
            Ok(server.logged("shutdown requested by Agones") && server.logged("shutdown complete"))
        },
    )
    .await?;
    assert_eq!(
        sidecar.calls("/ready").len(),
        1,
        "Ready is sent once: {:?}",
        sidecar.all_calls()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_counter_and_a_count_beyond_capacity_are_reported_once() -> anyhow::Result<()>
{
    // The GameServer declares `players` with room for 2 and no `rooms` at all; the server
    // reports both (the default config).
    let sidecar =
        Sidecar::start_with(SocketAddr::from(([127, 0, 0, 1], 0)), &[("players", 2)]).await?;
    let config = agones_config("refused", "")?;
    let mut server = start_server(&config, sidecar.addr.port())?;
    let refusals = |reason: &'static str| {
        let series = format!("tickstream_agones_refusals_total{{reason=\"{reason}\"}}");
        let server = &server;
        async move { metric(server, &series).await }
    };

    eventually("the undeclared rooms Counter refused", &server, || async {
        Ok(refusals("undeclared").await? >= 1.0)
    })
    .await?;
    let mut players = Vec::new();
    for n in 1..=2 {
        players.push(join(&server, "lobby").await?);
        eventually("the players Counter follows", &server, || async {
            Ok(sidecar.counter("players") == n)
        })
        .await?;
    }
    let third = join(&server, "lobby").await?;
    eventually(
        "the third player refused as over capacity",
        &server,
        || async { Ok(refusals("over_capacity").await? >= 1.0) },
    )
    .await?;

    // Several health periods later: each refused once, nothing resent, nothing else failing.
    tokio::time::sleep(Duration::from_millis(5 * HEALTH_PERIOD_MS)).await;
    assert_eq!(
        sidecar.counts_asked("rooms"),
        ["0"],
        "the undeclared Counter is tried once, then no longer pushed"
    );
    assert_eq!(
        sidecar.counts_asked("players"),
        ["0", "1", "2", "3"],
        "the count beyond capacity is tried once, then no longer pushed"
    );
    assert_eq!(
        sidecar.counter("players"),
        2,
        "Agones keeps the last count it took"
    );
    assert_eq!(refusals("undeclared").await?, 1.0, "one undeclared refusal");
    assert_eq!(
        refusals("over_capacity").await?,
        1.0,
        "one over-capacity refusal"
    );
    assert_eq!(
        metric(&server, "tickstream_agones_errors_total{call=\"counter\"}").await?,
        2.0,
        "each refusal is one failed counter call"
    );
    let lines = |needles: &[&str]| {
        server
            .log_text()
            .lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .count()
    };
    assert_eq!(
        lines(&["declares no such Counter"]),
        1,
        "the undeclared Counter is logged once:\n{}",
        server.log_text()
    );
    assert_eq!(
        lines(&["beyond the Counter's capacity"]),
        1,
        "the count beyond capacity is logged once:\n{}",
        server.log_text()
    );
    assert_eq!(
        lines(&["\"level\":\"WARN\"", "agones"]),
        2,
        "no other Agones warning (no failing call):\n{}",
        server.log_text()
    );
    assert!(
        !server.logged("agones: sidecar call succeeded again"),
        "nothing recovers, because nothing was failing:\n{}",
        server.log_text()
    );

    // Back to the count Agones has: nothing to push. Below it: pushed as usual.
    leave(third, "bye").await?;
    tokio::time::sleep(Duration::from_millis(3 * HEALTH_PERIOD_MS)).await;
    assert_eq!(
        sidecar.counts_asked("players"),
        ["0", "1", "2", "3"],
        "Agones has 2 already: nothing is pushed"
    );
    leave(players.pop().context("two players")?, "bye").await?;
    eventually("players = 1, pushed", &server, || async {
        Ok(sidecar.counter("players") == 1)
    })
    .await?;
    assert_eq!(
        sidecar.counts_asked("players"),
        ["0", "1", "2", "3", "1"],
        "a count within capacity is pushed again"
    );

    server.signal("TERM")?;
    let status = server.exited(STEP_TIMEOUT).await?;
    drop(players);
    assert!(status.success(), "exit status 0: {status}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidecar_that_dies_mid_game_costs_nothing_but_counted_errors() -> anyhow::Result<()> {
    let sidecar = Sidecar::start().await?;
    let addr = sidecar.addr;
    let config = agones_config("dies", "")?;
    let mut server = start_server(&config, addr.port())?;
    eventually("Ready", &server, || async {
        Ok(!sidecar.calls("/ready").is_empty())
    })
    .await?;
    let mut players = Vec::new();
    for _ in 0..2 {
        players.push(join_and_wait_for_close(&server.ws_url(), "lobby").await?);
    }
    eventually("players = 2", &server, || async {
        Ok(sidecar.counter("players") == 2)
    })
    .await?;

    sidecar.kill();
    eventually("health and watch errors counted", &server, || async {
        Ok(
            metric(&server, "tickstream_agones_errors_total{call=\"health\"}").await? >= 2.0
                && metric(&server, "tickstream_agones_errors_total{call=\"watch\"}").await? >= 1.0,
        )
    })
    .await?;
    eventually("the failure logged", &server, || async {
        Ok(server.logged("agones: sidecar call failed; retrying"))
    })
    .await?;

    // The game goes on: the players are still there, and a new one joins and gets updates.
    assert!(
        players.iter().all(|p| !p.is_finished()),
        "no player was disconnected by the sidecar's death"
    );
    let mut newcomer = join(&server, "lobby").await?;
    for _ in 0..10 {
        match tokio::time::timeout(STEP_TIMEOUT, newcomer.recv()).await?? {
            Received::Msg(_) => {}
            other => bail!("the newcomer was cut off: {other:?}"),
        }
    }
    assert_eq!(
        http_get(server.metrics, "/healthz").await?.0,
        200,
        "alive without a sidecar"
    );
    assert_eq!(
        http_get(server.metrics, "/readyz").await?.0,
        200,
        "still taking players without a sidecar"
    );
    drop(newcomer);

    // A sidecar that comes back gets its pings again.
    let back = Sidecar::start_on(addr).await?;
    eventually("health pings reach the new sidecar", &server, || async {
        Ok(!back.calls("/health").is_empty())
    })
    .await?;

    server.signal("TERM")?;
    assert_all_closed_with_1001(players).await?;
    let status = server.exited(STEP_TIMEOUT).await?;
    assert!(status.success(), "exit status 0: {status}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_sidecar_gets_ready_and_the_last_player_leaving_shuts_down() -> anyhow::Result<()> {
    // A port nothing listens on yet: the sidecar starts after the server, as Agones warns.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = agones_config("empty", "shutdown_when_empty = true\n")?;
    let mut server = start_server(&config, port)?;
    eventually(
        "Ready errors while the sidecar is missing",
        &server,
        || async {
            Ok(metric(&server, "tickstream_agones_errors_total{call=\"ready\"}").await? >= 1.0)
        },
    )
    .await?;
    assert_eq!(
        http_get(server.metrics, "/readyz").await?.0,
        200,
        "the server serves without its sidecar"
    );

    let sidecar = Sidecar::start_on(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    eventually(
        "Ready, retried until the sidecar answers",
        &server,
        || async { Ok(!sidecar.calls("/ready").is_empty()) },
    )
    .await?;
    assert!(
        sidecar.calls("/shutdown").is_empty(),
        "no shutdown before any player came"
    );

    let player = join(&server, "solo").await?;
    eventually("players = 1", &server, || async {
        Ok(sidecar.counter("players") == 1)
    })
    .await?;
    leave(player, "match over").await?;
    eventually(
        "the server asks Agones to shut it down",
        &server,
        || async { Ok(!sidecar.calls("/shutdown").is_empty()) },
    )
    .await?;
    let status = server.exited(STEP_TIMEOUT).await?;
    assert!(
        status.success(),
        "exit status 0 after the last player: {status}"
    );
    eventually("the reason logged", &server, || async {
        Ok(server.logged("agones: the last player left; asking Agones to shut down"))
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_agones_off_nothing_reaches_for_a_sidecar() -> anyhow::Result<()> {
    let sidecar = Sidecar::start().await?;
    // The default configuration, in an environment that names a sidecar.
    let config = config_file("off", "")?;
    let mut server = start_server(&config, sidecar.addr.port())?;
    let player = join_and_wait_for_close(&server.ws_url(), "lobby").await?;
    tokio::time::sleep(Duration::from_millis(3 * HEALTH_PERIOD_MS)).await;
    assert!(
        sidecar.all_calls().is_empty(),
        "no call to the sidecar with [agones] off: {:?}",
        sidecar.all_calls()
    );
    assert!(
        !server.log_text().contains("agones"),
        "nothing about Agones in the log:\n{}",
        server.log_text()
    );
    server.signal("TERM")?;
    assert_all_closed_with_1001(vec![player]).await?;
    let status = server.exited(STEP_TIMEOUT).await?;
    assert!(status.success(), "exit status 0: {status}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agones_shutdown_hands_the_match_to_the_successor() -> anyhow::Result<()> {
    // The successor stands in for the server a rolling update allocates from the new Fleet.
    let secret = [(
        "TICKSTREAM_HANDOFF_SECRET",
        "the fleet's shared handoff secret",
    )];
    let successor = ServerProcess::start_with_env(&[], &secret)?;
    let sidecar = Sidecar::start().await?;
    let config = agones_config("handoff", "")?;
    let port = sidecar.addr.port().to_string();
    let ops = format!("http://{}", successor.metrics);
    let mut server = ServerProcess::start_with_env(
        &[
            "--config",
            &config,
            "--handoff-successor",
            &ops,
            "--handoff-successor-url",
            &successor.ws_url(),
        ],
        &[("AGONES_SDK_HTTP_PORT", port.as_str()), secret[0]],
    )?;
    eventually("Ready", &server, || async {
        Ok(!sidecar.calls("/ready").is_empty())
    })
    .await?;
    let player = join_and_wait_for_close(&server.ws_url(), "match").await?;
    sidecar.shut_down();
    let closed = assert_all_closed_with_1001(vec![player]).await?;
    assert_eq!(
        closed[0].moved.as_deref(),
        Some(successor.ws_url().as_str()),
        "the player is told where its match went: {:?}",
        closed[0]
    );
    assert!(server.exited(STEP_TIMEOUT).await?.success(), "exit 0");
    let (_, rooms) = http_get(successor.metrics, "/rooms").await?;
    assert!(
        rooms.contains("\"match\""),
        "the match runs on the successor: {rooms}"
    );
    Ok(())
}
