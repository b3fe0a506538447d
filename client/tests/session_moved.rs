//! A session follows its room to another process (protocol v5's `Moved`): the first server
//! drains and hands the room to a second; the session resumes there as the same player, its
//! inputs keep counting, and every event arrives once and in order.

use std::time::Duration;

use tickstream_client::{Session, SessionEvent, SessionOptions};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_follows_its_room_to_the_successor() -> Result<(), Box<dyn std::error::Error>> {
    let step = Duration::from_secs(10);
    let (a, b) = (bind().await?, bind().await?);
    let a_url = format!("ws://{}/ws", a.ws_addr().expect("ws enabled")?);
    let b_url = format!("ws://{}/ws", b.ws_addr().expect("ws enabled")?);
    let b_ops = format!("http://{}", b.metrics_addr().expect("ops enabled")?);
    let (a_handle, b_handle) = (a.handle(), b.handle());
    a_handle.set_successor(&b_ops, &b_url)?;
    let (stop_a, a_stopped) = tokio::sync::oneshot::channel::<()>();
    let a_run = tokio::spawn(a.run(async move {
        let _ = a_stopped.await;
    }));
    tokio::spawn(b.run(std::future::pending()));

    let mut session = Session::join(&a_url, "moving", SessionOptions::default()).await?;
    assert_eq!(
        session.protocol(),
        6,
        "v6 (v5's Moved and up) is negotiated"
    );
    let me = session.welcome().entity;
    let first = session.set_input(1.0, 0.0, 0).expect("a new intent");
    let mut last_event = 0;
    let mut last_tick;
    loop {
        match tokio::time::timeout(step, session.next()).await?? {
            SessionEvent::Update(u) => {
                last_tick = u.tick.0;
                if u.ack_seq >= first && last_tick > 10 {
                    break;
                }
            }
            SessionEvent::Event(e) => last_event = e.seq,
            other => panic!("unexpected {other:?}"),
        }
    }
    let _ = stop_a.send(());
    let mut moved = None;
    loop {
        match tokio::time::timeout(step, session.next()).await?? {
            SessionEvent::Update(u) => last_tick = u.tick.0,
            SessionEvent::Event(e) => {
                assert_eq!(e.seq, last_event + 1, "events in order, none lost");
                last_event = e.seq;
            }
            SessionEvent::Moved { url } => moved = Some(url),
            SessionEvent::Welcome(w) => {
                assert_eq!(
                    moved.as_deref(),
                    Some(b_url.as_str()),
                    "told where to go first"
                );
                assert!(w.resumed, "resumed, not joined");
                assert_eq!(w.entity, me, "the same entity");
                assert!(
                    w.tick.0 >= last_tick,
                    "the room's ticks go on ({} after {last_tick})",
                    w.tick.0
                );
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        a_handle.room("moving").is_none(),
        "the room left the first server"
    );
    assert!(b_handle.room("moving").is_some(), "and runs on the second");
    let second = session.set_input(0.0, 1.0, 0).expect("a new intent");
    assert!(
        second > first + 1,
        "inputs keep counting ({first}, {second})"
    );
    loop {
        match tokio::time::timeout(step, session.next()).await?? {
            SessionEvent::Update(u) if u.ack_seq >= second => break,
            SessionEvent::Event(e) => {
                assert_eq!(e.seq, last_event + 1, "events in order across the move");
                last_event = e.seq;
            }
            SessionEvent::Update(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        session.replica().get(me).is_some(),
        "the own entity in view"
    );
    tokio::time::timeout(step, a_run).await??;
    session.close().await;
    Ok(())
}
