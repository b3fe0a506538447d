//! A spectator (protocol v6) watches a room with every update verified, switches what it
//! follows, and follows the room to another process when a deploy hands it over (`Moved`).

use std::time::Duration;

use tickstream_client::{
    ConnectOptions, Connector, Session, SessionOptions, Spectator, SpectatorEvent,
};

const SECRET: &str = "a shared handoff secret";

async fn bind() -> Result<tickstream_server::Server, Box<dyn std::error::Error>> {
    let mut config = tickstream_server::Config::default();
    config.server.listen = "127.0.0.1:0".parse()?;
    config.server.ws_listen = Some("127.0.0.1:0".parse()?);
    config.server.metrics_listen = Some("127.0.0.1:0".parse()?);
    config.rooms.default_game = "coins".into();
    config.handoff.secret = Some(SECRET.into());
    Ok(tickstream_server::Server::bind(config).await?)
}

/// Applies updates until `n` arrived; panics on anything else.
async fn updates(s: &mut Spectator, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    for _ in 0..n {
        match tokio::time::timeout(Duration::from_secs(10), s.next()).await?? {
            SpectatorEvent::Update { .. } => {}
            other => panic!("expected an update, got {other:?}"),
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spectator_watches_follows_and_moves_with_the_room()
-> Result<(), Box<dyn std::error::Error>> {
    let (a, b) = (bind().await?, bind().await?);
    let a_url = format!("ws://{}/ws", a.ws_addr().expect("ws enabled")?);
    let b_url = format!("ws://{}/ws", b.ws_addr().expect("ws enabled")?);
    let b_ops = format!("http://{}", b.metrics_addr().expect("ops enabled")?);
    a.handle().set_successor(&b_ops, &b_url)?;
    let (stop_a, a_stopped) = tokio::sync::oneshot::channel::<()>();
    let a_run = tokio::spawn(a.run(async move {
        let _ = a_stopped.await;
    }));
    tokio::spawn(b.run(std::future::pending()));

    let mut player = Session::join(&a_url, "watched", SessionOptions::default()).await?;
    let me = player.welcome().entity;
    player.set_input(1.0, 0.5, 0);
    let driver = tokio::spawn(async move {
        // The player keeps reading (and follows the move) while the spectator watches.
        while player.next().await.is_ok() {}
    });

    let connector = Connector::new(&a_url, &ConnectOptions::default())?;
    let mut s = Spectator::watch(connector, "watched", Some(me)).await?;
    assert_eq!(s.spectating().welcome.protocol, 6);
    assert_eq!(s.spectating().follow, Some(me));
    assert!(!s.spectating().recording);
    updates(&mut s, 30).await?;
    assert!(
        s.replica().get(me).is_some(),
        "the followed player is in view"
    );
    s.follow(None).await?;
    updates(&mut s, 10).await?;
    assert_eq!(s.following(), None);

    let _ = stop_a.send(());
    let mut moved = None;
    for _ in 0..200 {
        match tokio::time::timeout(Duration::from_secs(10), s.next()).await?? {
            SpectatorEvent::Moved { url } => {
                moved = Some(url);
                break;
            }
            SpectatorEvent::Update { .. } => {}
            SpectatorEvent::Closed { code, reason } => panic!("closed {code}: {reason}"),
        }
    }
    assert_eq!(
        moved.as_deref(),
        Some(b_url.as_str()),
        "told where the room went"
    );
    updates(&mut s, 30).await?;
    assert!(
        s.replica().get(me).is_some(),
        "the player is in the room on the second server"
    );
    tokio::time::timeout(Duration::from_secs(10), a_run).await??;
    s.close().await;
    driver.abort();
    Ok(())
}
