//! The bot client against a minimal in-process mock of the server's protocol (HTTP/1.1 upgrade
//! with the subprotocol check, Join or Resume → Welcome → an Update per tick with game fields and
//! numbered events, Ping → Pong, Error + close). It speaks protocol v2, the oldest the clients
//! still offer: the version whose messages it builds.
//!
//! The real server is tested end to end in the workspace's `tests` crate; this file checks the
//! client side on its own: TLS trust, the upgrade refusal, desync detection, error accounting,
//! event sequence checks, resumes after dropped connections, rooms and games in the summary.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{FragmentCollectorRead, Frame, OpCode, Payload, WebSocket};
use http_body_util::Empty;
use hyper::body::Incoming as Body;
use hyper::header::{HeaderValue, SEC_WEBSOCKET_PROTOCOL};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tickstream_bot::{Churn, LoadConfig, load};
use tickstream_client::{ConnectError, ConnectOptions, ConnectionError, Incoming, connect};
use tickstream_shared::codec::{decode_client, encode_server};
use tickstream_shared::delta::diff;
use tickstream_shared::messages::ViewChecksum;
use tickstream_shared::{
    ClientMsg, EntityId, EntityState, ErrorMsg, FieldSpec, GameEvent, Join, Ping, Pong, ServerMsg,
    Tick, Update, Welcome, close_code, view_checksum,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The mock's protocol: v2 (`Welcome` and `Update`), which every client in the tree offers.
const SUBPROTOCOL: &str = "tickstream.v2";
const PROTOCOL_VERSION: u16 = 2;

/// How the mock misbehaves.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Plays by the rules.
    Normal,
    /// Sends a wrong checksum in the update of this tick.
    BadChecksumAt(u32),
    /// After this many updates, sends `Error(1008)` and closes with 1008.
    KickAfter(u32),
    /// Never sends the event with this seq (to any player).
    SkipEvent(u32),
    /// Refuses every `Resume` with `Error(4005)` and a 4005 close.
    RefuseResume,
    /// Answers `Resume` with a welcome for a new player (`resumed: false`).
    ResumeAsNew,
}

/// A new event every this many ticks, per player.
const EVENT_EVERY: u32 = 3;

/// The players of a mock, across connections, so that a `Resume` finds its entity.
#[derive(Default)]
struct Players {
    next_entity: u32,
    next_token: u64,
    next_session: u64,
    /// Token → entity; a token is used once.
    tokens: HashMap<String, u32>,
    /// Entity → (the session that owns it now, the last event seq it was given).
    entities: HashMap<u32, (u64, u32)>,
    /// Rooms by name → players joined.
    rooms: HashMap<String, u32>,
}

type State = Arc<Mutex<Players>>;

fn lock(state: &State) -> std::sync::MutexGuard<'_, Players> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Event `seq` of any player: its content is a function of the number, so the mock can send
/// any of them again.
fn event(seq: u32, entity: u32) -> GameEvent {
    GameEvent {
        seq,
        kind: (seq % 2) as u16,
        entity: EntityId(entity),
        value: seq as i32,
        text: format!("event {seq}"),
    }
}

struct Mock {
    addr: SocketAddr,
    /// The self-signed certificate of a TLS mock, PEM.
    cert_pem: Option<String>,
    state: State,
}

impl Mock {
    fn url(&self) -> String {
        let scheme = if self.cert_pem.is_some() { "wss" } else { "ws" };
        format!("{scheme}://{}/ws", self.addr)
    }

    /// Players joined per room (resumes not counted).
    fn rooms(&self) -> HashMap<String, u32> {
        lock(&self.state).rooms.clone()
    }
}

async fn start(tls: bool, mode: Mode) -> Mock {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (acceptor, cert_pem) = if tls {
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("self-signed certificate");
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![ck.cert.der().clone()], key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        (Some(acceptor), Some(ck.cert.pem()))
    } else {
        (None, None)
    };
    let state = State::default();
    let players = Arc::clone(&state);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            // Without it, Nagle and delayed acks add 40 ms to some round trips.
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let players = Arc::clone(&players);
            tokio::spawn(async move {
                match acceptor {
                    Some(a) => {
                        if let Ok(tls) = a.accept(tcp).await {
                            serve(TokioIo::new(tls), mode, players).await;
                        }
                    }
                    None => serve(TokioIo::new(tcp), mode, players).await,
                }
            });
        }
    });
    Mock {
        addr,
        cert_pem,
        state,
    }
}

