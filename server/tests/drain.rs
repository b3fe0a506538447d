//! The graceful drain of the real binary: on SIGTERM or SIGINT with players connected, every
//! player gets close code 1001 with a reason, new connections are refused, `/readyz` answers
//! 503 while `/healthz` and `/metrics` keep answering, and the process exits 0 within its
//! grace period.

mod support;

use std::time::{Duration, Instant};

use support::{
    Closed, STEP_TIMEOUT, ServerProcess, assert_all_closed_with_1001, http_get,
    join_and_wait_for_close,
};
use tickstream_client::ConnectError;
use tickstream_client::{ConnectOptions, connect};
use tokio::task::JoinHandle;

/// Players connected when the signal arrives.
const PLAYERS: usize = 20;

/// The grace period the tests configure, and must exit within.
const GRACE: Duration = Duration::from_secs(10);

async fn join_players(
    server: &ServerProcess,
) -> anyhow::Result<Vec<JoinHandle<anyhow::Result<Closed>>>> {
    let mut players = Vec::with_capacity(PLAYERS);
    for _ in 0..PLAYERS {
        players.push(join_and_wait_for_close(&server.ws_url(), "drain").await?);
    }
    Ok(players)
}

/// Every player closed with 1001, each with a reason and an `Error` message of the same code.
async fn assert_all_drained(
    players: Vec<JoinHandle<anyhow::Result<Closed>>>,
) -> anyhow::Result<()> {
    for (i, closed) in assert_all_closed_with_1001(players)
        .await?
        .iter()
        .enumerate()
    {
        assert!(
            !closed.reason.is_empty(),
            "player {i}'s close frame has a reason: {closed:?}"
        );
        assert_eq!(
            closed.error,
            Some(1001),
            "player {i} got an Error message with the same code first: {closed:?}"
        );
    }
    Ok(())
}

/// A new connection attempt fails: refused by the OS, or answered with HTTP 503.
async fn assert_refused(server: &ServerProcess, when: &str) {
    let attempt = tokio::time::timeout(
        STEP_TIMEOUT,
        connect(&server.ws_url(), &ConnectOptions::default()),
    )
    .await;
    match attempt {
        Ok(Err(ConnectError::Status(503) | ConnectError::Tcp { .. } | ConnectError::Http(_))) => {}
        Ok(Err(other)) => panic!("{when}: a new connection failed in an unexpected way: {other}"),
        Ok(Ok(_)) => panic!("{when}: a new connection was accepted"),
        Err(_) => panic!("{when}: a new connection attempt hung"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_every_player_with_1001_and_exits_0() -> anyhow::Result<()> {
    // The drain delay holds the server in its draining state long enough to observe it: the
    // players keep playing, /readyz says 503, and new players are turned away.
    let mut server =
        ServerProcess::start(&["--drain-delay-ms", "3000", "--shutdown-grace-ms", "10000"])?;
    let players = join_players(&server).await?;
    assert_eq!(
        http_get(server.metrics, "/readyz").await?.0,
        200,
        "ready before the signal"
    );

    server.signal("TERM")?;
    let signalled = Instant::now();
    loop {
        if http_get(server.metrics, "/readyz").await?.0 == 503 {
            break;
        }
        assert!(
            signalled.elapsed() < STEP_TIMEOUT,
            "/readyz never turned 503"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        http_get(server.metrics, "/healthz").await?.0,
        200,
        "alive while draining"
    );
    let (status, body) = http_get(server.metrics, "/metrics").await?;
    assert_eq!(status, 200, "scrapable while draining");
    assert!(
        body.contains("tickstream_connections 20"),
        "the players are still connected during the drain delay:\n{body}"
    );
    match tokio::time::timeout(
        STEP_TIMEOUT,
        connect(&server.ws_url(), &ConnectOptions::default()),
    )
    .await
    {
        Ok(Err(e)) => assert_eq!(
            e.http_status(),
            Some(503),
            "a new player during the drain delay gets HTTP 503: {e}"
        ),
        Ok(Ok(_)) => panic!("a new player was accepted during the drain"),
        Err(_) => panic!("a new connection attempt hung"),
    }

    assert_all_drained(players).await?;
    let status = server.exited(STEP_TIMEOUT).await?;
    let took = signalled.elapsed();
    assert!(status.success(), "exit status 0: {status}");
    assert!(
        took < GRACE,
        "exited {took:?} after SIGTERM, within the {GRACE:?} grace period"
    );
    assert_refused(&server, "after exit").await;
    assert!(
        server.logged("room stopped"),
        "the room stopped:\n{}",
        server.log_text()
    );
    assert!(
        server.logged("shutdown complete"),
        "a clean shutdown:\n{}",
        server.log_text()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_drains_at_once_by_default() -> anyhow::Result<()> {
    let mut server = ServerProcess::start(&[])?;
    let players = join_players(&server).await?;

    server.signal("INT")?;
    let signalled = Instant::now();
    assert_all_drained(players).await?;
    // Draining is on by the time the sessions close: the listener is gone or answers 503.
    assert_refused(&server, "during the drain").await;
    let status = server.exited(STEP_TIMEOUT).await?;
    let took = signalled.elapsed();
    assert!(status.success(), "exit status 0: {status}");
    assert!(
        took < GRACE,
        "exited {took:?} after SIGINT, within the default {GRACE:?} grace period"
    );
    assert!(
        server.logged("shutdown complete"),
        "a clean shutdown:\n{}",
        server.log_text()
    );
    Ok(())
}
