//! Encoding update frames.
//!
//! An encoded `ServerMsg::Update` is a header (variant tag, tick, ack, checksum) followed by the
//! delta. Clients that share a baseline and a view get the same delta, so it is encoded once as
//! a *body* and each client's frame is its own header plus a copy of those bytes.

use tickstream_shared::codec::{CodecError, encode_into};
use tickstream_shared::messages::ViewChecksum;
use tickstream_shared::{Delta, Tick};

/// `ServerMsg::Update`'s position in the enum, which bincode writes as the variant tag.
const UPDATE_TAG: u32 = 1;

/// Appends the header of an update frame.
pub fn encode_header(
    tick: Tick,
    ack_seq: u32,
    checksum: u32,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    encode_into(&(UPDATE_TAG, tick, ack_seq, ViewChecksum(checksum)), out)
}

/// Appends a delta body.
pub fn encode_body(delta: &Delta, out: &mut Vec<u8>) -> Result<(), CodecError> {
    encode_into(delta, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickstream_shared::codec::encode_server;
    use tickstream_shared::{Change, EntityId, ServerMsg, Update};

    #[test]
    fn header_plus_body_is_an_update_message() {
        let delta = Delta {
            despawns: vec![EntityId(4)],
            spawns: vec![],
            changes: vec![Change {
                id: EntityId(7),
                dx: 3,
                dy: -2,
            }],
        };
        let mut ours = Vec::new();
        encode_header(Tick(99_999), 300, 0xABCD_EF01, &mut ours).expect("encodes");
        encode_body(&delta, &mut ours).expect("encodes");
        let mut reference = Vec::new();
        let msg = ServerMsg::Update(Update {
            tick: Tick(99_999),
            ack_seq: 300,
            checksum: ViewChecksum(0xABCD_EF01),
            delta,
        });
        encode_server(&msg, &mut reference).expect("encodes");
        assert_eq!(
            ours, reference,
            "split encoding matches the message encoding"
        );
    }
}
