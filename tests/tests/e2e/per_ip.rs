//! The per-address connection cap: one host cannot take every slot; other hosts (other
//! loopback addresses stand in for them) are unaffected, and a freed slot can be reused.

use std::time::{Duration, Instant};

use tickstream_tests::{RawUpgrade, TestServer, rejected_connections};
use tokio::net::TcpStream;

/// Sends an upgrade request from `local` and returns the HTTP status with the open stream.
async fn upgrade_from(local: &str, ws_url: &str) -> anyhow::Result<(u16, TcpStream)> {
    let up = RawUpgrade::send(ws_url, Some(local), "").await?;
    Ok((up.status, up.stream))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_slot() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start_with(|c| c.server.max_connections_per_ip = 3).await?;
    let good = server.join("per-ip").await?.watch_updates();
    let per_ip = rejected_connections("per_ip_cap");
    let metrics = server.baseline(&[&per_ip]).await?;
    let addr = server.ws_url.as_str();
    let mut held = Vec::new();
    for i in 0..3 {
        let (status, s) = upgrade_from("127.0.0.2", addr).await?;
        assert_eq!(status, 101, "connection {i} from 127.0.0.2 is accepted");
        held.push(s);
    }
    let (status, _) = upgrade_from("127.0.0.2", addr).await?;
    assert_eq!(
        status, 503,
        "a fourth from the same address is refused before the upgrade"
    );
    metrics
        .assert_rose(&per_ip, 1.0, "a fourth connection from one address")
        .await?;
    let (status, _other) = upgrade_from("127.0.0.3", addr).await?;
    assert_eq!(status, 101, "another address still gets in");
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, s) = upgrade_from("127.0.0.2", addr).await?;
        if status == 101 {
            held.push(s);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed slot became available again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    good.finish("one address trying to take every slot").await?;
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_address_is_capped() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start_with(|c| {
        c.server.max_connections_per_ip = 1;
        c.server.per_ip_exempt = Vec::new();
        c.server.trusted_proxies = vec!["127.0.0.1".parse().expect("an address")];
    })
    .await?;
    // The watched player comes through the "proxy" without a header: it is counted as
    // 127.0.0.1 and takes that address's only slot.
    let good = server.join("proxied").await?.watch_updates();
    let per_ip = rejected_connections("per_ip_cap");
    let metrics = server.baseline(&[&per_ip]).await?;
    let url = server.ws_url.as_str();
    let via = |local: &'static str, forwarded: &'static str| async move {
        let header = format!("X-Forwarded-For: {forwarded}\r\n");
        RawUpgrade::send(url, Some(local), &header).await
    };
    let mut held = Vec::new();
    // (from, X-Forwarded-For, expected status, why)
    let cases = [
        (
            "127.0.0.1",
            "203.0.113.7",
            101,
            "a first client behind the proxy",
        ),
        (
            "127.0.0.1",
            "203.0.113.8",
            101,
            "another client behind the same proxy has its own slot",
        ),
        (
            "127.0.0.1",
            "203.0.113.7",
            503,
            "a second connection of the first client is over its cap",
        ),
        (
            "127.0.0.1",
            "198.51.100.1, 203.0.113.9",
            101,
            "the right-most address counts, not what the client wrote itself",
        ),
        (
            "127.0.0.1",
            "203.0.113.9, 127.0.0.1",
            503,
            "trusted hops are skipped: 203.0.113.9 again",
        ),
        (
            "127.0.0.1",
            "not an address",
            503,
            "a malformed header counts as the proxy, whose slot the player holds",
        ),
        (
            "127.0.0.2",
            "203.0.113.50",
            101,
            "an untrusted peer: counted as itself",
        ),
        (
            "127.0.0.2",
            "203.0.113.51",
            503,
            "an untrusted peer's header is never believed",
        ),
    ];
    for (from, forwarded, expected, why) in cases {
        let up = via(from, forwarded).await?;
        assert_eq!(up.status, expected, "from {from} for {forwarded:?}: {why}");
        held.push(up.stream);
    }
    metrics
        .assert_rose(
            &per_ip,
            4.0,
            "four connections over a forwarded or peer cap",
        )
        .await?;
    good.finish("connections through a trusted proxy").await?;
    server.stop().await;
    Ok(())
}
