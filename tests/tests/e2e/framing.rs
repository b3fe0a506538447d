//! Frames a server must reject under RFC 6455, written by hand on a raw socket, and the
//! liveness rule: each closes only the offending client, with its documented code.

use std::time::Duration;

use tickstream_server::metrics as m;
use tickstream_shared::codec::encode_client;
use tickstream_shared::{ClientMsg, Join, close_code};
use tickstream_tests::{
    RawUpgrade, STEP_TIMEOUT, TestServer, client_frame as frame, close_code_of, disconnects,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opens a plain ws connection by hand and completes the upgrade.
async fn raw_upgrade(ws_url: &str) -> anyhow::Result<TcpStream> {
    let up = RawUpgrade::send(ws_url, None, "").await?;
    anyhow::ensure!(up.status == 101, "upgrade refused with {}", up.status);
    Ok(up.stream)
}

fn join_bytes() -> Vec<u8> {
    let mut buf = Vec::new();
    encode_client(
        &ClientMsg::Join(Join {
            room: "framing".into(),
        }),
        &mut buf,
    )
    .expect("encodes");
    buf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_rfc6455_forbids_are_closed_with_their_codes() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start().await?;
    let good = server.join("framing").await?.watch_updates();
    let (protocol, too_big) = (
        disconnects(close_code::PROTOCOL_ERROR),
        disconnects(close_code::TOO_BIG),
    );
    let metrics = server
        .baseline(&[&protocol, &too_big, m::DECODE_ERRORS])
        .await?;
    let join = frame(0x82, true, &join_bytes());
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "unmasked frame",
            frame(0x82, false, &join_bytes()),
            close_code::PROTOCOL_ERROR,
        ),
        (
            "reserved bit",
            frame(0xC2, true, &join_bytes()),
            close_code::PROTOCOL_ERROR,
        ),
        (
            "reserved opcode",
            frame(0x83, true, &join_bytes()),
            close_code::PROTOCOL_ERROR,
        ),
        (
            "close frame over 125 bytes",
            frame(0x88, true, &[0x03, 0xE8].repeat(100)),
            close_code::PROTOCOL_ERROR,
        ),
        (
            "fragmented ping",
            frame(0x09, true, b"hi"),
            close_code::PROTOCOL_ERROR,
        ),
        (
            "one frame over 4 KiB",
            frame(0x82, true, &[0u8; 5000]),
            close_code::TOO_BIG,
        ),
        (
            "fragments over 4 KiB",
            [
                frame(0x02, true, &[0u8; 3000]),
                frame(0x00, true, &[0u8; 3000]),
            ]
            .concat(),
            close_code::TOO_BIG,
        ),
        (
            "a message over 256 bytes",
            frame(0x82, true, &[0u8; 300]),
            close_code::TOO_BIG,
        ),
    ];
    for (what, bytes, expected) in cases {
        let mut s = raw_upgrade(&server.ws_url).await?;
        s.write_all(&join).await?;
        s.write_all(&bytes).await?;
        let code = close_code_of(&mut s).await?;
        assert_eq!(code, expected, "{what}");
    }
    metrics
        .assert_rose(&protocol, 5.0, "five frames broke RFC 6455")
        .await?;
    metrics
        .assert_rose(&too_big, 3.0, "three messages were too big")
        .await?;
    metrics
        .assert_rose(m::DECODE_ERRORS, 8.0, "every bad frame is a decode error")
        .await?;
    // The room kept ticking for the well-behaved client throughout.
    good.finish("frames RFC 6455 forbids, from other clients")
        .await?;
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_answers_is_closed_as_idle() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start_with(|c| {
        c.server.ping_interval_ms = 300;
        c.server.idle_timeout_ms = 1_200;
    })
    .await?;
    let mut s = raw_upgrade(&server.ws_url).await?;
    s.write_all(&frame(0x82, true, &join_bytes())).await?;
    // Never a pong, never an input: the reads below see the pings and updates go by.
    let idle = disconnects(close_code::IDLE_TIMEOUT);
    let metrics = server.baseline(&[&idle]).await?;
    let started = std::time::Instant::now();
    let code = close_code_of(&mut s).await?;
    assert_eq!(code, close_code::IDLE_TIMEOUT, "closed as idle");
    metrics.assert_rose(&idle, 1.0, "one idle client").await?;
    assert!(
        started.elapsed() >= Duration::from_millis(1_000),
        "not before the idle limit ({:?})",
        started.elapsed()
    );
    server.stop().await;
    Ok(())
}

/// A plain ws upgrade, by hand, on a socket with a small receive buffer: what the server writes
/// stays queued on its side until the test reads, as over a slow link.
async fn small_window_upgrade(ws_url: &str) -> anyhow::Result<TcpStream> {
    let addr: std::net::SocketAddr = ws_url
        .trim_start_matches("ws://")
        .trim_end_matches("/ws")
        .parse()?;
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    let mut s = socket.connect(addr).await?;
    s.write_all(
        format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: tickstream.v2\r\n\r\n"
        )
        .as_bytes(),
    )
    .await?;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tokio::time::timeout(STEP_TIMEOUT, s.read_u8()).await??);
    }
    anyhow::ensure!(head.starts_with(b"HTTP/1.1 101"), "upgraded");
    Ok(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_frame_sent_in_one_go_still_gets_its_1009() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    // The server refuses the frame from its header and closes while most of the 64 KiB are
    // still unread on its side, and while its updates and the close frame still wait in its
    // send buffer for this client's small window: it must still deliver the close frame
    // rather than reset the connection and discard it.
    let server = TestServer::start().await?;
    let good = server.join("framing-big").await?.watch_updates();
    let too_big = disconnects(close_code::TOO_BIG);
    let metrics = server.baseline(&[&too_big]).await?;
    let join = frame(0x82, true, &join_bytes());
    let big = frame(0x82, true, &vec![0x5A; 64 << 10]);
    const TRIES: usize = 5;
    for i in 0..TRIES {
        let mut s = small_window_upgrade(&server.ws_url).await?;
        s.write_all(&join).await?;
        // Not reading: updates pile up in the server's send buffer behind the small window.
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.write_all(&big).await?;
        // Still not reading: the server decides, writes its close and ends the session.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let code = close_code_of(&mut s).await;
        assert_eq!(
            code.as_ref().ok(),
            Some(&close_code::TOO_BIG),
            "try {i}: a 64 KiB frame is answered with close 1009, got {code:?}"
        );
    }
    metrics
        .assert_rose(&too_big, TRIES as f64, "every too-big frame")
        .await?;
    good.finish("clients sending 64 KiB frames").await?;
    server.stop().await;
    Ok(())
}
