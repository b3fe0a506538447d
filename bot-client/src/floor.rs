//! The I/O floor: the cheapest fan-out server our own stack (tokio, hyper's upgrade,
//! fastwebsockets) can be, and bots that only count what it sends.
//!
//! `tickstream-bench` runs it beside every Tickstream run, with the same number of bots, and
//! divides Tickstream's CPU per update delivered by the floor's. The floor sends every client
//! one binary frame of a fixed size (the mean update size Tickstream sent in the run it is
//! paired with) per tick at the same rate, reads and discards the bots' inputs, and computes
//! nothing else: what it costs is what moving those bytes through the kernel costs.
//!
//! **Keep this file fixed while tuning the server**: the ratio only means something against a
//! floor that does not move. A change here is a commit of its own, with its own measurement.
//!
//! # Layout
//!
//! - [`serve`]: the floor server. One task per connection reads and discards; one tick task
//!   writes the frame to every client in one pass (one `writev` or `write` per client-tick,
//!   no per-client wake-up).
//! - [`count_bot`]: a bot that connects, sends the scenario's inputs at 20 Hz and counts the
//!   frames it receives by their headers, without decoding a payload.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fastwebsockets::{Frame, Payload, WebSocketWrite};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, SEC_WEBSOCKET_PROTOCOL};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use tickstream_client::counting::{CountingStream, ReadCounter};
use tickstream_shared::ClientMsg;
use tickstream_shared::codec::encode_client;

use crate::bot::Window;
use crate::schedule::{INPUT_INTERVAL, InputSchedule};

/// The write half of one upgraded connection, as the tick task holds it.
type Sink = WebSocketWrite<WriteHalf<TokioIo<hyper::upgrade::Upgraded>>>;

/// New connections waiting for the tick task to take them: bounded, the accept loop waits.
const PENDING_CLIENTS: usize = 1024;

/// Serves the floor on `listener` until the process ends: every `tick`, a binary frame of
/// `frame_bytes` bytes to every connected client. With `tls`, connections are wss.
pub async fn serve(
    listener: TcpListener,
    frame_bytes: usize,
    tick: Duration,
    tls: Option<TlsAcceptor>,
) {
    let (tx, mut rx) = mpsc::channel::<Sink>(PENDING_CLIENTS);
    tokio::spawn(accept_loop(listener, tx, tls));
    let frame = vec![0u8; frame_bytes];
    let mut clients: Vec<Sink> = Vec::new();
    let mut ticker = tokio::time::interval(tick);
    // As the server's room: a late tick is skipped, never sent in a burst to catch up (a burst
    // would deliver more than `tick`'s rate and flatter the floor's CPU per frame).
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        while let Ok(client) = rx.try_recv() {
            clients.push(client);
        }
        let mut i = 0;
        while i < clients.len() {
            let client = &mut clients[i];
            // Flushed as the server's writer flushes when it goes idle: over wss the TLS
            // records of the frame leave now, not with the next one.
            let sent = match client
                .write_frame(Frame::binary(Payload::Borrowed(&frame)))
                .await
            {
                Ok(()) => client.flush().await,
                Err(e) => Err(e),
            };
            if sent.is_err() {
                clients.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }
}

async fn accept_loop(listener: TcpListener, tx: mpsc::Sender<Sink>, tls: Option<TlsAcceptor>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (tx, tls) = (tx.clone(), tls.clone());
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(tcp).await {
                        connection(stream, tx).await;
                    }
                }
                None => connection(tcp, tx).await,
            }
        });
    }
}

/// One HTTP/1.1 connection: the upgrade, then the reader of the WebSocket.
async fn connection<S>(stream: S, tx: mpsc::Sender<Sink>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| upgrade(req, tx.clone()));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
}

