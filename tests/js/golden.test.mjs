// The JavaScript client against the golden vectors that pin the Rust side's bytes
// (shared/tests/golden/vectors.txt; docs/PROTOCOL.md §9, §10): every server vector decodes to
// the listed values and encodes back to the same bytes, every client vector encodes from its
// values byte for byte, the consistent sequence (game fields, field changes and events
// included) applies with matching checksums, and the edge vector decodes.
//
// Run: node --test tests/js/   (the Rust test `tests/tests/web.rs` runs it in `cargo test`)

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  Replica,
  decodeClientMsg,
  decodeServerMsg,
  encodeClientMsg,
  encodeInput,
  encodeJoin,
  encodePing,
  encodeResume,
  encodeServerMsg,
  entityHash,
  fmix32,
  namedFields,
  scaleField,
  viewChecksum,
} from "../../assets/web/tickstream.js";

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const unhex = (s) => new Uint8Array(Buffer.from(s, "hex"));

/** The vector file, the one the Rust golden test pins: name → bytes. */
function vectors() {
  const text = readFileSync(new URL("../../shared/tests/golden/vectors.txt", import.meta.url), "utf8");
  const out = new Map();
  for (const line of text.split("\n")) {
    const [name, h] = line.trim().split(/\s+/);
    if (name) out.set(name, unhex(h));
  }
  return out;
}

const NO_FIELDS = [0, 0, 0, 0, 0, 0, 0, 0];
/** A spawn as decoded: the fields are always all eight, 0 where unused. */
const spawn = (id, kind, x, y, fields = NO_FIELDS) => ({ id, kind, x, y, fields: [...fields] });
const change = (id, dx, dy, form) => ({ id, dx, dy, form });
const fieldChange = (id, mask, values) => ({ id, mask, values: [...values] });
const event = (seq, kind, entity, value, text) => ({ seq, kind, entity, value, text });
const delta = (d) => ({ despawns: [], spawns: [], changes: [], fieldChanges: [], ...d });

/** PROTOCOL.md §10.1: what each vector decodes to. */
const CLIENT = {
  client_join: { type: "Join", room: "lobby" },
  client_input: { type: "Input", seq: 300, dx: 1.0, dy: -0.5, buttons: 1 },
  client_ping: { type: "Ping", clientTime: 1000000 },
  client_resume: { type: "Resume", room: "lobby", token: "00112233445566778899aabbccddeeff", lastEventSeq: 300 },
};

/** 2π/65536 as an f32: the scale of a 16-bit angle. */
const ANGLE_SCALE = Math.fround((2 * Math.PI) / 65536);

const SERVER = {
  server_welcome: {
    type: "Welcome",
    protocol: 2,
    entity: 500,
    tickRateHz: 30,
    tick: 42,
    worldWidth: 1000,
    worldHeight: 1000,
    viewRadius: 150,
    game: "coins",
    kinds: ["player", "coin"],
    fields: [
      { name: "score", scale: 1 },
      { name: "rotation", scale: ANGLE_SCALE },
    ],
    eventKinds: ["joined", "left", "collected"],
    resumeToken: "00112233445566778899aabbccddeeff",
    resumed: false,
    moveRule: null,
  },
  server_welcome_arena: {
    type: "Welcome",
    protocol: 2,
    entity: 500,
    tickRateHz: 30,
    tick: 0,
    worldWidth: 1000,
    worldHeight: 1000,
    viewRadius: 150,
    game: "arena",
    kinds: ["player", "npc"],
    fields: [],
    eventKinds: ["joined", "left"],
    resumeToken: "9f86d081884c7d659a2feaa0c55ad015",
    resumed: false,
    moveRule: null,
  },
  server_update_first: {
    type: "Update",
    tick: 1,
    ackSeq: 0,
    checksum: 0xdeadbeef,
    delta: delta({ spawns: [spawn(0, 1, 64000, 0), spawn(1, 1, 100, 200), spawn(500, 0, 6400, 6400)] }),
    events: [],
  },
  server_update_delta: {
    type: "Update",
    tick: 70000,
    ackSeq: 255,
    checksum: 7,
    delta: delta({
      despawns: [3, 9],
      spawns: [spawn(12, 1, 320, 640)],
      changes: [change(0, 320, -320, 0), change(1, -5, 0, 1), change(2, 0, 2047, 2), change(4, 3000, 1, 3)],
    }),
    events: [],
  },
  server_update_fields_events: {
    type: "Update",
    tick: 100,
    ackSeq: 7,
    checksum: 0x01020304,
    delta: delta({
      spawns: [spawn(3, 1, 640, 640, [5, -1, 0, 0, 0, 0, 0, 0])],
      fieldChanges: [fieldChange(20, 0b10, [0, 16384, 0, 0, 0, 0, 0, 0])],
    }),
    events: [event(1, 2, 3, 10, "hi")],
  },
  server_pong: { type: "Pong", clientTime: 1000000, serverTick: 42 },
  server_error: { type: "Error", code: 4000, reason: "too slow" },
};

