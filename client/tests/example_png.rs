//! The example game client's PNG path, headless, for a few seconds against a real server on
//! port 0: it joins, plays, and writes a picture a second.

#[path = "../examples/game.rs"]
#[allow(dead_code, missing_docs)]
mod game;

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_draws_what_it_sees_to_png() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = tickstream_server::Config::default();
    config.server.listen = "127.0.0.1:0".parse()?;
    config.server.ws_listen = Some("127.0.0.1:0".parse()?);
    config.server.metrics_listen = None;
    let server = tickstream_server::Server::bind(config).await?;
    let url = format!("wss://{}/ws", server.wss_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let out = std::env::temp_dir().join(format!("tickstream-example-{}", std::process::id()));
    std::fs::create_dir_all(&out)?;
    let written = tokio::time::timeout(
        Duration::from_secs(60),
        game::play(&url, "example", &out, Duration::from_secs(3)),
    )
    .await??;
    assert!(written >= 2, "a picture a second for 3 s, got {written}");
    let first = std::fs::read(out.join("view-1.png"))?;
    assert_eq!(&first[..8], b"\x89PNG\r\n\x1a\n", "a PNG signature");
    let decoder = png::Decoder::new(std::io::Cursor::new(first));
    let info = decoder.read_info()?.info().clone();
    assert_eq!((info.width, info.height), (320, 320), "the picture's size");
    let _ = std::fs::remove_dir_all(&out);
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    Ok(())
}
