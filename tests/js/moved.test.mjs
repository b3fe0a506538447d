// A v5 session follows its room to another process (PROTOCOL.md §17.2): on Moved, then the
// server's 1001, the client reconnects at once to the new URL and resumes the same player with
// its token, its last event seq and continuing input seqs; the application sees a "moved"
// event and nothing else changes for it. A v2–v4 connection never gets Moved (a Moved there is
// a protocol error), and a 1001 without Moved is today's drain.
//
// Run: node --test tests/js/

import { test } from "node:test";
import assert from "node:assert/strict";

import { TickstreamClient, viewChecksum } from "../../assets/web/tickstream.js";
import { FakeSocket, e, welcome } from "./support.mjs";

/** The first Update3 of a connection (v3 and later): `view` spawned, ticks and acks as gaps. */
const first3 = (tickGap, ackDelta, view, events = []) => ({
  type: "Update3",
  tickGap,
  ackDelta,
  checksum: viewChecksum(view),
  delta: { despawns: [], motion: { held: 0, sparse: false, moves: [] }, spawns: view, fieldChanges: [] },
  events,
});

const v5 = { ...welcome, protocol: 5, moveRule: { kind: "walk", speed: 4 } };

function playingV5() {
  FakeSocket.all.length = 0;
  const client = new TickstreamClient({ url: "wss://a.test/ws", room: "r1", WebSocket: FakeSocket, reconnectInitialMs: 20 });
  client.connect();
  const ws = FakeSocket.all[0];
  ws.open("tickstream.v5");
  ws.deliver({ ...v5, resumeToken: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" });
  ws.deliver(first3(1, 0, [e(7, 6400, 6400, 0)], [{ seq: 1, kind: 0, entity: 7, value: 0, text: "" }]));
  return { client, ws };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

test("a v5 client follows Moved to the new URL and resumes the same player there", async () => {
  const { client, ws } = playingV5();
  try {
    const seen = [];
    client.on("moved", (m) => seen.push(["moved", m.url]));
    client.on("close", (c) => seen.push(["close", c.code, c.willReconnect, c.movedTo]));
    client.setInput(1, 0);
    client.pump(client.now() + 100);
    const sentSeq = ws.inputs().at(-1)?.seq ?? 0;
    ws.deliver({ type: "Moved", url: "wss://b.test:7443/ws" });
    ws.serverClose(1001, "room moved");
    assert.deepEqual(
      seen,
      [
        ["moved", "wss://b.test:7443/ws"],
        ["close", 1001, true, "wss://b.test:7443/ws"],
      ],
      "told, then closed with a reconnect due",
    );
    await tick();
    assert.equal(FakeSocket.all.length, 2, "a new connection at once");
    const next = FakeSocket.all[1];
    assert.equal(next.url, "wss://b.test:7443/ws", "to the URL of Moved");
    assert.equal(next.offered[0], "tickstream.v6", "offering the newest first");
    next.open("tickstream.v5");
    assert.deepEqual(
      next.sent[0],
      { type: "Resume", room: "r1", token: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", lastEventSeq: 1 },
      "resumes with its token and last event",
    );
    next.deliver({ ...v5, resumed: true, tick: 3, resumeToken: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" });
    next.deliver(first3(1, sentSeq, [e(7, 6464, 6400, 0)], [{ seq: 2, kind: 0, entity: 7, value: 0, text: "" }]));
    const s = client.stats();
    assert.equal(s.state, "playing", "playing on the successor");
    assert.equal(s.entity, 7, "the same entity");
    assert.equal(s.resumes, 1, "as a resume");
    assert.equal(s.moves, 1, "counted as a move");
    assert.equal(s.lastEventSeq, 2, "events go on");
    assert.equal(s.url, "wss://b.test:7443/ws", "the session's URL is the new one");
    client.setInput(0, 1);
    client.pump(client.now() + 200);
    const after = next.inputs().map((m) => m.seq);
    assert.ok(after.length > 0 && after.every((seq) => seq > sentSeq), `inputs keep counting: ${after} after ${sentSeq}`);
  } finally {
    client.close();
  }
});

test("a 1001 without Moved is today's drain, and Moved on v4 is a protocol error", async () => {
  let { client, ws } = playingV5();
  try {
    ws.serverClose(1001, "server shutting down");
    assert.equal(client.lastClose.movedTo, null, "no move");
    await tick();
    assert.equal(FakeSocket.all[1]?.url ?? "wss://a.test/ws", "wss://a.test/ws", "reconnects where it was, with backoff");
  } finally {
    client.close();
  }
  FakeSocket.all.length = 0;
  client = new TickstreamClient({ url: "wss://a.test/ws", room: "r1", WebSocket: FakeSocket, reconnect: false });
  try {
    client.connect();
    ws = FakeSocket.all[0];
    ws.open("tickstream.v4");
    ws.deliver({ ...v5, protocol: 4 });
    ws.deliver({ type: "Moved", url: "wss://b.test/ws" });
    assert.equal(ws.closedWith?.code, 4100, "refused on a v4 connection");
    assert.equal(client.options.url, "wss://a.test/ws", "and not followed");
  } finally {
    client.close();
  }
});
