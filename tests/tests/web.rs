//! The JavaScript client library and the demo page: the library's Node tests (the golden
//! vectors of `shared/tests/golden/vectors.txt` decoded and encoded byte for byte, the replica,
//! prediction, interpolation, the session logic, and `docs/PROTOCOL.md`'s own code and tables)
//! pass under `node --test`; the library plays a `coins` room on a real server (events once
//! each and in order, resume of the same entity) and watches one as a spectator (protocol v6);
//! and the server serves the page and the library from its game listeners with the right
//! headers.

mod node_tools;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use node_tools::{node_module_ready, node_present, node_websocket_args, repo, run_with_deadline};
use tickstream_tests::{STEP_TIMEOUT, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn the_javascript_client_passes_its_node_tests() -> anyhow::Result<()> {
    if !node_present()? {
        return Ok(());
    }
    let dir = repo().join("tests/js");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "the Node tests are found: {files:?}");
    let mut node = Command::new("node");
    node.args(["--test", "--test-reporter=spec"])
        .args(&files)
        .current_dir(repo());
    let status = run_with_deadline(node, Duration::from_secs(120))?;
    assert!(
        status.success(),
        "node --test failed ({status}); its report is above"
    );
    Ok(())
}

/// `assets/web/tickstream.d.ts` type-checks with TypeScript in strict mode, through
/// `tests/js/types/usage.ts`, a program that uses the client as `docs/WEB_CLIENT.md` shows.
#[test]
fn the_type_declarations_check_with_typescript() -> anyhow::Result<()> {
    if !node_present()? || !node_module_ready("typescript")? {
        return Ok(());
    }
    let mut tsc = Command::new("node");
    tsc.args([
        "tests/browser/node_modules/typescript/bin/tsc",
        "-p",
        "tests/js/types",
    ])
    .current_dir(repo());
    let status = run_with_deadline(tsc, Duration::from_secs(120))?;
    assert!(
        status.success(),
        "tsc -p tests/js/types failed ({status}); its report is above"
    );
    Ok(())
}

/// `tests/js/live/coins.mjs` against a server in this process: four JavaScript clients in a
/// `coins` room collect coins, get every event once with contiguous seqs, and one of them drops
/// its connection and resumes the same entity with the events it missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_client_gets_every_event_and_resumes_its_entity() -> anyhow::Result<()> {
    if !node_present()? {
        return Ok(());
    }
    let Some(flags) = node_websocket_args()? else {
        return Ok(());
    };
    let server = TestServer::start().await?;
    let mut node = Command::new("node");
    node.args(flags)
        .arg("tests/js/live/coins.mjs")
        .arg(&server.ws_url)
        .current_dir(repo());
    let status =
        tokio::task::spawn_blocking(move || run_with_deadline(node, Duration::from_secs(120)))
            .await??;
    server.stop().await;
    assert!(
        status.success(),
        "the live coins test failed ({status}); its output is above"
    );
    Ok(())
}

/// `tests/js/live/spectate.mjs` against a server in this process with two spectator seats per
/// room and announced joins: JavaScript spectators watch a `coins` room (one following a
/// player), see its moves, score and events with no desync, a third finds the seats full
/// (1013), a room that does not exist is refused (4006), and a dropped spectator watches again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_client_spectates_a_room() -> anyhow::Result<()> {
    if !node_present()? {
        return Ok(());
    }
    let Some(flags) = node_websocket_args()? else {
        return Ok(());
    };
    let server = TestServer::start_with(|c| {
        c.rooms.max_spectators_per_room = 2;
        c.game.announce_players = true;
    })
    .await?;
    let mut node = Command::new("node");
    node.args(flags)
        .arg("tests/js/live/spectate.mjs")
        .arg(&server.ws_url)
        .current_dir(repo());
    let status =
        tokio::task::spawn_blocking(move || run_with_deadline(node, Duration::from_secs(120)))
            .await??;
    server.stop().await;
    assert!(
        status.success(),
        "the live spectate test failed ({status}); its output is above"
    );
    Ok(())
}

