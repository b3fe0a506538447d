// Colyseus 0.18.8 server for Tickstream's reference scenario (see README.md and
// ../../../shared/REFERENCE-SCENARIO.md): one room "bench", 500 NPCs on a random walk, one
// player per client moved by its latest input, 30 Hz simulation and 30 Hz patches.
//
//   node server.mjs --variant A|B --port 2567
//
// Variant A: every client sees every entity (no StateView).
// Variant B: each client has a StateView holding exactly the entities within 150 units of its
// own player, recomputed every tick after movement (uniform grid of 150-unit cells).
//
// Nothing is logged per tick. A "stats" message from a client is answered with the server's
// tick and patch counters (the bots use it to report the server's own tick rate) and, for that
// client, how many entities are within the radius by brute force (for --check).

import net from "node:net";
import { Server, Room, matchMaker } from "@colyseus/core";
import { WebSocketTransport } from "@colyseus/ws-transport";
import { schema, t, StateView, Encoder } from "@colyseus/schema";
import { mulberry32 } from "./scenario.mjs";

// The whole state of variant A (1,000 entities and more) is sent to every joining client and
// outgrows the encoder's default 16 KiB buffer, which then fails the joins ("buffer overflow");
// Colyseus' own message says to raise it.
Encoder.BUFFER_SIZE = 512 * 1024;

// ---- arguments -------------------------------------------------------------------------------
function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const VARIANT = String(arg("variant", process.env.VARIANT ?? "A")).toUpperCase();
const PORT = Number(arg("port", process.env.PORT ?? 2567));
if (VARIANT !== "A" && VARIANT !== "B") throw new Error(`--variant must be A or B, not ${VARIANT}`);

// ---- the scenario's constants ------------------------------------------------------------------
const TICK_MS = 1000 / 30;
const W = 1000, H = 1000;
const NPC_COUNT = 500;
const NPC_SPEED = 5, NPC_TURN = 0.1, PLAYER_SPEED = 5;
const NPC_SEED = 0xc0ffee, PLAYER_SEED = 0xbeef;
const RADIUS = 150, R2 = RADIUS * RADIUS;
const TWO_PI = 2 * Math.PI;

// ---- state schema (what goes on the wire) -----------------------------------------------------
// float32 x, y and uint8 kind, as in the peer figures of REFERENCE-SCENARIO.md. The simulation
// itself keeps f64 positions in plain JS objects; the schema fields are assigned from them.
const Entity = schema({ x: t.float32(), y: t.float32(), kind: t.uint8() }, "Entity");
// Variant B tags the collection with @view(): an entity reaches a client only once it was
// view.add()-ed to that client's StateView (Colyseus 0.16+ documented pattern).
const StateA = schema({ entities: t.map(Entity) }, "BenchStateA");
const StateB = schema({ entities: t.map(Entity).view() }, "BenchStateB");

// ---- the room ----------------------------------------------------------------------------------
class BenchRoom extends Room {
  onCreate() {
    this.autoDispose = false;
    this.state = VARIANT === "B" ? new StateB() : new StateA();
    this.ticks = 0;
    this.patches = 0;
    this.patchesWithChanges = 0;
    this.playerRng = mulberry32(PLAYER_SEED);
    this.npcRng = mulberry32(NPC_SEED);
    this.players = []; // join order: { key, x, y, dx, dy, ent, client, visible:Set }
    this.npcs = [];
    for (let i = 0; i < NPC_COUNT; i++) {
      const x = this.npcRng() * W, y = this.npcRng() * H, heading = this.npcRng() * TWO_PI;
      const ent = new Entity();
      ent.x = x; ent.y = y; ent.kind = 1;
      this.state.entities.set(String(i), ent);
      this.npcs.push({ x, y, heading, ent });
    }
    // Grid for variant B: 150-unit cells, so a radius query looks at 3x3 cells.
    this.gridN = Math.ceil(W / RADIUS); // 7
    this.grid = Array.from({ length: this.gridN * this.gridN }, () => []);

    this.onMessage("input", (client, msg) => {
      const p = client.userData;
      if (!p || !msg) return;
      // Normalised once per input, as Tickstream does (multiply by the reciprocal length).
      const dx = Number(msg.dx) || 0, dy = Number(msg.dy) || 0;
      const rcp = 1 / Math.hypot(dx, dy);
      if (Number.isFinite(rcp) && rcp > 0) { p.dx = dx * rcp; p.dy = dy * rcp; } else { p.dx = 0; p.dy = 0; }
      p.seq = msg.seq | 0;
    });
    // Answered right after the next patch, so that the reply describes the same tick as the
    // state the client holds when the reply arrives (same socket, after that patch).
    this.pendingStats = [];
    this.onMessage("stats", (client) => { this.pendingStats.push(client); });

    // Simulation first, then the patch interval: both are plain setInterval()s of the same
    // period, so Node fires them in this order each period (simulate, then patch).
    this.setSimulationInterval(() => this.step(), TICK_MS);
    this.patchRate = TICK_MS;
  }

  *all() {
    yield* this.npcs;
    yield* this.players;
  }

  broadcastPatch() {
    const changed = super.broadcastPatch();
    this.patches++;
    if (changed) this.patchesWithChanges++;
    if (this.pendingStats.length) {
      for (const client of this.pendingStats.splice(0)) this.sendStats(client);
    }
    return changed;
  }

