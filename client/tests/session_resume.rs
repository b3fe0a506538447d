//! A session resumes after an abrupt drop as the same player: same entity, the input sequence
//! continues, and updates flow again.

use std::time::Duration;

use tickstream_client::{Session, SessionEvent, SessionOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_session_resumes_as_the_same_player() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = tickstream_server::Config::default();
    config.server.listen = "127.0.0.1:0".parse()?;
    config.server.ws_listen = Some("127.0.0.1:0".parse()?);
    config.server.metrics_listen = None;
    let server = tickstream_server::Server::bind(config).await?;
    let url = format!("ws://{}/ws", server.ws_addr().expect("ws enabled")?);
    tokio::spawn(server.run(std::future::pending()));
    let step = Duration::from_secs(10);
    let mut session = Session::join(&url, "resume", SessionOptions::default()).await?;
    assert_eq!(
        session.protocol(),
        6,
        "the server picks v6 of v6, v5, v4, v3 and v2"
    );
    assert_eq!(
        session.welcome().move_rule,
        tickstream_shared::MoveRule::Walk { speed: 5.0 },
        "the arena publishes how players walk"
    );
    let me = session.welcome().entity;
    let first = session.set_input(1.0, 0.0, 0).expect("a new intent");
    until_acked(&mut session, first, step).await?;
    session.drop_connection();
    match tokio::time::timeout(step, session.next()).await?? {
        SessionEvent::Welcome(w) => {
            assert!(w.resumed, "resumed, not joined");
            assert_eq!(w.entity, me, "the same entity");
        }
        other => panic!("expected the resume's welcome, got {other:?}"),
    }
    let second = session.set_input(0.0, 1.0, 0).expect("a new intent");
    assert!(
        second > first + 1,
        "inputs keep counting ({first}, then the re-sent one, then {second})"
    );
    until_acked(&mut session, second, step).await?;
    assert!(
        session.replica().get(me).is_some(),
        "the own entity in view again"
    );
    session.close().await;
    Ok(())
}

async fn until_acked(
    session: &mut Session,
    seq: u32,
    step: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    loop {
        if let SessionEvent::Update(u) = tokio::time::timeout(step, session.next()).await?? {
            if u.ack_seq >= seq {
                return Ok(());
            }
        }
    }
}
