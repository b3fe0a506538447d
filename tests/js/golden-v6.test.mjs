// The JavaScript client against protocol v6's golden vectors (shared/tests/golden/vectors-v6.txt,
// pinned by the Rust test `v6_messages_match_their_golden_bytes_and_decode_back`): every vector
// decodes to the values listed here and encodes back to the same bytes. Then the spectator's
// session against a fake server: Spectate instead of Join, a replica whose checksums match,
// every entity interpolated (no own entity, no prediction), events from 1, Follow, no input
// (`setInput` throws), a recording's end (1000) is final, a Moved spectates again at the new
// URL with the same room and view, and a server below v6 is refused.
//
// Run: node --test tests/js/   (the Rust test `tests/tests/web.rs` runs it in `cargo test`)

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  CloseCode,
  PROTOCOL_VERSION,
  ProtocolError,
  SUBPROTOCOLS,
  TickstreamClient,
  decodeClientMsg,
  decodeServerMsg,
  encodeClientMsg,
  encodeFollow,
  encodeServerMsg,
  encodeSpectate,
  viewChecksum,
} from "../../assets/web/tickstream.js";
import { FakeSocket, e, welcome } from "./support.mjs";

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const unhex = (s) => new Uint8Array(Buffer.from(s, "hex"));

function vectors() {
  const text = readFileSync(new URL("../../shared/tests/golden/vectors-v6.txt", import.meta.url), "utf8");
  return new Map(
    text
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter(([name]) => name),
  );
}

/** The v2 samples' welcome as a v6 Spectating carries it (shared/tests/golden.rs). */
const roomWelcome = {
  type: "Welcome",
  protocol: 6,
  entity: 0,
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
  resumeToken: "",
  resumed: false,
};

const expectedClient = {
  client_spectate: { type: "Spectate", room: "lobby", follow: 7 },
  client_spectate_room: { type: "Spectate", room: "duel-1", follow: null },
  client_follow: { type: "Follow", entity: 300 },
  client_follow_room: { type: "Follow", entity: null },
};

const expectedServer = {
  server_spectating: {
    type: "Spectating",
    welcome: { ...roomWelcome, moveRule: { kind: "walk", speed: 4 } },
    follow: 7,
    delayMs: 2000,
    recording: false,
  },
  server_spectating_recording: {
    type: "Spectating",
    welcome: { ...roomWelcome, moveRule: { kind: "none" } },
    follow: null,
    delayMs: 0,
    recording: true,
  },
};

test("every v6 vector is listed here", () => {
  const names = [...vectors().keys()].sort();
  assert.deepEqual(names, [...Object.keys(expectedClient), ...Object.keys(expectedServer)].sort(), "vectors-v6.txt holds these");
});

test("v6 client messages decode to their values and encode back to the golden bytes", () => {
  const v = vectors();
  for (const [name, msg] of Object.entries(expectedClient)) {
    assert.ok(v.has(name), `${name} is in vectors-v6.txt`);
    assert.deepEqual(decodeClientMsg(unhex(v.get(name))), msg, `${name} decodes`);
    assert.equal(hex(encodeClientMsg(msg)), v.get(name), `${name} encodes back`);
  }
  assert.equal(hex(encodeSpectate("lobby", 7)), v.get("client_spectate"), "encodeSpectate");
  assert.equal(hex(encodeSpectate("duel-1")), v.get("client_spectate_room"), "encodeSpectate without follow: the room");
  assert.equal(hex(encodeFollow(300)), v.get("client_follow"), "encodeFollow");
  assert.equal(hex(encodeFollow(null)), v.get("client_follow_room"), "encodeFollow(null)");
});

test("Spectating decodes to its values and encodes back to the golden bytes", () => {
  const v = vectors();
  for (const [name, msg] of Object.entries(expectedServer)) {
    assert.ok(v.has(name), `${name} is in vectors-v6.txt`);
    const decoded = decodeServerMsg(unhex(v.get(name)));
    assert.deepEqual(decoded, msg, `${name} decodes`);
    assert.equal(hex(encodeServerMsg(decoded)), v.get(name), `${name} encodes back`);
  }
});

