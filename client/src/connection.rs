//! An open Tickstream connection: one binary WebSocket frame per message, both ways.
//!
//! A [`Connection`] is already split into a [`ConnectionReader`] and a [`ConnectionWriter`] over
//! `tokio::io::split`, so a client can read in one task and write in another. Reading is not
//! cancel safe (a frame half read is lost), so the reader gets its own task and is never raced
//! against a timer that could drop it halfway and then read again.
//!
//! The WebSocket layer answers pings and echoes the server's close frame. Those replies belong
//! to the write side, so the reader queues them on a small channel; the writer sends them before
//! its next message, or as soon as it is woken by [`ConnectionWriter::next_control`].

use std::convert::Infallible;

use fastwebsockets::{
    FragmentCollectorRead, Frame, OpCode, Payload, WebSocket, WebSocketError, WebSocketWrite,
};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tickstream_shared::codec::{self, MAX_SERVER_MESSAGE};
use tickstream_shared::{ClientMsg, CodecError, ServerMsg};
use tokio::sync::mpsc;

use crate::counting::ReadCounter;

type Io = TokioIo<Upgraded>;
type ReadStream = tokio::io::ReadHalf<Io>;
type WriteStream = tokio::io::WriteHalf<Io>;

/// Close code for a close frame without a code (RFC 6455 §7.1.5: "no status received").
pub const NO_STATUS: u16 = 1005;

/// How many control replies may wait for the writer; beyond it, pongs are dropped (the server
/// only needs the latest) and the connection is closing anyway.
const CONTROL_QUEUE: usize = 8;

/// What the server sent: a message, or the end of the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// One decoded message.
    Msg(ServerMsg),
    /// The server's close frame.
    Close {
        /// The close code ([`NO_STATUS`] if the frame had none).
        code: u16,
        /// The reason text, possibly empty.
        reason: String,
    },
}

/// Why a message could not be sent or received.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The WebSocket layer failed: connection lost, malformed frame, frame too large.
    #[error("websocket: {0}")]
    Ws(WebSocketError),
    /// A binary frame that is not a valid server message.
    #[error("undecodable server message: {0}")]
    Decode(CodecError),
    /// A message that could not be encoded (a caller bug).
    #[error("cannot encode: {0}")]
    Encode(CodecError),
    /// The server sent a text frame; the protocol is binary only.
    #[error("the server sent a text frame")]
    TextFrame,
    /// The server's close frame was already received.
    #[error("the connection is closed")]
    Closed,
}

// The cause is part of the message, not a `source()` too: it is printed once.
impl From<WebSocketError> for ConnectionError {
    fn from(e: WebSocketError) -> Self {
        Self::Ws(e)
    }
}

impl ConnectionError {
    /// True when the connection ended without a close frame (EOF or reset).
    #[must_use]
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            Self::Ws(WebSocketError::UnexpectedEOF | WebSocketError::IoError(_))
        )
    }
}

/// A reply the WebSocket layer owes the server, queued by the reader for the writer.
#[derive(Debug)]
pub struct Control {
    close: bool,
    payload: Vec<u8>,
}

impl Control {
    /// True for the echo of the server's close frame (nothing may be sent after it).
    #[must_use]
    pub fn is_close(&self) -> bool {
        self.close
    }
}

/// An open connection, both halves together. [`Connection::split`] separates them.
pub struct Connection {
    reader: ConnectionReader,
    writer: ConnectionWriter,
    subprotocol: Option<String>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("subprotocol", &self.subprotocol)
            .finish_non_exhaustive()
    }
}

impl Connection {
    pub(crate) fn new(ws: WebSocket<Io>, subprotocol: Option<String>) -> Self {
        let (mut read, write) = ws.split(tokio::io::split);
        // The frame check is `len >= max`; the codec refuses anything longer still.
        read.set_max_message_size(MAX_SERVER_MESSAGE + 1);
        let (tx, rx) = mpsc::channel(CONTROL_QUEUE);
        Self {
            reader: ConnectionReader {
                ws: FragmentCollectorRead::new(read),
                control: tx,
                last_len: 0,
                bytes: 0,
                closed: false,
                socket: None,
            },
            writer: ConnectionWriter {
                ws: write,
                control: rx,
                buf: Vec::with_capacity(64),
            },
            subprotocol,
        }
    }

    /// Counts the bytes read from the socket under the WebSocket layer with `socket`.
    pub(crate) fn with_socket_counter(mut self, socket: ReadCounter) -> Self {
        self.reader.socket = Some(socket);
        self
    }