test("the vector file names exactly the messages this test knows", () => {
  const names = [...vectors().keys()].sort();
  assert.deepEqual(names, [...Object.keys(CLIENT), ...Object.keys(SERVER)].sort(), "every vector is checked below, and no more");
});

for (const [name, expected] of Object.entries(SERVER)) {
  test(`${name}: decodes to the documented values and encodes back to the same bytes`, () => {
    const bytes = vectors().get(name);
    const msg = decodeServerMsg(bytes);
    assert.deepEqual(msg, expected, `${name} decodes`);
    assert.equal(hex(encodeServerMsg(msg)), hex(bytes), `${name} re-encodes byte for byte`);
    // An ArrayBuffer (what a browser WebSocket delivers) decodes the same.
    const copy = bytes.slice().buffer;
    assert.deepEqual(decodeServerMsg(copy), expected, `${name} decodes from an ArrayBuffer`);
  });
}

for (const [name, msg] of Object.entries(CLIENT)) {
  test(`${name}: encodes byte for byte and decodes back`, () => {
    const bytes = vectors().get(name);
    assert.equal(hex(encodeClientMsg(msg)), hex(bytes), `${name} encodes`);
    assert.deepEqual(decodeClientMsg(bytes), msg, `${name} decodes back`);
  });
}

test("the positional encoders give the same bytes as the vectors", () => {
  const v = vectors();
  assert.equal(hex(encodeJoin("lobby")), hex(v.get("client_join")), "encodeJoin");
  assert.equal(hex(encodeInput(300, 1.0, -0.5, 1)), hex(v.get("client_input")), "encodeInput");
  assert.equal(hex(encodePing(1000000)), hex(v.get("client_ping")), "encodePing");
  assert.equal(
    hex(encodeResume("lobby", "00112233445566778899aabbccddeeff", 300)),
    hex(v.get("client_resume")),
    "encodeResume",
  );
  assert.equal(hex(encodePing(1000000n)), hex(v.get("client_ping")), "a BigInt client_time");
});

test("varints take the shortest form at every boundary (PROTOCOL.md §5.1)", () => {
  const ping = (t) => hex(encodePing(t)).slice(2);
  const cases = [
    [5, "05"],
    [250, "fa"],
    [251, "fbfb00"],
    [300, "fb2c01"],
    [65535, "fbffff"],
    [65536, "fc00000100"],
    [2 ** 32 - 1, "fcffffffff"],
    [2 ** 32, "fd0000000001000000"],
    [2n ** 64n - 1n, "fdffffffffffffffff"],
  ];
  for (const [t, want] of cases) assert.equal(ping(t), want, `varint of ${t}`);
  assert.equal(decodeClientMsg(unhex("02fd0000000001000000")).clientTime, 2 ** 32, "a 9-byte varint decodes");
});

test("checksum check values (PROTOCOL.md §9)", () => {
  assert.equal(fmix32(0), 0, "fmix32(0)");
  assert.equal(fmix32(1), 0x514e28b7, "fmix32(1)");
  assert.equal(entityHash(7, 1, 100, 200), 0xb9abd0bc, "hash without fields");
  assert.equal(entityHash(7, 1, 100, 200, NO_FIELDS), 0xb9abd0bc, "all-zero fields hash as no fields");
  assert.equal(entityHash(7, 1, 100, 200, [5, 0, 0, -1, 0, 0, 0, 0]), 0x6cfb17a4, "the pinned hash with fields");
  assert.notEqual(
    entityHash(7, 1, 100, 200, [5, 0, 0, 0, 0, 0, 0, 0]),
    entityHash(7, 1, 100, 200, [0, 5, 0, 0, 0, 0, 0, 0]),
    "the same value in another field hashes differently",
  );
  assert.equal(entityHash(0, 1, 64000, 0), 0x7ac33406, "hash of entity 0");
  assert.equal(entityHash(1, 1, 100, 200), 0x588567a7, "hash of entity 1");
  assert.equal(entityHash(500, 0, 6400, 6400), 0x782f78c7, "hash of entity 500");
  const three = [spawn(0, 1, 64000, 0), spawn(1, 1, 100, 200), spawn(500, 0, 6400, 6400)];
  assert.equal(viewChecksum(three), 0x4b781474, "checksum of the three");
  assert.equal(viewChecksum([]), 0, "checksum of nothing");
});

