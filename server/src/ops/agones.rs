//! The Agones game server lifecycle, through the SDK sidecar's HTTP gateway.
//!
//! Agones runs an SDK server beside every game server container (the "sidecar"), reachable on
//! `127.0.0.1:$AGONES_SDK_HTTP_PORT` (9358 by default) with the same calls as its gRPC API,
//! as JSON over HTTP/1.1 (see Agones' "REST Game Server Client API"). This module speaks it
//! with the hyper client the server already has: no gRPC stack, no code generation.
//!
//! With `[agones] enabled = true`, [`Agones::start`] runs three tasks:
//!
//! - **lifecycle**: `POST /ready` once the listeners are bound (the caller starts it after
//!   [`crate::Server::bind`]), retried every health period until the sidecar answers; then, on
//!   the same period, the player and room counts as Agones Counters
//!   (`PATCH /v1beta1/counters/{name}`, only when they changed), and with
//!   `shutdown_when_empty`, `POST /shutdown` once every room is empty after players had joined;
//! - **health**: `POST /health` every `health_period_ms`;
//! - **watch**: `GET /gameserver`, then `GET /watch/gameserver` (newline-delimited JSON, one
//!   GameServer per change), reconnected after any failure: the state (`Shutdown` ends the
//!   server) and the labels (`tickstream.dev/room` and `tickstream.dev/game` open the room an
//!   allocation asked for).
//!
//! [`Agones::shutdown_requested`] completes when Agones moved the GameServer to `Shutdown`, or
//! when the server asked for it after its last player left; the binary then drains exactly as
//! on SIGTERM. Every call is bounded by `request_timeout_ms`; a sidecar that is missing, hung or
//! answering errors is logged (once when it starts failing, once when it recovers) and counted
//! in `tickstream_agones_errors_total{call}`, and never stops or slows the game.
//!
//! A Counter the GameServer does not declare, or a count beyond the Counter's capacity, is not
//! the sidecar failing but the Fleet and the server disagreeing, and no retry mends it: the
//! sidecar answers both with HTTP 500 (see [`SdkError::counter_refusal`]); the server logs it
//! once at warn, counts it in `tickstream_agones_refusals_total{reason}`, and pushes
//! that Counter no more (undeclared) or that count no more (over capacity).
//!
//! Counters rather than the alpha player tracking: Counters and Lists are Beta and on by
//! default since Agones 1.41, player tracking is still Alpha behind a feature gate, and a
//! Counter can count rooms as well as players, which is what high-density allocation
//! (allocating an already Allocated server that still has room capacity) filters on.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Deserializer};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::config::AgonesConfig;
use crate::metrics as m;
use crate::server::ServerHandle;

/// The largest answer to a single call, and the longest line of the watch stream: a
/// GameServer is a few kilobytes; anything far bigger is not the sidecar talking.
pub const MAX_BODY: usize = 1 << 20;

/// The longest wait before reconnecting the watch stream after a failure.
const MAX_WATCH_BACKOFF: Duration = Duration::from_secs(5);

/// The GameServer state in which Agones is shutting the game server down.
pub const STATE_SHUTDOWN: &str = "Shutdown";

