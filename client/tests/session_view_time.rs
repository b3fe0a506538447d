//! `Session::set_input_at` sends the displayed time with the input over v5 (`Input5`): in a
//! duel room the input's shot is judged, and the own entity walks as with `set_input`.

use std::time::Duration;

use tickstream_client::{ServerClock, Session, SessionEvent, SessionOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_with_its_view_time_is_applied_and_judged()
-> Result<(), Box<dyn std::error::Error>> {
    let mut config = tickstream_server::Config::default();
    config.server.listen = "127.0.0.1:0".parse()?;
    config.server.ws_listen = Some("127.0.0.1:0".parse()?);
    config.server.metrics_listen = None;
    let server = tickstream_server::Server::bind(config).await?;
    let url = format!("ws://{}/ws", server.ws_addr().expect("ws enabled")?);
    tokio::spawn(server.run(std::future::pending()));
    let step = Duration::from_secs(10);
    let mut session = Session::join(&url, "duel-view", SessionOptions::default()).await?;
    assert_eq!(session.protocol(), 6, "v6 (v5's Input5 and up)");
    assert_eq!(
        session.welcome().game,
        "duel",
        "rooms named duel… run the duel"
    );
    let miss = session
        .welcome()
        .event_kinds
        .iter()
        .position(|k| k == "miss")
        .expect("the duel names its miss event");
    let mut clock = ServerClock::new(session.welcome().tick_rate_hz);
    let start = std::time::Instant::now();
    let render = loop {
        if let SessionEvent::Update(u) = tokio::time::timeout(step, session.next()).await?? {
            let now = start.elapsed().as_secs_f64();
            clock.observe(u.tick.0, now);
            if let Some(r) = clock.render_tick_at(now) {
                break r;
            }
        }
    };
    let seq = session
        .set_input_at(1.0, 0.0, 1, render)
        .expect("a new intent");
    let (mut acked, mut judged) = (false, false);
    while !(acked && judged) {
        match tokio::time::timeout(step, session.next()).await?? {
            SessionEvent::Update(u) => acked |= u.ack_seq >= seq,
            SessionEvent::Event(e) => judged |= usize::from(e.kind) == miss && e.value == 1,
            _ => {}
        }
    }
    session.close().await;
    Ok(())
}
