// The JavaScript client's own logic, without a server: malformed messages and desyncs are
// refused, the prediction follows the server's movement rule and reconciles with ack_seq, the
// interpolation renders between known states, and the session (against a fake WebSocket)
// joins, sends inputs latest-wins under congestion, reports close codes, hands game events
// over in seq order, and reconnects with a resume of the same entity.

import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { readFileSync } from "node:fs";

import {
  CloseCode,
  DesyncError,
  Interpolator,
  Predictor,
  ProtocolError,
  Replica,
  SUBPROTOCOL,
  SUBPROTOCOLS,
  TickstreamClient,
  decodeClientMsg,
  decodeServerMsg,
  encodeClientMsg,
  encodeResume,
  encodeServerMsg,
  viewTime,
} from "../../assets/web/tickstream.js";
import { FakeSocket, NO_FIELDS, e, started, upd, welcome } from "./support.mjs";

const unhex = (s) => new Uint8Array(Buffer.from(s, "hex"));
const hex = (bytes) => Buffer.from(bytes).toString("hex");

const welcomeHex = hex(encodeServerMsg(welcome));

test("malformed server messages are protocol errors (PROTOCOL.md §5.4)", () => {
  const bad = {
    "empty frame": "",
    "truncated pong": "02fc40420f",
    "trailing byte": "02fc40420f002a00",
    "unknown variant": "05",
    "u16 with a u32 tag": "03fc a00f0000 00".replace(/ /g, ""),
    "u32 with a u64 tag": "02fc40420f00fd0000000000000000",
    "u64 with a u128 tag": "02fe",
    "u64 of 2^53": "02fd0000000000002000" + "2a",
    "change that moves nothing": "0101000000000000000001" + "03" + "000000",
    "list longer than 65536": "01010000000000fc01000100",
    "entity id past 2^32-1": "01010000000000" + "02fcffffffff00" + "0000",
    "reason not UTF-8": "03fa01ff",
    // Version 2; each fails for the reason named, not merely somewhere.
    "field change with an empty mask": ["0101" + "00" + "00000000" + "000000" + "01" + "0500" + "00", /changes no field/],
    "spawn whose mask promises a missing field": ["0101" + "00" + "00000000" + "00" + "01" + "00010000" + "01", /truncated/],
    "events list longer than the message": ["0101" + "00" + "00000000" + "00000000" + "fb0001", /256 items in 0 bytes/],
    "event text not UTF-8": ["0101" + "00" + "00000000" + "00000000" + "01" + "0100000001ff", /not UTF-8/],
    "welcome whose resumed flag is 2": [welcomeHex.slice(0, -2) + "02", /bool byte 2/],
    "welcome cut before resumed": [welcomeHex.slice(0, -2), /truncated/],
  };
  for (const [what, c] of Object.entries(bad)) {
    const [h, message] = Array.isArray(c) ? c : [c, undefined];
    assert.throws(() => decodeServerMsg(unhex(h)), ProtocolError, what);
    if (message) assert.throws(() => decodeServerMsg(unhex(h)), message, what);
  }
  assert.throws(() => decodeServerMsg("text"), ProtocolError, "a text frame");
});

const ev = (seq, kind = 2, entity = 7, value = 0, text = "") => ({ seq, kind, entity, value, text });

test("inconsistent updates are desyncs (PROTOCOL.md §8)", () => {
  const cases = {
    "despawn of an unknown id": upd(2, 0, [], { despawns: [9] }),
    "spawn of a present id": upd(2, 0, [e(1, 1, 1), e(1, 1, 1)], { spawns: [e(1, 1, 1)] }),
    "change of an unknown id": upd(2, 0, [e(1, 1, 1)], { changes: [{ id: 5, dx: 1, dy: 0 }] }),
    "change below 0": upd(2, 0, [e(1, 0, 1)], { changes: [{ id: 1, dx: -2, dy: 0 }] }),
    "tick not after": upd(1, 0, [e(1, 1, 1)], {}),
    "wrong checksum": { ...upd(2, 0, [e(1, 1, 1)], {}), checksum: 12345 },
    "field change of an unknown id": upd(2, 0, [e(1, 1, 1)], { fieldChanges: [{ id: 5, mask: 1, values: [1, 0, 0, 0, 0, 0, 0, 0] }] }),
    "a field the checksum does not cover": upd(2, 0, [e(1, 1, 1)], { fieldChanges: [{ id: 1, mask: 1, values: [1, 0, 0, 0, 0, 0, 0, 0] }] }),
  };
  for (const [what, u] of Object.entries(cases)) {
    const r = new Replica();
    r.apply(upd(1, 0, [e(1, 1, 1)], { spawns: [e(1, 1, 1)] }));
    assert.throws(() => r.apply(u), DesyncError, what);
  }
  const r = new Replica();
  r.apply(upd(1, 0, [e(1, 1, 1)], { spawns: [e(1, 1, 1)] }));
  r.apply(upd(2, 0, [e(1, 5, 5, 0)], { despawns: [1], spawns: [e(1, 5, 5, 0)] }));
  assert.deepEqual(r.get(1), e(1, 5, 5, 0), "an id may be despawned and spawned in one update");
  // Field changes land on the masked fields only, and a field back at 0 hashes as absent.
  const f1 = [9, -3, 0, 0, 0, 0, 0, 0];
  r.apply(upd(3, 0, [e(1, 5, 5, 0, f1)], { fieldChanges: [{ id: 1, mask: 0b11, values: f1 }] }));
  const f2 = [9, 0, 0, 0, 0, 0, 0, 4];
  r.apply(upd(4, 0, [e(1, 5, 5, 0, f2)], { fieldChanges: [{ id: 1, mask: 0b10000010, values: [0, 0, 0, 0, 0, 0, 0, 4] }] }));
  assert.deepEqual(r.get(1).fields, f2, "only the masked fields changed");
});

