//! A message flood closes the flooding client with 1008; the room keeps ticking for the others.

use tickstream_shared::{ClientMsg, Ping, close_code};
use tickstream_tests::{TestServer, disconnects};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_flood_is_closed_with_1008() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start().await?;
    let good = server.join("flood").await?.watch_updates();
    let policy = disconnects(close_code::POLICY);
    let metrics = server.baseline(&[&policy]).await?;
    let mut flood = server.join("flood").await?;
    for _ in 0..300 {
        if flood
            .client
            .send(&ClientMsg::Ping(Ping { client_time: 1 }))
            .await
            .is_err()
        {
            break;
        }
    }
    let (code, _, _) = flood.until_closed().await?;
    assert_eq!(
        code,
        close_code::POLICY,
        "300 messages at once exceed the burst of 120"
    );
    metrics
        .assert_rose(&policy, 1.0, "one client flooded")
        .await?;
    good.finish("a client flooding the same room").await?;
    server.stop().await;
    Ok(())
}
