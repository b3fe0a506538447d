// Allocations and time per update and per frame of the browser client at 1,000 entities in
// view, for protocol v3 (Update3) and v2 (Update): the steady state of a busy room, where every
// entity moves every tick and turns now and then.
//
//   node --expose-gc tests/js/bench/alloc.mjs [ENTITIES] [UPDATES]
//
// Prints a table; BENCHMARKS.md has the figures. tests/js/alloc.test.mjs runs `measure` with
// a generous bound, so that a regression fails a test. Allocation is the growth of the heap
// between two forced collections over a batch small enough to fit the young generation;
// batches during which V8 collected anyway are not counted.

import { PerformanceObserver } from "node:perf_hooks";
import v8 from "node:v8";
import vm from "node:vm";

import { TickstreamClient, encodeServerMsg, viewChecksum } from "../../../assets/web/tickstream.js";

/** `gc()`, with or without --expose-gc. */
function collector() {
  if (typeof globalThis.gc === "function") return globalThis.gc;
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc");
}

/** A deterministic pseudo-random generator (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The rounding of the v3 prediction for k = g = 1: c + (c - p). */
const predict1 = (c, p, first) => (first ? c : Math.min(Math.max(c + (c - p), 0), 0xffffffff));

/**
 * `updates` encoded Updates of `version` for a view of `n` entities (own entity 0, a player;
 * the others NPCs) moving 5 units a tick in a 2,000-unit world, each turning with probability
 * 1/20 a tick. Returns the Welcome and the frames, as the server would send them.
 */
export function stream(version, n, updates, seed = 17) {
  const rand = rng(seed);
  const W = 2000 * 64;
  const ents = [];
  for (let id = 0; id < n; id++) {
    const a = rand() * 2 * Math.PI;
    ents.push({ id, kind: id === 0 ? 0 : 1, x: Math.floor(rand() * W), y: Math.floor(rand() * W), vx: Math.round(Math.cos(a) * 320), vy: Math.round(Math.sin(a) * 320), px: 0, py: 0 });
  }
  const welcome = {
    type: "Welcome",
    protocol: version,
    entity: 0,
    tickRateHz: 30,
    tick: 1,
    worldWidth: 2000,
    worldHeight: 2000,
    viewRadius: 0,
    game: "arena",
    kinds: ["player", "npc"],
    fields: [],
    eventKinds: [],
    resumeToken: "00".repeat(16),
    resumed: false,
  };
  const frames = [];
  const view = () => ents.map((e) => ({ id: e.id, kind: e.kind, x: e.x, y: e.y, fields: [0, 0, 0, 0, 0, 0, 0, 0] }));
  for (let u = 0; u < updates; u++) {
    const tick = 2 + u;
    if (u === 0) {
      const spawns = view();
      const checksum = viewChecksum(spawns);
      frames.push(
        version === 3
          ? encodeServerMsg({ type: "Update3", tickGap: tick, ackDelta: 0, checksum, delta: { despawns: [], motion: { held: 0, sparse: false, moves: [] }, spawns, fieldChanges: [] } })
          : encodeServerMsg({ type: "Update", tick, ackSeq: 0, checksum, delta: { despawns: [], spawns, changes: [], fieldChanges: [] } }),
      );
      for (const e of ents) {
        e.px = e.x;
        e.py = e.y;
      }
      continue;
    }
    const moves = [];
    const changes = [];
    for (const e of ents) {
      if (e.id !== 0 && rand() < 0.05) {
        const a = rand() * 2 * Math.PI;
        e.vx = Math.round(Math.cos(a) * 320);
        e.vy = Math.round(Math.sin(a) * 320);
      }
      let nx = e.x + e.vx;
      let ny = e.y + e.vy;
      if (nx < 0 || nx > W) (e.vx = -e.vx), (nx = e.x + e.vx);
      if (ny < 0 || ny > W) (e.vy = -e.vy), (ny = e.y + e.vy);
      if (e.id === 0) (nx = e.x), (ny = e.y); // the own player stands still
      const first = u === 1;
      const rx = nx - predict1(e.x, e.px, first);
      const ry = ny - predict1(e.y, e.py, first);
      if (rx !== 0 || ry !== 0) moves.push({ index: e.id, rx, ry });
      if (nx !== e.x || ny !== e.y) changes.push({ id: e.id, dx: nx - e.x, dy: ny - e.y });
      e.px = e.x;
      e.py = e.y;
      e.x = nx;
      e.y = ny;
    }
    const checksum = viewChecksum(view());
    frames.push(
      version === 3
        ? encodeServerMsg({ type: "Update3", tickGap: 1, ackDelta: 0, checksum, delta: { despawns: [], motion: { held: n, sparse: false, moves }, spawns: [], fieldChanges: [] } })
        : encodeServerMsg({ type: "Update", tick, ackSeq: 0, checksum, delta: { despawns: [], spawns: [], changes, fieldChanges: [] } }),
    );
  }
  return { welcome, frames };
}

