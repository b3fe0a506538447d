//! Bad input closes only the offending client, with a documented close code; the room keeps
//! ticking for everyone else.

use tickstream_client::connect;
use tickstream_server::metrics as m;
use tickstream_shared::{ClientMsg, Join, close_code};
use tickstream_tests::{TestServer, disconnects, error_code};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_close_only_the_sender() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start().await?;
    let good = server.join("bad-input").await?.watch_updates();
    let (protocol, too_big, text_frames) = (
        disconnects(close_code::PROTOCOL_ERROR),
        disconnects(close_code::TOO_BIG),
        disconnects(close_code::UNSUPPORTED_DATA),
    );
    let metrics = server
        .baseline(&[&protocol, &too_big, &text_frames, m::DECODE_ERRORS])
        .await?;
    // (what it sends, the close code it must get)
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "garbage",
            vec![0xFF, 0x13, 0x37],
            close_code::PROTOCOL_ERROR,
        ),
        ("unknown variant", vec![9], close_code::PROTOCOL_ERROR),
        (
            "huge length prefix",
            vec![0, 0xFD, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
            close_code::PROTOCOL_ERROR,
        ),
        ("trailing bytes", vec![2, 1, 0], close_code::PROTOCOL_ERROR),
        ("oversized", vec![0u8; 300], close_code::TOO_BIG),
        ("second join", vec![0, 1, b'x'], close_code::PROTOCOL_ERROR),
    ];
    for (what, bytes, expected) in cases {
        let mut bad = server.join("bad-input").await?;
        bad.client.send_raw(&bytes).await?;
        let (code, reason, error) = bad.until_closed().await?;
        assert_eq!(code, expected, "{what}: close code (reason {reason:?})");
        assert_eq!(
            error,
            Some(expected),
            "{what}: an Error message with the same code first"
        );
        assert!(!reason.is_empty(), "{what}: the close frame says why");
    }
    let mut text = server.join("bad-input").await?;
    text.client.send_text("hello").await?;
    let (code, _, _) = text.until_closed().await?;
    assert_eq!(code, close_code::UNSUPPORTED_DATA, "text frames: 1003");
    metrics
        .assert_rose(&protocol, 5.0, "five messages broke the protocol")
        .await?;
    metrics
        .assert_rose(&too_big, 1.0, "one message was too big")
        .await?;
    metrics
        .assert_rose(&text_frames, 1.0, "one client sent text")
        .await?;
    metrics
        .assert_rose(
            m::DECODE_ERRORS,
            6.0,
            "each 1002 and 1009 is a decode error",
        )
        .await?;
    good.finish("malformed messages from other clients in the room")
        .await?;
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_rules_have_their_own_codes() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start_with(|c| c.server.join_timeout_ms = 300).await?;
    let good = server.join("join-rules").await?.watch_updates();
    let (timeout, bad_room, protocol) = (
        disconnects(close_code::JOIN_TIMEOUT),
        disconnects(close_code::BAD_ROOM_NAME),
        disconnects(close_code::PROTOCOL_ERROR),
    );
    let metrics = server.baseline(&[&timeout, &bad_room, &protocol]).await?;
    // No join at all.
    let mut silent = connect(&server.wss_url, &TestServer::options()).await?;
    assert_eq!(
        error_code(&mut silent).await?,
        close_code::JOIN_TIMEOUT,
        "join timeout: 4001"
    );
    // A bad room name.
    let mut bad_name = connect(&server.wss_url, &TestServer::options()).await?;
    bad_name
        .send(&ClientMsg::Join(Join {
            room: "no spaces allowed".into(),
        }))
        .await?;
    assert_eq!(
        error_code(&mut bad_name).await?,
        close_code::BAD_ROOM_NAME,
        "bad room name: 4002"
    );
    // An input before joining.
    let mut early = connect(&server.wss_url, &TestServer::options()).await?;
    early
        .send(&ClientMsg::Input(tickstream_shared::Input {
            seq: 1,
            dx: 0.0,
            dy: 0.0,
            buttons: 0,
        }))
        .await?;
    assert_eq!(
        error_code(&mut early).await?,
        close_code::PROTOCOL_ERROR,
        "input before join: 1002"
    );
    metrics
        .assert_rose(&timeout, 1.0, "one client never joined")
        .await?;
    metrics
        .assert_rose(&bad_room, 1.0, "one client named a bad room")
        .await?;
    metrics
        .assert_rose(&protocol, 1.0, "one client sent an input first")
        .await?;
    good.finish("clients breaking the join rules").await?;
    server.stop().await;
    Ok(())
}