test("client messages round-trip, Resume included", () => {
  for (const msg of [
    { type: "Resume", room: "coins-1", token: "ffeeddccbbaa99887766554433221100", lastEventSeq: 0 },
    { type: "Resume", room: "r", token: "00", lastEventSeq: 4294967295 },
  ]) {
    assert.deepEqual(decodeClientMsg(encodeClientMsg(msg)), msg, `${JSON.stringify(msg)} round-trips`);
  }
  assert.throws(() => encodeResume("r", "t", -1), ProtocolError, "last_event_seq is a u32");
  const resumedWelcome = { ...welcome, resumed: true, fields: [], kinds: [], eventKinds: [] };
  assert.deepEqual(decodeServerMsg(encodeServerMsg(resumedWelcome)), resumedWelcome, "a resumed Welcome with empty lists round-trips");
});

test("prediction follows the server's rule: normalised, 5 units a tick, clamped", () => {
  const p = new Predictor({ worldWidth: 100, worldHeight: 100 });
  p.reconcile(10, 0, 50, 50);
  p.noteInput(1, 1, 0);
  p.advanceTo(12);
  assert.deepEqual([p.x, p.y], [60, 50], "two ticks right");
  p.noteInput(2, 0.1, 0.1);
  p.advanceTo(13);
  assert.ok(Math.abs(p.x - (60 + 5 / Math.SQRT2)) < 1e-9 && Math.abs(p.y - (50 + 5 / Math.SQRT2)) < 1e-9, "the magnitude does not matter");
  p.noteInput(3, -1, 0);
  p.advanceTo(40);
  assert.equal(p.x, 0, "clamped at the arena's edge");
});

test("reconciliation replays unacknowledged ticks from the server's position (PROTOCOL.md §13.4)", () => {
  const p = new Predictor({ worldWidth: 1000, worldHeight: 1000 });
  p.reconcile(100, 0, 500, 500);
  p.noteInput(1, 1, 0); // predicted to apply from tick 101
  p.advanceTo(104);
  assert.equal(p.x, 520);
  // The server applied input 1 one tick later than predicted (from 102): at tick 102 it is at
  // 505; ticks 103 and 104 are replayed with input 1.
  const feedback = p.reconcile(102, 1, 505, 500);
  assert.equal(p.x, 515, "authoritative 505 plus two replayed ticks");
  assert.equal(feedback, 0, "input 1 was in force at tick 102 as predicted");
  p.noteInput(2, 0, 0); // stop, predicted from tick 105
  p.advanceTo(106);
  assert.equal(p.x, 515, "stopped at 104's position");
  // The server still had input 1 at tick 105: the stop arrives later than predicted.
  assert.equal(p.reconcile(105, 1, 520, 500), 1, "later than predicted: lead up");
  assert.equal(p.x, 520, "tick 106 replays the stop");
  // The server applied the stop at tick 107 (after moving once more at 106); once it is
  // acknowledged, the prediction is the server's position, exactly.
  p.advanceTo(110);
  assert.equal(p.reconcile(107, 2, 525, 500), 0, "in force at 107 as predicted");
  assert.equal(p.x, 525, "acknowledged stop: prediction = server");
  p.advanceTo(130);
  assert.equal(p.x, 525, "and stays there");
});

test("interpolation renders between states, holds unchanged entities, snaps teleports", () => {
  const r = new Replica();
  const it = new Interpolator({ maxStep: 5 });
  const apply = (u) => {
    r.apply(u);
    it.record(u.tick, u.delta, r);
  };
  apply(upd(10, 0, [e(1, 0, 0)], { spawns: [e(1, 0, 0)] }));
  assert.deepEqual(it.positionAt(1, 9), { x: 0, y: 0 }, "a new entity shows in place");
  apply(upd(11, 0, [e(1, 320, 0)], { changes: [{ id: 1, dx: 320, dy: 0 }] }));
  assert.deepEqual(it.positionAt(1, 10.5), { x: 2.5, y: 0 }, "halfway between ticks 10 and 11");
  apply(upd(12, 0, [e(1, 320, 0)], {}));
  apply(upd(13, 0, [e(1, 320, 0)], {}));
  apply(upd(14, 0, [e(1, 640, 0)], { changes: [{ id: 1, dx: 320, dy: 0 }] }));
  assert.deepEqual(it.positionAt(1, 12.5), { x: 5, y: 0 }, "still until tick 13, not spread back");
  assert.deepEqual(it.positionAt(1, 13.5), { x: 7.5, y: 0 }, "moves between 13 and 14");
  apply(upd(15, 0, [e(1, 64000, 0)], { changes: [{ id: 1, dx: 64000 - 640, dy: 0 }] }));
  assert.deepEqual(it.positionAt(1, 14.5), { x: 10, y: 0 }, "a teleport is not interpolated");
  assert.deepEqual(it.positionAt(1, 15), { x: 1000, y: 0 }, "it snaps at its tick");
  apply(upd(16, 0, [], { despawns: [1] }));
  assert.equal(it.positionAt(1, 16), null, "despawned");
});