  sendStats(client) {
    const p = client.userData;
    let inRadius = -1;
    if (p) {
      inRadius = 0;
      for (const o of this.all()) {
        const ddx = o.x - p.x, ddy = o.y - p.y;
        if (ddx * ddx + ddy * ddy <= R2) inRadius++;
      }
    }
    client.send("stats", {
      ticks: this.ticks, patches: this.patches, patchesWithChanges: this.patchesWithChanges,
      nowMs: performance.now(), players: this.players.length, entities: this.state.entities.size,
      inRadius, viewSize: p && p.visible ? p.visible.size : -1,
    });
  }

  onJoin(client) {
    const x = this.playerRng() * W, y = this.playerRng() * H;
    const ent = new Entity();
    ent.x = x; ent.y = y; ent.kind = 0;
    const p = { key: client.sessionId, x, y, dx: 0, dy: 0, seq: 0, ent, client, visible: null };
    client.userData = p;
    this.players.push(p);
    this.state.entities.set(p.key, ent);
    if (VARIANT === "B") {
      client.view = new StateView();
      p.visible = new Set();
      this.updateView(p); // own player and its neighbourhood before the first full state
    }
  }

  onLeave(client) {
    const p = client.userData;
    if (!p) return;
    const i = this.players.indexOf(p);
    if (i >= 0) this.players.splice(i, 1);
    this.state.entities.delete(p.key);
    // The entity left the map; forget it in the other clients' visible sets.
    for (const q of this.players) if (q.visible) q.visible.delete(p);
  }

  step() {
    this.ticks++;
    const rng = this.npcRng;
    for (let i = 0; i < this.npcs.length; i++) {
      const n = this.npcs[i];
      if (rng() < NPC_TURN) n.heading = rng() * TWO_PI;
      let nx = n.x + Math.cos(n.heading) * NPC_SPEED;
      let ny = n.y + Math.sin(n.heading) * NPC_SPEED;
      if (nx < 0 || nx > W || ny < 0 || ny > H) {
        nx = Math.min(Math.max(nx, 0), W);
        ny = Math.min(Math.max(ny, 0), H);
        n.heading = rng() * TWO_PI;
      }
      n.x = nx; n.y = ny;
      n.ent.x = nx; n.ent.y = ny;
    }
    for (let i = 0; i < this.players.length; i++) {
      const p = this.players[i]; // p.dx, p.dy: unit direction of the latest input, or 0, 0
      if (p.dx !== 0 || p.dy !== 0) {
        p.x = Math.min(Math.max(p.x + p.dx * PLAYER_SPEED, 0), W);
        p.y = Math.min(Math.max(p.y + p.dy * PLAYER_SPEED, 0), H);
        p.ent.x = p.x; p.ent.y = p.y;
      }
    }
    if (VARIANT === "B") this.updateViews();
  }

  cellOf(v) {
    const c = Math.floor(v / RADIUS);
    return c < 0 ? 0 : c >= this.gridN ? this.gridN - 1 : c;
  }

  updateViews() {
    const g = this.grid, n = this.gridN;
    for (let i = 0; i < g.length; i++) g[i].length = 0;
    for (let i = 0; i < this.npcs.length; i++) {
      const o = this.npcs[i];
      g[this.cellOf(o.y) * n + this.cellOf(o.x)].push(o);
    }
    for (let i = 0; i < this.players.length; i++) {
      const o = this.players[i];
      g[this.cellOf(o.y) * n + this.cellOf(o.x)].push(o);
    }
    for (let i = 0; i < this.players.length; i++) this.updateView(this.players[i], true);
  }

  // Recompute p's visible set; add/remove the differences on its StateView.
  updateView(p, gridReady = false) {
    const view = p.client.view;
    const next = new Set();
    if (gridReady) {
      const n = this.gridN, cx = this.cellOf(p.x), cy = this.cellOf(p.y);
      for (let gy = Math.max(cy - 1, 0); gy <= Math.min(cy + 1, n - 1); gy++) {
        for (let gx = Math.max(cx - 1, 0); gx <= Math.min(cx + 1, n - 1); gx++) {
          const cell = this.grid[gy * n + gx];
          for (let k = 0; k < cell.length; k++) {
            const o = cell[k];
            const ddx = o.x - p.x, ddy = o.y - p.y;
            if (ddx * ddx + ddy * ddy <= R2) next.add(o);
          }
        }
      }
    } else {
      for (const o of this.all()) {
        const ddx = o.x - p.x, ddy = o.y - p.y;
        if (ddx * ddx + ddy * ddy <= R2) next.add(o);
      }
    }
    next.add(p); // own player always in view
    const prev = p.visible;
    for (const o of prev) if (!next.has(o)) view.remove(o.ent);
    for (const o of next) if (!prev.has(o)) view.add(o.ent);
    p.visible = next;
  }
}

// ---- boot --------------------------------------------------------------------------------------
// Colyseus' listen() does not reject when the port is taken (it logs and hangs), so probe first.
await new Promise((resolve) => {
  const probe = net.createServer();
  probe.once("error", (e) => { console.error(`server: port ${PORT}: ${e.code || e.message}`); process.exit(1); });
  probe.listen(PORT, "127.0.0.1", () => probe.close(resolve));
});
const server = new Server({ transport: new WebSocketTransport(), greet: false, gracefullyShutdown: false });
server.define("bench", BenchRoom);
await server.listen(PORT, "127.0.0.1");
// Create the one room up front so that concurrent joinOrCreate() calls all land in it.
const room = await matchMaker.createRoom("bench", {});
console.log(JSON.stringify({ ready: true, port: PORT, variant: VARIANT, roomId: room.roomId, pid: process.pid }));

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 2000).unref();
  try { await server.gracefullyShutdown(false); } catch { /* exiting anyway */ }
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
