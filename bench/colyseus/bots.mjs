// Bots for the Colyseus reference-scenario server (server.mjs), all in one Node process.
//
//   node bots.mjs --clients M --port 2567 --variant A|B [--warmup 10] [--window 20] [--check]
//
// M clients join room "bench" over ~2 s with @colyseus/sdk, each sending {seq, dx, dy} as an
// "input" message at 20 Hz by the scenario's rule (bot i: mulberry32 seeded 1000 + i; a new
// direction every 20 inputs, starting with the first). Each counts the state patches it
// receives (ROOM_STATE_PATCH frames, i.e. one onStateChange per patch) and the WebSocket
// message payload bytes it receives (the byteLength of every message event on the SDK's
// underlying `ws` socket: no WebSocket frame headers, no TCP/IP).
//
// stdout carries only protocol lines, one per line:
//   WINDOW_START {...}   when the measurement window starts (run.sh reads the server's CPU then)
//   CHECK {...}          with --check, the sanity figures (after the warm-up, before the window)
//   RESULT {...}         when the window ends (run.sh reads the server's CPU then)
// Everything else goes to stderr.

import { Client } from "@colyseus/sdk";
import { mulberry32 } from "./scenario.mjs";

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const M = Number(arg("clients", 50));
const PORT = Number(arg("port", 2567));
const VARIANT = String(arg("variant", "A")).toUpperCase();
const WARMUP = Number(arg("warmup", 10));
const WINDOW = Number(arg("window", 20));
const CHECK = process.argv.includes("--check");
const JOIN_SPREAD_MS = 2000;
const RADIUS = 150;
const NPC_COUNT = 500;
const PROTOCOL_ROOM_STATE_PATCH = 15; // @colyseus/shared-types Protocol.ROOM_STATE_PATCH
const PROTOCOL_CODE_MASK = 0x3f; // low bits carry the code; high bits are modifiers (see SDK Room.mjs)

// Whole run is bounded: joins + warm-up + window + slack.
const HARD_LIMIT_MS = JOIN_SPREAD_MS + 30000 + (WARMUP + WINDOW) * 1000 + 15000;
setTimeout(() => { console.error("bots: hard time limit reached"); process.exit(3); }, HARD_LIMIT_MS).unref();

const DIRS = [[1, 0], [1, 1], [0, 1], [-1, 1], [-1, 0], [-1, -1], [0, -1], [1, -1]];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = (tag, obj) => process.stdout.write(`${tag} ${JSON.stringify(obj)}\n`);

const endpoint = `ws://127.0.0.1:${PORT}`;
const bots = [];
let closedDuringRun = 0;
let measuring = false;

async function startBot(i) {
  const client = new Client(endpoint);
  const room = await client.joinOrCreate("bench");
  const bot = { i, room, patches: 0, frames: 0, bytes: 0, patchBytes: 0, seq: 0, dir: [0, 0], rng: mulberry32(1000 + i), timer: null, left: false };
  // Count every message on the underlying socket, then hand it to the SDK as before.
  const events = room.connection.events;
  const sdkOnMessage = events.onmessage;
  events.onmessage = (event) => {
    const data = event.data;
    const len = data.byteLength;
    bot.frames++;
    bot.bytes += len;
    const code = new Uint8Array(data, 0, 1)[0] & PROTOCOL_CODE_MASK;
    if (code === PROTOCOL_ROOM_STATE_PATCH) { bot.patches++; bot.patchBytes += len; }
    sdkOnMessage(event);
  };
  room.onLeave(() => { bot.left = true; if (measuring) closedDuringRun++; });
  room.onError((code, message) => console.error(`bot ${i}: room error ${code} ${message}`));
  bot.timer = setInterval(() => {
    if (bot.seq % 20 === 0) bot.dir = DIRS[Math.floor(bot.rng() * 8)];
    bot.seq++;
    room.send("input", { seq: bot.seq, dx: bot.dir[0], dy: bot.dir[1] });
  }, 50);
  return bot;
}

// Ask the server for its counters through one bot; resolves with the reply or null (timeout).
function serverStats(bot, timeoutMs = 3000) {
  return new Promise((resolve) => {
    const to = setTimeout(() => { off(); resolve(null); }, timeoutMs);
    const off = bot.room.onMessage("stats", (msg) => { clearTimeout(to); off(); resolve(msg); });
    bot.room.send("stats", {});
  });
}

function snapshot() {
  return bots.map((b) => ({ patches: b.patches, frames: b.frames, bytes: b.bytes, patchBytes: b.patchBytes }));
}

