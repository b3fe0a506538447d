// The JavaScript client against protocol v5's golden vector (shared/tests/golden/vectors-v5.txt,
// pinned by the Rust test `v5_messages_match_their_golden_bytes_and_decode_back`; docs/PROTOCOL.md
// §17.2): `server_moved` decodes to its URL and encodes back to the same bytes.
//
// Run: node --test tests/js/

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { decodeServerMsg, encodeServerMsg } from "../../assets/web/tickstream.js";

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const unhex = (s) => new Uint8Array(Buffer.from(s, "hex"));

test("every v5 vector decodes to its values and encodes back", () => {
  const text = readFileSync(new URL("../../shared/tests/golden/vectors-v5.txt", import.meta.url), "utf8");
  const vectors = new Map(
    text
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter(([name]) => name),
  );
  assert.deepEqual([...vectors.keys()], ["server_moved"], "the v5 vectors");
  const bytes = unhex(vectors.get("server_moved"));
  const msg = decodeServerMsg(bytes);
  assert.deepEqual(msg, { type: "Moved", url: "wss://b.example:7443/ws" }, "Moved and its URL");
  assert.equal(hex(encodeServerMsg(msg)), hex(bytes), "re-encodes to the same bytes");
});
