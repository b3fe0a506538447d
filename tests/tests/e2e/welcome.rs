//! The golden arena welcomes are what a real server sends: the reference scenario B's
//! settings, the first player of a new arena room, over v2 (`server_welcome_arena`, the same
//! bytes as v3's) and over v4 (`server_welcome4_arena`, with the move rule).

use tickstream_client::{Incoming, connect};
use tickstream_shared::codec::{decode_server, encode_server};
use tickstream_shared::{ClientMsg, Join, ServerMsg, Welcome, Welcome4};
use tickstream_tests::{STEP_TIMEOUT, TestServer};

/// The bytes of golden vector `name` in `shared/tests/golden/FILE`.
fn golden(file: &str, name: &str) -> anyhow::Result<Vec<u8>> {
    let path = format!(
        "{}/../shared/tests/golden/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path)?;
    let hex = text
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .ok_or_else(|| anyhow::anyhow!("{file} has {name}"))?;
    (0..hex.trim().len())
        .step_by(2)
        .map(|i| Ok(u8::from_str_radix(&hex[i..i + 2], 16)?))
        .collect()
}

/// The golden token in place of the real, random one (after checking that it looks right).
fn as_golden(real: Welcome, protocol: u16) -> Welcome {
    assert!(
        real.resume_token.len() == 32 && real.resume_token.bytes().all(|b| b.is_ascii_hexdigit()),
        "a real token is 32 hex digits: {:?}",
        real.resume_token
    );
    Welcome {
        resume_token: "9f86d081884c7d659a2feaa0c55ad015".into(),
        protocol,
        ..real
    }
}

async fn reference_server() -> anyhow::Result<TestServer> {
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/scenarios/reference-b.toml"
    );
    let reference = tickstream_server::Config::from_file(std::path::Path::new(config))?;
    TestServer::start_with(|c| c.game = reference.game.clone()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_golden_arena_welcome_is_what_a_server_sends() -> anyhow::Result<()> {
    let server = reference_server().await?;
    let client = server.join("welcome").await?;
    // The version is the negotiated one (2, as the test client speaks): the rest is byte for
    // byte.
    let mut bytes = Vec::new();
    encode_server(
        &ServerMsg::Welcome(as_golden(client.welcome.clone(), 2)),
        &mut bytes,
    )?;
    assert_eq!(
        bytes,
        golden("vectors.txt", "server_welcome_arena")?,
        "the first player of a new reference-B arena room gets the golden Welcome"
    );
    drop(client);
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_golden_v4_arena_welcome_is_what_a_server_sends() -> anyhow::Result<()> {
    let server = reference_server().await?;
    let mut c = connect(&server.wss_url, &TestServer::options().protocol(4)).await?;
    assert_eq!(c.protocol(), Some(4), "a client offering v4 gets v4");
    c.send(&ClientMsg::Join(Join {
        room: "welcome".into(),
    }))
    .await?;
    let first = tokio::time::timeout(STEP_TIMEOUT, c.recv()).await??;
    let Incoming::Msg(ServerMsg::Welcome4(real)) = first else {
        anyhow::bail!("a v5 connection is welcomed with Welcome4, got {first:?}");
    };
    let mut bytes = Vec::new();
    encode_server(
        &ServerMsg::Welcome4(Welcome4 {
            welcome: as_golden(real.welcome, 4),
            move_rule: real.move_rule,
        }),
        &mut bytes,
    )?;
    let golden = golden("vectors-v4.txt", "server_welcome4_arena")?;
    assert_eq!(
        bytes, golden,
        "the first player of a new reference-B arena room gets the golden v4 Welcome"
    );
    assert!(matches!(decode_server(&golden)?, ServerMsg::Welcome4(_)));
    server.stop().await;
    Ok(())
}

/// v5 is v4 plus `Input5` (and v6 keeps it): a client offering every version gets the newest,
/// a `Welcome4` naming it, and its `Input5` is applied like an `Input`; on a v4 connection
/// `Input5` is a protocol error (1002).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v5_client_is_welcomed_with_welcome4_and_its_input5_applies() -> anyhow::Result<()> {
    use tickstream_shared::{Input, Input5, close_code};
    let server = TestServer::start().await?;
    let mut c = connect(&server.wss_url, &TestServer::options()).await?;
    assert_eq!(
        c.protocol(),
        Some(6),
        "a client offering every version gets v6"
    );
    c.send(&ClientMsg::Join(Join {
        room: "duel-welcome5".into(),
    }))
    .await?;
    let first = tokio::time::timeout(STEP_TIMEOUT, c.recv()).await??;
    let Incoming::Msg(ServerMsg::Welcome4(w)) = first else {
        anyhow::bail!("a v5 connection is welcomed with Welcome4, got {first:?}");
    };
    assert_eq!(w.protocol, 6, "the welcome names protocol 6");
    assert_eq!(w.game, "duel", "rooms named duel… run the duel");
    assert_eq!(w.event_kinds, ["hit", "miss"], "the duel's events");
    let input = Input {
        seq: 1,
        dx: 1.0,
        dy: 0.0,
        buttons: 1,
    };
    // A view time far in the future is clamped, not refused.
    c.send(&ClientMsg::Input5(Input5::new(input, 1e9))).await?;
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    let (mut acked, mut judged) = (false, false);
    while !(acked && judged) && tokio::time::Instant::now() < deadline {
        let msg = tokio::time::timeout(STEP_TIMEOUT, c.recv()).await??;
        if let Incoming::Msg(ServerMsg::Update3(u)) = msg {
            acked |= u.ack_delta > 0;
            judged |= u.events.iter().any(|e| e.kind == 1 && e.value == 1);
        }
    }
    assert!(acked, "the Input5 was applied and acknowledged");
    assert!(
        judged,
        "its shot was judged: a miss, with nobody else in the room"
    );
    let mut old = connect(&server.wss_url, &TestServer::options().protocol(4)).await?;
    old.send(&ClientMsg::Join(Join {
        room: "duel-welcome5".into(),
    }))
    .await?;
    let _welcome = tokio::time::timeout(STEP_TIMEOUT, old.recv()).await??;
    old.send(&ClientMsg::Input5(Input5::new(input, 10.0)))
        .await?;
    let code = loop {
        match tokio::time::timeout(STEP_TIMEOUT, old.recv()).await?? {
            Incoming::Msg(ServerMsg::Error(e)) => break e.code,
            Incoming::Close { code, .. } => break code,
            Incoming::Msg(_) => {}
        }
    };
    assert_eq!(
        code,
        close_code::PROTOCOL_ERROR,
        "Input5 on v4 closes with 1002"
    );
    server.stop().await;
    Ok(())
}
