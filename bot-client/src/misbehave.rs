//! Misbehaving bots: probes an operator can point at their own deployment to see that it
//! answers abuse as documented (`docs/SECURITY.md`).
//!
//! Each mode opens one connection, misbehaves in one way, and reports what the server did:
//! the close code it sent, or how long it took to drop the connection.

use std::time::{Duration, Instant};

use hyper::Uri;
use serde::Serialize;
use tickstream_shared::{ClientMsg, Join, Ping, ServerMsg, close_code};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use tickstream_client::{ConnectOptions, connect};
use tickstream_client::{Connection, Incoming};

/// The ways a probe misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// After joining, sends a frame of random bytes: expects 1002.
    Garbage,
    /// After joining, sends a 5,000-byte message, over the default 4 KiB limit: expects 1009.
    /// (Small enough that the server has read all of it when it closes: a much larger one
    /// would still be arriving, and the peer's kernel resets the connection, losing the close
    /// frame.)
    Oversize,
    /// After joining, sends 300 messages at once, far above the burst the rate limit allows:
    /// expects 1008.
    Flood,
    /// Joins, then stops reading (still sending inputs at 20 Hz): expects the server to drop
    /// the connection once the socket buffers are full and the slow-client limit has passed.
    /// On loopback the kernel may buffer megabytes, so this can take a minute or two.
    Stall,
    /// Opens a TCP connection, sends half an HTTP request (nothing at all over TLS), then
    /// waits: expects the server to drop it within its handshake timeout.
    Slowloris,
}

impl Mode {
    /// Every mode, in the order `--misbehave all` runs them.
    pub const ALL: [Mode; 5] = [
        Mode::Garbage,
        Mode::Oversize,
        Mode::Flood,
        Mode::Stall,
        Mode::Slowloris,
    ];
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "garbage" => Mode::Garbage,
            "oversize" => Mode::Oversize,
            "flood" => Mode::Flood,
            "stall" => Mode::Stall,
            "slowloris" => Mode::Slowloris,
            other => return Err(format!("unknown mode {other:?}")),
        })
    }
}

/// What the server did with one probe.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The mode.
    pub mode: Mode,
    /// What the documentation promises.
    pub expected: String,
    /// What happened.
    pub answered: String,
    /// Whether that matches the promise.
    pub as_expected: bool,
    /// Seconds from the misbehaviour to the answer.
    pub seconds: f64,
}

/// How long a probe waits for any answer.
const PATIENCE: Duration = Duration::from_secs(30);

/// The longest `stall` keeps not reading.
const STALL: Duration = Duration::from_secs(180);

/// Runs one probe against `url`.
pub async fn probe(mode: Mode, url: &str, opts: &ConnectOptions, room: &str) -> Outcome {
    let start = Instant::now();
    let (expected, result) = match mode {
        Mode::Garbage => ("close 1002", close_after(url, opts, room, Garbage).await),
        Mode::Oversize => ("close 1009", close_after(url, opts, room, Oversize).await),
        Mode::Flood => ("close 1008", close_after(url, opts, room, Flood).await),
        Mode::Stall => (
            "dropped (4000) once buffers fill",
            stall(url, opts, room).await,
        ),
        Mode::Slowloris => ("dropped within the handshake timeout", slowloris(url).await),
    };
    let answered = result.unwrap_or_else(|e| format!("probe failed: {e}"));
    let as_expected = match mode {
        Mode::Garbage => answered == format!("close {}", close_code::PROTOCOL_ERROR),
        Mode::Oversize => answered == format!("close {}", close_code::TOO_BIG),
        Mode::Flood => answered == format!("close {}", close_code::POLICY),
        Mode::Stall => answered == "dropped",
        Mode::Slowloris => answered == "dropped" && start.elapsed() < Duration::from_secs(15),
    };
    Outcome {
        mode,
        expected: expected.into(),
        answered,
        as_expected,
        seconds: start.elapsed().as_secs_f64(),
    }
}

#[derive(Clone, Copy)]
enum Abuse {
    Garbage,
    Oversize,
    Flood,
}
use Abuse::{Flood, Garbage, Oversize};

async fn joined(url: &str, opts: &ConnectOptions, room: &str) -> Result<Connection, String> {
    let mut c = connect(url, opts).await.map_err(|e| e.to_string())?;
    c.send(&ClientMsg::Join(Join { room: room.into() }))
        .await
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(PATIENCE, c.recv()).await {
        Ok(Ok(Incoming::Msg(ServerMsg::Welcome(_) | ServerMsg::Welcome4(_)))) => Ok(c),
        other => Err(format!("no welcome: {other:?}")),
    }
}

/// Reads until the close frame: "close CODE", or "dropped" if the connection just ends.
async fn until_close(c: &mut Connection) -> String {
    let read = async {
        loop {
            match c.recv().await {
                Ok(Incoming::Close { code, .. }) => return format!("close {code}"),
                Ok(Incoming::Msg(_)) => {}
                Err(_) => return "dropped".to_owned(),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .unwrap_or_else(|_| "no answer".to_owned())
}

async fn close_after(
    url: &str,
    opts: &ConnectOptions,
    room: &str,
    abuse: Abuse,
) -> Result<String, String> {
    let mut c = joined(url, opts, room).await?;
    match abuse {
        Garbage => {
            let mut bytes = [0u8; 32];
            let mut rng = tickstream_shared::Mulberry32::new(0xBAD);
            bytes.iter_mut().for_each(|b| *b = rng.next_u32() as u8);
            // Variant tags above 2 do not exist, so the message cannot decode.
            bytes[0] = 0xF7;
            c.send_raw(&bytes).await.map_err(|e| e.to_string())?;
        }
        Oversize => {
            c.send_raw(&[0u8; 5_000]).await.map_err(|e| e.to_string())?;
        }
        Flood => {
            for i in 0..300u64 {
                // The server closes the connection part-way; later sends may fail.
                if c.send(&ClientMsg::Ping(Ping { client_time: i }))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    Ok(until_close(&mut c).await)
}

async fn stall(url: &str, opts: &ConnectOptions, room: &str) -> Result<String, String> {
    let mut c = joined(url, opts, room).await?;
    // Never read; keep writing so that the server's drop shows up as a failed write.
    let deadline = Instant::now() + STALL;
    let mut seq = 1;
    while Instant::now() < deadline {
        let input = tickstream_shared::Input {
            seq,
            dx: 0.0,
            dy: 0.0,
            buttons: 0,
        };
        if c.send(&ClientMsg::Input(input)).await.is_err() {
            return Ok("dropped".to_owned());
        }
        seq += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok("still open".to_owned())
}

async fn slowloris(url: &str) -> Result<String, String> {
    let uri: Uri = url.parse().map_err(|e| format!("{e}"))?;
    let secure = uri.scheme_str() == Some("wss");
    let host = uri.host().ok_or("no host")?;
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let mut s = TcpStream::connect((host, port))
        .await
        .map_err(|e| e.to_string())?;
    if !secure {
        s.write_all(format!("GET /ws HTTP/1.1\r\nHost: {host}\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut buf = [0u8; 512];
    let read = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return "dropped".to_owned(),
                Ok(_) => {}
            }
        }
    };
    Ok(tokio::time::timeout(PATIENCE, read)
        .await
        .unwrap_or_else(|_| "still open".to_owned()))
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<10} expected {:<38} answered {:<14} after {:>5.1} s  {}",
            format!("{:?}", self.mode).to_lowercase(),
            self.expected,
            self.answered,
            self.seconds,
            if self.as_expected { "ok" } else { "UNEXPECTED" }
        )
    }
}