test("a session offers the subprotocol, joins, pings and plays", () => {
  const { client, ws } = started();
  try {
    assert.deepEqual(
      ws.offered,
      ["tickstream.v6", "tickstream.v5", "tickstream.v4", "tickstream.v3", "tickstream.v2"],
      "offers v6, v5, v4, v3, then v2",
    );
    assert.deepEqual(ws.offered, [...SUBPROTOCOLS], "the exported list");
    assert.equal(SUBPROTOCOL, "tickstream.v6", "the newest");
    assert.equal(client.stats().protocol, 2, "a v2 server: plays version 2");
    assert.deepEqual(ws.sent[0], { type: "Join", room: "r1" }, "Join first");
    assert.ok(ws.sent.some((m) => m.type === "Ping"), "a ping after the welcome");
    const s = client.stats();
    assert.equal(s.connected, true, "connected");
    assert.equal(s.tick, 2, "tick");
    assert.equal(s.entities, 1, "entities");
    assert.equal(s.players, 1, "players, by the kind named player");
    assert.equal(s.entity, 7, "own entity");
    assert.equal(s.game, "coins", "the game's name");
    assert.deepEqual(s.server, { x: 100, y: 100 }, "own position");
    assert.deepEqual(
      client.entity(7),
      { id: 7, kind: 0, kindName: "player", x: 100, y: 100, fields: NO_FIELDS, values: { score: 0, rotation: 0 } },
      "entity() in world units, with fields raw and by name",
    );
    for (const key of ["connected", "tick", "entities", "updateHz", "rttMs"]) assert.ok(key in s, `stats() has ${key}`);
  } finally {
    client.close();
  }
});

test("inputs: sequence numbers from 1, nothing unchanged, latest wins while the socket is congested", async () => {
  const { client, ws } = started();
  try {
    client.setInput(1, 0);
    assert.deepEqual(ws.inputs(), [{ type: "Input", seq: 1, dx: 1, dy: 0, buttons: 0 }]);
    client.setInput(1, 0);
    await sleep(80);
    assert.equal(ws.inputs().length, 1, "an unchanged input is not sent again");
    ws.bufferedAmount = 10000; // congested: nothing more may be sent
    client.setInput(0, 1);
    client.setInput(-1, 0);
    client.setInput(0, -1);
    await sleep(80);
    assert.equal(ws.inputs().length, 1, "nothing sent while bufferedAmount is high");
    ws.bufferedAmount = 0;
    await sleep(80);
    assert.deepEqual(ws.inputs().slice(1), [{ type: "Input", seq: 2, dx: 0, dy: -1, buttons: 0 }], "only the newest, with the next seq");
    client.setInput(5, Number.NaN);
    await sleep(80);
    assert.deepEqual(ws.inputs()[2], { type: "Input", seq: 3, dx: 1, dy: 0, buttons: 0 }, "clamped into [-1, 1], NaN as 0");
  } finally {
    client.close();
  }
});

test("a desync closes with 4100, keeping the player, and resumes with a fresh replica", async () => {
  const { client, ws } = started();
  try {
    const desyncs = [];
    client.on("desync", (d) => desyncs.push(d));
    ws.deliver({ ...upd(3, 0, [e(7, 6400, 6400, 0)], {}), checksum: 1 });
    assert.equal(desyncs.length, 1, "one desync reported");
    assert.equal(ws.closedWith.code, CloseCode.SUSPEND, "closed with 4100: the server keeps the player");
    assert.equal(client.stats().state, "reconnecting", "reconnecting");
    await sleep(100);
    assert.equal(FakeSocket.all.length, 2, "a new socket");
    const again = FakeSocket.all[1];
    again.open();
    assert.deepEqual(
      again.sent[0],
      { type: "Resume", room: "r1", token: welcome.resumeToken, lastEventSeq: 0 },
      "the reconnect resumes the player",
    );
    again.deliver({ ...welcome, resumed: true, resumeToken: "22".repeat(16) });
    again.deliver(upd(9, 0, [e(7, 64, 64, 0)], { spawns: [e(7, 64, 64, 0)] }));
    const s = client.stats();
    assert.equal(s.connected, true, "connected again");
    assert.equal(s.tick, 9, "a fresh replica from the full snapshot");
    assert.equal(s.desyncs, 1, "desyncs counted");
    assert.equal(s.reconnects, 1, "reconnects counted");
    assert.equal(s.resumes, 1, "resumes counted");
  } finally {
    client.close();
  }
});

