//! The writer task: control frames first, then the newest update; the only task that writes.

use std::cell::Cell;
use std::sync::Arc;

use fastwebsockets::{Frame, OpCode, Payload, WebSocketError, WebSocketWrite};
use tickstream_shared::close_code;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::metrics as m;
use crate::room::link::WriterJob;
use crate::room::{ClientLink, Outgoing};
use crate::sync::ClientSync;

/// The longest header of a frame the server sends (unmasked, 64-bit length).
const MAX_HEAD: usize = 10;

thread_local! {
    /// The update frame being written: one buffer per thread, taken while a writer uses it,
    /// so that building and writing a frame touch memory the previous client's frame left in
    /// the cache rather than each client's own.
    static FRAME: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Writes a binary frame's header for a payload of `len` bytes so that it ends at
/// `head.len()` (`MAX_HEAD` bytes), and returns where it starts.
fn put_head(head: &mut [u8; MAX_HEAD], len: usize) -> usize {
    const FIN_BINARY: u8 = 0x82;
    let start = match len {
        0..=125 => {
            head[9] = len as u8;
            9
        }
        126..=0xFFFF => {
            head[7] = 126;
            head[8..].copy_from_slice(&(len as u16).to_be_bytes());
            7
        }
        _ => {
            head[1] = 127;
            head[2..].copy_from_slice(&(len as u64).to_be_bytes());
            1
        }
    };
    head[start - 1] = FIN_BINARY;
    start - 1
}

/// Writes until the close frame is sent (`Ok(true)`) or the connection fails. `buffered`:
/// the stream keeps written bytes until flushed (TLS), so it is flushed before each wait.
/// Control frames go through fastwebsockets; updates are framed here and written to `raw`,
/// the same stream, in one piece (one copy, into a buffer that stays in the cache).
pub(super) async fn write_loop<W>(
    mut wr: WebSocketWrite<W>,
    mut raw: W,
    buffered: bool,
    link: Arc<ClientLink>,
) -> Result<bool, WebSocketError>
where
    W: AsyncWrite + Unpin,
{
    let mut unflushed = false;
    // This client's baseline lives here: frames are built on this task, on whichever core
    // runs it, when the client is ready for one (into that thread's frame buffer).
    let mut sync = ClientSync::for_protocol(link.protocol);
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
                let mut frame = FRAME.take();
                frame.clear();
                frame.extend_from_slice(&[0; MAX_HEAD]);
                sync.set_spectator(p.spectator);
                if let Err(e) = sync.build_frame(&p.frame, p.entity, p.ack_seq, &events, &mut frame)
                {
                    FRAME.set(frame);
                    tracing::error!(conn = link.conn_id, error = %e, "cannot encode update");
                    link.close(close_code::INTERNAL, "internal error");
                    continue;
                }
                let len = frame.len() - MAX_HEAD;
                let mut head = [0; MAX_HEAD];
                let start = put_head(&mut head, len);
                frame[..MAX_HEAD].copy_from_slice(&head);
                let written = raw.write_all(&frame[start..]).await;
                FRAME.set(frame);
                written.map_err(WebSocketError::IoError)?;
                sent.add(len);
                sizes.add(len);
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
    fn update_heads_are_fastwebsockets_binary_frame_heads() {
        for len in [0usize, 1, 125, 126, 127, 65_535, 65_536, 70_000] {
            let payload = vec![7u8; len];
            let mut theirs = [0u8; 16];
            let n = Frame::binary(Payload::Borrowed(&payload)).fmt_head(&mut theirs);
            let mut ours = [0; MAX_HEAD];
            let start = put_head(&mut ours, len);
            assert_eq!(
                &ours[start..],
                &theirs[..n],
                "the head of a {len}-byte payload"
            );
        }
    }

    #[test]
    fn reasons_are_cut_on_character_boundaries() {
        assert_eq!(truncate_utf8("ééé", 3), "é", "never splits a character");
        assert_eq!(truncate_utf8("abc", 10), "abc", "short strings stay");
    }
}