async fn upgrade(
    mut req: Request<Incoming>,
    tx: mpsc::Sender<Sink>,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    // The first subprotocol offered is echoed, as a server that speaks it would.
    let offered = req
        .headers()
        .get(SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|v| HeaderValue::from_str(v.trim()).ok());
    let Ok((mut resp, fut)) = fastwebsockets::upgrade::upgrade(&mut req) else {
        let mut refused = Response::new(Empty::new());
        *refused.status_mut() = hyper::StatusCode::BAD_REQUEST;
        return Ok(refused);
    };
    if let Some(p) = offered {
        resp.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, p);
    }
    tokio::spawn(async move {
        let Ok(ws) = fut.await else { return };
        let (mut rd, wr) = ws.split(tokio::io::split);
        if tx.send(wr).await.is_err() {
            return;
        }
        let mut discard = |_: Frame<'_>| std::future::ready(Ok::<(), Infallible>(()));
        while rd.read_frame(&mut discard).await.is_ok() {}
    });
    Ok(resp)
}

/// What one counting bot saw inside the window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counted {
    /// Binary frames received in the window.
    pub frames: u64,
    /// Their payload bytes.
    pub payload_bytes: u64,
    /// Bytes read from the socket in the window (below TLS when wss).
    pub socket_bytes: u64,
    /// Whether the bot connected.
    pub connected: bool,
    /// How much of the window the bot was connected for.
    pub measured: Duration,
}

/// A bot for the floor: connects to `addr` (over `tls` when given), offers `tickstream.v3`,
/// sends bot `index`'s inputs every 50 ms, and counts the binary frames it receives by their
/// headers until the window ends. Nothing is decoded. Errors end the bot; they show as
/// missing frames.
pub async fn count_bot(
    addr: SocketAddr,
    tls: Option<&TlsConnector>,
    index: u32,
    start_at: Instant,
    window: Window,
) -> Counted {
    tokio::time::sleep_until(start_at.into()).await;
    let Ok(tcp) = TcpStream::connect(addr).await else {
        return Counted::default();
    };
    let _ = tcp.set_nodelay(true);
    // Counts what arrives on the socket, below TLS, as the real bots do.
    let socket = ReadCounter::default();
    let tcp = CountingStream::new(tcp, socket.clone());
    match tls {
        Some(connector) => {
            let name = rustls::pki_types::ServerName::from(addr.ip());
            match connector.connect(name, tcp).await {
                Ok(stream) => count_on(stream, &socket, addr, index, window).await,
                Err(_) => Counted::default(),
            }
        }
        None => count_on(tcp, &socket, addr, index, window).await,
    }
}

async fn count_on<S>(
    mut stream: S,
    socket: &ReadCounter,
    addr: SocketAddr,
    index: u32,
    window: Window,
) -> Counted
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut out = Counted::default();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: tickstream.v3\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return out;
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut have = 0;
    let body_at = loop {
        let Ok(n) = stream.read(&mut buf[have..]).await else {
            return out;
        };
        if n == 0 || have + n == buf.len() {
            return out;
        }
        have += n;
        if let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    if !buf.starts_with(b"HTTP/1.1 101") {
        return out;
    }
    out.connected = true;
    let joined = Instant::now();
    out.measured = window.measured_since(joined);
    let mut frames = FrameCounter::default();
    let mut schedule = InputSchedule::for_bot(index);
    let mut ticker = tokio::time::interval(INPUT_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let deadline = tokio::time::sleep_until(window.end.into());
    tokio::pin!(deadline);
    let mut msg = Vec::new();
    let mut first = Some(body_at..have);
    let mut socket_seen = socket.get();
    loop {
        let n = if let Some(rest) = first.take() {
            buf.copy_within(rest.clone(), 0);
            rest.len()
        } else {
            tokio::select! {
                biased;
                () = &mut deadline => break,
                _ = ticker.tick() => {
                    msg.clear();
                    if encode_client(&ClientMsg::Input(schedule.next_input()), &mut msg).is_err()
                        || stream.write_all(&masked_binary(&msg)).await.is_err()
                    {
                        break;
                    }
                    continue;
                }
                // Cancel safe: a read either completed or took nothing.
                read = stream.read(&mut buf) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let now = socket.get();
                        if window.contains(Instant::now()) {
                            out.socket_bytes += now - socket_seen;
                        }
                        socket_seen = now;
                        n
                    }
                },
            }
        };
        let (f, b) = frames.feed(&buf[..n]);
        if window.contains(Instant::now()) {
            out.frames += f;
            out.payload_bytes += b;
        }
    }
    out
}