test("close codes and reasons are reported; some codes end the session for good", async () => {
  {
    const { client, ws } = started();
    const closes = [];
    client.on("close", (c) => closes.push(c));
    ws.deliver({ type: "Error", code: 4000, reason: "too slow" });
    ws.serverClose(4000, "too slow");
    assert.equal(closes.length, 1, "one close");
    assert.equal(closes[0].code, 4000, "its code");
    assert.equal(closes[0].reason, "too slow", "its reason");
    assert.deepEqual(closes[0].serverError, { code: 4000, reason: "too slow" }, "the Error message before it");
    assert.equal(closes[0].willReconnect, true, "4000: reconnect with backoff");
    assert.ok(closes[0].retryInMs >= 10 && closes[0].retryInMs <= 20, `first backoff ${closes[0].retryInMs}`);
    client.close();
  }
  for (const code of [CloseCode.PROTOCOL_ERROR, CloseCode.TOO_BIG, CloseCode.BAD_ROOM_NAME]) {
    const { client, ws } = started();
    const closes = [];
    client.on("close", (c) => closes.push(c));
    ws.serverClose(code, "x");
    assert.equal(closes[0].willReconnect, false, `${code} is final`);
    assert.equal(client.stats().state, "closed", `${code}: closed`);
    await sleep(50);
    assert.equal(FakeSocket.all.length, 1, `${code}: no new socket`);
    client.close();
  }
});

test("backoff grows while connecting keeps failing", async () => {
  FakeSocket.all.length = 0;
  const client = new TickstreamClient({ url: "wss://x.test/ws", WebSocket: FakeSocket, reconnectInitialMs: 10, reconnectMaxMs: 40 });
  const delays = [];
  client.on("close", (c) => delays.push(c.retryInMs));
  try {
    client.connect();
    for (let i = 0; i < 4; i++) {
      const ws = FakeSocket.all[FakeSocket.all.length - 1];
      ws.serverClose(1006);
      await sleep(60);
    }
    assert.equal(delays.length, 4, "four closes");
    const caps = [10, 20, 40, 40];
    delays.forEach((d, i) => assert.ok(d >= caps[i] / 2 && d <= caps[i], `attempt ${i}: ${d} ms within [${caps[i] / 2}, ${caps[i]}]`));
  } finally {
    client.close();
  }
});

test("a server that picks another subprotocol or protocol version is refused for good", () => {
  FakeSocket.all.length = 0;
  const client = new TickstreamClient({ url: "wss://x.test/ws", WebSocket: FakeSocket });
  try {
    client.connect();
    FakeSocket.all[0].open("other");
    assert.equal(client.stats().state, "closed", "another subprotocol: closed");
    assert.equal(client.stats().lastClose.willReconnect, false, "another subprotocol: for good");
  } finally {
    client.close();
  }
  FakeSocket.all.length = 0;
  const c2 = new TickstreamClient({ url: "wss://x.test/ws", WebSocket: FakeSocket });
  try {
    c2.connect();
    FakeSocket.all[0].open();
    FakeSocket.all[0].deliver({ ...welcome, protocol: 1 });
    assert.equal(c2.stats().state, "closed", "a version-1 server is refused");
  } finally {
    c2.close();
  }
});

test("a join token function is asked for a fresh token before every connection", async () => {
  FakeSocket.all.length = 0;
  let n = 0;
  const client = new TickstreamClient({
    url: "wss://x.test:7443/ws",
    WebSocket: FakeSocket,
    reconnectInitialMs: 10,
    token: async () => `t${++n}`,
  });
  try {
    client.connect();
    await sleep(5);
    assert.equal(FakeSocket.all[0].url, "wss://x.test:7443/ws?token=t1", "the first token");
    FakeSocket.all[0].serverClose(1008, "join token was already used");
    await sleep(60);
    assert.equal(FakeSocket.all[1].url, "wss://x.test:7443/ws?token=t2", "a new token for the reconnect");
  } finally {
    client.close();
  }
  FakeSocket.all.length = 0;
  const failing = new TickstreamClient({ url: "wss://x.test/ws", WebSocket: FakeSocket, token: () => Promise.reject(new Error("backend down")) });
  const closes = [];
  failing.on("close", (c) => closes.push(c));
  try {
    failing.connect();
    await sleep(5);
    assert.equal(FakeSocket.all.length, 0, "no socket without a token");
    assert.equal(closes[0].code, CloseCode.ABNORMAL, "a failed token is a 1006");
    assert.equal(closes[0].willReconnect, true, "retried with backoff");
  } finally {
    failing.close();
  }
});

test("events reach the application once each, in seq order, with their tick and kind name", () => {
  const { client, ws } = started();
  try {
    const got = [];
    const order = [];
    client.on("event", (x) => {
      got.push(x);
      order.push(`event ${x.seq}`);
    });
    client.on("update", (u) => order.push(`update ${u.tick}`));
    const view = [e(7, 6400, 6400, 0, [1, 0, 0, 0, 0, 0, 0, 0])];
    const fc = { fieldChanges: [{ id: 7, mask: 1, values: [1, 0, 0, 0, 0, 0, 0, 0] }] };
    ws.deliver(upd(3, 0, view, fc, [ev(1, 0, 7, 0, "hello"), ev(2, 2, 7, 1)]));
    ws.deliver(upd(4, 0, view, {}, []));
    ws.deliver(upd(5, 0, view, {}, [ev(3, 1, 9)]));
    assert.deepEqual(
      got,
      [
        { seq: 1, kind: 0, entity: 7, value: 0, text: "hello", tick: 3, kindName: "joined" },
        { seq: 2, kind: 2, entity: 7, value: 1, text: "", tick: 3, kindName: "collected" },
        { seq: 3, kind: 1, entity: 9, value: 0, text: "", tick: 5, kindName: "left" },
      ],
      "every event, in order",
    );
    assert.deepEqual(order, ["event 1", "event 2", "update 3", "update 4", "event 3", "update 5"], "an update's events come before its update event");
    assert.equal(client.field(7, "score"), 1, "the collector's score, by name, after its update");
    assert.equal(client.field(7, 0), 1, "and by index");
    assert.equal(client.field(7, "health"), null, "a field the game does not have");
    const s = client.stats();
    assert.equal(s.events, 3, "events counted");
    assert.equal(s.lastEventSeq, 3, "the last seq");
    assert.deepEqual(client.resumeState(), { room: "r1", token: welcome.resumeToken, lastEventSeq: 3, entity: 7, inputSeq: 0 }, "what a resume needs");
  } finally {
    client.close();
  }
});

