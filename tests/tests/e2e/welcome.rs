//! The golden `server_welcome_arena` vector is what a real server sends: the reference scenario
//! B's settings, the first player of a new arena room, over v2 and over v3.

use tickstream_shared::codec::encode_server;
use tickstream_shared::{ServerMsg, Welcome};
use tickstream_tests::TestServer;

/// The golden vector's bytes, from `shared/tests/golden/vectors.txt`.
fn golden() -> anyhow::Result<Vec<u8>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/tests/golden/vectors.txt"
    );
    let text = std::fs::read_to_string(path)?;
    let hex = text
        .lines()
        .find_map(|l| l.strip_prefix("server_welcome_arena "))
        .ok_or_else(|| anyhow::anyhow!("vectors.txt has server_welcome_arena"))?;
    (0..hex.trim().len())
        .step_by(2)
        .map(|i| Ok(u8::from_str_radix(&hex[i..i + 2], 16)?))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_golden_arena_welcome_is_what_a_server_sends() -> anyhow::Result<()> {
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/scenarios/reference-b.toml"
    );
    let reference = tickstream_server::Config::from_file(std::path::Path::new(config))?;
    let server = TestServer::start_with(|c| c.game = reference.game.clone()).await?;
    let golden = golden()?;
    let client = server.join("welcome").await?;
    let real = client.welcome.clone();
    assert!(
        real.resume_token.len() == 32 && real.resume_token.bytes().all(|b| b.is_ascii_hexdigit()),
        "a real token is 32 hex digits: {:?}",
        real.resume_token
    );
    // The token is random and the version is the negotiated one: the rest is byte for byte.
    let as_golden = Welcome {
        resume_token: "9f86d081884c7d659a2feaa0c55ad015".into(),
        protocol: 2,
        ..real
    };
    let mut bytes = Vec::new();
    encode_server(&ServerMsg::Welcome(as_golden), &mut bytes)?;
    assert_eq!(
        bytes, golden,
        "the first player of a new reference-B arena room gets the golden Welcome"
    );
    drop(client);
    server.stop().await;
    Ok(())
}
