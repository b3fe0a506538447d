//! Bad input closes only the offending client, with a documented close code; the room keeps
//! ticking for everyone else.

use std::time::Duration;

use tickstream_bot::connect::connect;
use tickstream_shared::{ClientMsg, Join, close_code};
use tickstream_tests::{TestServer, error_code};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_close_only_the_sender() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let mut good = server.join("bad-input").await?;
    good.next_update().await?;
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
    let n = good.updates_during(Duration::from_secs(1)).await?;
    assert!(
        n >= 20,
        "the well-behaved client kept receiving ({n} updates in 1 s)"
    );
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_rules_have_their_own_codes() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| c.server.join_timeout_ms = 300).await?;
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
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_flood_is_closed_with_1008() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let mut flood = server.join("flood").await?;
    for _ in 0..300 {
        if flood
            .client
            .send(&ClientMsg::Ping(tickstream_shared::Ping { client_time: 1 }))
            .await
            .is_err()
        {
            break;
        }
    }
    let (code, _, _) = flood.until_closed().await?;
    assert_eq!(
        code,
        close_code::POLICY,
        "300 messages at once exceed the burst of 120"
    );
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_and_player_caps_answer_1013() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| {
        c.server.max_rooms = 1;
        c.server.max_players_per_room = 1;
    })
    .await?;
    let _first = server.join("only").await?;
    for room in ["only", "another"] {
        let mut c = connect(&server.wss_url, &TestServer::options()).await?;
        c.send(&ClientMsg::Join(Join { room: room.into() })).await?;
        let code = error_code(&mut c).await?;
        assert_eq!(code, close_code::TRY_AGAIN, "{room}: full, 1013");
    }
    server.stop().await;
    Ok(())
}
