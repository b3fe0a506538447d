// The JavaScript client against the golden vectors that pin the Rust side's bytes
// (shared/tests/golden/vectors.txt; docs/PROTOCOL.md §9, §10): every server vector decodes to
// the listed values and encodes back to the same bytes, every client vector encodes from its
// values byte for byte, the consistent sequence applies with matching checksums, and the
// edge vector decodes.
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
  encodeServerMsg,
  entityHash,
  fmix32,
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

const spawn = (id, kind, x, y) => ({ id, kind, x, y });
const change = (id, dx, dy, form) => ({ id, dx, dy, form });

/** PROTOCOL.md §10.1: what each vector decodes to. */
const CLIENT = {
  client_join: { type: "Join", room: "lobby" },
  client_input: { type: "Input", seq: 300, dx: 1.0, dy: -0.5, buttons: 1 },
  client_ping: { type: "Ping", clientTime: 1000000 },
};

const SERVER = {
  server_welcome: {
    type: "Welcome",
    protocol: 1,
    entity: 500,
    tickRateHz: 30,
    tick: 42,
    worldWidth: 1000,
    worldHeight: 1000,
    viewRadius: 150,
  },
  server_update_first: {
    type: "Update",
    tick: 1,
    ackSeq: 0,
    checksum: 0xdeadbeef,
    delta: {
      despawns: [],
      spawns: [spawn(0, 1, 64000, 0), spawn(1, 1, 100, 200), spawn(500, 0, 6400, 6400)],
      changes: [],
    },
  },
  server_update_delta: {
    type: "Update",
    tick: 70000,
    ackSeq: 255,
    checksum: 7,
    delta: {
      despawns: [3, 9],
      spawns: [spawn(12, 1, 320, 640)],
      changes: [change(0, 320, -320, 0), change(1, -5, 0, 1), change(2, 0, 2047, 2), change(4, 3000, 1, 3)],
    },
  },
  server_pong: { type: "Pong", clientTime: 1000000, serverTick: 42 },
  server_error: { type: "Error", code: 4000, reason: "too slow" },
};

test("the vector file names exactly the messages this test knows", () => {
  const names = [...vectors().keys()].sort();
  assert.deepEqual(names, [...Object.keys(CLIENT), ...Object.keys(SERVER)].sort());
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
  assert.equal(hex(encodeJoin("lobby")), hex(v.get("client_join")));
  assert.equal(hex(encodeInput(300, 1.0, -0.5, 1)), hex(v.get("client_input")));
  assert.equal(hex(encodePing(1000000)), hex(v.get("client_ping")));
  assert.equal(hex(encodePing(1000000n)), hex(v.get("client_ping")), "a BigInt client_time");
});

test("varints take the shortest form at every boundary (PROTOCOL.md §5.1)", () => {
  const ping = (t) => hex(encodePing(t)).slice(2);
  assert.equal(ping(5), "05");
  assert.equal(ping(250), "fa");
  assert.equal(ping(251), "fbfb00");
  assert.equal(ping(300), "fb2c01");
  assert.equal(ping(65535), "fbffff");
  assert.equal(ping(65536), "fc00000100");
  assert.equal(ping(2 ** 32 - 1), "fcffffffff");
  assert.equal(ping(2 ** 32), "fd0000000001000000");
  assert.equal(ping(2n ** 64n - 1n), "fdffffffffffffffff");
  assert.equal(decodeClientMsg(unhex("02fd0000000001000000")).clientTime, 2 ** 32);
});

test("checksum check values (PROTOCOL.md §9)", () => {
  assert.equal(fmix32(0), 0);
  assert.equal(fmix32(1), 0x514e28b7);
  assert.equal(entityHash(7, 1, 100, 200), 0xb9abd0bc);
  assert.equal(entityHash(0, 1, 64000, 0), 0x7ac33406);
  assert.equal(entityHash(1, 1, 100, 200), 0x588567a7);
  assert.equal(entityHash(500, 0, 6400, 6400), 0x782f78c7);
  const three = [spawn(0, 1, 64000, 0), spawn(1, 1, 100, 200), spawn(500, 0, 6400, 6400)];
  assert.equal(viewChecksum(three), 0x4b781474);
  assert.equal(viewChecksum([]), 0);
});

test("the consistent sequence applies with matching checksums (PROTOCOL.md §10.2)", () => {
  const seq = [
    "0101007414784b00030001fb00fa00000164c8fbf20100fb0019fb001900",
    "010301ab421cc20101010701fb4001fb80020200c00e14fbcd074001",
    "010402ab421cc2000000",
  ];
  const views = [
    [spawn(0, 1, 64000, 0), spawn(1, 1, 100, 200), spawn(500, 0, 6400, 6400)],
    [spawn(0, 1, 63680, 320), spawn(7, 1, 320, 640), spawn(500, 0, 6720, 6400)],
    [spawn(0, 1, 63680, 320), spawn(7, 1, 320, 640), spawn(500, 0, 6720, 6400)],
  ];
  const replica = new Replica();
  seq.forEach((h, i) => {
    const u = decodeServerMsg(unhex(h));
    replica.apply(u);
    const view = [...replica.entities.values()].sort((a, b) => a.id - b.id);
    assert.deepEqual(view, views[i], `view after update ${i + 1}`);
    assert.equal(replica.checksum, viewChecksum(view), "incremental checksum equals the full one");
    assert.equal(hex(encodeServerMsg(u)), h, `update ${i + 1} re-encodes byte for byte`);
  });
  assert.equal(replica.tick, 4);
  assert.equal(replica.ackSeq, 2);
});

test("the edge vector decodes (PROTOCOL.md §10.3)", () => {
  const h =
    "01fcfffffffffcffffffff0403020101fcffffffff01fcffffffff00fcffffffff00031400f87ffde89facb90300000001f0fffcfb5f5346fcfffffffffcfeffffff";
  const u = decodeServerMsg(unhex(h));
  assert.deepEqual(u, {
    type: "Update",
    tick: 4294967295,
    ackSeq: 4294967295,
    checksum: 0x01020304,
    delta: {
      despawns: [4294967295],
      spawns: [spawn(4294967295, 0, 4294967295, 0)],
      changes: [change(5, -2048, 2047, 0), change(4000000000, 1, -1, 0), change(4294967295, -2147483648, 2147483647, 3)],
    },
  });
  // The 9-byte header of the second change is not what our encoder writes; the rest is.
  const again = decodeServerMsg(encodeServerMsg(u));
  assert.deepEqual(again, u, "re-encoding keeps the values");
});