test("a gap in the event seqs drops the connection and resumes from the last event delivered", async () => {
  const { client, ws } = started();
  try {
    const got = [];
    client.on("event", (x) => got.push(x.seq));
    const view = [e(7, 6400, 6400, 0)];
    ws.deliver(upd(3, 0, view, {}, [ev(1), ev(2)]));
    ws.deliver(upd(4, 0, view, {}, [ev(4)]));
    assert.deepEqual(got, [1, 2], "nothing after the gap is delivered");
    assert.equal(ws.closedWith.code, CloseCode.SUSPEND, "closed with 4100, to resume");
    assert.equal(client.stats().tick, 3, "the update with the gap was not applied");
    await sleep(60);
    const again = FakeSocket.all[1];
    assert.ok(again, "a new socket");
    again.open();
    assert.deepEqual(again.sent[0], { type: "Resume", room: "r1", token: welcome.resumeToken, lastEventSeq: 2 }, "resumes after event 2");
    again.deliver({ ...welcome, resumed: true, resumeToken: "33".repeat(16) });
    again.deliver(upd(9, 0, view, { spawns: view }, [ev(3), ev(4)]));
    assert.deepEqual(got, [1, 2, 3, 4], "the server's re-sent events continue the sequence");
    assert.equal(client.stats().connected, true, "playing again");
    ws.deliver(upd(5, 0, view, {}, [ev(5)]));
    assert.deepEqual(got, [1, 2, 3, 4], "the old connection is deaf");
  } finally {
    client.close();
  }
});

test("after a dropped link the client resumes the same entity, inputs keep counting, and the input is re-sent", async () => {
  const { client, ws } = started();
  try {
    client.setInput(1, 0);
    client.setInput(0, 0);
    await sleep(80);
    assert.deepEqual(ws.inputs().map((i) => i.seq), [1, 2], "two inputs on the first connection");
    const view = [e(7, 6400, 6400, 0)];
    ws.deliver(upd(3, 2, view, {}, [ev(1)]));
    ws.serverClose(CloseCode.ABNORMAL);
    const close = client.stats().lastClose;
    assert.equal(close.willReconnect, true, "a lost link is retried");
    assert.equal(close.resumeRefused, false, "nothing refused");
    await sleep(60);
    const again = FakeSocket.all[1];
    again.open();
    assert.deepEqual(again.sent[0], { type: "Resume", room: "r1", token: welcome.resumeToken, lastEventSeq: 1 }, "Resume, not Join");
    again.deliver({ ...welcome, resumed: true, resumeToken: "44".repeat(16) });
    again.deliver(upd(50, 2, view, { spawns: view }));
    await sleep(80);
    assert.deepEqual(again.inputs(), [{ type: "Input", seq: 3, dx: 0, dy: 0, buttons: 0 }], "the current input again, with the next seq");
    const s = client.stats();
    assert.equal(s.entity, 7, "the same entity");
    assert.equal(s.resumes, 1, "one resume");
    assert.equal(client.resumeState().token, "44".repeat(16), "the newest token is kept");
  } finally {
    client.close();
  }
});

test("a refused resume (4005) is followed by a fresh Join as a new player", async () => {
  const { client, ws } = started();
  try {
    client.setInput(1, 0);
    ws.deliver(upd(3, 1, [e(7, 6400, 6400, 0)], {}, [ev(1)]));
    ws.serverClose(CloseCode.GOING_AWAY, "server shutting down");
    await sleep(60);
    const second = FakeSocket.all[1];
    second.open();
    assert.equal(second.sent[0].type, "Resume", "tries to resume first");
    second.deliver({ type: "Error", code: CloseCode.RESUME_REFUSED, reason: "unknown resume token" });
    second.serverClose(CloseCode.RESUME_REFUSED, "unknown resume token");
    const close = client.stats().lastClose;
    assert.equal(close.resumeRefused, true, "the close says the resume was refused");
    assert.equal(close.willReconnect, true, "and that the client tries again");
    assert.equal(client.resumeState(), null, "the player is forgotten");
    await sleep(60);
    const third = FakeSocket.all[2];
    third.open();
    assert.deepEqual(third.sent[0], { type: "Join", room: "r1" }, "joins afresh");
    third.deliver({ ...welcome, entity: 12, resumeToken: "55".repeat(16) });
    const view = [e(12, 64, 64, 0)];
    third.deliver(upd(70, 0, view, { spawns: view }, [ev(1, 0, 12)]));
    await sleep(40);
    assert.deepEqual(third.inputs(), [{ type: "Input", seq: 1, dx: 1, dy: 0, buttons: 0 }], "the held input, for a new player from seq 1");
    const s = client.stats();
    assert.equal(s.entity, 12, "a new entity");
    assert.equal(s.lastEventSeq, 1, "its events count from 1");
    assert.equal(s.resumeRefusals, 1, "refusals counted");
  } finally {
    client.close();
  }
});

