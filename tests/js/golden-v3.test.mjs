// The JavaScript client against protocol v3's golden vectors (shared/tests/golden/vectors-v3.txt,
// pinned by the Rust test `v3_session_matches_its_golden_bytes_and_replays`; docs/PROTOCOL.md
// §15): every update of the golden session decodes to the values listed here and encodes back to
// the same bytes, and replayed in order into an empty replica every checksum verifies and the
// views, ticks and acks are those of `v3_session()` in shared/tests/golden.rs — across skipped
// ticks, a despawn, spawns, both motion forms, escapes and field differences. Also: the
// prediction examples of §15.2, and malformed bit sections refused.
//
// Run: node --test tests/js/   (the Rust test `tests/tests/web.rs` runs it in `cargo test`)

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  DesyncError,
  ProtocolError,
  Replica,
  decodeServerMsg,
  encodeServerMsg,
  predict,
  viewChecksum,
} from "../../assets/web/tickstream.js";

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const unhex = (s) => new Uint8Array(Buffer.from(s.replace(/ /g, ""), "hex"));

/** The v3 vector file: name → hex, in file order. */
function vectors() {
  const text = readFileSync(new URL("../../shared/tests/golden/vectors-v3.txt", import.meta.url), "utf8");
  return new Map(
    text
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter(([name]) => name),
  );
}

const NO_FIELDS = [0, 0, 0, 0, 0, 0, 0, 0];
const ent = (id, kind, x, y, fields = NO_FIELDS) => ({ id, kind, x, y, fields: [...fields] });
const f0 = (v) => [v, 0, 0, 0, 0, 0, 0, 0];
/** Twelve coins that never move, in view from tick 14 on (as in golden.rs). */
const coins = Array.from({ length: 12 }, (_, i) => ent(20 + i, 1, (20 + i) * 640, 640));

/** `v3_session()` of shared/tests/golden.rs: tick, ack and the view after each update. */
const SESSION = [
  { tick: 10, ack: 0, view: [ent(0, 1, 6400, 6400), ent(1, 1, 100, 200), ent(2, 0, 3200, 3200, f0(5))] },
  { tick: 11, ack: 1, view: [ent(0, 1, 6720, 6400), ent(1, 1, 100, 200), ent(2, 0, 3426, 3426, f0(5))] },
  { tick: 13, ack: 1, view: [ent(0, 1, 7360, 6400), ent(1, 1, 100, 200), ent(2, 0, 3879, 3877, f0(6))] },
  { tick: 14, ack: 3, view: [ent(0, 1, 7360, 6720), ent(2, 0, 4105, 4105, f0(6)), ent(7, 1, 640, 64000), ...coins] },
  { tick: 15, ack: 3, view: [ent(0, 1, 7360, 7040), ent(2, 0, 4332, 4331, f0(6)), ent(7, 1, 640, 64000), ...coins] },
  { tick: 18, ack: 300, view: [ent(0, 1, 7360, 7040), ent(2, 0, 5012, 5012, [0, -2, 0, 0, 0, 0, 0, 0]), ent(7, 1, 640, 64000), ...coins] },
];

const motion = (held, sparse, moves) => ({ held, sparse, moves: moves.map(([index, rx, ry]) => ({ index, rx, ry })) });
const fieldDiff = (id, mask, values) => ({ id, mask, values });

/** What each update decodes to (the motions as the Rust side builds them). */
const DECODED = {
  v3_session_1: {
    type: "Update3",
    tickGap: 10,
    ackDelta: 0,
    checksum: 0x970a7241,
    delta: { despawns: [], motion: motion(0, false, []), spawns: SESSION[0].view, fieldChanges: [] },
    events: [],
  },
  v3_session_2: {
    type: "Update3",
    tickGap: 1,
    ackDelta: 1,
    delta: { despawns: [], motion: motion(3, false, [[0, 320, 0], [2, 226, 226]]), spawns: [], fieldChanges: [] },
    events: [],
  },
  v3_session_3: {
    type: "Update3",
    tickGap: 2,
    ackDelta: 0,
    delta: { despawns: [], motion: motion(3, false, [[2, 1, -1]]), spawns: [], fieldChanges: [fieldDiff(2, 1, f0(1))] },
    events: [{ seq: 1, kind: 2, entity: 2, value: 6, text: "coin 3" }],
  },
  v3_session_4: {
    type: "Update3",
    tickGap: 1,
    ackDelta: 2,
    delta: { despawns: [1], motion: motion(2, false, [[0, -320, 320], [1, -1, 2]]), spawns: [ent(7, 1, 640, 64000), ...coins], fieldChanges: [] },
    events: [],
  },
  v3_session_5: {
    type: "Update3",
    tickGap: 1,
    ackDelta: 0,
    delta: { despawns: [], motion: motion(15, true, [[1, 1, -2]]), spawns: [], fieldChanges: [] },
    events: [],
  },
  v3_session_6: {
    type: "Update3",
    tickGap: 3,
    ackDelta: 297,
    delta: { despawns: [], motion: motion(15, true, [[0, 0, -960], [1, -1, 3]]), spawns: [], fieldChanges: [fieldDiff(2, 0b11, [-6, -2, 0, 0, 0, 0, 0, 0])] },
    events: [],
  },
};

test("the v3 vector file names exactly the session's six updates", () => {
  assert.deepEqual([...vectors().keys()], Object.keys(DECODED), "v3_session_1 … v3_session_6, in order");
});