/// The floor's TLS acceptor: a fresh self-signed certificate for 127.0.0.1 and localhost.
pub fn tls_acceptor() -> anyhow::Result<TlsAcceptor> {
    let names = vec!["localhost".into(), "127.0.0.1".into()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let key = rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .map_err(anyhow::Error::msg)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The counting bots' TLS connector: it accepts any certificate (the floor's is self-signed
/// and fresh each run), as the real bots do with `insecure`.
pub fn tls_connector() -> anyhow::Result<TlsConnector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = AcceptAny(provider.signature_verification_algorithms);
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Accepts any server certificate; handshake signatures are still checked.
#[derive(Debug)]
struct AcceptAny(rustls::crypto::WebPkiSupportedAlgorithms);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// A client frame (masked, as RFC 6455 requires of clients) holding `payload`.
fn masked_binary(payload: &[u8]) -> Vec<u8> {
    const KEY: [u8; 4] = [0x5a, 0x17, 0xc3, 0x88];
    let mut f = Vec::with_capacity(payload.len() + 8);
    f.push(0x82);
    // Inputs are a few bytes: the 7-bit length always fits.
    f.push(0x80 | (payload.len().min(125) as u8));
    f.extend_from_slice(&KEY);
    f.extend(payload.iter().zip(KEY.iter().cycle()).map(|(b, k)| b ^ k));
    f
}

/// Counts a server's (unmasked) WebSocket frames in a byte stream by their headers.
#[derive(Debug, Default)]
pub struct FrameCounter {
    /// Payload bytes of the current frame still to skip.
    skip: u64,
    /// The current frame's header so far (at most 14 bytes).
    header: Vec<u8>,
}

impl FrameCounter {
    /// Feeds bytes; returns the binary frames whose headers were completed and their payload
    /// lengths summed.
    pub fn feed(&mut self, mut bytes: &[u8]) -> (u64, u64) {
        let (mut frames, mut payload) = (0, 0);
        while !bytes.is_empty() {
            if self.skip > 0 {
                let k = self.skip.min(bytes.len() as u64);
                self.skip -= k;
                bytes = &bytes[k as usize..];
                continue;
            }
            self.header.push(bytes[0]);
            bytes = &bytes[1..];
            let h = &self.header;
            if h.len() < 2 {
                continue;
            }
            let ext = match h[1] & 0x7f {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            let mask = if h[1] & 0x80 != 0 { 4 } else { 0 };
            if h.len() < 2 + ext + mask {
                continue;
            }
            let len = match ext {
                0 => u64::from(h[1] & 0x7f),
                _ => h[2..2 + ext]
                    .iter()
                    .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
            };
            if h[0] & 0x0f == 0x2 {
                frames += 1;
                payload += len;
            }
            self.skip = len;
            self.header.clear();
        }
        (frames, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_counted_across_reads() {
        let mut stream = Vec::new();
        // A 3-byte binary frame, a 300-byte one (16-bit length), a ping, a 70,000-byte one.
        stream.extend_from_slice(&[0x82, 3, 1, 2, 3]);
        stream.extend_from_slice(&[0x82, 126, 0x01, 0x2c]);
        stream.extend(std::iter::repeat_n(7u8, 300));
        stream.extend_from_slice(&[0x89, 0]);
        stream.extend_from_slice(&[0x82, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70]);
        stream.extend(std::iter::repeat_n(9u8, 70_000));
        for chunk in [1, 2, 7, 1000, stream.len()] {
            let mut c = FrameCounter::default();
            let (mut f, mut b) = (0, 0);
            for part in stream.chunks(chunk) {
                let (df, db) = c.feed(part);
                f += df;
                b += db;
            }
            assert_eq!(
                (f, b),
                (3, 70_303),
                "three binary frames in reads of {chunk}"
            );
        }
    }
}