    /// The subprotocol the server chose (`tickstream.v5`), if any.
    #[must_use]
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The protocol version the server chose (5 for `tickstream.v5`), if it chose one this
    /// crate speaks.
    #[must_use]
    pub fn protocol(&self) -> Option<u16> {
        let v = self
            .subprotocol()?
            .strip_prefix("tickstream.v")?
            .parse()
            .ok()?;
        tickstream_shared::subprotocol(v).map(|_| v)
    }

    /// Sends one message. See [`ConnectionWriter::send`].
    pub async fn send(&mut self, msg: &ClientMsg) -> Result<(), ConnectionError> {
        self.writer.send(msg).await
    }

    /// Sends arbitrary bytes as one binary frame. See [`ConnectionWriter::send_raw`].
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ConnectionError> {
        self.writer.send_raw(bytes).await
    }

    /// Sends a text frame. See [`ConnectionWriter::send_text`].
    pub async fn send_text(&mut self, text: &str) -> Result<(), ConnectionError> {
        self.writer.send_text(text).await
    }

    /// Sends a close frame. See [`ConnectionWriter::close`].
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), ConnectionError> {
        self.writer.close(code, reason).await
    }

    /// Receives the next message or the close frame, answering pings and echoing the close
    /// on the way. Not cancel safe: see [`ConnectionReader::recv`].
    pub async fn recv(&mut self) -> Result<Incoming, ConnectionError> {
        let incoming = self.reader.recv().await;
        // Best effort: if the peer is gone, the read result already says so.
        let _ = self.writer.send_pending_control().await;
        incoming
    }

    /// Payload bytes of all binary frames received so far.
    #[must_use]
    pub fn bytes_received(&self) -> u64 {
        self.reader.bytes_received()
    }

    /// The payload length of the last binary frame received.
    #[must_use]
    pub fn last_payload_len(&self) -> usize {
        self.reader.last_payload_len()
    }

    /// The two halves, for reading and writing from separate tasks.
    #[must_use]
    pub fn split(self) -> (ConnectionReader, ConnectionWriter) {
        (self.reader, self.writer)
    }
}

/// The receiving half of a connection.
pub struct ConnectionReader {
    ws: FragmentCollectorRead<ReadStream>,
    control: mpsc::Sender<Control>,
    last_len: usize,
    bytes: u64,
    closed: bool,
    /// Bytes read from the socket (set by [`crate::Connector`]).
    socket: Option<ReadCounter>,
}

impl std::fmt::Debug for ConnectionReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionReader")
            .field("bytes", &self.bytes)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl ConnectionReader {
    /// Receives the next message or the server's close frame.
    ///
    /// Not cancel safe: dropping the future midway may lose part of a frame, after which the
    /// stream is out of step. Only drop it when the connection is being abandoned.
    pub async fn recv(&mut self) -> Result<Incoming, ConnectionError> {
        if self.closed {
            return Err(ConnectionError::Closed);
        }
        let control = &self.control;
        let mut owed = |frame: Frame<'_>| {
            let close = match frame.opcode {
                OpCode::Close => true,
                OpCode::Pong => false,
                _ => return std::future::ready(Ok::<(), Infallible>(())),
            };
            // A full queue only drops a pong or a second close echo; see CONTROL_QUEUE.
            let _ = control.try_send(Control {
                close,
                payload: frame.payload.to_vec(),
            });
            std::future::ready(Ok(()))
        };
        loop {
            let frame = self.ws.read_frame(&mut owed).await?;
            match frame.opcode {
                OpCode::Binary => {
                    let len = frame.payload.len();
                    self.last_len = len;
                    self.bytes += len as u64;
                    return codec::decode_server(&frame.payload)
                        .map(Incoming::Msg)
                        .map_err(ConnectionError::Decode);
                }
                OpCode::Close => {
                    self.closed = true;
                    let (code, reason) = parse_close(&frame.payload);
                    return Ok(Incoming::Close { code, reason });
                }
                OpCode::Text => return Err(ConnectionError::TextFrame),
                // Pongs (we never ping) and anything else carry nothing for us.
                _ => {}
            }
        }
    }

    /// The payload length of the last binary frame received: the wire size of the last
    /// message, for bandwidth accounting.
    #[must_use]
    pub fn last_payload_len(&self) -> usize {
        self.last_len
    }

    /// Payload bytes of all binary frames received so far.
    #[must_use]
    pub fn bytes_received(&self) -> u64 {
        self.bytes
    }

    /// Bytes read from the socket so far, everything the server sent included: WebSocket
    /// framing, and TLS records over `wss://` (0 for a connection not opened by a
    /// [`crate::Connector`]). Reads run ahead of frames, so a difference between two calls is
    /// exact only over many messages.
    #[must_use]
    pub fn socket_bytes_read(&self) -> u64 {
        self.socket.as_ref().map_or(0, ReadCounter::get)
    }
}

