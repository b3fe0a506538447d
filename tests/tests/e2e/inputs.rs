//! Inputs move the player at the configured speed; invalid inputs are ignored.

use tickstream_shared::quant::SCALE;
use tickstream_tests::TestServer;

/// One 5-unit step in grid points.
const STEP: f64 = 5.0 * SCALE;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_move_the_player_and_are_acknowledged() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let mut c = server.join("move").await?;
    c.next_update().await?;
    let seq = c.input(1.0, 0.0).await?;
    let acked = c.until_acked(seq).await?;
    assert_eq!(
        acked.ack_seq, seq,
        "the input is acknowledged by its sequence number"
    );
    let before = c.own()?;
    for _ in 0..3 {
        c.next_update().await?;
    }
    let after = c.own()?;
    let ticks = f64::from(c.replica.tick().expect("ticked").0 - acked.tick.0);
    let moved = f64::from(after.x) - f64::from(before.x);
    // The player may reach the arena's edge: then it stops there.
    if after.x < 64_000 {
        assert!(
            (moved - STEP * ticks).abs() <= 1.0,
            "moved {moved} grid points in {ticks} ticks, expected {} per tick",
            STEP
        );
    }
    assert_eq!(after.y, before.y, "moving along x leaves y alone");
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagonal_speed_is_clamped_to_the_player_speed() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let mut c = server.join("diagonal").await?;
    c.next_update().await?;
    let seq = c.input(1.0, 1.0).await?;
    c.until_acked(seq).await?;
    // Compare two consecutive ticks (a busy machine may merge some).
    loop {
        let (a, t0) = (c.own()?, c.replica.tick().expect("ticked"));
        let u = c.next_update().await?;
        let b = c.own()?;
        assert!(
            b.x < 64_000 && b.y < 64_000,
            "the player is still inside the arena"
        );
        if u.tick.0 != t0.0 + 1 {
            continue;
        }
        let (dx, dy) = (
            f64::from(b.x) - f64::from(a.x),
            f64::from(b.y) - f64::from(a.y),
        );
        let len = (dx * dx + dy * dy).sqrt();
        assert!(
            (len - STEP).abs() <= 1.5,
            "moved {len} grid points in one tick, expected {STEP} (not {})",
            STEP * 2f64.sqrt()
        );
        assert!((dx - dy).abs() <= 1.0, "moved diagonally: {dx} vs {dy}");
        break;
    }
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nan_out_of_range_and_stale_inputs_are_ignored() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let mut c = server.join("invalid").await?;
    c.next_update().await?;
    let good = c.input(0.0, 0.0).await?;
    c.until_acked(good).await?;
    let still = c.own()?;
    let nan = c.input(f32::NAN, 1.0).await?;
    let big = c.input(2.0, 0.0).await?;
    let inf = c.input(0.0, f32::NEG_INFINITY).await?;
    for _ in 0..10 {
        let u = c.next_update().await?;
        assert_eq!(
            u.ack_seq, good,
            "invalid inputs {nan}, {big}, {inf} are never acknowledged"
        );
    }
    assert_eq!(c.own()?, still, "the player did not move");
    // A stale sequence number is ignored too; the connection stays usable.
    c.client
        .send(&tickstream_shared::ClientMsg::Input(
            tickstream_shared::Input {
                seq: good,
                dx: 1.0,
                dy: 0.0,
                buttons: 0,
            },
        ))
        .await?;
    for _ in 0..5 {
        let u = c.next_update().await?;
        assert_eq!(u.ack_seq, good, "a repeated sequence number is not applied");
    }
    assert_eq!(c.own()?, still, "the stale input did not move the player");
    let next = c.input(0.0, 1.0).await?;
    let u = c.until_acked(next).await?;
    assert_eq!(u.ack_seq, next, "a valid input after them is applied");
    server.stop().await;
    Ok(())
}
