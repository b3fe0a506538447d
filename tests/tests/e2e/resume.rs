//! Resume: a dropped player gets its entity back with its single-use token within the grace
//! period, with a full snapshot and its inputs continuing; after the grace, twice, or in another
//! room the token is refused with 4005.

use std::time::{Duration, Instant};

use tickstream_shared::close_code;
use tickstream_tests::{TestClient, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_player_resumes_its_entity_within_the_grace() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start().await?;
    let resumes_ok = server
        .baseline(&["tickstream_resumes_total{outcome=\"ok\"}"])
        .await?;
    let mut c = server.join("comeback").await?;
    let entity = c.welcome.entity;
    let old_token = c.welcome.resume_token.clone();
    c.next_update().await?;
    let seq = c.input(1.0, 0.0).await?;
    c.until_acked(seq).await?;
    let before = c.own()?;

    let mut c = c
        .drop_and_resume(&server.wss_url, "comeback")
        .await?
        .map_err(|(code, reason)| anyhow::anyhow!("resume refused: {code} {reason}"))?;
    assert!(c.welcome.resumed, "the welcome says it is a resume");
    assert_eq!(c.welcome.entity, entity, "the same entity comes back");
    assert_ne!(
        c.welcome.resume_token, old_token,
        "a new token replaces the used one"
    );
    let first = c.next_update().await?;
    assert!(
        first.delta.spawns.iter().any(|e| e.id == entity),
        "the first update after a resume is a full snapshot including the own entity"
    );
    let after = c.own()?;
    assert!(
        after.x > before.x,
        "the entity kept moving with the last input while the player was away ({} → {})",
        before.x,
        after.x
    );
    // Inputs continue: the next seq is accepted and stops the entity.
    let seq = c.input(0.0, 0.0).await?;
    let acked = c.until_acked(seq).await?;
    assert!(
        acked.ack_seq >= seq,
        "the resumed session's input is applied"
    );
    resumes_ok
        .assert_rose(
            "tickstream_resumes_total{outcome=\"ok\"}",
            1.0,
            "one resume",
        )
        .await?;
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn used_foreign_and_expired_tokens_are_refused_with_4005() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start_with(|c| c.rooms.resume_grace_ms = 1_000).await?;
    let refused = "tickstream_resumes_total{outcome=\"refused\"}";
    let base = server
        .baseline(&[refused, "tickstream_disconnects_total{code=\"4005\"}"])
        .await?;
    let mut watcher = server.join("grace").await?;
    watcher.next_update().await?;

    // A token used once cannot be used again.
    let c = server.join("grace").await?;
    let token = c.welcome.resume_token.clone();
    let entity = c.welcome.entity;
    let c = c
        .drop_and_resume(&server.wss_url, "grace")
        .await?
        .map_err(|(code, reason)| anyhow::anyhow!("first resume refused: {code} {reason}"))?;
    let reuse = tickstream_shared::ClientMsg::Resume(tickstream_shared::Resume {
        room: "grace".into(),
        token: token.clone(),
        last_event_seq: 0,
    });
    match TestClient::enter(&server.wss_url, reuse).await? {
        Err((code, reason)) => {
            assert_eq!(
                code,
                close_code::RESUME_REFUSED,
                "a used token: 4005 ({reason})"
            );
        }
        Ok(_) => panic!("a used token resumed"),
    }

    // A live token is refused in another room (and not consumed there).
    let _other_room = server.join("elsewhere").await?;
    let foreign = c.welcome.resume_token.clone();
    let wrong_room = tickstream_shared::ClientMsg::Resume(tickstream_shared::Resume {
        room: "elsewhere".into(),
        token: foreign,
        last_event_seq: 0,
    });
    match TestClient::enter(&server.wss_url, wrong_room).await? {
        Err((code, reason)) => {
            assert_eq!(
                code,
                close_code::RESUME_REFUSED,
                "another room's token: 4005 ({reason})"
            );
        }
        Ok(_) => panic!("a token resumed in another room"),
    }

    // After the grace period the entity is gone for everyone and the token is refused.
    let token = c.welcome.resume_token.clone();
    while watcher.replica.get(entity).is_none() {
        watcher.next_update().await?;
    }
    drop(c);
    let dropped_at = Instant::now();
    while watcher.replica.get(entity).is_some() {
        watcher.next_update().await?;
        assert!(
            dropped_at.elapsed() < Duration::from_secs(10),
            "the dropped entity was removed after its grace period"
        );
    }
    assert!(
        dropped_at.elapsed() >= Duration::from_millis(900),
        "the entity stayed for the grace period ({:?})",
        dropped_at.elapsed()
    );
    let late = tickstream_shared::ClientMsg::Resume(tickstream_shared::Resume {
        room: "grace".into(),
        token,
        last_event_seq: 0,
    });
    match TestClient::enter(&server.wss_url, late).await? {
        Err((code, reason)) => {
            assert_eq!(
                code,
                close_code::RESUME_REFUSED,
                "after the grace: 4005 ({reason})"
            );
        }
        Ok(_) => panic!("a token resumed after its grace period"),
    }
    base.assert_rose(refused, 3.0, "three refused resumes")
        .await?;
    base.assert_rose(
        "tickstream_disconnects_total{code=\"4005\"}",
        3.0,
        "three 4005 closes",
    )
    .await?;
    watcher
        .assert_updates_flow(Duration::from_secs(1), "after the refusals")
        .await?;
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_close_leaves_at_once() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let mut watcher = server.join("bye").await?;
    watcher.next_update().await?;
    let mut c = server.join("bye").await?;
    let entity = c.welcome.entity;
    c.client.close(close_code::NORMAL, "bye").await?;
    let start = Instant::now();
    while watcher.replica.get(entity).is_some() {
        watcher.next_update().await?;
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "a player that closed with 1000 left without waiting for the 20 s grace ({:?})",
        start.elapsed()
    );
    server.stop().await;
    Ok(())
}