for (const [name, expected] of Object.entries(DECODED)) {
  test(`${name}: decodes to the session's values and encodes back to the same bytes`, () => {
    const bytes = unhex(vectors().get(name));
    const msg = decodeServerMsg(bytes);
    const { checksum, ...rest } = msg;
    const want = { ...expected };
    if (want.checksum !== undefined) assert.equal(checksum, want.checksum, `${name}: the checksum`);
    delete want.checksum;
    assert.deepEqual(rest, want, `${name} decodes`);
    assert.equal(hex(encodeServerMsg(msg)), hex(bytes), `${name} re-encodes byte for byte`);
    assert.deepEqual(decodeServerMsg(bytes.slice().buffer), msg, `${name} decodes from an ArrayBuffer`);
  });
}

test("the golden v3 session replays with every checksum verified (PROTOCOL.md §15.4)", () => {
  const replica = new Replica();
  const mirror = new Replica(); // fed the v2-shaped updates apply3 returns
  for (const [i, [name, h]] of [...vectors()].entries()) {
    const msg = decodeServerMsg(unhex(h));
    const asV2 = replica.apply3(msg);
    const view = [...replica.entities.values()].sort((a, b) => a.id - b.id);
    assert.deepEqual(view, SESSION[i].view, `${name}: the view`);
    assert.equal(replica.tick, SESSION[i].tick, `${name}: the tick`);
    assert.equal(replica.ackSeq, SESSION[i].ack, `${name}: the ack`);
    assert.equal(replica.checksum, msg.checksum, `${name}: the server's checksum`);
    assert.equal(viewChecksum(view), msg.checksum, `${name}: the full checksum equals the incremental one`);
    assert.deepEqual(replica.order, view, `${name}: the id order the motion follows`);
    // What the client hands on (the "update" event, interpolation) is a v2 Update of the same
    // change: it applies to a v2 replica with the same checksum.
    assert.equal(asV2.type, "Update", `${name}: handed on as an Update`);
    assert.equal(asV2.tick, SESSION[i].tick, `${name}: with the absolute tick`);
    mirror.apply(asV2);
    assert.deepEqual([...mirror.entities.values()].sort((a, b) => a.id - b.id), view, `${name}: the v2 shape holds the same view`);
  }
});

test("a replica that missed an update is a desync, never a silent drift", () => {
  const all = [...vectors().values()].map((h) => decodeServerMsg(unhex(h)));
  const replica = new Replica();
  replica.apply3(all[0]);
  replica.apply3(all[1]);
  // Skipping update 3 leaves the replica predicting from other states.
  assert.throws(() => replica.apply3(all[3]), DesyncError, "a skipped update does not verify");
  const fresh = new Replica();
  assert.throws(() => fresh.apply3({ ...all[0], tickGap: 0 }), DesyncError, "a tick gap of 0");
  const r2 = new Replica();
  r2.apply3(all[0]);
  assert.throws(() => r2.apply3({ ...all[1], delta: { ...all[1].delta, motion: motion(2, false, []) } }), /held/, "a held count that differs");
});

test("prediction: the examples of PROTOCOL.md §15.2", () => {
  assert.equal(predict(100, 90, 1, 1), 110, "one tick after one tick");
  assert.equal(predict(100, 90, 2, 1), 120, "a skipped tick doubles the step");
  assert.equal(predict(100, 95, 1, 2), 103, "2.5 rounds to 3");
  assert.equal(predict(100, 105, 1, 2), 97, "-2.5 rounds to -3");
  assert.equal(predict(100, 93, 1, 3), 102, "7/3 rounds to 2");
  assert.equal(predict(100, 100, 5, 1), 100, "no motion stands still");
  assert.equal(predict(100, 90, 1, 0), 100, "held in one state stands still");
  assert.equal(predict(5, 20, 1, 1), 0, "clamped at 0");
  assert.equal(predict(2 ** 32 - 2, 2 ** 32 - 12, 1, 1), 2 ** 32 - 1, "clamped at the top");
  assert.equal(predict(1000, 0, 2 ** 32 - 1, 1), 1000 + 1000 * 65536, "ticks are capped at 65536");
  // The largest products: |v| < 2^32, k ≤ 2^16; exact, and rounding half away from zero.
  assert.equal(predict(2 ** 32 - 1, 0, 65535, 65534), 2 ** 32 - 1, "huge steps clamp");
  assert.equal(predict(0, 2 ** 32 - 1, 3, 2), 0, "huge negative steps clamp");
  assert.equal(predict(2 ** 31, 2 ** 31 - 3, 1, 2), 2 ** 31 + 2, "1.5 rounds to 2");
  assert.equal(predict(2 ** 31, 2 ** 31 + 3, 1, 2), 2 ** 31 - 2, "-1.5 rounds to -2");
});

test("malformed v3 bit sections are protocol errors", () => {
  // An Update3 with no despawns, one held entity (dense), the given bit section, no spawns, no
  // field changes and no events.
  const update = (tag, bits) => unhex(`04 01 00 00000000 00 ${tag} ${bits} 00 00 00`);
  assert.deepEqual(decodeServerMsg(update("02", "01 00")).delta.motion, motion(1, false, []), "a (0, 0) code");
  assert.deepEqual(decodeServerMsg(update("02", "01 80")).delta.motion, motion(1, false, [[0, 1, 0]]), "a +x step");
  const bad = {
    "non-zero padding": update("02", "01 01"),
    "a byte too many": update("02", "02 00 00"),
    "no bits for the held entity": update("02", "00"),
    "bit section past the message": update("02", "05 00"),
    "an escape cut short": update("02", "01 e0"),
    "sparse move past the held entities": update("03 01", "01 50"),
    "sparse move that moves nothing": update("03 01", "01 80"),
    "held beyond a view": update("fc 04 00 02 00", "00"),
  };
  for (const [what, bytes] of Object.entries(bad)) {
    assert.throws(() => decodeServerMsg(bytes), ProtocolError, what);
  }
});
