// The JavaScript client against protocol v5's golden vectors (shared/tests/golden/vectors-v5.txt,
// pinned by the Rust test `v5_inputs_match_their_golden_bytes_and_decode_back`; docs/PROTOCOL.md
// §17): every `client_input5…` vector decodes to the values listed here and encodes back to the
// same bytes, and viewTime turns render ticks into the (tick, 1/256) pairs the Rust crate does.
// Also `server_moved` (§17.2): it decodes to its URL and encodes back to the same bytes.
//
// Run: node --test tests/js/   (the Rust test `tests/tests/web.rs` runs it in `cargo test`)

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { decodeClientMsg, decodeServerMsg, encodeClientMsg, encodeInput5, encodeServerMsg, viewTime } from "../../assets/web/tickstream.js";

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const unhex = (s) => new Uint8Array(Buffer.from(s, "hex"));

function vectors() {
  const text = readFileSync(new URL("../../shared/tests/golden/vectors-v5.txt", import.meta.url), "utf8");
  return new Map(
    text
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter(([name]) => name),
  );
}

const expected = {
  client_input5: { type: "Input5", seq: 42, dx: 1, dy: -0.5, buttons: 0, viewTick: 1000, viewFrac: 128 },
  client_input5_fire: { type: "Input5", seq: 300, dx: 0, dy: 1, buttons: 1, viewTick: 70000, viewFrac: 0 },
};

test("v5 inputs decode to their values and encode back to the golden bytes", () => {
  const v = vectors();
  for (const [name, msg] of Object.entries(expected)) {
    assert.ok(v.has(name), `${name} is in vectors-v5.txt`);
    const bytes = unhex(v.get(name));
    assert.deepEqual(decodeClientMsg(bytes), msg, `${name} decodes`);
    assert.equal(hex(encodeClientMsg(msg)), v.get(name), `${name} encodes back`);
  }
});

test("view times: whole tick and 1/256ths, rounded down, clamped", () => {
  assert.deepEqual(viewTime(1000.5), { viewTick: 1000, viewFrac: 128 }, "mid-tick");
  assert.deepEqual(viewTime(7.999999), { viewTick: 7, viewFrac: 255 }, "never 256");
  assert.deepEqual(viewTime(-3), { viewTick: 0, viewFrac: 0 }, "negative");
  assert.deepEqual(viewTime(Number.NaN), { viewTick: 0, viewFrac: 0 }, "NaN");
  assert.deepEqual(viewTime(1e12), { viewTick: 4294967295, viewFrac: 0 }, "past the last tick");
  assert.throws(() => encodeInput5(1, 0, 0, 0, 5, 256), /view_frac/, "a fraction of 256 is refused");
});

test("Moved decodes to its URL and encodes back to the golden bytes", () => {
  const h = vectors().get("server_moved");
  assert.ok(h, "server_moved is in vectors-v5.txt");
  const msg = decodeServerMsg(unhex(h));
  assert.deepEqual(msg, { type: "Moved", url: "wss://b.example:7443/ws" }, "Moved and its URL");
  assert.equal(hex(encodeServerMsg(msg)), h, "re-encodes to the same bytes");
});