test("resume() takes a saved state (a page reload), suspend() keeps the player, close() forgets it", async () => {
  FakeSocket.all.length = 0;
  const saved = { room: "r1", token: "66".repeat(16), lastEventSeq: 41, entity: 7 };
  const client = new TickstreamClient({ url: "wss://x.test/ws", room: "r1", WebSocket: FakeSocket, reconnectInitialMs: 10 });
  try {
    assert.throws(() => client.resume({ ...saved, room: "other" }), TypeError, "a state of another room is refused");
    client.resume(saved);
    FakeSocket.all[0].open();
    assert.deepEqual(FakeSocket.all[0].sent[0], { type: "Resume", room: "r1", token: saved.token, lastEventSeq: 41 }, "resumes with the saved state");
    FakeSocket.all[0].deliver({ ...welcome, resumed: true });
    FakeSocket.all[0].deliver(upd(5, 0, [e(7, 0, 0, 0)], { spawns: [e(7, 0, 0, 0)] }, [ev(42)]));
    assert.equal(client.stats().lastEventSeq, 42, "events continue from the saved seq");
    // resume() while connected: the open connection is dropped, a new one resumes.
    client.resume();
    assert.equal(FakeSocket.all[0].closedWith?.code, CloseCode.SUSPEND, "the old connection is closed with 4100");
    FakeSocket.all[1].open();
    assert.deepEqual(
      FakeSocket.all[1].sent[0],
      { type: "Resume", room: "r1", token: welcome.resumeToken, lastEventSeq: 42 },
      "the newest token and seq",
    );
    FakeSocket.all[1].deliver({ ...welcome, resumed: true, resumeToken: "77".repeat(16) });
    client.suspend("page hidden");
    assert.equal(FakeSocket.all[1].closedWith?.code, CloseCode.SUSPEND, "suspend() closes with 4100");
    assert.equal(client.stats().lastClose.willReconnect, false, "and does not reconnect by itself");
    await sleep(40);
    assert.equal(FakeSocket.all.length, 2, "no new socket after suspend()");
    assert.equal(client.resumeState().token, "77".repeat(16), "suspend() keeps the player");
    client.resume();
    FakeSocket.all[2].open();
    assert.deepEqual(FakeSocket.all[2].sent[0], { type: "Resume", room: "r1", token: "77".repeat(16), lastEventSeq: 42 }, "resume() after suspend()");
    client.close();
    assert.equal(FakeSocket.all[2].closedWith?.code, CloseCode.NORMAL, "close() closes with 1000: the player leaves");
    assert.equal(client.resumeState(), null, "close() forgets the player");
    client.connect();
    FakeSocket.all[3].open();
    assert.deepEqual(FakeSocket.all[3].sent[0], { type: "Join", room: "r1" }, "so the next connect joins");
  } finally {
    client.close();
  }
});

test("a resume from a saved state continues the input seq, so the resumed player moves", async () => {
  // The first page: a few inputs, then what it saves before the reload.
  const { client: first, ws } = started();
  first.setInput(1, 0);
  await sleep(60);
  first.setInput(0, 0);
  await sleep(60);
  const saved = JSON.parse(JSON.stringify(first.resumeState()));
  assert.equal(saved.inputSeq, 2, "the resume state carries the last input seq");
  first.suspend("reload");
  assert.equal(ws.closedWith.code, CloseCode.SUSPEND, "suspended");
  // The next page: a new client from the saved state; the server is at ack_seq 2.
  FakeSocket.all.length = 0;
  const client = new TickstreamClient({ url: "wss://x.test/ws", room: "r1", WebSocket: FakeSocket, resume: saved });
  try {
    client.connect();
    const next = FakeSocket.all[0];
    next.open();
    next.deliver({ ...welcome, resumed: true, resumeToken: "88".repeat(16) });
    next.deliver(upd(40, 2, [e(7, 6400, 6400, 0)], { spawns: [e(7, 6400, 6400, 0)] }));
    client.setInput(0, 1);
    await sleep(60);
    assert.deepEqual(
      next.inputs().map((i) => i.seq),
      [3, 4].slice(0, next.inputs().length),
      "seqs continue after the saved one (the current input again, then the new one)",
    );
    assert.ok(next.inputs().every((i) => i.seq > 2), "no input at or below the server's ack_seq");
    assert.deepEqual(next.inputs().at(-1), { type: "Input", seq: next.inputs().length + 2, dx: 0, dy: 1, buttons: 0 }, "the new input is sent");
    assert.equal(client.resumeState().inputSeq, next.inputs().at(-1).seq, "and saved again");
  } finally {
    client.close();
  }
  // A state saved by an older page, without inputSeq: the client continues after the server's
  // ack_seq as soon as the first Update names it.
  FakeSocket.all.length = 0;
  const old = new TickstreamClient({ url: "wss://x.test/ws", room: "r1", WebSocket: FakeSocket, resume: { ...saved, inputSeq: undefined } });
  try {
    old.connect();
    const next = FakeSocket.all[0];
    next.open();
    next.deliver({ ...welcome, resumed: true });
    next.deliver(upd(40, 12, [e(7, 6400, 6400, 0)], { spawns: [e(7, 6400, 6400, 0)] }));
    old.setInput(-1, 0);
    await sleep(60);
    assert.ok(next.inputs().length > 0 && next.inputs().every((i) => i.seq > 12), "continues after ack_seq 12");
    assert.deepEqual(next.inputs().at(-1), { type: "Input", seq: 12 + next.inputs().length, dx: -1, dy: 0, buttons: 0 }, "the new input");
  } finally {
    old.close();
  }
});