test("malformed v6 messages are protocol errors", () => {
  const v = vectors();
  const bad = {
    "an Option tag of 2": ["0602", /Option tag 2/],
    "Follow cut after its tag": ["0601", /truncated/],
    "Spectate without its Option": ["05056c6f626279", /truncated/],
  };
  for (const [what, [h, message]] of Object.entries(bad)) {
    assert.throws(() => decodeClientMsg(unhex(h)), ProtocolError, what);
    assert.throws(() => decodeClientMsg(unhex(h)), message, what);
  }
  const s = v.get("server_spectating");
  assert.throws(() => decodeServerMsg(unhex(s.slice(0, -2) + "02")), /bool byte 2/, "recording of 2");
  assert.throws(() => decodeServerMsg(unhex(s + "00")), /trailing/, "a byte after Spectating");
  assert.throws(() => encodeFollow(-1), ProtocolError, "a negative entity");
  assert.throws(() => encodeServerMsg({ ...expectedServer.server_spectating, welcome: roomWelcome }), /moveRule/, "a v2 welcome body");
});

// ---- the spectator's session against a fake server -------------------------------------------

const v6 = (w = {}) => ({ type: "Spectating", welcome: { ...welcome, ...roomWelcome, viewRadius: 0, tick: 10, moveRule: { kind: "walk", speed: 4 } }, follow: null, delayMs: 1000, recording: false, ...w });

/** An Update3 with ack_delta 0 (a spectator's): first the spawns, later the moves. */
const update3 = (tickGap, view, delta, events = []) => ({
  type: "Update3",
  tickGap,
  ackDelta: 0,
  checksum: viewChecksum(view),
  delta: { despawns: [], motion: { held: 0, sparse: false, moves: [] }, spawns: [], fieldChanges: [], ...delta },
  events,
});
const ev = (seq, kind = 0, entity = 3) => ({ seq, kind, entity, value: 0, text: "" });

