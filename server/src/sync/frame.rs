//! Encoding update frames.
//!
//! An encoded `ServerMsg::Update` is a header (variant tag, tick, ack, checksum), the delta and
//! the client's events. Clients that share a baseline and a view get the same delta, so it is
//! encoded once as a *body* and each client's frame is its own header, a copy of those bytes,
//! and its own events (usually none: one byte).

use tickstream_shared::codec::{CodecError, encode_into};
use tickstream_shared::delta3::encode_delta3_into;
use tickstream_shared::messages::ViewChecksum;
use tickstream_shared::{Delta, Delta3, GameEvent, Tick};

/// `ServerMsg::Update`'s position in the enum, which bincode writes as the variant tag.
const UPDATE_TAG: u32 = 1;
/// `ServerMsg::Update3`'s position in the enum.
const UPDATE3_TAG: u32 = 4;

/// Appends the header of an update frame.
pub fn encode_header(
    tick: Tick,
    ack_seq: u32,
    checksum: u32,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    encode_into(&(UPDATE_TAG, tick, ack_seq, ViewChecksum(checksum)), out)
}

/// Appends the header of a v3 update frame.
pub fn encode_header3(
    tick_gap: u32,
    ack_delta: u32,
    checksum: u32,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    encode_into(
        &(UPDATE3_TAG, tick_gap, ack_delta, ViewChecksum(checksum)),
        out,
    )
}

/// Appends a v3 delta body (the bytes of its `Encode`, written by a faster path).
pub fn encode_body3(delta: &Delta3, out: &mut Vec<u8>) -> Result<(), CodecError> {
    encode_delta3_into(delta, out)
}

/// Appends a delta body.
pub fn encode_body(delta: &Delta, out: &mut Vec<u8>) -> Result<(), CodecError> {
    encode_into(delta, out)
}

/// Appends the events that end an update frame.
pub fn encode_events(events: &[GameEvent], out: &mut Vec<u8>) -> Result<(), CodecError> {
    encode_into(&events, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickstream_shared::codec::encode_server;
    use tickstream_shared::{Change, EntityId, ServerMsg, Update};
    use tickstream_shared::{FieldChange, GameEvent};

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
            field_changes: vec![FieldChange {
                id: EntityId(8),
                mask: 0b100,
                values: [0, 0, -9, 0, 0, 0, 0, 0],
            }],
        };
        let events = vec![GameEvent {
            seq: 4,
            kind: 1,
            entity: EntityId(7),
            value: -3,
            text: "x".into(),
        }];
        let mut ours = Vec::new();
        encode_header(Tick(99_999), 300, 0xABCD_EF01, &mut ours).expect("encodes");
        encode_body(&delta, &mut ours).expect("encodes");
        encode_events(&events, &mut ours).expect("encodes");
        let mut reference = Vec::new();
        let msg = ServerMsg::Update(Update {
            tick: Tick(99_999),
            ack_seq: 300,
            checksum: ViewChecksum(0xABCD_EF01),
            delta,
            events,
        });
        encode_server(&msg, &mut reference).expect("encodes");
        assert_eq!(
            ours, reference,
            "split encoding matches the message encoding"
        );
    }
}