/// Why a call to the sidecar failed.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// Nothing listens at the sidecar's address (not started yet, or gone).
    #[error("cannot connect to the Agones sidecar at {addr}: {source}")]
    Connect {
        /// The sidecar's address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The HTTP exchange failed (the connection broke, or the answer was not HTTP).
    #[error("HTTP exchange with the Agones sidecar failed: {0}")]
    Http(#[from] hyper::Error),
    /// No complete answer within the request timeout.
    #[error("the Agones sidecar did not answer within {0:?}")]
    Timeout(Duration),
    /// The sidecar answered with an error status.
    #[error("the Agones sidecar answered {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
        /// The `message` of the gRPC status the gateway wrote as the body
        /// (`{"code":2,"message":"…","details":[]}`), when the body is one.
        message: Option<String>,
    },
    /// The answer was not the JSON expected.
    #[error("the Agones sidecar's answer is not the expected JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The answer (or one line of the watch stream) exceeded [`MAX_BODY`].
    #[error("the Agones sidecar's answer exceeds {MAX_BODY} bytes")]
    TooLarge,
    /// The watch stream carried an error object.
    #[error("the watch stream reported an error: {0}")]
    Stream(String),
    /// The sidecar closed the connection before or while answering.
    #[error("the Agones sidecar closed the connection")]
    Closed,
    /// The request could not be built (a counter name that is not a valid URI path).
    #[error("invalid request: {0}")]
    Request(#[from] hyper::http::Error),
}

impl SdkError {
    /// Why the sidecar refused to set a Counter, when its answer says the refusal is about the
    /// Counter itself (retrying the same call cannot succeed) rather than the sidecar failing.
    ///
    /// Agones' SDK server (v1.56, `pkg/sdkserver/sdkserver.go`, `UpdateCounter`) refuses with
    /// plain Go errors, which gRPC reports as `Unknown` and the HTTP gateway
    /// (grpc-gateway's `HTTPStatusFromCode`) as **500**, whatever the reason, so the status
    /// alone cannot tell a missing Counter from a sidecar that has not read its GameServer
    /// yet: the message does. `counter not found: NAME` is the cluster's sidecar,
    /// `not found. NAME Counter not found` the local one (`sdk-server --local`,
    /// `localsdk.go`); `out of range. Count must be within range [0,Capacity]…` both;
    /// `CountsAndLists not enabled` a cluster with the feature gate off. A 404 is a sidecar
    /// without the route at all (an Agones before Counters), or one that some day answers
    /// `NOT_FOUND` as its API comments promise.
    #[must_use]
    pub fn counter_refusal(&self) -> Option<CounterRefusal> {
        let Self::Status {
            status, message, ..
        } = self
        else {
            return None;
        };
        let message = message.as_deref().unwrap_or_default();
        if message.starts_with("counter not found")
            || message.contains("Counter not found")
            || message.contains("CountsAndLists not enabled")
            || *status == 404
        {
            Some(CounterRefusal::Undeclared)
        } else if message.starts_with("out of range") {
            Some(CounterRefusal::OverCapacity)
        } else {
            None
        }
    }
}

/// Why the sidecar will not take a Counter's count: the Fleet and the server disagree, which
/// no retry mends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterRefusal {
    /// The GameServer declares no such Counter (`spec.counters`), or Counters are off.
    Undeclared,
    /// The count is beyond the Counter's capacity.
    OverCapacity,
}

impl CounterRefusal {
    /// The `reason` label of [`m::AGONES_COUNTER_REFUSALS`].
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Undeclared => "undeclared",
            Self::OverCapacity => "over_capacity",
        }
    }

    /// Every refusal, for creating the metric's series at zero.
    pub const ALL: [Self; 2] = [Self::Undeclared, Self::OverCapacity];
}

/// A GameServer as the SDK reports it: only what the server reads. Unknown fields are
/// ignored and missing or `null` ones are empty, so that a newer Agones adds fields freely.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct GameServer {
    /// Name, namespace and labels.
    #[serde(alias = "objectMeta", deserialize_with = "nullable")]
    pub object_meta: ObjectMeta,
    /// State, address and ports.
    #[serde(deserialize_with = "nullable")]
    pub status: GameServerStatus,
}

/// The GameServer's Kubernetes metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ObjectMeta {
    /// The GameServer's name.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// Its namespace.
    #[serde(deserialize_with = "nullable")]
    pub namespace: String,
    /// Its labels, including those an allocation added.
    #[serde(deserialize_with = "nullable")]
    pub labels: HashMap<String, String>,
}

/// The GameServer's status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct GameServerStatus {
    /// `Scheduled`, `RequestReady`, `Ready`, `Reserved`, `Allocated`, `Shutdown`, …
    #[serde(deserialize_with = "nullable")]
    pub state: String,
    /// The address players connect to.
    #[serde(deserialize_with = "nullable")]
    pub address: String,
    /// The ports players connect to.
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<Port>,
}

/// One of the GameServer's ports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Port {
    /// The port's name in the Fleet's `ports`.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// The port number players connect to (the host port).
    pub port: i64,
}

