// The client's edges (issue 17, point 5): a time on another base, close reasons past 123 bytes,
// memory that stays bounded whatever the application calls, inputs paced under the server's
// rate limit at any tick rate, no endless retry on 1008, and a Welcome that cannot be played.

import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";

import { CloseCode, MAX_CLOSE_REASON, Predictor, RateWindow, TickstreamClient, closeReason } from "../../assets/web/tickstream.js";
import { FakeSocket, e, started, upd, welcome } from "./support.mjs";

const utf8Length = (s) => new TextEncoder().encode(s).length;

test("frame(Date.now()) is on the wrong time base: ignored with one warning, not 512 ticks of prediction", () => {
  const warnings = [];
  const warn = console.warn;
  console.warn = (...args) => warnings.push(args.join(" "));
  const { client } = started();
  try {
    client.setInput(1, 0);
    const before = client.predictor.tick;
    client.frame(Date.now());
    client.frame(Date.now());
    const after = client.predictor.tick;
    assert.ok(after - before <= 3, `the prediction stays near now (ticks ${before} → ${after})`);
    assert.equal(warnings.length, 1, `one warning: ${warnings.join("; ")}`);
    assert.match(warnings[0], /performance\.now\(\)/, "the warning names the time base");
    const f = client.frame(performance.now());
    assert.ok(f.own && Math.abs(f.own.x - 100) < 20, `a frame at performance.now() draws the player near the server's position (${f.own?.x})`);
  } finally {
    console.warn = warn;
    client.close();
  }
});

test("a clock of the application's own (options.now) is the time base", () => {
  let t = 1_000_000;
  const { client } = started({ now: () => t });
  try {
    const tick = client.predictor.tick;
    t += 1000; // one second at 30 Hz
    client.frame(t);
    assert.ok(client.predictor.tick - tick >= 29 && client.predictor.tick - tick <= 31, `30 ticks a second (${client.predictor.tick - tick})`);
  } finally {
    client.close();
  }
});

test("close reasons are cut to 123 UTF-8 bytes, and close() always closes the socket", () => {
  assert.equal(closeReason("short"), "short", "a short reason as is");
  for (const long of ["x".repeat(200), "é".repeat(100), "👋".repeat(40), "a" + "€".repeat(60)]) {
    const cut = closeReason(long);
    assert.ok(utf8Length(cut) <= MAX_CLOSE_REASON, `${utf8Length(cut)} bytes`);
    assert.ok(long.startsWith(cut) && utf8Length(cut) > MAX_CLOSE_REASON - 4, "a prefix, cut on a character boundary");
  }
  for (const reason of ["x".repeat(200), "é".repeat(100)]) {
    const { client, ws } = started();
    client.close(reason);
    assert.equal(ws.closedWith?.code, CloseCode.NORMAL, "the socket is closed with 1000");
    assert.ok(utf8Length(ws.closedWith.reason) <= MAX_CLOSE_REASON, "with a reason that fits");
    assert.equal(client.state, "closed", "and the client says closed");
  }
  // The client's own closes carry long reasons too (a desync's message).
  const { client, ws } = started();
  try {
    client.fail(ws, "ü".repeat(300), true);
    assert.equal(ws.closedWith?.code, CloseCode.SUSPEND, "closed with 4100");
    assert.ok(utf8Length(ws.closedWith.reason) <= MAX_CLOSE_REASON, "a reason that fits");
  } finally {
    client.close();
  }
});

test("the update-rate window stays bounded without stats()", () => {
  const w = new RateWindow(2000);
  for (let i = 0; i < 200_000; i++) w.add(i, 100);
  assert.ok(w.times.length <= 4096 + 1025, `entries kept: ${w.times.length}`);
  const [hz, bytes] = w.rates(200_000);
  assert.ok(Math.abs(hz - 1000) < 5, `1000 a second (${hz})`);
  assert.ok(Math.abs(bytes - 100_000) < 500, `100 kB a second (${bytes})`);
  const burst = new RateWindow(2000, 100);
  for (let i = 0; i < 10_000; i++) burst.add(5, 1);
  assert.ok(burst.times.length - burst.head <= 100, "a burst in one instant keeps at most maxEntries");
});

test("the predictor's inputs stay bounded while the own entity is out of the replica", () => {
  const p = new Predictor({ worldWidth: 100, worldHeight: 100, maxHistory: 512 });
  for (let seq = 1; seq <= 100_000; seq++) p.noteInput(seq, seq % 2, 0);
  assert.ok(p.inputs.size <= 512, `inputs kept: ${p.inputs.size}`);
  assert.ok(p.inputs.has(100_000), "the newest is kept");
  assert.equal(p.current.seq, 100_000, "and in force");
});

