// A remote entity drawn at 60 fps over a link with latency and jitter, in virtual time: the
// client library plays a fake socket that delivers a server's Updates (NPCs moving 5 units a
// tick at 30 Hz, turning at random, as in the `arena` game) at the times the link says, and
// frame() is called every 16.7 ms. What the frames show is measured as the browser test
// (tests/browser/jitter.mjs) measures it: the share of repeated frames (an NPC drawn where it
// was the frame before, while it moves) and the largest move from one frame to the next
// (a smooth one is 5 × 30 / 60 = 2.5 units).
//
//   node tests/js/sim/jitter.mjs [LIBRARY]     prints the figures of each scenario
//
// Deterministic: the link's delays and the NPCs' turns come from seeded generators.

import { welcome as coinsWelcome, upd, e } from "../support.mjs";

const HZ = 30;
const FRAME_MS = 1000 / 60;
const SPEED = 5;
const WORLD = 1000;
const GRID = 64;

/** Mulberry32: a small seeded generator, as the server's. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The scenarios of docs/WEB_CLIENT.md: base latency, jitter range, one stall. */
export const SCENARIOS = [
  { name: "50 ms + 0–80 ms jitter", baseMs: 50, jitterMs: 80, stallMs: 0 },
  { name: "50 ms + 0–120 ms jitter", baseMs: 50, jitterMs: 120, stallMs: 0 },
  { name: "50 ms, one 250 ms stall", baseMs: 50, jitterMs: 0, stallMs: 250 },
];

class FakeSocket {
  constructor() {
    this.readyState = 0;
    this.bufferedAmount = 0;
    this.protocol = "";
    FakeSocket.last = this;
  }
  send() {}
  close() {
    this.readyState = 3;
  }
}

/**
 * Plays `scenario` for `seconds` with the library `lib` (the module's exports) and returns
 * `{ frames, repeated, repeatedPct, maxStep, smoothStep }` over the frames after the first 3 s.
 */
export function simulate(lib, scenario, { seconds = 20, npcs = 8, seed = 7 } = {}) {
  const { TickstreamClient, encodeServerMsg } = lib;
  let now = 0;
  const client = new TickstreamClient({ url: "wss://sim.test/ws", room: "sim", WebSocket: FakeSocket, reconnect: false, now: () => now });
  client.connect();
  const ws = FakeSocket.last;
  ws.readyState = 1;
  ws.protocol = "tickstream.v2";
  ws.onopen?.({});
  const deliver = (msg) => ws.onmessage?.({ data: encodeServerMsg(msg).buffer });
  const own = 1000;
  deliver({ ...coinsWelcome, game: "arena", kinds: ["player", "npc"], fields: [], eventKinds: [], entity: own, tickRateHz: HZ, worldWidth: WORLD, worldHeight: WORLD });

  const turn = rng(seed);
  const jitter = rng(seed + 1);
  const state = [];
  for (let i = 0; i < npcs; i++) state.push({ x: 200 + 80 * i, y: 300 + 40 * i, h: turn() * 2 * Math.PI, gx: 0, gy: 0 });
  const view = () => [...state.map((s, i) => e(i, s.gx, s.gy, 1)), e(own, 500 * GRID, 500 * GRID, 0)];
  for (const s of state) {
    s.gx = Math.round(s.x * GRID);
    s.gy = Math.round(s.y * GRID);
  }
  // The server's Updates with their arrival times: one a tick, in order (a TCP link).
  const arrivals = [];
  let lastArrival = 0;
  const stallAt = seconds * 500; // halfway
  for (let tick = 1; tick <= seconds * HZ + 10; tick++) {
    const sentAt = (tick * 1000) / HZ;
    let msg;
    if (tick === 1) {
      msg = upd(tick, 0, view(), { spawns: view() });
    } else {
      const changes = [];
      state.forEach((s, i) => {
        if (turn() < 0.1) s.h = turn() * 2 * Math.PI;
        let x = s.x + Math.cos(s.h) * SPEED;
        let y = s.y + Math.sin(s.h) * SPEED;
        if (x < 0 || x > WORLD || y < 0 || y > WORLD) {
          s.h += Math.PI;
          x = s.x + Math.cos(s.h) * SPEED;
          y = s.y + Math.sin(s.h) * SPEED;
        }
        s.x = x;
        s.y = y;
        const gx = Math.round(x * GRID);
        const gy = Math.round(y * GRID);
        changes.push({ id: i, dx: gx - s.gx, dy: gy - s.gy });
        s.gx = gx;
        s.gy = gy;
      });
      msg = upd(tick, 0, view(), { changes });
    }
    let at = sentAt + scenario.baseMs + jitter() * scenario.jitterMs;
    if (scenario.stallMs > 0 && sentAt >= stallAt && sentAt < stallAt + scenario.stallMs) at = Math.max(at, stallAt + scenario.stallMs + scenario.baseMs);
    at = Math.max(at, lastArrival);
    lastArrival = at;
    arrivals.push([at, msg]);
  }

  const steps = [];
  let repeated = 0;
  let frames = 0;
  let maxStep = 0;
  let prev = null;
  let next = 0;
  for (now = 0; now < seconds * 1000; now += FRAME_MS) {
    while (next < arrivals.length && arrivals[next][0] <= now) deliver(arrivals[next++][1]);
    const f = client.frame(now);
    const pos = new Map(f.entities.map((r) => [r.id, [r.x, r.y]]));
    if (prev && now > 3000) {
      for (const [id, [x, y]] of pos) {
        const p = prev.get(id);
        if (!p) continue;
        const step = Math.hypot(x - p[0], y - p[1]);
        frames++;
        if (step < 1e-9) repeated++;
        if (step > maxStep) maxStep = step;
        steps.push(step);
      }
    }
    prev = pos;
  }
  client.close();
  return { frames, repeated, repeatedPct: (100 * repeated) / Math.max(1, frames), maxStep, smoothStep: (SPEED * HZ * FRAME_MS) / 1000 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = process.argv[2] ? new URL(process.argv[2], `file://${process.cwd()}/`).href : "../../../assets/web/tickstream.js";
  const lib = await import(path);
  for (const s of SCENARIOS) {
    const r = simulate(lib, s);
    console.log(`${s.name.padEnd(26)} repeated ${r.repeatedPct.toFixed(1).padStart(5)} % of ${r.frames} frames, largest step ${r.maxStep.toFixed(2)} (smooth ${r.smoothStep})`);
  }
}