/// Splits a close frame payload into its code and reason.
fn parse_close(payload: &[u8]) -> (u16, String) {
    match payload {
        [hi, lo, reason @ ..] => (
            u16::from_be_bytes([*hi, *lo]),
            String::from_utf8_lossy(reason).into_owned(),
        ),
        _ => (NO_STATUS, String::new()),
    }
}

/// The sending half of a connection. It keeps one encode buffer, so sending allocates nothing.
pub struct ConnectionWriter {
    ws: WebSocketWrite<WriteStream>,
    control: mpsc::Receiver<Control>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for ConnectionWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionWriter")
            .field("closed", &self.ws.is_closed())
            .finish_non_exhaustive()
    }
}

impl ConnectionWriter {
    /// Encodes and sends one message as one binary frame, after any queued control reply.
    pub async fn send(&mut self, msg: &ClientMsg) -> Result<(), ConnectionError> {
        self.send_pending_control().await?;
        self.buf.clear();
        codec::encode_client(msg, &mut self.buf).map_err(ConnectionError::Encode)?;
        self.write_buf(OpCode::Binary).await
    }

    /// Sends `bytes` as one binary frame, whatever they are (tests send malformed messages).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ConnectionError> {
        self.send_pending_control().await?;
        self.buf.clear();
        self.buf.extend_from_slice(bytes);
        self.write_buf(OpCode::Binary).await
    }

    /// Sends a text frame (the protocol has none; tests check the server refuses it).
    pub async fn send_text(&mut self, text: &str) -> Result<(), ConnectionError> {
        self.send_pending_control().await?;
        self.buf.clear();
        self.buf.extend_from_slice(text.as_bytes());
        self.write_buf(OpCode::Text).await
    }

    /// Sends a close frame; nothing can be sent after it. Does nothing if a close frame was
    /// already sent (ours or the echo of the server's).
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), ConnectionError> {
        if self.ws.is_closed() {
            return Ok(());
        }
        self.ws
            .write_frame(Frame::close(code, reason.as_bytes()))
            .await?;
        self.ws.flush().await?;
        Ok(())
    }

    /// True once a close frame was sent.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.ws.is_closed()
    }

    /// Waits for the reader to queue a control reply. Cancel safe, for use in `select!`;
    /// `None` once the reader is gone and the queue is empty.
    pub async fn next_control(&mut self) -> Option<Control> {
        self.control.recv().await
    }

    /// Sends a control reply from [`ConnectionWriter::next_control`].
    pub async fn send_control(&mut self, control: Control) -> Result<(), ConnectionError> {
        if self.ws.is_closed() {
            return Ok(());
        }
        let frame = if control.close {
            Frame::close_raw(Payload::Owned(control.payload))
        } else {
            Frame::pong(Payload::Owned(control.payload))
        };
        self.ws.write_frame(frame).await?;
        self.ws.flush().await?;
        Ok(())
    }

    /// Sends every queued control reply without waiting for more.
    pub async fn send_pending_control(&mut self) -> Result<(), ConnectionError> {
        while let Ok(control) = self.control.try_recv() {
            self.send_control(control).await?;
        }
        Ok(())
    }

    async fn write_buf(&mut self, opcode: OpCode) -> Result<(), ConnectionError> {
        // Masking happens in place in `buf`, which is rewritten before every send.
        let frame = Frame::new(true, opcode, None, Payload::BorrowedMut(&mut self.buf));
        self.ws.write_frame(frame).await?;
        // TLS buffers records: without a flush a small frame may sit in rustls.
        self.ws.flush().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_payloads_are_parsed() {
        assert_eq!(
            parse_close(&[0x03, 0xE8]),
            (1000, String::new()),
            "code only"
        );
        assert_eq!(
            parse_close(&[0x0F, 0xA0, b'h', b'i']),
            (4000, "hi".to_owned()),
            "code and reason"
        );
        assert_eq!(parse_close(&[]), (NO_STATUS, String::new()), "no code");
    }
}
