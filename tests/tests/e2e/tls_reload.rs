//! A renewed certificate is served after a reload, and players connected before it keep
//! playing.

use tickstream_client::{ConnectOptions, connect};
use tickstream_server::net::tls::self_signed_pem;
use tickstream_tests::TestServer;

fn options(ca: &std::path::Path) -> ConnectOptions {
    ConnectOptions {
        ca: Some(ca.to_owned()),
        ..ConnectOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_serves_the_new_certificate_without_dropping_players() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("tickstream-tls-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let (old_ca, new_ca) = (dir.join("old.pem"), dir.join("new.pem"));
    let (old_cert, old_key) = self_signed_pem(&["localhost", "127.0.0.1"])?;
    std::fs::write(&cert, &old_cert)?;
    std::fs::write(&key, &old_key)?;
    std::fs::write(&old_ca, &old_cert)?;
    let (c, k) = (cert.clone(), key.clone());
    let server = TestServer::start_with(move |cfg| {
        cfg.server.tls_cert = Some(c);
        cfg.server.tls_key = Some(k);
    })
    .await?;

    let mut player = server.join("renewal").await?;
    player.next_update().await?;
    connect(&server.wss_url, &options(&old_ca)).await?;

    let (new_cert, new_key) = self_signed_pem(&["localhost", "127.0.0.1"])?;
    std::fs::write(&cert, &new_cert)?;
    std::fs::write(&key, &new_key)?;
    std::fs::write(&new_ca, &new_cert)?;
    assert!(
        server.handle.reload_tls()?,
        "the reload picked up the new files"
    );

    connect(&server.wss_url, &options(&new_ca)).await?;
    assert!(
        connect(&server.wss_url, &options(&old_ca)).await.is_err(),
        "the old certificate is no longer served"
    );
    let before = player.updates;
    for _ in 0..30 {
        player.next_update().await?;
    }
    assert_eq!(
        player.updates - before,
        30,
        "the player connected before the reload plays on"
    );

    // A broken pair is refused and the current certificate stays.
    std::fs::write(&key, "not a key")?;
    assert!(server.handle.reload_tls().is_err(), "a bad key is an error");
    connect(&server.wss_url, &options(&new_ca)).await?;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
