//! The writer task: control frames first, then the newest update; the only task that writes.

use std::sync::Arc;

use fastwebsockets::{Frame, OpCode, Payload, WebSocketError, WebSocketWrite};
use tickstream_shared::close_code;
use tokio::io::AsyncWrite;

use crate::metrics as m;
use crate::room::link::WriterJob;
use crate::room::{ClientLink, Outgoing};
use crate::sync::ClientSync;

/// Writes until the close frame is sent (`Ok(true)`) or the connection fails. `buffered`:
/// the stream keeps written bytes until flushed (TLS), so it is flushed before each wait.
pub(super) async fn write_loop<W>(
    mut wr: WebSocketWrite<W>,
    buffered: bool,
    link: Arc<ClientLink>,
) -> Result<bool, WebSocketError>
where
    W: AsyncWrite + Unpin,
{
    let mut unflushed = false;
    // This client's baseline and frame buffer live here: frames are built on this task, on
    // whichever core runs it, when the client is ready for one.
    let mut sync = ClientSync::for_protocol(link.protocol);
    let mut buf = Vec::new();
    let mut events = Vec::new();
    // Counted here and handed over in batches (and when the task ends, however it ends).
    let mut sent = m::Tally::new(m::BYTES_SENT, m::MESSAGES_SENT);
    let mut sizes = m::SizeTally::new(&m::UPDATE_SIZES);
    loop {
        events.clear();
        // Buffered bytes (TLS) go out before the writer waits; on a plain socket the next job
        // is taken (or waited for) under one lock.
        let job = match unflushed {
            true => match link.next_job(&mut events) {
                Some(job) => job,
                None => {
                    wr.flush().await?;
                    unflushed = false;
                    continue;
                }
            },
            false => link.next_job_waiting(&mut events).await,
        };
        match job {
            WriterJob::Update(p) => {
                buf.clear();
                sync.set_spectator(link.is_spectator());
                if let Err(e) = sync.build_frame(&p.frame, p.entity, p.ack_seq, &events, &mut buf) {
                    tracing::error!(conn = link.conn_id, error = %e, "cannot encode update");
                    link.close(close_code::INTERNAL, "internal error");
                    continue;
                }
                wr.write_frame(Frame::binary(Payload::Borrowed(&buf)))
                    .await?;
                sent.add(buf.len());
                sizes.add(buf.len());
            }
            WriterJob::Control(Outgoing::Message(msg)) => {
                wr.write_frame(Frame::binary(Payload::Borrowed(&msg)))
                    .await?;
                sent.add(msg.len());
            }
            WriterJob::Control(Outgoing::Pong(payload)) => {
                wr.write_frame(Frame::pong(Payload::Owned(payload))).await?;
            }
            WriterJob::Control(Outgoing::Ping) => {
                let ping = Frame::new(true, OpCode::Ping, None, Payload::Borrowed(&[]));
                wr.write_frame(ping).await?;
            }
            WriterJob::Close(code, reason) => {
                let reason = truncate_utf8(&reason, 123);
                wr.write_frame(Frame::close(code, reason.as_bytes()))
                    .await?;
                wr.flush().await?;
                return Ok(true);
            }
        }
        unflushed = buffered;
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary (a close
/// frame's reason has room for 123 bytes).
fn truncate_utf8(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_cut_on_character_boundaries() {
        assert_eq!(truncate_utf8("ééé", 3), "é", "never splits a character");
        assert_eq!(truncate_utf8("abc", 10), "abc", "short strings stay");
    }
}