async fn serve<I>(io: I, mode: Mode, state: State)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = service_fn(move |mut req: Request<Body>| {
        let state = Arc::clone(&state);
        async move {
            let offered = req
                .headers()
                .get(SEC_WEBSOCKET_PROTOCOL)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|p| p.trim() == SUBPROTOCOL));
            if !offered {
                let refused = Response::builder()
                    .status(400)
                    .body(Empty::<Bytes>::new())
                    .expect("static response");
                return Ok::<_, Infallible>(refused);
            }
            let (mut resp, upgrade) = fastwebsockets::upgrade::upgrade(&mut req).expect("upgrade");
            resp.headers_mut().insert(
                SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_static(SUBPROTOCOL),
            );
            tokio::spawn(async move {
                if let Ok(ws) = upgrade.await {
                    session(ws, mode, state).await;
                }
            });
            Ok(resp)
        }
    });
    let _ = http1::Builder::new()
        .serve_connection(io, svc)
        .with_upgrades()
        .await;
}

enum Event {
    Join(String),
    Resume {
        room: String,
        token: String,
        last_event_seq: u32,
    },
    Ping(u64),
    Closed,
}

/// Five NPCs (ids 0..5, one with a changing game field) and the player (kind 0).
fn view(tick: u32, player: u32) -> Vec<EntityState> {
    let mut v: Vec<EntityState> = (0..5)
        .map(|i| {
            EntityState::new(EntityId(i), 1, 1000 + tick * 64 * (i + 1), 2000 + tick * 32)
                .with_field(1, if i == 1 { (tick % 7) as i32 - 3 } else { 0 })
        })
        .collect();
    v.push(
        EntityState::new(EntityId(player), 0, 500 + tick * 10, 500)
            .with_field(0, (tick / 10) as i32),
    );
    v
}

/// What a session's `Join` or `Resume` gets: the welcome, and the events to send again.
enum Admission {
    Welcome {
        entity: u32,
        session: u64,
        resumed: bool,
        /// The seqs of the events to send again.
        resend: Vec<u32>,
        room: String,
    },
    Refused,
}

fn admit(state: &State, mode: Mode, first: Event) -> Option<Admission> {
    let mut p = lock(state);
    p.next_session += 1;
    let session = p.next_session;
    let fresh = |p: &mut Players, room: String| {
        p.next_entity += 1;
        let entity = 100 + p.next_entity;
        p.entities.insert(entity, (session, 0));
        *p.rooms.entry(room.clone()).or_insert(0) += 1;
        Admission::Welcome {
            entity,
            session,
            resumed: false,
            resend: Vec::new(),
            room,
        }
    };
    Some(match first {
        Event::Join(room) => fresh(&mut p, room),
        Event::Resume { room, .. } if matches!(mode, Mode::ResumeAsNew) => fresh(&mut p, room),
        Event::Resume { .. } if matches!(mode, Mode::RefuseResume) => Admission::Refused,
        Event::Resume {
            room,
            token,
            last_event_seq,
        } => match p.tokens.remove(&token) {
            Some(entity) => {
                let owner = p.entities.entry(entity).or_insert((session, 0));
                // The old connection's session stops sending events for the entity.
                owner.0 = session;
                Admission::Welcome {
                    entity,
                    session,
                    resumed: true,
                    resend: (last_event_seq + 1..=owner.1).collect(),
                    room,
                }
            }
            None => Admission::Refused,
        },
        Event::Ping(_) | Event::Closed => return None,
    })
}

/// The next event of `entity` if `session` still owns it (a dropped connection's session may
/// run on for a moment after the resume took the entity over).
fn next_event(state: &State, session: u64, entity: u32) -> Option<u32> {
    let mut p = lock(state);
    let owner = p.entities.get_mut(&entity)?;
    if owner.0 != session {
        return None;
    }
    owner.1 += 1;
    Some(owner.1)
}