test("game fields scale by their FieldSpec", () => {
  const { fields } = SERVER.server_welcome;
  assert.equal(scaleField(7, fields[0]), 7, "a score of scale 1 is itself");
  assert.ok(Math.abs(scaleField(16384, fields[1]) - Math.PI / 2) < 1e-6, "16384 of 65536 is a quarter turn");
  assert.equal(scaleField(9, undefined), 9, "a field the game does not describe stays raw");
  const named = namedFields([3, 32768, 0, 0, 0, 0, 0, 0], fields);
  assert.deepEqual(Object.keys(named), ["score", "rotation"], "one entry per described field");
  assert.equal(named.score, 3, "score by name");
  assert.ok(Math.abs(named.rotation - Math.PI) < 1e-6, `rotation by name: ${named.rotation}`);
});

test("the consistent sequence applies with matching checksums (PROTOCOL.md §10.2)", () => {
  // Produced by the reference implementation (diff, view_checksum, encode_server).
  const seq = [
    "0101007414784b00030001fb00fa0000000164c800fbf20100fb0019fb001900000000",
    "010301ab421cc20101010701fb4001fb8002000200c00e14fbcd0740010000",
    "010402ab421cc20000000000",
    "010502b1e8782700010801fb8002fb8002090a010001fbf4010106010102fbf4010600",
    "01060398d07380000001fbd207400102080800fbeb010300fb0080020202fbf401000003000800026869",
  ];
  const base = [spawn(0, 1, 63680, 320), spawn(7, 1, 320, 640)];
  const views = [
    [spawn(0, 1, 64000, 0), spawn(1, 1, 100, 200), spawn(500, 0, 6400, 6400)],
    [...base, spawn(500, 0, 6720, 6400)],
    [...base, spawn(500, 0, 6720, 6400)],
    [...base, spawn(8, 1, 640, 640, [5, 0, 0, -1, 0, 0, 0, 0]), spawn(500, 0, 6720, 6400, [3, 0, 0, 0, 0, 0, 0, 0])],
    [...base, spawn(8, 1, 640, 640, [5, 0, 0, 0, 0, 0, 0, 0]), spawn(500, 0, 6720, 6720, [0, 16384, 0, 0, 0, 0, 0, 0])],
  ];
  const events = [[], [], [], [event(1, 2, 500, 3, "")], [event(2, 2, 500, 0, ""), event(3, 0, 8, 0, "hi")]];
  const checksums = [0x4b781474, 0xc21c42ab, 0xc21c42ab, 0x2778e8b1, 0x8073d098];
  const replica = new Replica();
  seq.forEach((h, i) => {
    const u = decodeServerMsg(unhex(h));
    assert.equal(u.checksum, checksums[i], `update ${i + 1} carries the documented checksum`);
    replica.apply(u);
    const view = [...replica.entities.values()].sort((a, b) => a.id - b.id);
    assert.deepEqual(view, views[i], `view after update ${i + 1}`);
    assert.equal(replica.checksum, viewChecksum(view), "incremental checksum equals the full one");
    assert.deepEqual(u.events, events[i], `events of update ${i + 1}`);
    assert.equal(hex(encodeServerMsg(u)), h, `update ${i + 1} re-encodes byte for byte`);
  });
  assert.equal(replica.tick, 6, "the last tick");
  assert.equal(replica.ackSeq, 3, "the last ack_seq");
});

test("the edge vector decodes (PROTOCOL.md §10.3)", () => {
  const h =
    "01fcfffffffffcffffffff0403020101fcffffffff01fcffffffff00fcffffffff00fffcfffffffffcfeffffff0102fafbfc00fcffff0100fcfeff0100" +
    "031400f87ffde89facb90300000001f0fffcfb5f5346fcfffffffffcfeffffff" +
    "0205800efcf9ffffff01fcffffffff" +
    "01fcfffffffffbfffffcfffffffffcffffffff05c3a9e282ac";
  const u = decodeServerMsg(unhex(h));
  const MIN = -2147483648;
  const MAX = 2147483647;
  assert.deepEqual(u, {
    type: "Update",
    tick: 4294967295,
    ackSeq: 4294967295,
    checksum: 0x01020304,
    delta: {
      despawns: [4294967295],
      spawns: [spawn(4294967295, 0, 4294967295, 0, [MIN, MAX, -1, 1, 125, 126, -65536, 65535])],
      changes: [change(5, -2048, 2047, 0), change(4000000000, 1, -1, 0), change(4294967295, MIN, MAX, 3)],
      fieldChanges: [fieldChange(5, 0x80, [0, 0, 0, 0, 0, 0, 0, 7]), fieldChange(4294967295, 1, [MIN, 0, 0, 0, 0, 0, 0, 0])],
    },
    events: [event(4294967295, 65535, 4294967295, MIN, "é€")],
  }, "every extreme value decodes");
  assert.equal(hex(encodeServerMsg(u)), h, "and re-encodes byte for byte");
});
