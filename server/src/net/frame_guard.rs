//! A read-side check of RFC 6455 rules that fastwebsockets 0.10 leaves to the application.
//!
//! fastwebsockets unmasks client frames when they carry a mask but accepts unmasked ones, and
//! only limits the payload of pings among the control frames. [`FrameGuard`] follows the frame
//! headers in the byte stream as it is read and records the first violation: a client frame
//! without a mask, or a control frame (close, ping, pong) with more than 125 bytes of payload.
//! The session checks [`Violations::get`] after each frame and closes with 1002.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// A broken framing rule, as the session reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// A client frame without a masking key (RFC 6455 §5.1).
    Unmasked,
    /// A control frame with more than 125 bytes of payload (RFC 6455 §5.5).
    ControlTooBig,
}

impl Violation {
    /// Why the connection is closed, for the close frame.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Self::Unmasked => "client frames must be masked",
            Self::ControlTooBig => "control frame payload over 125 bytes",
        }
    }
}

/// The first violation seen on a connection, shared between the guard and the session.
#[derive(Debug, Default)]
pub struct Violations(AtomicU8);

impl Violations {
    fn record(&self, v: Violation) {
        let code = match v {
            Violation::Unmasked => 1,
            Violation::ControlTooBig => 2,
        };
        let _ = self
            .0
            .compare_exchange(0, code, Ordering::Release, Ordering::Relaxed);
    }

    /// The first violation, if any.
    #[must_use]
    pub fn get(&self) -> Option<Violation> {
        match self.0.load(Ordering::Acquire) {
            1 => Some(Violation::Unmasked),
            2 => Some(Violation::ControlTooBig),
            _ => None,
        }
    }
}

/// Where the scanner is in the frame stream.
#[derive(Debug, Clone, Copy)]
enum Scan {
    /// Collecting a frame header: `have` bytes of `need` so far.
    Header {
        head: [u8; 14],
        have: usize,
        need: usize,
    },
    /// Skipping `left` payload bytes.
    Payload { left: u64 },
}

/// Wraps the read half of a client connection and checks frame headers as bytes pass.
#[derive(Debug)]
pub struct FrameGuard<R> {
    inner: R,
    scan: Scan,
    violations: Arc<Violations>,
}

impl<R> FrameGuard<R> {
    /// Guards `inner`, recording violations in `violations`.
    pub fn new(inner: R, violations: Arc<Violations>) -> Self {
        Self {
            inner,
            scan: Scan::Header {
                head: [0; 14],
                have: 0,
                need: 2,
            },
            violations,
        }
    }

    /// Follows the frame headers through `bytes`, the next bytes read from the connection
    /// (public for the fuzz target; [`AsyncRead`] calls it for every read).
    pub fn observe(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.scan {
                Scan::Payload { left } => {
                    let n = (*left).min(bytes.len() as u64) as usize;
                    *left -= n as u64;
                    bytes = &bytes[n..];
                    if *left == 0 {
                        self.scan = Scan::Header {
                            head: [0; 14],
                            have: 0,
                            need: 2,
                        };
                    }
                }
                Scan::Header { head, have, need } => {
                    let n = (*need - *have).min(bytes.len());
                    head[*have..*have + n].copy_from_slice(&bytes[..n]);
                    *have += n;
                    bytes = &bytes[n..];
                    if *have < *need {
                        continue;
                    }
                    let (opcode, masked, code) =
                        (head[0] & 0x0F, head[1] & 0x80 != 0, head[1] & 0x7F);
                    let ext = match code {
                        126 => 2,
                        127 => 8,
                        _ => 0,
                    };
                    let full = 2 + ext + if masked { 4 } else { 0 };
                    if *need < full {
                        *need = full;
                        continue;
                    }
                    if !masked {
                        self.violations.record(Violation::Unmasked);
                    }
                    let len = match ext {
                        2 => u64::from(u16::from_be_bytes([head[2], head[3]])),
                        8 => u64::from_be_bytes([
                            head[2], head[3], head[4], head[5], head[6], head[7], head[8], head[9],
                        ]),
                        _ => u64::from(code),
                    };
                    if opcode >= 8 && len > 125 {
                        self.violations.record(Violation::ControlTooBig);
                    }
                    self.scan = if len == 0 {
                        Scan::Header {
                            head: [0; 14],
                            have: 0,
                            need: 2,
                        }
                    } else {
                        Scan::Payload { left: len }
                    };
                }
            }
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for FrameGuard<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let this = &mut *self;
            this.observe(&buf.filled()[before..]);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(chunks: &[&[u8]]) -> Option<Violation> {
        let v = Arc::new(Violations::default());
        let mut g = FrameGuard::new((), Arc::clone(&v));
        for c in chunks {
            g.observe(c);
        }
        v.get()
    }

    /// A masked binary frame with `len` payload bytes (mask key zero).
    fn masked(opcode: u8, len: usize) -> Vec<u8> {
        let mut f = vec![0x80 | opcode];
        match len {
            0..=125 => f.push(0x80 | len as u8),
            126..=65535 => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&[0; 4]);
        f.extend(std::iter::repeat_n(7u8, len));
        f
    }

    #[test]
    fn masked_frames_pass_in_any_chunking() {
        let stream: Vec<u8> = [
            masked(2, 3),
            masked(2, 300),
            masked(9, 0),
            masked(2, 70_000),
        ]
        .concat();
        assert_eq!(scan(&[&stream]), None, "one chunk");
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(scan(&bytes), None, "byte by byte");
        let bytes: Vec<&[u8]> = stream.chunks(7).collect();
        assert_eq!(scan(&bytes), None, "odd chunks");
    }

    #[test]
    fn unmasked_and_oversized_control_frames_are_caught() {
        let unmasked = [0x82u8, 0x03, 1, 2, 3];
        let stream = [masked(2, 10), unmasked.to_vec()].concat();
        assert_eq!(
            scan(&[&stream]),
            Some(Violation::Unmasked),
            "after a good frame"
        );
        assert_eq!(
            scan(&[&masked(0x9, 126)]),
            Some(Violation::ControlTooBig),
            "a big ping"
        );
        assert_eq!(
            scan(&[&masked(0x8, 200)]),
            Some(Violation::ControlTooBig),
            "a big close"
        );
        assert_eq!(scan(&[&masked(0xA, 125)]), None, "125 bytes is allowed");
    }
}