async function check() {
  // Entity counts each client holds (decoded state), checked against the scenario.
  const sizes = bots.map((b) => b.room.state.entities.size);
  const res = {
    variant: VARIANT, clients: M,
    entities_held: { mean: sizes.reduce((a, b) => a + b, 0) / sizes.length, min: Math.min(...sizes), max: Math.max(...sizes) },
  };
  // Inputs reach the server: each client's own player, as decoded, should move ~5 units per
  // tick (less when pushed against a wall) between two looks 0.5 s apart.
  const pos = () => bots.map((b) => { const e = b.room.state.entities.get(b.room.sessionId); return e ? [e.x, e.y] : null; });
  const p0 = pos();
  await sleep(500);
  const p1 = pos();
  const moved = p0.map((a, i) => (a && p1[i] ? Math.hypot(p1[i][0] - a[0], p1[i][1] - a[1]) : 0));
  res.own_player_moved_in_0_5s = { clients_moved: moved.filter((d) => d > 0).length, mean_units: +(moved.reduce((a, b) => a + b, 0) / M).toFixed(1), max_units: +Math.max(...moved).toFixed(1) };
  if (VARIANT === "A") {
    res.expected_all = NPC_COUNT + M;
    res.clients_holding_all = sizes.filter((s) => s === NPC_COUNT + M).length;
  } else {
    // Each held entity must be within the radius of the client's own player (float32 on the
    // wire, so a small tolerance), and the own player must be held.
    let ownMissing = 0, outside = 0, maxDist = 0;
    for (const b of bots) {
      const own = b.room.state.entities.get(b.room.sessionId);
      if (!own) { ownMissing++; continue; }
      b.room.state.entities.forEach((e) => {
        const d = Math.hypot(e.x - own.x, e.y - own.y);
        if (d > maxDist) maxDist = d;
        if (d > RADIUS + 0.01) outside++;
      });
    }
    res.own_player_missing = ownMissing;
    res.held_outside_radius = outside;
    res.max_held_distance = maxDist;
    // Against the server's brute-force count for a few clients, at the same tick: the reply is
    // sent after that tick's patch on the same socket.
    const k = Math.min(8, bots.length);
    const sample = Array.from({ length: k }, (_, j) => bots[Math.floor((j * bots.length) / k)]);
    res.server_vs_client = [];
    for (const b of sample) {
      const s = await serverStats(b);
      res.server_vs_client.push({ bot: b.i, server_in_radius: s && s.inRadius, server_view: s && s.viewSize, client_holds: b.room.state.entities.size });
    }
    res.server_vs_client_mismatches = res.server_vs_client.filter((r) => r.server_in_radius !== r.client_holds).length;
    // Expected count for uniformly placed entities and viewer in the 1000 x 1000 arena: the
    // mean area of a radius-r disc clipped to the square is pi r^2 - (8/3) r^3 (unit square).
    const n = NPC_COUNT + M, r = RADIUS / 1000;
    res.expected_mean_uniform = +(n * (Math.PI * r * r - (8 / 3) * r * r * r)).toFixed(1);
  }
  return res;
}

async function main() {
  const t0 = performance.now();
  const joins = [];
  for (let i = 0; i < M; i++) {
    const at = t0 + (i * JOIN_SPREAD_MS) / M;
    const wait = at - performance.now();
    if (wait > 0) await sleep(wait);
    // Bot 0 joins alone first so the join order (the server's player PRNG order) is bot order
    // for the rest as far as the network keeps it.
    const p = startBot(i).then((b) => { bots[i] = b; });
    if (i === 0) await p; else joins.push(p);
  }
  await Promise.all(joins);
  const joinedMs = performance.now() - t0;
  console.error(`bots: ${M} joined in ${joinedMs.toFixed(0)} ms`);

  await sleep(WARMUP * 1000);
  if (CHECK) out("CHECK", await check());

  // ---- window ----
  measuring = true;
  const s0 = await serverStats(bots[0]);
  const snap0 = snapshot();
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  out("WINDOW_START", { t: Date.now() });
  await sleep(WINDOW * 1000);
  const w1 = performance.now();
  const cpu1 = process.cpuUsage(cpu0);
  const snap1 = snapshot();
  out("WINDOW_END", { t: Date.now() });
  measuring = false;
  const s1 = await serverStats(bots[0]);

  const secs = (w1 - w0) / 1000;
  const per = bots.map((b, i) => ({
    patches: snap1[i].patches - snap0[i].patches,
    bytes: snap1[i].bytes - snap0[i].bytes,
    frames: snap1[i].frames - snap0[i].frames,
    patchBytes: snap1[i].patchBytes - snap0[i].patchBytes,
  }));
  const totalPatches = per.reduce((a, p) => a + p.patches, 0);
  const totalBytes = per.reduce((a, p) => a + p.bytes, 0);
  const totalFrames = per.reduce((a, p) => a + p.frames, 0);
  const totalPatchBytes = per.reduce((a, p) => a + p.patchBytes, 0);
  const hz = per.map((p) => p.patches / secs);
  const result = {
    variant: VARIANT, clients: M, window_s: +secs.toFixed(3),
    updates: totalPatches,
    update_hz_mean: +(hz.reduce((a, b) => a + b, 0) / M).toFixed(3),
    update_hz_min: +Math.min(...hz).toFixed(3),
    update_hz_max: +Math.max(...hz).toFixed(3),
    bytes_per_client_per_s: +(totalBytes / M / secs).toFixed(1),
    bytes_per_update: totalPatches ? +(totalBytes / totalPatches).toFixed(1) : null,
    patch_bytes_per_update: totalPatches ? +(totalPatchBytes / totalPatches).toFixed(1) : null,
    frames_not_patches: totalFrames - totalPatches,
    bot_cpu_us_per_update: totalPatches ? +((cpu1.user + cpu1.system) / totalPatches).toFixed(3) : null,
    bot_cpu_s: +((cpu1.user + cpu1.system) / 1e6).toFixed(3),
    server_tick_hz: s0 && s1 ? +((s1.ticks - s0.ticks) / ((s1.nowMs - s0.nowMs) / 1000)).toFixed(3) : null,
    server_patch_hz: s0 && s1 ? +((s1.patches - s0.patches) / ((s1.nowMs - s0.nowMs) / 1000)).toFixed(3) : null,
    server_ticks_in_window: s0 && s1 ? s1.ticks - s0.ticks : null,
    server_patches_with_changes: s0 && s1 ? s1.patchesWithChanges - s0.patchesWithChanges : null,
    server_players: s1 && s1.players,
    clients_closed_in_window: closedDuringRun,
    joined_ms: +joinedMs.toFixed(0),
  };
  out("RESULT", result);
  for (const b of bots) clearInterval(b.timer);
  process.exit(0);
}

main().catch((e) => { console.error("bots: failed:", e && e.stack || e); process.exit(1); });