/** A socket that is never connected to anything: the benchmark delivers the frames itself. */
class NullSocket {
  constructor() {
    this.readyState = 0;
    this.bufferedAmount = 0;
    this.protocol = "";
  }
  send() {}
  close() {
    this.readyState = 3;
  }
}

/**
 * Feeds `updates` updates of `version` with `n` entities to a client (one update per 33 ms of
 * its clock, two frames per update, as at 30 Hz and 60 fps) after `warmup` updates, and returns
 * bytes allocated and microseconds per update and per frame (medians over batches).
 */
export function measure({ version = 3, n = 1000, updates = 300, warmup = 100, batch = 10 } = {}) {
  const gc = collector();
  const { welcome, frames } = stream(version, n, warmup + updates + 1);
  let t = 1000;
  let ws = null;
  const client = new TickstreamClient({
    url: "ws://bench.invalid/ws",
    WebSocket: function (url, protocols) {
      ws = new NullSocket(url, protocols);
      return ws;
    },
    now: () => t,
    reconnect: false,
  });
  client.connect();
  ws.readyState = 1;
  ws.protocol = `tickstream.v${version}`;
  ws.onopen({});
  ws.onmessage({ data: encodeServerMsg(welcome).buffer });
  let next = 0;
  const deliver = () => {
    t += 1000 / 30;
    ws.onmessage({ data: frames[next++].buffer });
  };
  const frame = () => {
    t += 1000 / 60;
    client.frame(t);
  };
  for (let i = 0; i < warmup; i++) {
    deliver();
    frame();
    frame();
  }
  let collections = 0;
  const observer = new PerformanceObserver((list) => (collections += list.getEntries().length));
  observer.observe({ entryTypes: ["gc"] });
  const samples = { updateBytes: [], frameBytes: [], updateUs: [], frameUs: [] };
  const run = (what, fn) => {
    gc();
    const before = collections;
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn();
    const us = Number(process.hrtime.bigint() - t0) / 1000 / batch;
    const heap1 = process.memoryUsage().heapUsed;
    samples[`${what}Us`].push(us);
    // A batch during which V8 collected by itself undercounts: its bytes are not used.
    if (collections === before) samples[`${what}Bytes`].push(Math.max(0, heap1 - heap0) / batch);
  };
  const frameTwice = () => {
    frame();
    frame();
  };
  for (let done = 0; done < updates; done += batch) {
    run("update", deliver);
    run("frame", frameTwice);
  }
  observer.disconnect();
  const s = client.stats();
  client.close();
  if (s.desyncs !== 0 || s.entities !== n) throw new Error(`the client did not follow: ${s.desyncs} desyncs, ${s.entities} entities`);
  const median = (xs) => (xs.length === 0 ? Number.NaN : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
  return {
    version,
    entities: n,
    bytesPerUpdate: median(samples.updateBytes),
    bytesPer2Frames: median(samples.frameBytes),
    usPerUpdate: median(samples.updateUs),
    usPer2Frames: median(samples.frameUs),
    batches: samples.updateBytes.length,
    frameBytes: frames[frames.length - 1].length,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? 1000);
  const updates = Number(process.argv[3] ?? 300);
  console.log(`node ${process.version}, ${n} entities, ${updates} updates after 100 of warm-up; medians over batches of 10`);
  console.log("version | bytes/update (frame size) | allocated per update | per 2 frames | µs per update | µs per 2 frames");
  for (const version of [3, 2]) {
    const r = measure({ version, n, updates });
    console.log(
      `v${r.version}      | ${String(r.frameBytes).padStart(6)} B | ${(r.bytesPerUpdate / 1024).toFixed(1).padStart(8)} KiB | ${(r.bytesPer2Frames / 1024).toFixed(1).padStart(8)} KiB |` +
        ` ${r.usPerUpdate.toFixed(0).padStart(6)} | ${r.usPer2Frames.toFixed(0).padStart(6)}   (${r.batches} clean batches)`,
    );
  }
}