/** A spectator of room r1 on a v6 fake server, given `spectate`; not yet answered. */
function spectator(spectate = true, options = {}) {
  FakeSocket.all.length = 0;
  const client = new TickstreamClient({
    url: "wss://a.test/ws",
    room: "r1",
    WebSocket: FakeSocket,
    reconnectInitialMs: 20,
    spectate,
    ...options,
  });
  client.connect();
  const ws = FakeSocket.all[0];
  return { client, ws };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

test("a spectator spectates, keeps a verified replica and interpolates every entity", () => {
  const { client, ws } = spectator({ follow: 3 });
  try {
    const seen = { welcome: [], spectating: [], events: [] };
    client.on("welcome", (w) => seen.welcome.push(w.entity));
    client.on("spectating", (s) => seen.spectating.push(s));
    client.on("event", (x) => seen.events.push([x.seq, x.kindName]));
    assert.deepEqual(ws.offered, [...SUBPROTOCOLS], "offers v6 and older");
    ws.open("tickstream.v6");
    assert.deepEqual(ws.sent, [{ type: "Spectate", room: "r1", follow: 3 }], "Spectate instead of Join, with the entity to follow");
    ws.deliver(v6({ follow: 3 }));
    assert.equal(client.state, "playing", "the session is live");
    assert.deepEqual(seen.welcome, [0], "the room's description, entity 0");
    assert.deepEqual(seen.spectating, [{ welcome: client.welcome, follow: 3, delayMs: 1000, recording: false }], "the spectator's view");
    assert.ok(ws.sent.some((m) => m.type === "Ping"), "pings like a player");
    // Entity 0 is an NPC here: a spectator has no own entity to leave out.
    let view = [e(0, 640, 640), e(3, 6400, 6400, 0), e(9, 12800, 640)];
    ws.deliver(update3(12, view, { spawns: view }, [ev(1), ev(2, 2)]));
    const moved = [e(0, 640 + 64, 640), e(3, 6400, 6400 - 32, 0), e(9, 12800, 640)];
    ws.deliver(
      update3(1, moved, {
        motion: {
          held: 3,
          sparse: false,
          moves: [
            { index: 0, rx: 64, ry: 0 },
            { index: 1, rx: 0, ry: -32 },
          ],
        },
      }),
    );
    view = moved;
    assert.equal(client.replica.checksum, viewChecksum(view), "the replica's checksum is the view's");
    assert.equal(client.replica.tick, 13, "the first gap is the tick, then differences");
    const s = client.stats();
    assert.equal(s.desyncs, 0, "no desync");
    assert.equal(s.entities, 3, "the whole view");
    assert.equal(s.entity, null, "no own entity");
    assert.equal(s.predicted, null, "no prediction");
    assert.equal(s.server, null, "no own server position");
    assert.equal(s.leadTicks, null, "no lead");
    assert.deepEqual(s.spectator, { follow: 3, delayMs: 1000, recording: false }, "the spectator's view in stats");
    assert.deepEqual(seen.events, [
      [1, "joined"],
      [2, "collected"],
    ]);
    assert.equal(s.lastEventSeq, 2, "events counted per spectator");
    const f = client.frame(client.now() + 2000);
    assert.equal(f.own, null, "no own entity drawn");
    assert.deepEqual(
      f.entities.map((x) => x.id).sort((a, b) => a - b),
      [0, 3, 9],
      "every entity interpolated, entity 0 included",
    );
    assert.equal(client.entity(0)?.x, 11, "entities in world units");
    assert.equal(ws.sent.filter((m) => m.type === "Input" || m.type === "Input5").length, 0, "no input sent");
  } finally {
    client.close();
  }
});

test("a spectator's input throws, follow() sends Follow, and a player cannot follow", () => {
  const { client, ws } = spectator();
  try {
    ws.open("tickstream.v6");
    assert.deepEqual(ws.sent[0], { type: "Spectate", room: "r1", follow: null }, "spectate: true watches the room");
    client.follow(5); // before Spectating: asked for once it arrives
    assert.equal(ws.sent.filter((m) => m.type === "Follow").length, 0, "no Follow before Spectating");
    ws.deliver(v6());
    assert.deepEqual(ws.sent.filter((m) => m.type === "Follow"), [{ type: "Follow", entity: 5 }], "the change is sent after Spectating");
    assert.equal(client.stats().spectator.follow, 5, "and shown");
    assert.throws(() => client.setInput(1, 0), TypeError, "setInput throws for a spectator");
    client.follow(null);
    client.follow(7);
    assert.deepEqual(
      ws.sent.filter((m) => m.type === "Follow").map((m) => m.entity),
      [5, null, 7],
      "Follow for the room, then entity 7",
    );
    assert.equal(client.stats().spectator.follow, 7, "the view follows 7");
    assert.throws(() => client.follow(-1), TypeError, "not an entity id");
    client.pump(client.now() + 100);
    assert.equal(ws.sent.filter((m) => m.type === "Input" || m.type === "Input5").length, 0, "no input sent");
  } finally {
    client.close();
  }
  const player = new TickstreamClient({ url: "wss://a.test/ws", WebSocket: FakeSocket });
  assert.throws(() => player.follow(1), TypeError, "follow() on a player");
  assert.throws(() => new TickstreamClient({ url: "wss://a.test/ws", spectate: { follow: "x" } }), TypeError, "a bad follow option");
  assert.throws(
    () => new TickstreamClient({ url: "wss://a.test/ws", spectate: true, resume: { token: "t" } }),
    TypeError,
    "a spectator with a resume state",
  );
});

test("a recording's end is a final close with 1000 and its reason", () => {
  const { client, ws } = spectator();
  const closes = [];
  client.on("close", (c) => closes.push(c));
  ws.open("tickstream.v6");
  ws.deliver(v6({ recording: true, delayMs: 0 }));
  assert.equal(client.stats().spectator.recording, true, "a recording");
  ws.deliver(update3(11, [e(1, 64, 64)], { spawns: [e(1, 64, 64)] }));
  ws.serverClose(CloseCode.NORMAL, "the recording ended");
  assert.equal(closes.length, 1, "one close");
  assert.equal(closes[0].code, 1000, "1000");
  assert.equal(closes[0].reason, "the recording ended", "with its reason");
  assert.equal(closes[0].willReconnect, false, "not watched again");
  assert.equal(client.state, "closed", "closed");
});

test("a spectator spectates again after a Moved, and after a drop, with the same room and view", async () => {
  const { client, ws } = spectator({ follow: 3 });
  try {
    const moved = [];
    client.on("moved", (m) => moved.push(m.url));
    ws.open("tickstream.v6");
    ws.deliver(v6({ follow: 3 }));
    ws.deliver(update3(11, [e(3, 64, 64, 0)], { spawns: [e(3, 64, 64, 0)] }, [ev(1)]));
    client.follow(4);
    ws.deliver({ type: "Moved", url: "wss://b.test/ws" });
    ws.serverClose(CloseCode.GOING_AWAY, "room moved");
    assert.deepEqual(moved, ["wss://b.test/ws"], "told");
    await tick();
    const next = FakeSocket.all[1];
    assert.equal(next?.url, "wss://b.test/ws", "to the URL of Moved");
    next.open("tickstream.v6");
    assert.deepEqual(next.sent[0], { type: "Spectate", room: "r1", follow: 4 }, "spectates again, following the view it had");
    next.deliver(v6({ follow: 4, welcome: { ...v6().welcome, tick: 20 } }));
    // A fresh replica: the same entity spawns again, events count from 1 again.
    next.deliver(update3(21, [e(3, 128, 64, 0)], { spawns: [e(3, 128, 64, 0)] }, [ev(1)]));
    let s = client.stats();
    assert.equal(s.desyncs, 0, "a fresh replica on every Spectating");
    assert.equal(s.lastEventSeq, 1, "events from 1 again");
    assert.equal(s.moves, 1, "counted as a move");
    assert.equal(s.state, "playing", "watching on the successor");
    // A lost link: spectate again after the backoff (no resume for spectators).
    next.serverClose(CloseCode.ABNORMAL);
    assert.equal(client.lastClose.willReconnect, true, "retried");
    await new Promise((resolve) => setTimeout(resolve, 60));
    const third = FakeSocket.all[2];
    assert.ok(third, "a new connection");
    third.open("tickstream.v6");
    assert.deepEqual(third.sent[0], { type: "Spectate", room: "r1", follow: 4 }, "Spectate, not Resume");
    s = client.stats();
    assert.equal(s.resumes, 0, "nothing resumed");
  } finally {
    client.close();
  }
});

test("spectating needs v6; 4006 and 4007 are final, 1013 (seats full) is retried", async () => {
  let { client, ws } = spectator();
  ws.open("tickstream.v5");
  assert.equal(ws.sent.length, 0, "no Spectate on a v5 connection");
  assert.equal(ws.closedWith?.code, 1000, "closed by the client");
  assert.equal(client.state, "closed", "for good: the server cannot spectate");

  ({ client, ws } = spectator());
  ws.open("tickstream.v6");
  ws.serverClose(CloseCode.NO_SUCH_ROOM, "no such room");
  assert.equal(client.lastClose.willReconnect, false, "4006: no room to watch");

  ({ client, ws } = spectator());
  try {
    ws.open("tickstream.v6");
    ws.serverClose(CloseCode.TRY_AGAIN, "spectator seats full");
    assert.equal(client.lastClose.willReconnect, true, "1013: seats may free up");
  } finally {
    client.close();
  }

  FakeSocket.all.length = 0;
  const player = new TickstreamClient({ url: "wss://a.test/ws", room: "r1", WebSocket: FakeSocket });
  player.connect();
  FakeSocket.all[0].open("tickstream.v6");
  FakeSocket.all[0].serverClose(CloseCode.SPECTATORS_ONLY, "spectators only");
  assert.equal(player.lastClose.willReconnect, false, "4007: a player cannot join a recording");
  assert.equal(CloseCode.NO_SUCH_ROOM, 4006);
  assert.equal(CloseCode.SPECTATORS_ONLY, 4007);
});

test("Spectating to a player and Welcome to a spectator are protocol errors", () => {
  let { client, ws } = spectator();
  ws.open("tickstream.v6");
  ws.deliver({ ...welcome, protocol: 6, moveRule: { kind: "walk", speed: 4 } });
  assert.ok(ws.closedWith, "a Welcome to a spectator closes");
  assert.equal(client.state, "closed", "for good");

  FakeSocket.all.length = 0;
  client = new TickstreamClient({ url: "wss://a.test/ws", room: "r1", WebSocket: FakeSocket });
  client.connect();
  ws = FakeSocket.all[0];
  ws.open("tickstream.v6");
  assert.deepEqual(ws.sent[0], { type: "Join", room: "r1" }, "a player joins on v6");
  ws.deliver(v6());
  assert.ok(ws.closedWith, "a Spectating to a player closes");
  assert.equal(client.state, "closed", "for good");
  assert.equal(PROTOCOL_VERSION, 6, "the newest version is 6");
});