test("inputs stay under the server's rate limit at 120 Hz", async () => {
  const { client, ws } = started({}, { ...welcome, tickRateHz: 120 });
  try {
    const start = performance.now();
    let i = 0;
    while (performance.now() - start < 1000) {
      client.setInput(i++ % 2, 1); // a new intent every few ms: a twitchy stick
      await sleep(2);
    }
    const n = ws.inputs().length;
    // The server's default: 60 messages a second sustained (PROTOCOL.md §3.6), pings included.
    assert.ok(n <= 32, `${n} inputs in a second: at most maxInputRateHz (30) plus one`);
    assert.ok(n >= 10, `${n} inputs in a second: still sent`);
  } finally {
    client.close();
  }
});

test("1008 is retried a few times in a row, then the session ends; a static token refused ends it at once", async () => {
  {
    const { client, ws } = started({ reconnectInitialMs: 5, reconnectMaxMs: 5 });
    const closes = [];
    client.on("close", (c) => closes.push(c));
    ws.serverClose(CloseCode.POLICY, "rate limit");
    for (let i = 0; i < 10 && client.state !== "closed"; i++) {
      await sleep(30);
      const s = FakeSocket.all.at(-1);
      s.open();
      s.deliver(welcome);
      s.serverClose(CloseCode.POLICY, "rate limit");
    }
    assert.equal(client.state, "closed", "the client gives up");
    assert.equal(closes.length, 3, `two retries, then final: ${closes.map((c) => c.willReconnect).join(", ")}`);
    assert.equal(closes.at(-1).willReconnect, false, "the last close says so");
    await sleep(40);
    assert.equal(FakeSocket.all.length, 3, "no more sockets");
  }
  {
    FakeSocket.all.length = 0;
    const client = new TickstreamClient({ url: "wss://x.test/ws", WebSocket: FakeSocket, token: "used-token", reconnectInitialMs: 5 });
    client.connect();
    FakeSocket.all[0].open();
    FakeSocket.all[0].serverClose(CloseCode.POLICY, "join token already used");
    assert.equal(client.state, "closed", "a used static token is final");
    assert.equal(client.stats().lastClose.willReconnect, false, "no retry");
  }
  {
    // A token function that keeps handing out a used token: bounded too.
    FakeSocket.all.length = 0;
    const client = new TickstreamClient({ url: "wss://x.test/ws", WebSocket: FakeSocket, token: () => "stale", reconnectInitialMs: 5, reconnectMaxMs: 5 });
    client.connect();
    for (let i = 0; i < 10 && client.state !== "closed"; i++) {
      await sleep(30);
      const s = FakeSocket.all.at(-1);
      if (!s || s.readyState !== 0) continue;
      s.open();
      s.serverClose(CloseCode.POLICY, "join token already used");
    }
    assert.equal(client.state, "closed", "gives up after the retries");
    assert.equal(FakeSocket.all.length, 3, "three attempts");
  }
  {
    // Other codes in between start the count over.
    const { client, ws } = started({ reconnectInitialMs: 5, reconnectMaxMs: 5 });
    try {
      ws.serverClose(CloseCode.POLICY, "rate limit");
      assert.equal(client.stats().lastClose.willReconnect, true, "the first 1008 is retried");
      assert.equal(client.policyCloses, 1, "counted");
      await sleep(30);
      FakeSocket.all.at(-1).open();
      FakeSocket.all.at(-1).serverClose(CloseCode.ABNORMAL);
      assert.equal(client.policyCloses, 0, "a lost link starts the count over");
    } finally {
      client.close();
    }
  }
});

test("a Welcome with a world that is not finite, or a tick rate of 0, ends the session", () => {
  for (const [what, bad] of [
    ["NaN width", { worldWidth: Number.NaN }],
    ["infinite height", { worldHeight: Number.POSITIVE_INFINITY }],
    ["zero width", { worldWidth: 0 }],
    ["negative view radius", { viewRadius: -1 }],
    ["NaN view radius", { viewRadius: Number.NaN }],
    ["NaN field scale", { fields: [{ name: "score", scale: Number.NaN }] }],
    ["tick rate 0", { tickRateHz: 0 }],
  ]) {
    FakeSocket.all.length = 0;
    const client = new TickstreamClient({ url: "wss://x.test/ws", WebSocket: FakeSocket, reconnectInitialMs: 5 });
    const errors = [];
    client.on("error", ({ error }) => errors.push(error.message));
    client.connect();
    const ws = FakeSocket.all[0];
    ws.open();
    ws.deliver({ ...welcome, ...bad });
    assert.equal(client.state, "closed", `${what}: closed for good`);
    assert.equal(client.predictor, null, `${what}: nothing predicts in that world`);
    assert.match(errors.join(" "), /invalid Welcome/, `${what}: the error says why (${errors})`);
    assert.equal(ws.closedWith?.code, CloseCode.NORMAL, `${what}: the socket is closed`);
  }
  const { client, ws } = started();
  try {
    ws.deliver(upd(3, 0, [e(7, 6400, 6400, 0)], {}));
    assert.equal(client.state, "playing", "a valid Welcome plays");
  } finally {
    client.close();
  }
});
