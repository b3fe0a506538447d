//! The one codec: bincode 2, standard configuration (little endian, varint integers), with a
//! hard limit on every decode.
//!
//! Without a limit, bincode allocates whatever a length prefix claims, so an 8-byte frame could
//! ask for tens of gigabytes. Here the frame length is checked first, and the configured limit
//! stops any length prefix that claims more than the frame could hold.

use bincode::config::{Configuration, Limit, LittleEndian, Varint};
use bincode::enc::write::Writer;
use bincode::error::EncodeError;

use crate::{ClientMsg, ServerMsg};

/// The largest client message the server accepts. Every client message is far smaller; a
/// `Join` with the longest room name is 66 bytes.
pub const MAX_CLIENT_MESSAGE: usize = 256;

/// The largest server message a client accepts (and the server ever sends): 4 MiB holds
/// every list of a delta at its cap of [`crate::delta::MAX_LIST_LEN`] entries.
pub const MAX_SERVER_MESSAGE: usize = 4 << 20;

type Config<const N: usize> = Configuration<LittleEndian, Varint, Limit<N>>;

const fn config<const N: usize>() -> Config<N> {
    bincode::config::standard().with_limit::<N>()
}

/// Why a message could not be encoded or decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    /// The frame is longer than the limit for its direction.
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooBig {
        /// The frame's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a valid message.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A valid message followed by bytes that belong to nothing.
    #[error("{0} trailing bytes after the message")]
    Trailing(usize),
    /// A message that cannot be encoded (an invariant of the caller broke).
    #[error("cannot encode: {0}")]
    Encode(String),
}

/// Bytes the protocol's varint takes for `v` (bincode's standard configuration,
/// PROTOCOL.md §5.1): for sizing frames without encoding them.
#[must_use]
pub fn varint_len(v: u64) -> u64 {
    match v {
        0..=250 => 1,
        251..=0xFFFF => 3,
        0x1_0000..=0xFFFF_FFFF => 5,
        _ => 9,
    }
}

/// Appends to a `Vec` so that encoding reuses one buffer.
struct VecWriter<'a>(&'a mut Vec<u8>);

impl Writer for VecWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// Appends any encodable value to `out` with the protocol's configuration. The server uses it
/// to write message parts (a shared delta body after a per-client header).
pub fn encode_into<T: bincode::Encode>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    bincode::encode_into_writer(value, VecWriter(out), config::<MAX_SERVER_MESSAGE>())
        .map_err(|e| CodecError::Encode(e.to_string()))
}

/// Appends the encoding of a client message to `out`.
pub fn encode_client(msg: &ClientMsg, out: &mut Vec<u8>) -> Result<(), CodecError> {
    encode_into(msg, out)
}

/// Appends the encoding of a server message to `out`.
pub fn encode_server(msg: &ServerMsg, out: &mut Vec<u8>) -> Result<(), CodecError> {
    encode_into(msg, out)
}

/// Decodes one client message from one whole frame payload.
pub fn decode_client(bytes: &[u8]) -> Result<ClientMsg, CodecError> {
    decode_exact::<ClientMsg, MAX_CLIENT_MESSAGE, { 2 * MAX_CLIENT_MESSAGE }>(bytes)
}

/// Decodes one server message from one whole frame payload.
pub fn decode_server(bytes: &[u8]) -> Result<ServerMsg, CodecError> {
    decode_exact::<ServerMsg, MAX_SERVER_MESSAGE, { 2 * MAX_SERVER_MESSAGE }>(bytes)
}

/// Decodes a frame of at most `N` bytes. bincode's limit counts what a decode claims in
/// memory, which for a frame of `N` bytes can be a little more than `N` (the enum tag and a
/// string's length are wider in memory than on the wire): `LIMIT` is twice `N`, so that every
/// frame within `N` bytes decodes, and a length prefix still cannot claim more than that.
fn decode_exact<T: bincode::Decode<()>, const N: usize, const LIMIT: usize>(
    bytes: &[u8],
) -> Result<T, CodecError> {
    if bytes.len() > N {
        return Err(CodecError::TooBig {
            len: bytes.len(),
            max: N,
        });
    }
    let (msg, used) = bincode::decode_from_slice(bytes, config::<LIMIT>())
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError::Trailing(bytes.len() - used));
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Join, Ping};

    #[test]
    fn huge_length_prefix_is_refused_without_allocating() {
        // Join (0) with a string length of 0xFD-prefixed u64::MAX: a naive decoder would try to
        // allocate it.
        let bytes = [0u8, 0xFD, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F];
        assert!(
            matches!(decode_client(&bytes), Err(CodecError::Malformed(_))),
            "a huge claimed length is an error"
        );
    }

    #[test]
    fn every_join_within_the_size_limit_decodes() {
        // Whatever the room name's length, a Join that fits the limit reaches the name check
        // (close 4002), and one that does not is too big (1009): never a decode error.
        for n in 1..=300 {
            let mut buf = Vec::new();
            let join = ClientMsg::Join(Join {
                room: "a".repeat(n),
            });
            encode_client(&join, &mut buf).expect("encodes");
            match decode_client(&buf) {
                Ok(msg) => assert_eq!(msg, join, "a {n}-byte name round-trips"),
                Err(CodecError::TooBig { .. }) => {
                    assert!(
                        buf.len() > MAX_CLIENT_MESSAGE,
                        "{n} bytes: too big only when it is"
                    )
                }
                Err(e) => panic!("a Join with a {n}-byte name ({} bytes): {e}", buf.len()),
            }
        }
    }

    #[test]
    fn oversized_frames_are_refused() {
        let bytes = vec![0u8; MAX_CLIENT_MESSAGE + 1];
        assert_eq!(
            decode_client(&bytes),
            Err(CodecError::TooBig {
                len: MAX_CLIENT_MESSAGE + 1,
                max: MAX_CLIENT_MESSAGE
            }),
            "the frame length is checked first"
        );
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut buf = Vec::new();
        encode_client(&ClientMsg::Ping(Ping { client_time: 1 }), &mut buf).expect("encodes");
        buf.push(0);
        assert_eq!(
            decode_client(&buf),
            Err(CodecError::Trailing(1)),
            "one extra byte"
        );
    }

    #[test]
    fn round_trip() {
        let msg = ClientMsg::Join(Join {
            room: "lobby".into(),
        });
        let mut buf = Vec::new();
        encode_client(&msg, &mut buf).expect("encodes");
        assert_eq!(decode_client(&buf), Ok(msg), "decodes to the same message");
    }
}