async fn session(ws: WebSocket<TokioIo<Upgraded>>, mode: Mode, state: State) {
    let (read, mut write) = ws.split(tokio::io::split);
    let mut read = FragmentCollectorRead::new(read);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let seq = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&seq);
    tokio::spawn(async move {
        let mut ignore = |_: Frame<'_>| std::future::ready(Ok::<(), Infallible>(()));
        while let Ok(frame) = read.read_frame(&mut ignore).await {
            let event = match frame.opcode {
                OpCode::Binary => match decode_client(&frame.payload) {
                    Ok(ClientMsg::Join(j)) => Event::Join(j.room),
                    Ok(ClientMsg::Resume(r)) => Event::Resume {
                        room: r.room,
                        token: r.token,
                        last_event_seq: r.last_event_seq,
                    },
                    Ok(ClientMsg::Input(i)) => {
                        seen.store(i.seq, Ordering::Relaxed);
                        continue;
                    }
                    Ok(ClientMsg::Ping(p)) => Event::Ping(p.client_time),
                    // A v5 message on this v2 server: a protocol error.
                    Ok(ClientMsg::Input5(_) | ClientMsg::Spectate(_) | ClientMsg::Follow(_))
                    | Err(_) => Event::Closed,
                },
                OpCode::Close => Event::Closed,
                _ => continue,
            };
            let closed = matches!(event, Event::Closed);
            if tx.send(event).is_err() || closed {
                break;
            }
        }
        let _ = tx.send(Event::Closed);
    });
    let mut buf = Vec::new();
    let mut send = async |write: &mut fastwebsockets::WebSocketWrite<_>, msg: &ServerMsg| {
        buf.clear();
        encode_server(msg, &mut buf).expect("encodes");
        let ok = write
            .write_frame(Frame::binary(Payload::Borrowed(&buf)))
            .await
            .is_ok();
        ok && write.flush().await.is_ok()
    };
    let Some(first) = rx.recv().await else {
        return;
    };
    let (player, session_id, resumed, resend, room) = match admit(&state, mode, first) {
        None => return,
        Some(Admission::Refused) => {
            let code = close_code::RESUME_REFUSED;
            let error = ServerMsg::Error(ErrorMsg {
                code,
                reason: "unknown token".into(),
            });
            let _ = send(&mut write, &error).await;
            let _ = write
                .write_frame(Frame::close(code, b"unknown token"))
                .await;
            let _ = write.flush().await;
            return;
        }
        Some(Admission::Welcome {
            entity,
            session,
            resumed,
            resend,
            room,
        }) => (entity, session, resumed, resend, room),
    };
    let token = {
        let mut p = lock(&state);
        p.next_token += 1;
        let token = format!("{:032x}", p.next_token);
        p.tokens.insert(token.clone(), player);
        token
    };
    let coins = room.starts_with("coins");
    let welcome = ServerMsg::Welcome(Welcome {
        protocol: PROTOCOL_VERSION,
        entity: EntityId(player),
        tick_rate_hz: 30,
        tick: Tick(0),
        world_width: 1000.0,
        world_height: 1000.0,
        view_radius: 0.0,
        game: if coins { "coins" } else { "arena" }.into(),
        kinds: vec!["player".into(), "npc".into()],
        fields: vec![
            FieldSpec {
                name: "score".into(),
                scale: 1.0,
            },
            FieldSpec {
                name: "mood".into(),
                scale: 1.0,
            },
        ],
        event_kinds: vec!["even".into(), "odd".into()],
        resume_token: token,
        resumed,
    });
    if !send(&mut write, &welcome).await {
        return;
    }
    let mut resend: Vec<GameEvent> = resend.into_iter().map(|seq| event(seq, player)).collect();
    let mut ticker = tokio::time::interval(Duration::from_millis(1000 / 30));
    let mut prev = Vec::new();
    let mut tick = 0u32;
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Some(Event::Ping(t)) => {
                    let pong = ServerMsg::Pong(Pong { client_time: t, server_tick: Tick(tick) });
                    if !send(&mut write, &pong).await {
                        return;
                    }
                }
                Some(Event::Join(_) | Event::Resume { .. }) => {}
                Some(Event::Closed) | None => {
                    let _ = write.write_frame(Frame::close(1000, b"")).await;
                    let _ = write.flush().await;
                    return;
                }
            },
            _ = ticker.tick() => {
                tick += 1;
                if let Mode::KickAfter(n) = mode && tick > n {
                    let error = ServerMsg::Error(ErrorMsg { code: 1008, reason: "rate".into() });
                    let _ = send(&mut write, &error).await;
                    let _ = write.write_frame(Frame::close(1008, b"rate")).await;
                    let _ = write.flush().await;
                    return;
                }
                let cur = view(tick, player);
                let mut checksum = view_checksum(&cur);
                if let Mode::BadChecksumAt(t) = mode && t == tick {
                    checksum ^= 1;
                }
                let mut events = std::mem::take(&mut resend);
                if tick % EVENT_EVERY == 0
                    && let Some(seq) = next_event(&state, session_id, player)
                    && !matches!(mode, Mode::SkipEvent(s) if s == seq)
                {
                    events.push(event(seq, player));
                }
                let update = ServerMsg::Update(Update {
                    tick: Tick(tick),
                    ack_seq: seq.load(Ordering::Relaxed),
                    checksum: ViewChecksum(checksum),
                    delta: diff(&prev, &cur),
                    events,
                });
                prev = cur;
                if !send(&mut write, &update).await {
                    return;
                }
            }
        }
    }
}

