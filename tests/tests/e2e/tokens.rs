//! Join tokens: with a secret configured, only a genuine, unexpired, unused token for the
//! room admits; every failure closes with 1008 and a reason.

use std::time::{SystemTime, UNIX_EPOCH};

use tickstream_client::Incoming;
use tickstream_client::connect;
use tickstream_server::join_token::mint;
use tickstream_server::metrics as m;
use tickstream_shared::{ClientMsg, Join, ServerMsg, close_code};
use tickstream_tests::{TestClient, TestServer, disconnects, error_code, series};

const SECRET: &str = "the integration test's join secret";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// Connects with `token` in the URL, joins `room`, and returns the first message.
async fn join_with(
    server: &TestServer,
    token: Option<&str>,
    room: &str,
) -> anyhow::Result<Incoming> {
    let url = match token {
        Some(t) => format!("{}?token={t}", server.wss_url),
        None => server.wss_url.clone(),
    };
    let mut c = connect(&url, &TestServer::options()).await?;
    c.send(&ClientMsg::Join(Join { room: room.into() })).await?;
    let first = tokio::time::timeout(tickstream_tests::STEP_TIMEOUT, c.recv()).await??;
    if let Incoming::Msg(ServerMsg::Error(e)) = &first {
        // The close frame follows with the same code.
        let mut rest = c;
        let _ = error_code(&mut rest).await;
        return Ok(Incoming::Msg(ServerMsg::Error(e.clone())));
    }
    Ok(first)
}

fn refused_with(m: &Incoming) -> Option<(u16, String)> {
    match m {
        Incoming::Msg(ServerMsg::Error(e)) => Some((e.code, e.reason.clone())),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_genuine_fresh_token_for_the_room_admits() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start_with(|c| c.server.join_secret = Some(SECRET.into())).await?;
    let secret = SECRET.as_bytes();
    let watched = mint(secret, "vip", "watcher", now() + 60, "nonce-watcher");
    let good_client = TestClient::join(&format!("{}?token={watched}", server.wss_url), "vip")
        .await?
        .watch_updates();
    let good = mint(secret, "vip", "player-1", now() + 60, "nonce-good-1");
    let first = join_with(&server, Some(&good), "vip").await?;
    assert!(
        matches!(
            first,
            Incoming::Msg(ServerMsg::Welcome(_) | ServerMsg::Welcome4(_))
        ),
        "a valid token admits: {first:?}"
    );
    // (what, the token, the room joined, what the reason says, the metric label)
    let cases = [
        ("no token", None, "vip", "required", "missing"),
        (
            "reused token",
            Some(good.clone()),
            "vip",
            "already used",
            "reused",
        ),
        (
            "wrong room",
            Some(mint(secret, "vip", "p2", now() + 60, "nonce-room-2")),
            "other",
            "another room",
            "wrong_room",
        ),
        (
            "expired",
            Some(mint(secret, "vip", "p3", now() - 1, "nonce-old-3")),
            "vip",
            "expired",
            "expired",
        ),
        (
            "bad signature",
            Some(mint(
                b"not the server's secret at all",
                "vip",
                "p4",
                now() + 60,
                "nonce-forge4",
            )),
            "vip",
            "signature",
            "bad_signature",
        ),
        (
            "garbage",
            Some("not-a-token".to_owned()),
            "vip",
            "malformed",
            "malformed",
        ),
    ];
    let labels: Vec<String> = cases
        .iter()
        .map(|c| series(m::REJECTED_JOINS, "reason", c.4))
        .collect();
    let policy = disconnects(close_code::POLICY);
    let mut watched_series: Vec<&str> = labels.iter().map(String::as_str).collect();
    watched_series.push(&policy);
    let metrics = server.baseline(&watched_series).await?;
    for (what, token, room, says, _) in cases {
        let m = join_with(&server, token.as_deref(), room).await?;
        let (code, reason) =
            refused_with(&m).unwrap_or_else(|| panic!("{what}: refused, got {m:?}"));
        assert_eq!(code, close_code::POLICY, "{what}: 1008");
        assert!(
            reason.contains(says),
            "{what}: the reason says why ({reason:?})"
        );
    }
    for label in &labels {
        metrics
            .assert_rose(label, 1.0, "one join refused for this reason")
            .await?;
    }
    metrics
        .assert_rose(&policy, 6.0, "six joins refused with 1008")
        .await?;
    good_client
        .finish("joins with missing, reused or forged tokens")
        .await?;
    server.stop().await;
    Ok(())
}