/// `null` as the type's default, as protobuf's JSON mapping may write empty fields.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One line of the watch stream: `{"result": GameServer}` or `{"error": {...}}`.
#[derive(Debug, Deserialize)]
struct WatchLine {
    #[serde(default)]
    result: Option<GameServer>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// Parses one line of the watch stream.
pub fn parse_watch_line(line: &[u8]) -> Result<GameServer, SdkError> {
    let parsed: WatchLine = serde_json::from_slice(line)?;
    match (parsed.result, parsed.error) {
        (_, Some(e)) => Err(SdkError::Stream(e.to_string())),
        (Some(gs), None) => Ok(gs),
        (None, None) => Err(SdkError::Stream(
            "a line with neither result nor error".into(),
        )),
    }
}

/// A client of the sidecar's HTTP gateway: one short connection per call, each bounded by
/// the request timeout (a sidecar that restarts never leaves a stale connection behind).
#[derive(Debug, Clone)]
pub struct SdkClient {
    addr: SocketAddr,
    timeout: Duration,
}

impl SdkClient {
    /// A client of the sidecar at `addr`, giving each call `timeout`.
    #[must_use]
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Self { addr, timeout }
    }

    /// The sidecar's address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `POST /ready`: the game server takes players.
    pub async fn ready(&self) -> Result<(), SdkError> {
        self.call(Method::POST, "/ready", "{}").await.map(drop)
    }

    /// `POST /health`: one health ping.
    pub async fn health(&self) -> Result<(), SdkError> {
        self.call(Method::POST, "/health", "{}").await.map(drop)
    }

    /// `POST /shutdown`: asks Agones to shut this game server down.
    pub async fn shutdown(&self) -> Result<(), SdkError> {
        self.call(Method::POST, "/shutdown", "{}").await.map(drop)
    }

    /// `GET /gameserver`: the GameServer now.
    pub async fn game_server(&self) -> Result<GameServer, SdkError> {
        let body = self.call(Method::GET, "/gameserver", "").await?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// `PATCH /v1beta1/counters/{name}` with `{"count": "N"}`: sets a Counter's count (int64
    /// values travel as strings in protobuf's JSON mapping).
    pub async fn set_counter(&self, name: &str, count: u64) -> Result<(), SdkError> {
        let body = serde_json::json!({ "count": count.to_string() }).to_string();
        let path = format!("/v1beta1/counters/{name}");
        self.call(Method::PATCH, &path, &body).await.map(drop)
    }

    /// `GET /watch/gameserver`: calls `on_update` with every GameServer the stream carries,
    /// until the stream fails or ends; returns why. Connecting and the answer's head are
    /// bounded by the request timeout; the stream itself may stay quiet for as long as the
    /// GameServer does not change.
    pub async fn watch(&self, mut on_update: impl FnMut(GameServer)) -> SdkError {
        let (sender, conn) = match tokio::time::timeout(self.timeout, self.handshake()).await {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => return e,
            Err(_) => return SdkError::Timeout(self.timeout),
        };
        // The connection is driven beside the stream, on this task: it ends with the watch.
        let mut conn = std::pin::pin!(conn);
        let mut sender = sender;
        let req = match self.request(Method::GET, "/watch/gameserver", "") {
            Ok(req) => req,
            Err(e) => return e,
        };
        let head = tokio::time::timeout(self.timeout, sender.send_request(req));
        let resp = tokio::select! {
            resp = head => match resp {
                Ok(Ok(resp)) => resp,
                Ok(Err(e)) => return e.into(),
                Err(_) => return SdkError::Timeout(self.timeout),
            },
            done = &mut conn => return closed(done),
        };
        let status = resp.status();
        if !status.is_success() {
            let body = tokio::select! {
                body = tokio::time::timeout(self.timeout, read_limited(resp)) => {
                    body.unwrap_or(Err(SdkError::Timeout(self.timeout)))
                }
                done = &mut conn => Err(closed(done)),
            };
            return match body {
                Ok(body) => status_error(status, &body),
                Err(e) => e,
            };
        }
        let mut body = resp.into_body();
        let mut pending = BytesMut::new();
        loop {
            let frame = tokio::select! {
                frame = body.frame() => frame,
                done = &mut conn => return closed(done),
            };
            let data = match frame {
                None => return SdkError::Closed,
                Some(Err(e)) => return e.into(),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => data,
                    Err(_) => continue,
                },
            };
            pending.extend_from_slice(&data);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line = pending.split_to(end + 1);
                let line = line.trim_ascii();
                if line.is_empty() {
                    continue;
                }
                match parse_watch_line(line) {
                    Ok(gs) => on_update(gs),
                    Err(e) => return e,
                }
            }
            if pending.len() > MAX_BODY {
                return SdkError::TooLarge;
            }
        }
    }

    async fn handshake(
        &self,
    ) -> Result<
        (
            hyper::client::conn::http1::SendRequest<Full<Bytes>>,
            hyper::client::conn::http1::Connection<TokioIo<TcpStream>, Full<Bytes>>,
        ),
        SdkError,
    > {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(|source| SdkError::Connect {
                addr: self.addr,
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        Ok(hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?)
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: &str,
    ) -> Result<Request<Full<Bytes>>, SdkError> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))?;
        let headers = req.headers_mut();
        if let Ok(host) = HeaderValue::from_str(&self.addr.to_string()) {
            headers.insert(HOST, host);
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(req)
    }

    /// One request and its whole answer within the timeout; a non-2xx status is an error.
    async fn call(&self, method: Method, path: &str, body: &str) -> Result<Bytes, SdkError> {
        let exchange = async {
            let (mut sender, conn) = self.handshake().await?;
            let req = self.request(method, path, body)?;
            let answer = async {
                let resp = sender.send_request(req).await?;
                let status = resp.status();
                let body = read_limited(resp).await?;
                Ok::<_, SdkError>((status, body))
            };
            // The connection is driven beside the request, on this task: nothing outlives the
            // call.
            let (status, body) = tokio::select! {
                answer = answer => answer?,
                done = conn => return Err(closed(done)),
            };
            check_status(status, body)
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| SdkError::Timeout(self.timeout))?
    }
}

