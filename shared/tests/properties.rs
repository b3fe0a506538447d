//! Property tests: deltas are exact, encoding round-trips, and no byte string panics a decoder.

use proptest::prelude::*;
use tickstream_shared::codec::{decode_client, decode_server, encode_server};
use tickstream_shared::delta::diff;
use tickstream_shared::messages::ViewChecksum;
use tickstream_shared::{EntityId, EntityState, Replica, ServerMsg, Tick, Update, view_checksum};

/// A view: up to 60 entities with ids below 200 (so views overlap), any kind, position and
/// game fields (mostly zero, as games leave most fields unused).
fn view() -> impl Strategy<Value = Vec<EntityState>> {
    let fields = prop::array::uniform8(prop_oneof![3 => Just(0i32), 1 => any::<i32>()]);
    prop::collection::btree_map(
        0u32..200,
        (0u8..2, any::<u32>(), any::<u32>(), fields),
        0..60,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(id, (kind, x, y, fields))| EntityState {
                id: EntityId(id),
                kind,
                x: x % 2_000_000,
                y: y % 2_000_000,
                fields,
            })
            .collect()
    })
}

/// A view and a second one in which some entities stayed, some moved a little, some left and
/// some arrived: the shape of real ticks.
fn two_views() -> impl Strategy<Value = (Vec<EntityState>, Vec<EntityState>)> {
    (
        view(),
        view(),
        prop::collection::vec(
            (
                -3000i32..3000,
                -3000i32..3000,
                0u8..4,
                0usize..8,
                any::<i32>(),
            ),
            60,
        ),
    )
        .prop_map(|(a, extra, moves)| {
            let mut b: Vec<EntityState> = Vec::new();
            for (e, (dx, dy, what, field, value)) in a.iter().zip(moves.iter().cycle()) {
                match what {
                    0 => {}
                    1 => b.push(*e),
                    2 => b.push(e.with_field(*field, *value)),
                    _ => b.push(EntityState {
                        x: e.x.saturating_add_signed(*dx),
                        y: e.y.saturating_add_signed(*dy),
                        ..*e
                    }),
                }
            }
            for e in extra {
                if !a.iter().any(|x| x.id == e.id) {
                    b.push(e);
                }
            }
            b.sort_by_key(|e| e.id);
            (a, b)
        })
}

proptest! {
    #[test]
    fn applying_the_delta_from_a_to_b_gives_b((a, b) in two_views()) {
        let mut r = Replica::new();
        let first = Update { tick: Tick(1), ack_seq: 0, checksum: ViewChecksum(view_checksum(&a)), delta: diff(&[], &a), events: vec![] };
        r.apply(&first).expect("the first view applies");
        prop_assert_eq!(r.entities(), &a[..]);
        let second = Update { tick: Tick(2), ack_seq: 3, checksum: ViewChecksum(view_checksum(&b)), delta: diff(&a, &b), events: vec![] };
        // Through the wire, to cover the encoding as well.
        let mut buf = Vec::new();
        encode_server(&ServerMsg::Update(second), &mut buf).expect("encodes");
        let ServerMsg::Update(decoded) = decode_server(&buf).expect("decodes") else {
            panic!("an update decodes as an update");
        };
        r.apply(&decoded).expect("the delta applies with a matching checksum");
        prop_assert_eq!(r.entities(), &b[..]);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode_client(&bytes);
        let _ = decode_server(&bytes);
    }

    #[test]
    fn decoding_mutated_valid_updates_never_panics((a, b) in two_views(), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let u = Update { tick: Tick(9), ack_seq: 1, checksum: ViewChecksum(0), delta: diff(&a, &b), events: vec![] };
        let mut buf = Vec::new();
        encode_server(&ServerMsg::Update(u), &mut buf).expect("encodes");
        for (at, byte) in flips {
            let i = at % buf.len();
            buf[i] ^= byte;
        }
        let _ = decode_server(&buf);
    }
}
