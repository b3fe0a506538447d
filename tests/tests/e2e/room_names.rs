//! A room name is judged by what is wrong with it, whatever its length: every name that is too
//! long but fits a message closes 4002; only a message over the size limit closes 1009.

use tickstream_client::connect;
use tickstream_shared::codec::{MAX_CLIENT_MESSAGE, encode_client};
use tickstream_shared::{ClientMsg, Join, close_code};
use tickstream_tests::{TestServer, error_code};
use tokio::task::JoinSet;

/// The close code a `Join` for a room name of `len` bytes gets.
async fn code_for(url: String, len: usize) -> anyhow::Result<(usize, u16)> {
    let mut client = connect(&url, &TestServer::options()).await?;
    client
        .send(&ClientMsg::Join(Join {
            room: "r".repeat(len),
        }))
        .await?;
    Ok((len, error_code(&mut client).await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_too_long_name_closes_4002_and_only_oversize_messages_1009() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    // The longest name whose Join fits the message limit.
    let longest = (65..400)
        .take_while(|&n| {
            let mut buf = Vec::new();
            encode_client(
                &ClientMsg::Join(Join {
                    room: "r".repeat(n),
                }),
                &mut buf,
            )
            .expect("encodes");
            buf.len() <= MAX_CLIENT_MESSAGE
        })
        .last()
        .unwrap_or(64);
    assert_eq!(
        longest, 252,
        "a 252-byte name is the longest that fits 256 bytes"
    );
    let mut lengths = (65..=longest + 3).peekable();
    let mut running = JoinSet::new();
    let mut seen = 0;
    while lengths.peek().is_some() || !running.is_empty() {
        // Sixteen connections at a time.
        while running.len() < 16
            && let Some(len) = lengths.next()
        {
            running.spawn(code_for(server.ws_url.clone(), len));
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        let (len, code) = done??;
        let expected = if len <= longest {
            close_code::BAD_ROOM_NAME
        } else {
            close_code::TOO_BIG
        };
        assert_eq!(code, expected, "a Join for a {len}-byte room name");
        seen += 1;
    }
    assert_eq!(seen, longest + 3 - 64, "every length was tried");
    server.stop().await;
    Ok(())
}
