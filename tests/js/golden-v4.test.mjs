// The JavaScript client against protocol v4's golden vectors (shared/tests/golden/vectors-v4.txt,
// pinned by the Rust test `v4_welcomes_match_their_golden_bytes_and_decode_back`; docs/PROTOCOL.md
// §16): every v4 Welcome decodes to the values listed here, with its move rule, and encodes back
// to the same bytes. v4's updates are v3's (golden-v3.test.mjs).
//
// Run: node --test tests/js/   (the Rust test `tests/tests/web.rs` runs it in `cargo test`)

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { ProtocolError, decodeServerMsg, encodeServerMsg } from "../../assets/web/tickstream.js";

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const unhex = (s) => new Uint8Array(Buffer.from(s, "hex"));

function vectors() {
  const text = readFileSync(new URL("../../shared/tests/golden/vectors-v4.txt", import.meta.url), "utf8");
  return new Map(
    text
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter(([name]) => name),
  );
}

const TOKEN = "00112233445566778899aabbccddeeff";
const coins = {
  type: "Welcome",
  protocol: 4,
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
    { name: "rotation", scale: Math.fround((2 * Math.PI) / 65536) },
  ],
  eventKinds: ["joined", "left", "collected"],
  resumeToken: TOKEN,
  resumed: false,
  moveRule: { kind: "walk", speed: 4 },
};

/** What each v4 vector decodes to (`v4_welcomes()` in shared/tests/golden.rs). */
const DECODED = {
  server_welcome4: coins,
  server_welcome4_arena: {
    ...coins,
    tick: 0,
    game: "arena",
    kinds: ["player", "npc"],
    fields: [],
    eventKinds: ["joined", "left"],
    resumeToken: "9f86d081884c7d659a2feaa0c55ad015",
    moveRule: { kind: "walk", speed: 5 },
  },
  server_welcome4_own_game: {
    ...coins,
    game: "mine",
    kinds: ["player"],
    fields: [],
    eventKinds: [],
    moveRule: { kind: "none" },
  },
};

test("every v4 Welcome decodes with its move rule and encodes back to its bytes", () => {
  const v = vectors();
  assert.deepEqual([...v.keys()].sort(), Object.keys(DECODED).sort(), "the file holds exactly these");
  for (const [name, h] of v) {
    const msg = decodeServerMsg(unhex(h));
    assert.deepEqual(msg, DECODED[name], `${name} decodes`);
    assert.equal(hex(encodeServerMsg(msg)), h, `${name} encodes back`);
  }
});

test("an unknown move rule is a protocol error", () => {
  const bytes = unhex(vectors().get("server_welcome4_own_game"));
  bytes[bytes.length - 1] = 2; // MoveRule variant 2 does not exist
  assert.throws(() => decodeServerMsg(bytes), ProtocolError);
});