/// One HTTP/1.1 request over plain TCP: the status, the headers (names lower-cased) and the
/// body.
async fn request(
    addr: SocketAddr,
    head: &str,
) -> anyhow::Result<(u16, Vec<(String, String)>, Vec<u8>)> {
    let exchange = async {
        let mut tcp = tokio::net::TcpStream::connect(addr).await?;
        let req = format!("{head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        tcp.write_all(req.as_bytes()).await?;
        let mut raw = Vec::new();
        tcp.read_to_end(&mut raw).await?;
        anyhow::Ok(raw)
    };
    let raw = tokio::time::timeout(STEP_TIMEOUT, exchange)
        .await
        .context("no answer in time")??;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("a complete response head")?;
    let head = std::str::from_utf8(&raw[..split])?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .context("a status line")?
        .parse()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok((status, headers, raw[split + 4..].to_vec()))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_the_page_and_the_library() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let addr: SocketAddr = server
        .ws_url
        .trim_start_matches("ws://")
        .trim_end_matches("/ws")
        .parse()?;
    let web = repo().join("assets/web");

    for (path, file, content_type) in [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/?room=r1", "index.html", "text/html; charset=utf-8"),
        ("/demo.js", "demo.js", "text/javascript; charset=utf-8"),
        ("/demo.css", "demo.css", "text/css; charset=utf-8"),
        (
            "/tickstream.js",
            "tickstream.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/tickstream.d.ts",
            "tickstream.d.ts",
            "text/plain; charset=utf-8",
        ),
    ] {
        let (status, headers, body) = request(addr, &format!("GET {path} HTTP/1.1")).await?;
        assert_eq!(status, 200, "GET {path}");
        assert_eq!(header(&headers, "content-type"), content_type, "GET {path}");
        assert_eq!(header(&headers, "cache-control"), "no-cache", "GET {path}");
        assert_eq!(
            header(&headers, "x-content-type-options"),
            "nosniff",
            "GET {path}"
        );
        let csp = header(&headers, "content-security-policy");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("connect-src 'self' wss: ws:"),
            "GET {path}: CSP {csp:?}"
        );
        assert_eq!(
            body,
            std::fs::read(web.join(file))?,
            "GET {path} serves assets/web/{file} as built into the binary (rebuild after editing it)"
        );
    }

    let (status, headers, body) = request(addr, "HEAD / HTTP/1.1").await?;
    assert_eq!(status, 200, "HEAD /");
    assert!(body.is_empty(), "HEAD has no body");
    assert_eq!(
        header(&headers, "content-length"),
        std::fs::read(web.join("index.html"))?.len().to_string(),
        "HEAD / tells the length of the page"
    );

    let (status, headers, _) = request(addr, "POST / HTTP/1.1\r\nContent-Length: 0").await?;
    assert_eq!(status, 405, "POST /");
    assert_eq!(
        header(&headers, "allow"),
        "GET, HEAD",
        "POST /: what is allowed"
    );

    let (status, headers, _) = request(addr, "GET /ws HTTP/1.1").await?;
    assert_eq!(status, 426, "a plain GET of /ws still asks for an upgrade");
    assert_eq!(header(&headers, "upgrade"), "websocket", "GET /ws");

    for path in [
        "/nope",
        "/index.html",
        "/assets/web/tickstream.js",
        "/../Cargo.toml",
    ] {
        let (status, _, _) = request(addr, &format!("GET {path} HTTP/1.1")).await?;
        assert_eq!(status, 404, "GET {path}");
    }

    let upgrade = "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                   Sec-WebSocket-Protocol: tickstream.v2";
    let (status, _, _) = request(addr, upgrade).await?;
    assert_eq!(
        status, 404,
        "a WebSocket upgrade of / is refused: the endpoint is /ws"
    );

    server.stop().await;
    Ok(())
}
