//! The bot client against a minimal in-process mock of the server's protocol (HTTP/1.1 upgrade
//! with the subprotocol check, Join → Welcome → an Update per tick, Ping → Pong, Error + close).
//!
//! The real server is tested end to end in the workspace's `tests` crate; this file checks the
//! client side on its own: TLS trust, the upgrade refusal, desync detection, error accounting.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
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
use tickstream_bot::{
    ClientError, ConnectError, ConnectOptions, Incoming, LoadConfig, connect, load,
};
use tickstream_shared::codec::{decode_client, encode_server};
use tickstream_shared::delta::diff;
use tickstream_shared::messages::ViewChecksum;
use tickstream_shared::{
    ClientMsg, EntityId, EntityState, ErrorMsg, Join, PROTOCOL_VERSION, Ping, Pong, SUBPROTOCOL,
    ServerMsg, Tick, Update, Welcome, view_checksum,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// How the mock misbehaves.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Plays by the rules.
    Normal,
    /// Sends a wrong checksum in the update of this tick.
    BadChecksumAt(u32),
    /// After this many updates, sends `Error(1008)` and closes with 1008.
    KickAfter(u32),
}

struct Mock {
    addr: SocketAddr,
    /// The self-signed certificate of a TLS mock, PEM.
    cert_pem: Option<String>,
}

impl Mock {
    fn url(&self) -> String {
        let scheme = if self.cert_pem.is_some() { "wss" } else { "ws" };
        format!("{scheme}://{}/ws", self.addr)
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
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            // Without it, Nagle and delayed acks add 40 ms to some round trips.
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                match acceptor {
                    Some(a) => {
                        if let Ok(tls) = a.accept(tcp).await {
                            serve(TokioIo::new(tls), mode).await;
                        }
                    }
                    None => serve(TokioIo::new(tcp), mode).await,
                }
            });
        }
    });
    Mock { addr, cert_pem }
}

async fn serve<I>(io: I, mode: Mode)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = service_fn(move |mut req: Request<Body>| async move {
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
                session(ws, mode).await;
            }
        });
        Ok(resp)
    });
    let _ = http1::Builder::new()
        .serve_connection(io, svc)
        .with_upgrades()
        .await;
}

enum Event {
    Join,
    Ping(u64),
    Closed,
}

fn view(tick: u32, player: u32) -> Vec<EntityState> {
    (0..5)
        .map(|i| EntityState {
            id: EntityId(i),
            kind: u8::from(i != player),
            x: 1000 + tick * 64 * (i + 1),
            y: 2000 + tick * 32,
        })
        .collect()
}

async fn session(ws: WebSocket<TokioIo<Upgraded>>, mode: Mode) {
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
                    Ok(ClientMsg::Join(_)) => Event::Join,
                    Ok(ClientMsg::Input(i)) => {
                        seen.store(i.seq, Ordering::Relaxed);
                        continue;
                    }
                    Ok(ClientMsg::Ping(p)) => Event::Ping(p.client_time),
                    Err(_) => Event::Closed,
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
    if !matches!(rx.recv().await, Some(Event::Join)) {
        return;
    }
    let player = 2;
    let welcome = ServerMsg::Welcome(Welcome {
        protocol: PROTOCOL_VERSION,
        entity: EntityId(player),
        tick_rate_hz: 30,
        tick: Tick(0),
        world_width: 1000.0,
        world_height: 1000.0,
        view_radius: 0.0,
    });
    if !send(&mut write, &welcome).await {
        return;
    }
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
                Some(Event::Join) => {}
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
                let update = ServerMsg::Update(Update {
                    tick: Tick(tick),
                    ack_seq: seq.load(Ordering::Relaxed),
                    checksum: ViewChecksum(checksum),
                    delta: diff(&prev, &cur),
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
        subprotocol: None,
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
        matches!(c.recv().await, Err(ClientError::Closed)),
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
