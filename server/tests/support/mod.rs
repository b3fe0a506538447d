//! Helpers for the tests that run the `tickstream-server` binary as a child process: what the
//! library's in-process tests cannot show (signals, the exit status, an external scraper).
//!
//! # Layout
//!
//! - [`ServerProcess`]: the binary on loopback port 0; its listeners are read from its JSON
//!   log; it is killed if a test ends without stopping it.
//! - [`http_get`]: a GET over plain HTTP/1.1.
//! - [`join_and_wait_for_close`]: a joined client that reads until the server closes it.
//! - [`assert_all_closed_with_1001`]: every such client closed as a drain closes them.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tickstream_client::{ConnectOptions, connect};
use tickstream_client::{Connection, Incoming};
use tickstream_shared::{ClientMsg, Join, ServerMsg};
use tokio::task::JoinHandle;

/// The longest any single step may take; generous, because it bounds a test on a loaded
/// two-core machine rather than measuring anything.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// The server binary, running.
pub struct ServerProcess {
    child: Child,
    /// The wss listener.
    pub wss: SocketAddr,
    /// The plain ws listener.
    pub ws: SocketAddr,
    /// The ops listener.
    pub metrics: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts the binary with every listener on loopback port 0, JSON logs, and `args`
    /// after those (later flags win), and waits until it has logged its three listeners.
    pub fn start(args: &[&str]) -> anyhow::Result<Self> {
        Self::start_with_env(args, &[])
    }

    /// [`ServerProcess::start`] with these environment variables set for the server.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tickstream-server"));
        cmd.args(["--listen", "127.0.0.1:0", "--ws-listen", "127.0.0.1:0"])
            .args(["--metrics-listen", "127.0.0.1:0", "--log-format", "json"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // The test's own environment must not steer the server.
        for (key, _) in std::env::vars() {
            if key.starts_with("TICKSTREAM_") || key.starts_with("AGONES_") {
                cmd.env_remove(key);
            }
        }
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().context("cannot start tickstream-server")?;
        let stdout = child.stdout.take().context("stdout is piped")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(found) = listener_of(&line) {
                    let _ = tx.send(found);
                }
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        let mut server = Self {
            child,
            wss: unspecified(),
            ws: unspecified(),
            metrics: unspecified(),
            log,
        };
        let deadline = Instant::now() + STEP_TIMEOUT;
        let mut missing = 3;
        while missing > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            let (name, addr) = rx.recv_timeout(left).with_context(|| {
                format!(
                    "the server did not log its listeners in time; log so far:\n{}",
                    server.log_text()
                )
            })?;
            match name.as_str() {
                "wss" => server.wss = addr,
                "ws" => server.ws = addr,
                "metrics" => server.metrics = addr,
                _ => continue,
            }
            missing -= 1;
        }
        Ok(server)
    }

    /// The plain ws URL.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.ws)
    }

    /// Sends a signal (`TERM`, `INT`) with `kill`.
    pub fn signal(&self, name: &str) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .context("cannot run kill")?;
        if !status.success() {
            bail!("kill -{name} failed: {status}");
        }
        Ok(())
    }

    /// Waits up to `timeout` for the process to exit.
    pub async fn exited(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!(
                    "the server did not exit within {timeout:?}; log:\n{}",
                    self.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every log line so far.
    pub fn log_text(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }

    /// True if a log line has this message.
    pub fn logged(&self, message: &str) -> bool {
        let needle = format!("\"message\":\"{message}\"");
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|l| l.contains(&needle))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn unspecified() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 0))
}

/// `("wss", addr)` from a JSON log line that announces a listener.
fn listener_of(line: &str) -> Option<(String, SocketAddr)> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let name = v.get("listener")?.as_str()?.to_owned();
    let addr = v.get("addr")?.as_str()?.parse().ok()?;
    Some((name, addr))
}

/// A GET over plain HTTP/1.1: the status and the body, within [`STEP_TIMEOUT`].
pub async fn http_get(addr: SocketAddr, path_and_query: &str) -> anyhow::Result<(u16, String)> {
    Ok(tickstream_bot::http::get(addr, path_and_query, STEP_TIMEOUT).await?)
}

/// How the server ended a client's connection.
#[derive(Debug)]
pub struct Closed {
    /// The close frame's code.
    pub code: u16,
    /// The close frame's reason.
    pub reason: String,
    /// The code of the `Error` message before it, if one came.
    pub error: Option<u16>,
    /// The URL of a `Moved` before it (protocol v5: the room went to another process).
    pub moved: Option<String>,
}

/// Connects to `url`, joins `room`, waits for the welcome, then reads in a task until the
/// server closes the connection (updates are read and dropped).
pub async fn join_and_wait_for_close(
    url: &str,
    room: &str,
) -> anyhow::Result<JoinHandle<anyhow::Result<Closed>>> {
    let mut client: Connection =
        tokio::time::timeout(STEP_TIMEOUT, connect(url, &ConnectOptions::default()))
            .await
            .context("connect timed out")??;
    client
        .send(&ClientMsg::Join(Join { room: room.into() }))
        .await?;
    match tokio::time::timeout(STEP_TIMEOUT, client.recv()).await?? {
        Incoming::Msg(ServerMsg::Welcome(_) | ServerMsg::Welcome4(_)) => {}
        other => bail!("expected a welcome, got {other:?}"),
    }
    Ok(tokio::spawn(async move {
        let (mut error, mut moved) = (None, None);
        loop {
            match client.recv().await? {
                Incoming::Close { code, reason } => {
                    return Ok(Closed {
                        code,
                        reason,
                        error,
                        moved,
                    });
                }
                Incoming::Msg(ServerMsg::Error(e)) => error = Some(e.code),
                Incoming::Msg(ServerMsg::Moved(m)) => moved = Some(m.url),
                Incoming::Msg(_) => {}
            }
        }
    }))
}

/// Waits for every player (from [`join_and_wait_for_close`]) to be closed with 1001, as a
/// drain closes them, and returns how each was closed.
pub async fn assert_all_closed_with_1001(
    players: Vec<JoinHandle<anyhow::Result<Closed>>>,
) -> anyhow::Result<Vec<Closed>> {
    let mut all = Vec::with_capacity(players.len());
    for (i, player) in players.into_iter().enumerate() {
        let closed = tokio::time::timeout(STEP_TIMEOUT, player)
            .await
            .map_err(|_| anyhow::anyhow!("player {i} was never closed"))???;
        assert_eq!(
            closed.code, 1001,
            "player {i} closed as going away: {closed:?}"
        );
        all.push(closed);
    }
    Ok(all)
}
