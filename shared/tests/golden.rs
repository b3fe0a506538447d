//! Golden byte vectors: one per message kind and per change form, pinned in
//! `tests/golden/vectors.txt` (`name hex` per line), which `docs/PROTOCOL.md` walks through and
//! any other client can check itself against. A change of the wire format fails here; after a
//! deliberate change, regenerate with `TICKSTREAM_BLESS=1 cargo test -p tickstream-shared
//! --test golden` and update the protocol document and every client in the same change.

use std::collections::BTreeMap;

use tickstream_shared::codec::{decode_client, decode_server, encode_client, encode_server};
use tickstream_shared::messages::ViewChecksum;
use tickstream_shared::{
    Change, ClientMsg, Delta, EntityId, EntityState, ErrorMsg, FieldChange, FieldSpec, GameEvent,
    Input, Join, Ping, Pong, Resume, ServerMsg, Tick, Update, Welcome,
};

const VECTORS: &str = "tests/golden/vectors.txt";

fn client_samples() -> Vec<(&'static str, ClientMsg)> {
    vec![
        (
            "client_join",
            ClientMsg::Join(Join {
                room: "lobby".into(),
            }),
        ),
        (
            "client_input",
            ClientMsg::Input(Input {
                seq: 300,
                dx: 1.0,
                dy: -0.5,
                buttons: 1,
            }),
        ),
        (
            "client_ping",
            ClientMsg::Ping(Ping {
                client_time: 1_000_000,
            }),
        ),
        (
            "client_resume",
            ClientMsg::Resume(Resume {
                room: "lobby".into(),
                token: "00112233445566778899aabbccddeeff".into(),
                last_event_seq: 300,
            }),
        ),
    ]
}

fn server_samples() -> Vec<(&'static str, ServerMsg)> {
    let spawn = |id, kind, x, y| EntityState::new(EntityId(id), kind, x, y);
    let change = |id, dx, dy| Change {
        id: EntityId(id),
        dx,
        dy,
    };
    vec![
        (
            "server_welcome",
            ServerMsg::Welcome(Welcome {
                protocol: 2,
                entity: EntityId(500),
                tick_rate_hz: 30,
                tick: Tick(42),
                world_width: 1000.0,
                world_height: 1000.0,
                view_radius: 150.0,
                game: "coins".into(),
                kinds: vec!["player".into(), "coin".into()],
                fields: vec![
                    FieldSpec {
                        name: "score".into(),
                        scale: 1.0,
                    },
                    FieldSpec {
                        name: "rotation".into(),
                        scale: std::f32::consts::TAU / 65536.0,
                    },
                ],
                event_kinds: vec!["joined".into(), "left".into(), "collected".into()],
                resume_token: "00112233445566778899aabbccddeeff".into(),
                resumed: false,
            }),
        ),
        (
            "server_update_first",
            ServerMsg::Update(Update {
                tick: Tick(1),
                ack_seq: 0,
                checksum: ViewChecksum(0xDEAD_BEEF),
                delta: Delta {
                    despawns: vec![],
                    spawns: vec![
                        spawn(0, 1, 64_000, 0),
                        spawn(1, 1, 100, 200),
                        spawn(500, 0, 6400, 6400),
                    ],
                    changes: vec![],
                    field_changes: vec![],
                },
                events: vec![],
            }),
        ),
        (
            "server_update_delta",
            ServerMsg::Update(Update {
                tick: Tick(70_000),
                ack_seq: 255,
                checksum: ViewChecksum(7),
                delta: Delta {
                    despawns: vec![EntityId(3), EntityId(9)],
                    spawns: vec![spawn(12, 1, 320, 640)],
                    changes: vec![
                        change(0, 320, -320), // form 0: both fit 12 bits
                        change(1, -5, 0),     // form 1: x only
                        change(2, 0, 2047),   // form 2: y only
                        change(4, 3000, 1),   // form 3: wide
                    ],
                    field_changes: vec![],
                },
                events: vec![],
            }),
        ),
        (
            "server_update_fields_events",
            ServerMsg::Update(Update {
                tick: Tick(100),
                ack_seq: 7,
                checksum: ViewChecksum(0x0102_0304),
                delta: Delta {
                    despawns: vec![],
                    spawns: vec![spawn(3, 1, 640, 640).with_field(0, 5).with_field(1, -1)],
                    changes: vec![],
                    field_changes: vec![FieldChange {
                        id: EntityId(20),
                        mask: 0b10,
                        values: [0, 16384, 0, 0, 0, 0, 0, 0],
                    }],
                },
                events: vec![GameEvent {
                    seq: 1,
                    kind: 2,
                    entity: EntityId(3),
                    value: 10,
                    text: "hi".into(),
                }],
            }),
        ),
        (
            "server_pong",
            ServerMsg::Pong(Pong {
                client_time: 1_000_000,
                server_tick: Tick(42),
            }),
        ),
        (
            "server_error",
            ServerMsg::Error(ErrorMsg {
                code: 4000,
                reason: "too slow".into(),
            }),
        ),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("vector file holds hex"))
        .collect()
}

fn encoded() -> BTreeMap<&'static str, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (name, msg) in client_samples() {
        let mut buf = Vec::new();
        encode_client(&msg, &mut buf).expect("sample encodes");
        out.insert(name, buf);
    }
    for (name, msg) in server_samples() {
        let mut buf = Vec::new();
        encode_server(&msg, &mut buf).expect("sample encodes");
        out.insert(name, buf);
    }
    out
}

#[test]
fn every_message_matches_its_golden_bytes() {
    let ours = encoded();
    if std::env::var_os("TICKSTREAM_BLESS").is_some() {
        let text: String = ours
            .iter()
            .map(|(name, bytes)| format!("{name} {}\n", hex(bytes)))
            .collect();
        std::fs::write(VECTORS, text).expect("vector file is writable");
    }
    let text = std::fs::read_to_string(VECTORS).expect("vector file exists");
    let golden: BTreeMap<&str, Vec<u8>> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(name, h)| (name, unhex(h.trim())))
        .collect();
    assert_eq!(
        golden.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>(),
        "the vector file names exactly the sample messages"
    );
    for (name, bytes) in &ours {
        assert_eq!(
            hex(bytes),
            hex(&golden[name]),
            "{name}: encoding differs from the golden vector (wire format changed?)"
        );
    }
}

#[test]
fn golden_bytes_decode_to_the_samples() {
    let ours = encoded();
    for (name, msg) in client_samples() {
        assert_eq!(decode_client(&ours[name]), Ok(msg), "{name} decodes back");
    }
    for (name, msg) in server_samples() {
        assert_eq!(decode_server(&ours[name]), Ok(msg), "{name} decodes back");
    }
}