test("with autoResume off a reconnect joins afresh", async () => {
  const { client, ws } = started({ autoResume: false });
  try {
    ws.serverClose(CloseCode.ABNORMAL);
    await sleep(60);
    FakeSocket.all[1].open();
    assert.deepEqual(FakeSocket.all[1].sent[0], { type: "Join", room: "r1" }, "Join, not Resume");
  } finally {
    client.close();
  }
});

test("prediction and interpolation use the game's player speed unless told otherwise", () => {
  for (const [game, options, speed] of [
    ["coins", {}, 4],
    ["arena", {}, 5],
    ["coins", { playerSpeed: 7, maxStep: 7 }, 7],
    ["arena", { playerSpeed: (w) => (w.game === "arena" ? 3 : 9), maxStep: () => 3 }, 3],
  ]) {
    FakeSocket.all.length = 0;
    const client = new TickstreamClient({ url: "wss://x.test/ws", WebSocket: FakeSocket, ...options });
    try {
      client.connect();
      FakeSocket.all[0].open();
      FakeSocket.all[0].deliver({ ...welcome, game });
      assert.equal(client.predictor.speed, speed, `${game} with ${JSON.stringify(Object.keys(options))}: predicted speed`);
      assert.equal(client.interp.maxStep, speed, `${game}: interpolation's largest step`);
    } finally {
      client.close();
    }
  }
});

test("on v4 the Welcome's move rule drives prediction, and a game's own step function replaces it", () => {
  const joined = (rule, options = {}) => {
    FakeSocket.all.length = 0;
    const client = new TickstreamClient({ url: "wss://x.test/ws", WebSocket: FakeSocket, reconnect: false, ...options });
    client.connect();
    FakeSocket.all[0].open("tickstream.v4");
    FakeSocket.all[0].deliver({ ...welcome, protocol: 4, game: "mine", moveRule: rule });
    return client;
  };
  let client = joined({ kind: "walk", speed: 3 });
  try {
    assert.equal(client.stats().state, "playing", "welcomed");
    assert.equal(client.predictor.speed, 3, "the published speed, whatever the game's name");
    assert.equal(client.predictor.gameStep, null, "the walk rule");
    assert.equal(client.interp.maxStep, 3, "interpolation's largest step follows it");
  } finally {
    client.close();
  }
  // A game that publishes no rule: no prediction (the own entity stays where the server put
  // it), unless the application still passes the speed it used to, or its own step.
  client = joined({ kind: "none" });
  try {
    const p = client.predictor;
    p.reconcile(10, 0, 50, 50);
    p.noteInput(1, 1, 0);
    p.advanceTo(12);
    assert.deepEqual([p.x, p.y], [50, 50], "prediction off");
  } finally {
    client.close();
  }
  client = joined({ kind: "none" }, { playerSpeed: 2 });
  try {
    assert.equal(client.predictor.speed, 2, "an explicit playerSpeed still walks");
    assert.equal(client.predictor.gameStep, null);
  } finally {
    client.close();
  }
  const calls = [];
  const step = (s, input, w) => {
    calls.push(w.game);
    s.x += input.buttons & 1 ? 10 : 1; // dashes with button 1
    s.y = Math.min(s.y + input.dy, 100);
  };
  client = joined({ kind: "walk", speed: 3 }, { predict: step });
  try {
    const p = client.predictor;
    p.reconcile(10, 0, 0, 99);
    p.noteInput(1, 1, 1, 1);
    p.advanceTo(12);
    assert.deepEqual([p.x, p.y], [20, 100], "the game's step wins over the published rule, buttons included");
    assert.deepEqual(calls, ["mine", "mine"], "called once per predicted tick, with the Welcome");
    p.reconcile(11, 1, 10, 100);
    assert.deepEqual([p.x, p.y], [20, 100], "replayed with it on reconcile");
  } finally {
    client.close();
  }
  client = joined({ kind: "walk", speed: 3 }, { predict: false });
  try {
    const p = client.predictor;
    p.reconcile(10, 0, 5, 5);
    p.noteInput(1, 1, 0);
    p.advanceTo(11);
    assert.deepEqual([p.x, p.y], [5, 5], "predict: false turns it off");
  } finally {
    client.close();
  }
  assert.throws(() => new TickstreamClient({ url: "wss://x.test/ws", WebSocket: FakeSocket, predict: 3 }), /options.predict/);
});

