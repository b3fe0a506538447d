//! Every ping the rate limit admits is answered, even when a burst arrives in one write: the
//! protocol's `Ping` gets a `Pong` each, and a WebSocket ping a pong frame each.

use tickstream_shared::codec::{decode_server, encode_client};
use tickstream_shared::{ClientMsg, Join, Ping, ServerMsg};
use tickstream_tests::{RawUpgrade, TestServer, client_frame, read_server_frame};
use tokio::io::AsyncWriteExt;

/// How many pings one write carries: more than the writer's control queue holds (16), well
/// inside the default rate limit's burst (120).
const BURST: u64 = 40;

fn message(msg: &ClientMsg) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_client(msg, &mut buf).expect("encodes");
    client_frame(0x82, true, &buf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_pings_in_one_write_gets_every_pong() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let up = RawUpgrade::send(&server.ws_url, None, "").await?;
    anyhow::ensure!(up.status == 101, "upgrade refused with {}", up.status);
    let mut s = up.stream;
    let mut burst = message(&ClientMsg::Join(Join {
        room: "pings".into(),
    }));
    for t in 1..=BURST {
        burst.extend(message(&ClientMsg::Ping(Ping { client_time: t })));
    }
    for t in 1..=BURST {
        // WebSocket pings carry their number as the payload.
        burst.extend(client_frame(0x89, true, &t.to_be_bytes()));
    }
    s.write_all(&burst).await?;
    let (mut pongs, mut ws_pongs) = (Vec::new(), Vec::new());
    while pongs.len() < BURST as usize || ws_pongs.len() < BURST as usize {
        let (opcode, payload) = read_server_frame(&mut s).await.map_err(|e| {
            anyhow::anyhow!(
                "after {} Pongs and {} pong frames: {e}",
                pongs.len(),
                ws_pongs.len()
            )
        })?;
        match opcode {
            0x2 => {
                if let ServerMsg::Pong(p) = decode_server(&payload)? {
                    pongs.push(p.client_time);
                }
            }
            0xA => ws_pongs.push(u64::from_be_bytes(payload.as_slice().try_into()?)),
            0x8 => anyhow::bail!("closed after {} Pongs: {payload:?}", pongs.len()),
            _ => {}
        }
    }
    let expected: Vec<u64> = (1..=BURST).collect();
    assert_eq!(pongs, expected, "one Pong per Ping, in order");
    assert_eq!(
        ws_pongs, expected,
        "one pong frame per ping frame, in order"
    );
    server.stop().await;
    Ok(())
}