fn run_config(url: String, bots: u32) -> LoadConfig {
    LoadConfig {
        url,
        bots,
        duration: Duration::from_millis(1500),
        ramp: Duration::from_millis(200),
        connect: ConnectOptions {
            insecure: true,
            ..ConnectOptions::default()
        },
        ..LoadConfig::default()
    }
}

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_run_cleanly_over_plain_websocket() {
    let mock = start(false, Mode::Normal).await;
    let s = tokio::time::timeout(LIMIT, load::run(run_config(mock.url(), 4), |_| {}))
        .await
        .expect("the run ends");
    eprintln!("{s}");
    assert!(s.passed(), "a clean run: {s}");
    assert_eq!(s.bots_connected, 4, "all bots joined");
    assert!(s.update_hz > 20.0, "about 30 Hz per bot: {}", s.update_hz);
    assert!(s.bytes_per_update > 0.0, "bytes are counted");
    assert!(s.rtt_ms.samples > 0, "inputs were acknowledged");
    assert!(
        s.rtt_ms.p50 > 0.0 && s.rtt_ms.p50 < 200.0,
        "a plausible round trip: {}",
        s.rtt_ms.p50
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_run_cleanly_over_tls_with_insecure_or_a_ca_file() {
    let mock = start(true, Mode::Normal).await;
    let s = tokio::time::timeout(LIMIT, load::run(run_config(mock.url(), 2), |_| {}))
        .await
        .expect("the run ends");
    assert!(s.passed(), "insecure TLS run: {s}");

    let pem = mock
        .cert_pem
        .as_deref()
        .expect("a TLS mock has a certificate");
    let path = std::env::temp_dir().join(format!("tickstream-bot-ca-{}.pem", std::process::id()));
    std::fs::write(&path, pem).expect("write the CA file");
    let mut cfg = run_config(mock.url(), 2);
    cfg.connect = ConnectOptions {
        ca: Some(path.clone()),
        ..ConnectOptions::default()
    };
    let s = tokio::time::timeout(LIMIT, load::run(cfg, |_| {}))
        .await
        .expect("the run ends");
    let _ = std::fs::remove_file(&path);
    assert!(s.passed(), "TLS run trusting the CA file: {s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_trust_the_tls_error_says_what_to_do() {
    let mock = start(true, Mode::Normal).await;
    let err = connect(&mock.url(), &ConnectOptions::default())
        .await
        .expect_err("an unknown certificate is refused");
    assert!(
        matches!(err, ConnectError::Tls { .. }),
        "a TLS error: {err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("--ca") && msg.contains("--insecure"),
        "hint: {msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_without_the_subprotocol_is_refused_with_its_status() {
    let mock = start(false, Mode::Normal).await;
    let opts = ConnectOptions {
        subprotocols: Vec::new(),
        ..ConnectOptions::default()
    };
    let err = connect(&mock.url(), &opts)
        .await
        .expect_err("the mock refuses");
    assert_eq!(err.http_status(), Some(400), "the HTTP status: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_speaks_the_protocol_by_hand() {
    let mock = start(false, Mode::Normal).await;
    let mut c = connect(&mock.url(), &ConnectOptions::default())
        .await
        .expect("connects");
    assert_eq!(c.subprotocol(), Some(SUBPROTOCOL), "subprotocol echoed");
    c.send(&ClientMsg::Join(Join {
        room: "lobby".into(),
    }))
    .await
    .expect("join sent");
    let first = c.recv().await.expect("a message");
    assert!(
        matches!(first, Incoming::Msg(ServerMsg::Welcome(_))),
        "Welcome first: {first:?}"
    );
    c.send(&ClientMsg::Ping(Ping { client_time: 77 }))
        .await
        .expect("ping sent");
    let mut pong = None;
    for _ in 0..20 {
        match c.recv().await.expect("a message") {
            Incoming::Msg(ServerMsg::Pong(p)) => {
                pong = Some(p);
                break;
            }
            Incoming::Msg(ServerMsg::Update(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        pong.map(|p| p.client_time),
        Some(77),
        "the ping's time comes back"
    );
    assert!(c.bytes_received() > 0, "bytes are counted");
    c.close(1000, "").await.expect("close sent");
    let mut closed = None;
    for _ in 0..20 {
        match c.recv().await {
            Ok(Incoming::Close { code, .. }) => {
                closed = Some(code);
                break;
            }
            Ok(_) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(closed, Some(1000), "the close is echoed");
    assert!(
        matches!(c.recv().await, Err(ConnectionError::Closed)),
        "nothing after the close"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_checksum_is_a_desync_for_verifying_bots_only() {
    let mock = start(false, Mode::BadChecksumAt(5)).await;
    let mut cfg = run_config(mock.url(), 4);
    cfg.verify_every = 2;
    let s = tokio::time::timeout(LIMIT, load::run(cfg, |_| {}))
        .await
        .expect("the run ends");
    assert_eq!(s.verified_bots, 2, "bots 0 and 2 verify");
    assert_eq!(s.desyncs, 2, "exactly the verifying bots desync: {s}");
    assert_eq!(s.errors, 0, "a desync is not also an error: {s}");
    assert!(!s.passed(), "a desync fails the run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_counts_once() {
    let mock = start(false, Mode::KickAfter(3)).await;
    let s = tokio::time::timeout(LIMIT, load::run(run_config(mock.url(), 3), |_| {}))
        .await
        .expect("the run ends");
    assert_eq!(s.errors, 3, "one error per bot: {s}");
    assert_eq!(
        s.errors_by_kind.get("server_error_1008"),
        Some(&3),
        "the Error message, not also the close: {s}"
    );
}

fn churn_config(url: String, bots: u32) -> LoadConfig {
    LoadConfig {
        duration: Duration::from_secs(4),
        churn: Some(Churn {
            mean_interval: Duration::from_millis(400),
            reconnect_delay: Duration::from_millis(20),
        }),
        ..run_config(url, bots)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_once_and_in_order() {
    let mock = start(false, Mode::Normal).await;
    let s = tokio::time::timeout(LIMIT, load::run(run_config(mock.url(), 3), |_| {}))
        .await
        .expect("the run ends");
    assert!(s.passed(), "a clean run: {s}");
    // 1.5 s at 30 Hz is about 45 ticks, an event every third: about 15 per bot.
    assert!(s.events_received >= 3 * 5, "events were counted: {s}");
    assert_eq!(s.event_errors, 0, "no gap: {s}");
    assert!(
        s.events_by_kind.contains_key("even") && s.events_by_kind.contains_key("odd"),
        "counted under the welcome's kind names: {s}"
    );
    assert_eq!(s.games.get("arena"), Some(&3), "the game of the room: {s}");
    assert_eq!(s.churn_interval_s, None, "no churn: {s}");
    assert_eq!((s.drops, s.resumes), (0, 0), "no churn, no resume: {s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_event_is_an_event_error_that_fails_the_run() {
    let mock = start(false, Mode::SkipEvent(3)).await;
    let s = tokio::time::timeout(LIMIT, load::run(run_config(mock.url(), 2), |_| {}))
        .await
        .expect("the run ends");
    assert_eq!(s.event_errors, 2, "one gap per bot: {s}");
    assert!(
        s.event_error_samples
            .iter()
            .all(|e| e.contains("expected seq 3, got 4")),
        "the gap is described: {s}"
    );
    assert_eq!(
        (s.desyncs, s.errors),
        (0, 0),
        "nothing else went wrong: {s}"
    );
    assert!(!s.passed(), "a lost event fails the run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churning_bots_resume_as_themselves_and_miss_no_event() {
    let mock = start(false, Mode::Normal).await;
    let s = tokio::time::timeout(LIMIT, load::run(churn_config(mock.url(), 4), |_| {}))
        .await
        .expect("the run ends");
    eprintln!("{s}");
    assert!(s.passed(), "a clean churning run: {s}");
    assert!(s.resumes >= 4, "every bot resumed at least once: {s}");
    assert_eq!(s.resumes, s.drops, "every drop resumed: {s}");
    assert_eq!(s.event_errors, 0, "no event lost across resumes: {s}");
    assert!(s.events_received > 4 * 10, "events flowed: {s}");
    assert_eq!(
        mock.rooms().get("default"),
        Some(&4),
        "resumes are not new players"
    );
    assert!(
        s.to_string().contains(" resumed, 0 failed"),
        "the text summary shows the churn: {s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_resume_is_counted_by_close_code_and_the_bot_joins_again() {
    let mock = start(false, Mode::RefuseResume).await;
    let s = tokio::time::timeout(LIMIT, load::run(churn_config(mock.url(), 2), |_| {}))
        .await
        .expect("the run ends");
    assert!(s.resume_failures >= 2, "each bot failed a resume: {s}");
    assert_eq!(s.resumes, 0, "none succeeded: {s}");
    assert_eq!(
        s.resume_failures_by_kind.get("close_4005"),
        Some(&s.resume_failures),
        "all refused with 4005: {s}"
    );
    assert_eq!(
        (s.desyncs, s.errors, s.event_errors),
        (0, 0, 0),
        "joining again as a new player works, events start over at 1: {s}"
    );
    assert!(
        mock.rooms().get("default").copied().unwrap_or(0) > 2,
        "the bots joined again"
    );
    assert!(!s.passed(), "a failed resume fails the run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_answered_as_a_new_player_is_a_failure() {
    let mock = start(false, Mode::ResumeAsNew).await;
    let s = tokio::time::timeout(LIMIT, load::run(churn_config(mock.url(), 2), |_| {}))
        .await
        .expect("the run ends");
    assert!(s.resume_failures >= 2, "each bot failed a resume: {s}");
    assert_eq!(
        s.resume_failures_by_kind.get("not_resumed"),
        Some(&s.resume_failures),
        "the welcome said resumed: false: {s}"
    );
    assert!(!s.passed(), "a failed resume fails the run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_spread_over_rooms_and_the_summary_shows_each_room_and_game() {
    let mock = start(false, Mode::Normal).await;
    let mut cfg = run_config(mock.url(), 5);
    cfg.room = "coins-x".into();
    cfg.rooms = 2;
    let s = tokio::time::timeout(LIMIT, load::run(cfg, |_| {}))
        .await
        .expect("the run ends");
    assert!(s.passed(), "a clean run: {s}");
    let rooms = mock.rooms();
    assert_eq!(rooms.get("coins-x-0"), Some(&3), "bots 0, 2, 4: {rooms:?}");
    assert_eq!(rooms.get("coins-x-1"), Some(&2), "bots 1, 3: {rooms:?}");
    assert_eq!(s.rooms.len(), 2, "two rooms in the summary: {s}");
    let r0 = s.rooms.get("coins-x-0").cloned().unwrap_or_default();
    assert_eq!(
        (r0.bots, r0.connected, r0.game.as_str()),
        (3, 3, "coins"),
        "room 0: {s}"
    );
    assert_eq!(s.games.get("coins"), Some(&5), "all bots played coins: {s}");
    let text = s.to_string();
    assert!(
        text.contains("coins-x-1 2/2 coins"),
        "the text lists the rooms: {text}"
    );
}