test("a Welcome of the wrong form for the connection's version, or an unusable rule, is refused", () => {
  for (const [subprotocol, w, why] of [
    ["tickstream.v4", { ...welcome, protocol: 4 }, "a v3-form Welcome on v4"],
    ["tickstream.v3", { ...welcome, protocol: 3, moveRule: { kind: "walk", speed: 5 } }, "a Welcome4 on v3"],
    ["tickstream.v4", { ...welcome, protocol: 4, moveRule: { kind: "walk", speed: Number.NaN } }, "a NaN speed"],
    ["tickstream.v4", { ...welcome, protocol: 4, moveRule: { kind: "walk", speed: -1 } }, "a negative speed"],
  ]) {
    FakeSocket.all.length = 0;
    const client = new TickstreamClient({ url: "wss://x.test/ws", WebSocket: FakeSocket, reconnect: false });
    try {
      client.connect();
      FakeSocket.all[0].open(subprotocol);
      FakeSocket.all[0].deliver(w);
      assert.equal(client.stats().state, "closed", why);
    } finally {
      client.close();
    }
  }
});

for (const version of [3, 4, 5]) test(`on a v${version} connection the client applies Update3s and hands on the same Updates as v2`, async () => {
  const golden = readFileSync(new URL("../../shared/tests/golden/vectors-v3.txt", import.meta.url), "utf8")
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[1])
    .filter(Boolean)
    .map(unhex);
  FakeSocket.all.length = 0;
  const client = new TickstreamClient({ url: "wss://example.test/ws", room: "r1", WebSocket: FakeSocket, reconnect: false });
  try {
    const updates = [];
    const desyncs = [];
    client.on("update", (u) => updates.push(u));
    client.on("desync", (d) => desyncs.push(d.error.message));
    client.connect();
    const ws = FakeSocket.all[0];
    ws.open(`tickstream.v${version}`);
    const rule = version >= 4 ? { moveRule: { kind: "walk", speed: 4 } } : {};
    ws.deliver({ ...welcome, protocol: version, entity: 2, ...rule });
    for (const bytes of golden) ws.onmessage({ data: bytes.slice().buffer });
    assert.deepEqual(desyncs, [], "no desync");
    const s = client.stats();
    assert.equal(s.protocol, version, `version ${version}`);
    assert.equal(s.state, "playing", "still playing");
    assert.equal(s.tick, 18, "the last tick");
    assert.equal(s.ackSeq, 300, "the last ack");
    assert.equal(s.entities, 15, "the view");
    assert.deepEqual(
      updates.map((u) => [u.type, u.tick, u.ackSeq]),
      [["Update", 10, 0], ["Update", 11, 1], ["Update", 13, 1], ["Update", 14, 3], ["Update", 15, 3], ["Update", 18, 300]],
      "every update is handed on as a v2 Update, with absolute ticks and acks",
    );
    assert.deepEqual(updates[2].delta.changes, [{ id: 0, dx: 640, dy: 0, form: 1 }, { id: 2, dx: 453, dy: 451, form: 0 }], "moves as differences");
    assert.deepEqual(client.entity(2).fields.slice(0, 2), [0, -2], "field differences added up");
    assert.equal(client.field(2, "score"), 0, "and read by name");
    assert.deepEqual(updates[2].delta.fieldChanges, [{ id: 2, mask: 1, values: [6, 0, 0, 0, 0, 0, 0, 0] }], "field changes carry new values");
    // v5: an input carries the render tick of the last frame drawn (lag compensation).
    const frame = client.frame();
    assert.ok(frame.renderTick !== null, "a frame has a render tick");
    const drawn = frame.renderTick;
    await sleep(250); // a few ticks later: past the one-input-per-tick limit
    client.setInput(1, 0, 1);
    const sent = ws.sent.filter((m) => m.type === "Input" || m.type === "Input5");
    const last = sent[sent.length - 1];
    if (version >= 5) {
      const { viewTick, viewFrac } = viewTime(drawn);
      assert.deepEqual(last, { type: "Input5", seq: last.seq, dx: 1, dy: 0, buttons: 1, viewTick, viewFrac }, "Input5 with the displayed tick");
    } else {
      assert.deepEqual(last, { type: "Input", seq: last.seq, dx: 1, dy: 0, buttons: 1 }, "a plain Input before v5");
    }
  } finally {
    client.close();
  }
});

test("an update of the other version is a protocol error", () => {
  FakeSocket.all.length = 0;
  const client = new TickstreamClient({ url: "wss://example.test/ws", room: "r1", WebSocket: FakeSocket, reconnect: false });
  try {
    const errors = [];
    client.on("error", (e) => errors.push(e.error.message));
    client.connect();
    const ws = FakeSocket.all[0];
    ws.open("tickstream.v3");
    ws.deliver({ ...welcome, protocol: 3 });
    ws.deliver(upd(2, 0, [e(7, 6400, 6400, 0)], { spawns: [e(7, 6400, 6400, 0)] }));
    assert.ok(errors.some((m) => /Update on a version 3 connection/.test(m)), `refused: ${errors}`);
  } finally {
    client.close();
  }
  FakeSocket.all.length = 0;
  const c2 = new TickstreamClient({ url: "wss://example.test/ws", room: "r1", WebSocket: FakeSocket, reconnect: false });
  try {
    c2.connect();
    FakeSocket.all[0].open("tickstream.v3");
    FakeSocket.all[0].deliver(welcome); // protocol 2 on a v3 connection
    assert.equal(c2.stats().state, "closed", "a Welcome of another version is refused");
  } finally {
    c2.close();
  }
});