/// Why a connection future ended before its answer did.
fn closed(done: Result<(), hyper::Error>) -> SdkError {
    match done {
        Ok(()) => SdkError::Closed,
        Err(e) => SdkError::Http(e),
    }
}

/// A whole answer's body, up to [`MAX_BODY`].
async fn read_limited(resp: Response<Incoming>) -> Result<Bytes, SdkError> {
    let mut body = resp.into_body();
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if out.len() + data.len() > MAX_BODY {
                return Err(SdkError::TooLarge);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

fn check_status(status: StatusCode, body: Bytes) -> Result<Bytes, SdkError> {
    if status.is_success() {
        Ok(body)
    } else {
        Err(status_error(status, &body))
    }
}

fn status_error(status: StatusCode, body: &[u8]) -> SdkError {
    /// The body grpc-gateway writes for an error: a `google.rpc.Status`.
    #[derive(Deserialize)]
    struct GrpcStatus {
        message: String,
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    SdkError::Status {
        status: status.as_u16(),
        body: text.trim().to_owned(),
        message: serde_json::from_slice::<GrpcStatus>(body)
            .ok()
            .map(|s| s.message),
    }
}

/// What ended the game server from the Agones side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownCause {
    /// Agones moved the GameServer to `Shutdown` (a Fleet scaled down or updated, or someone
    /// deleted it).
    Agones,
    /// The last player left and `shutdown_when_empty` is on; the server told Agones.
    Empty,
}

/// The running Agones integration: its tasks stop when this is dropped.
pub struct Agones {
    shutdown: watch::Receiver<Option<ShutdownCause>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Agones {
    /// Starts reporting to the sidecar (see the [module docs](self)). Call it once the
    /// server's listeners are bound: the first thing it does is tell Agones the server is
    /// Ready. Needs a tokio runtime.
    #[must_use]
    pub fn start(config: &AgonesConfig, server: ServerHandle) -> Self {
        let sdk = SdkClient::new(
            config.sdk_address(),
            Duration::from_millis(config.request_timeout_ms),
        );
        let period = Duration::from_millis(config.health_period_ms);
        let (tx, shutdown) = watch::channel(None);
        let lifecycle = Lifecycle {
            sdk: sdk.clone(),
            server: server.clone(),
            config: config.clone(),
            shutdown: tx.clone(),
            failing: Failing::default(),
        };
        let steer = Steer {
            server,
            room_label: config.room_label.clone(),
            game_label: config.game_label.clone(),
            shutdown: tx,
            state: String::new(),
            opened: None,
        };
        let tasks = vec![
            tokio::spawn(lifecycle.run(period)),
            tokio::spawn(health(sdk.clone(), period)),
            tokio::spawn(watch_game_server(sdk, steer)),
        ];
        Self { shutdown, tasks }
    }

    /// Completes when Agones asks the game server to shut down, or when it asked Agones
    /// itself (`shutdown_when_empty`). Never completes otherwise; any number may wait.
    pub fn shutdown_requested(&self) -> impl Future<Output = ShutdownCause> + Send + 'static {
        let mut rx = self.shutdown.clone();
        async move {
            loop {
                if let Some(cause) = *rx.borrow_and_update() {
                    return cause;
                }
                if rx.changed().await.is_err() {
                    // Every task ended (they never do on their own): nothing will ask any more.
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

impl Drop for Agones {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Which calls are failing now, so that a dead sidecar is logged when it starts and stops
/// failing rather than once per period; every failure is counted.
#[derive(Default)]
struct Failing(HashSet<&'static str>);

impl Failing {
    fn failed(&mut self, call: &'static str, error: &SdkError) {
        metrics::counter!(m::AGONES_ERRORS, "call" => call).increment(1);
        if self.0.insert(call) {
            tracing::warn!(call, %error, "agones: sidecar call failed; retrying");
        } else {
            tracing::debug!(call, %error, "agones: sidecar call failed again");
        }
    }

    fn succeeded(&mut self, call: &'static str) {
        if self.0.remove(call) {
            tracing::info!(call, "agones: sidecar call succeeded again");
        }
    }
}

/// Ready, then the counts and the empty check, every health period.
struct Lifecycle {
    sdk: SdkClient,
    server: ServerHandle,
    config: AgonesConfig,
    shutdown: watch::Sender<Option<ShutdownCause>>,
    failing: Failing,
}

/// One Agones Counter the server keeps current.
struct Counter {
    name: String,
    /// The count Agones has, as far as the server knows.
    pushed: Option<u64>,
    /// Off after the sidecar said the GameServer declares no such Counter: reported once,
    /// never pushed again.
    disabled: bool,
    /// The last count the sidecar refused as beyond the Counter's capacity: not pushed again
    /// while the count stays there (a different count is tried once more).
    refused: Option<u64>,
    /// Whether an over-capacity refusal was logged at warn already: once per process, then
    /// at debug, so that a count hovering at the capacity does not fill the log.
    warned_over_capacity: bool,
    /// The last push failed for a reason that may pass (the sidecar missing, slow, not
    /// ready): its failure and recovery are logged once each, per Counter.
    failing: bool,
}

impl Counter {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            pushed: None,
            disabled: name.is_empty(),
            refused: None,
            warned_over_capacity: false,
            failing: false,
        }
    }
}

impl Lifecycle {
    async fn run(mut self, period: Duration) {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut ready = false;
        let mut players = Counter::new(&self.config.players_counter);
        let mut rooms = Counter::new(&self.config.rooms_counter);
        let mut had_players = false;
        let mut asked_shutdown = false;
        loop {
            tick.tick().await;
            if !ready {
                match self.sdk.ready().await {
                    Ok(()) => {
                        ready = true;
                        self.failing.succeeded("ready");
                        tracing::info!(sdk = %self.sdk.addr(), "agones: marked Ready");
                    }
                    Err(e) => self.failing.failed("ready", &e),
                }
            }
            let summaries = self.server.rooms();
            let n_players: usize = summaries.iter().map(|r| r.players).sum();
            self.push(&mut players, n_players as u64).await;
            self.push(&mut rooms, summaries.len() as u64).await;
            had_players |= n_players > 0;
            if self.config.shutdown_when_empty && had_players && n_players == 0 && !asked_shutdown {
                asked_shutdown = true;
                tracing::info!("agones: the last player left; asking Agones to shut down");
                match self.sdk.shutdown().await {
                    Ok(()) => self.failing.succeeded("shutdown"),
                    Err(e) => self.failing.failed("shutdown", &e),
                }
                // Drain whether or not the sidecar heard it: the match is over either way.
                self.shutdown.send_if_modified(|s| {
                    let first = s.is_none();
                    s.get_or_insert(ShutdownCause::Empty);
                    first
                });
            }
        }
    }

    /// Sets `counter` to `count` if Agones does not have that count yet.
    async fn push(&mut self, counter: &mut Counter, count: u64) {
        if counter.disabled || counter.pushed == Some(count) || counter.refused == Some(count) {
            return;
        }
        match self.sdk.set_counter(&counter.name, count).await {
            Ok(()) => {
                counter.pushed = Some(count);
                counter.refused = None;
                if std::mem::take(&mut counter.failing) {
                    tracing::info!(
                        call = "counter",
                        counter = %counter.name,
                        "agones: sidecar call succeeded again"
                    );
                }
                tracing::debug!(counter = %counter.name, count, "agones: counter updated");
            }
            Err(e) => {
                metrics::counter!(m::AGONES_ERRORS, "call" => "counter").increment(1);
                match e.counter_refusal() {
                    Some(refusal) => {
                        metrics::counter!(m::AGONES_COUNTER_REFUSALS, "reason" => refusal.label())
                            .increment(1);
                        Self::refused(counter, count, refusal, &e);
                    }
                    None if !counter.failing => {
                        counter.failing = true;
                        tracing::warn!(
                            call = "counter",
                            counter = %counter.name,
                            error = %e,
                            "agones: sidecar call failed; retrying"
                        );
                    }
                    None => tracing::debug!(
                        call = "counter",
                        counter = %counter.name,
                        error = %e,
                        "agones: sidecar call failed again"
                    ),
                }
            }
        }
    }

    /// The sidecar will not take this Counter or this count: the Fleet's `spec.counters` and
    /// the server's caps disagree (`docs/DEPLOY.md`). Said once; asking again cannot help.
    fn refused(counter: &mut Counter, count: u64, refusal: CounterRefusal, e: &SdkError) {
        counter.failing = false;
        match refusal {
            CounterRefusal::Undeclared => {
                counter.disabled = true;
                tracing::warn!(
                    counter = %counter.name,
                    error = %e,
                    "agones: the GameServer declares no such Counter (spec.counters); not reporting it"
                );
            }
            CounterRefusal::OverCapacity => {
                counter.refused = Some(count);
                if std::mem::replace(&mut counter.warned_over_capacity, true) {
                    tracing::debug!(
                        counter = %counter.name,
                        count,
                        error = %e,
                        "agones: count beyond the Counter's capacity again; not reporting it"
                    );
                } else {
                    tracing::warn!(
                        counter = %counter.name,
                        count,
                        error = %e,
                        "agones: count beyond the Counter's capacity (spec.counters); not \
                         reporting it until it changes; make the server's caps fit the capacity"
                    );
                }
            }
        }
    }
}

/// A Health ping every period, whatever else happens.
async fn health(sdk: SdkClient, period: Duration) {
    let mut failing = Failing::default();
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match sdk.health().await {
            Ok(()) => failing.succeeded("health"),
            Err(e) => failing.failed("health", &e),
        }
    }
}

/// What the GameServer's changes steer: the shutdown, and the room an allocation asked for.
struct Steer {
    server: ServerHandle,
    room_label: String,
    game_label: String,
    shutdown: watch::Sender<Option<ShutdownCause>>,
    /// The last state seen, for logging changes.
    state: String,
    /// The last (room, game) the labels asked for and the server opened.
    opened: Option<(String, Option<String>)>,
}

impl Steer {
    fn apply(&mut self, gs: &GameServer) {
        let state = gs.status.state.as_str();
        if state != self.state {
            tracing::info!(
                state,
                gameserver = %gs.object_meta.name,
                address = %gs.status.address,
                "agones: GameServer state"
            );
            self.state = state.to_owned();
        }
        if state == STATE_SHUTDOWN {
            self.shutdown.send_if_modified(|s| {
                let first = s.is_none();
                s.get_or_insert(ShutdownCause::Agones);
                first
            });
            return;
        }
        if self.room_label.is_empty() {
            return;
        }
        let labels = &gs.object_meta.labels;
        let Some(room) = labels.get(&self.room_label) else {
            return;
        };
        let game = labels
            .get(&self.game_label)
            .filter(|_| !self.game_label.is_empty())
            .cloned();
        let wanted = (room.clone(), game);
        if self.opened.as_ref() == Some(&wanted) {
            return;
        }
        let (room, game) = &wanted;
        match self.server.open_room(room, game.as_deref()) {
            Ok(started) => tracing::info!(
                room = %room,
                game = game.as_deref().unwrap_or("(by rule)"),
                started,
                "agones: opened the room the allocation asked for"
            ),
            Err(e) => tracing::warn!(
                room = %room,
                game = game.as_deref().unwrap_or("(by rule)"),
                error = %e,
                "agones: cannot open the room the allocation asked for"
            ),
        }
        // Asked once per label change, whatever the outcome: a bad label is not retried
        // every update.
        self.opened = Some(wanted);
    }
}

/// The GameServer now, then every change, reconnecting after failures with a backoff.
async fn watch_game_server(sdk: SdkClient, mut steer: Steer) {
    let mut failing = Failing::default();
    let mut backoff = Duration::from_millis(250);
    loop {
        match sdk.game_server().await {
            Ok(gs) => {
                failing.succeeded("gameserver");
                steer.apply(&gs);
            }
            Err(e) => failing.failed("gameserver", &e),
        }
        let mut updates = 0_u64;
        let ended = sdk
            .watch(|gs| {
                updates += 1;
                steer.apply(&gs);
            })
            .await;
        if updates > 0 {
            failing.succeeded("watch");
            backoff = Duration::from_millis(250);
        }
        failing.failed("watch", &ended);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_WATCH_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_game_server_parses() {
        // The example answer of `GET /gameserver` in Agones' REST SDK reference.
        let gs: GameServer = serde_json::from_str(
            r#"{"object_meta":{"name":"local","namespace":"default","uid":"1234","resource_version":"v1",
            "generation":"1","creation_timestamp":"1531795395","annotations":{"annotation":"true"},
            "labels":{"islocal":"true"}},"status":{"state":"Ready","address":"127.0.0.1",
            "ports":[{"name":"default","port":7777}]}}"#,
        )
        .expect("the documented answer parses");
        assert_eq!(gs.object_meta.name, "local", "name");
        assert_eq!(gs.status.state, "Ready", "state");
        assert_eq!(gs.object_meta.labels["islocal"], "true", "labels");
        assert_eq!(gs.status.ports[0].port, 7777, "port");
    }

    #[test]
    fn camel_case_nulls_and_unknown_fields_are_tolerated() {
        let gs: GameServer = serde_json::from_str(
            r#"{"objectMeta":{"name":"gs-1","labels":null},"status":{"state":"Allocated","ports":null,
            "players":{"count":"2"},"counters":{"rooms":{"count":"1"}}},"spec":{"health":{}}}"#,
        )
        .expect("parses");
        assert_eq!(gs.object_meta.name, "gs-1", "camelCase objectMeta");
        assert!(gs.object_meta.labels.is_empty(), "null labels are empty");
        assert!(gs.status.ports.is_empty(), "null ports are empty");
        assert_eq!(gs.status.state, "Allocated", "state");
        let empty: GameServer = serde_json::from_str("{}").expect("an empty object parses");
        assert_eq!(empty, GameServer::default(), "everything defaults");
    }

    #[test]
    fn watch_lines_carry_a_result_or_an_error() {
        let gs = parse_watch_line(br#"{"result":{"status":{"state":"Shutdown"}}}"#)
            .expect("a result line");
        assert_eq!(gs.status.state, STATE_SHUTDOWN, "the state");
        let err = parse_watch_line(br#"{"error":{"grpc_code":14,"message":"unavailable"}}"#)
            .expect_err("an error line");
        assert!(
            matches!(err, SdkError::Stream(ref m) if m.contains("unavailable")),
            "the stream's error is reported: {err}"
        );
        assert!(
            parse_watch_line(b"{not json").is_err(),
            "garbage is an error, not a panic"
        );
        assert!(
            parse_watch_line(b"{}").is_err(),
            "a line with neither is an error"
        );
    }

    #[test]
    fn agones_refusals_are_told_from_failures_by_their_message() {
        let answer = |status: u16, body: &str| {
            status_error(
                StatusCode::from_u16(status).expect("a status"),
                body.as_bytes(),
            )
        };
        // What Agones' gateway writes (sdkserver.go, a Go error → gRPC Unknown → 500).
        let undeclared = answer(
            500,
            r#"{"code":2, "message":"counter not found: rooms", "details":[]}"#,
        );
        assert_eq!(
            undeclared.counter_refusal(),
            Some(CounterRefusal::Undeclared),
            "{undeclared}"
        );
        let over = answer(
            500,
            r#"{"code":2,"message":"out of range. Count must be within range [0,Capacity]. Found Count: 11, Capacity: 10","details":[]}"#,
        );
        assert_eq!(
            over.counter_refusal(),
            Some(CounterRefusal::OverCapacity),
            "{over}"
        );
        // The local SDK server's wording (localsdk.go), and the feature gate off.
        for body in [
            r#"{"code":2,"message":"not found. rooms Counter not found","details":[]}"#,
            r#"{"code":2,"message":"CountsAndLists not enabled","details":[]}"#,
        ] {
            assert_eq!(
                answer(500, body).counter_refusal(),
                Some(CounterRefusal::Undeclared),
                "{body}"
            );
        }
        // A sidecar without the route (grpc-gateway's routing error).
        assert_eq!(
            answer(404, r#"{"code":5,"message":"Not Found","details":[]}"#).counter_refusal(),
            Some(CounterRefusal::Undeclared),
            "a 404"
        );
        // A sidecar that cannot read its GameServer (sdkserver.go, gameServer()), a proxy's HTML, a
        // timeout: retried.
        for err in [
            answer(
                500,
                r#"{"code":2,"message":"could not retrieve GameServer default/gs-1: not found","details":[]}"#,
            ),
            answer(502, "<html>bad gateway</html>"),
            SdkError::Timeout(Duration::from_secs(1)),
        ] {
            assert_eq!(err.counter_refusal(), None, "{err} is not a refusal");
        }
    }

    #[test]
    fn refusal_labels_are_the_metric_series() {
        let labels: Vec<&str> = CounterRefusal::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(
            labels,
            m::AGONES_COUNTER_REFUSAL_REASONS,
            "every refusal has its series created at zero"
        );
    }

    #[tokio::test]
    async fn a_missing_sidecar_is_an_error_not_a_hang() {
        // A port nothing listens on: bind one, note it, close it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let addr = listener.local_addr().expect("has an address");
        drop(listener);
        let sdk = SdkClient::new(addr, Duration::from_millis(500));
        let err = sdk.health().await.expect_err("nothing listens");
        assert!(
            matches!(err, SdkError::Connect { .. } | SdkError::Timeout(_)),
            "refused or timed out: {err}"
        );
        let err = sdk.watch(|_| {}).await;
        assert!(
            matches!(err, SdkError::Connect { .. } | SdkError::Timeout(_)),
            "the watch fails the same way: {err}"
        );
    }

    #[tokio::test]
    async fn a_hung_sidecar_times_out() {
        // Accepts connections (the kernel does) and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("has an address");
        let sdk = SdkClient::new(addr, Duration::from_millis(200));
        let err = sdk.ready().await.expect_err("no answer");
        assert!(
            matches!(err, SdkError::Timeout(_)),
            "a timeout, not a hang: {err}"
        );
        drop(listener);
    }
}
