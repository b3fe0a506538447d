// The JavaScript client as a spectator (protocol v6) against a real server, in a `coins` room:
// watching a room that does not exist is refused for good (4006); two spectators get
// Spectating (one following a player) and a third finds the seats full (1013, retried); a
// spectator's replica follows the player's moves and score with no desync, gets the room's
// events from 1 (another player joining), cannot send input, survives a follow of an entity
// that is not there (the whole room) and, after its link drops, spectates again with a fresh
// view.
//
//   node --experimental-websocket spectate.mjs WS_URL
//
// Run by tests/tests/web.rs against an in-process server with two spectator seats per room and
// announced joins; exits non-zero with a message on the first failed check.

import { CloseCode, PROTOCOL_VERSION, TickstreamClient } from "../../../assets/web/tickstream.js";
import { CheckFailed, check, until } from "./checks.mjs";

const [url] = process.argv.slice(2);
if (!url) {
  console.error("usage: node --experimental-websocket spectate.mjs WS_URL");
  process.exit(2);
}

const RUN_MS = 90_000;
const room = `coins-watch-${process.pid}`;
const started = Date.now();
const log = (...args) => console.log(`[spectate ${((Date.now() - started) / 1000).toFixed(1)}s]`, ...args);

/** A client that records its events, closes and desyncs. */
function session(name, options = {}) {
  const client = new TickstreamClient({ url, room, reconnectInitialMs: 50, reconnectMaxMs: 200, ...options });
  const p = { name, client, events: [], spectating: [], closes: [], errors: [] };
  client.on("event", (e) => p.events.push(e));
  client.on("spectating", (s) => p.spectating.push(s));
  client.on("close", (c) => p.closes.push(c));
  client.on("desync", ({ error }) => p.errors.push(`desync: ${error.message}`));
  return p;
}

const watching = (p) => {
  const s = p.client.stats();
  return s.connected && s.spectator && s.updates > 0 ? s : null;
};

async function run() {
  // Spectators never create a room.
  const nobody = session("S0", { room: `${room}-nobody`, spectate: true });
  nobody.client.connect();
  const refused = await until("S0 is refused", () => nobody.closes[0]);
  check(refused.code === CloseCode.NO_SUCH_ROOM && !refused.willReconnect, `4006 for a room that does not exist, for good: ${JSON.stringify(refused)}`);
  check(nobody.client.state === "closed", "S0 is closed");

  const A = session("A");
  A.client.connect();
  const a0 = await until("A plays", () => {
    const s = A.client.stats();
    return s.connected && s.entity !== null && A.client.replica.get(s.entity) ? s : null;
  });
  const me = a0.entity;
  log(`A plays in ${room} as entity ${me}`);

  const S1 = session("S1", { spectate: true });
  const S2 = session("S2", { spectate: { follow: me } });
  S1.client.connect();
  const s1 = await until("S1 watches", () => watching(S1));
  S2.client.connect();
  const s2 = await until("S2 watches", () => watching(S2));
  check(s1.protocol === PROTOCOL_VERSION && s1.entity === null, `S1 speaks v${s1.protocol} and has no entity`);
  check(s1.spectator.follow === null && s2.spectator.follow === me, `views: ${JSON.stringify([s1.spectator, s2.spectator])}`);
  check(S1.client.welcome.entity === 0 && S1.client.welcome.game === "coins", `the room's description: ${JSON.stringify(S1.client.welcome)}`);
  log(`S1 watches the room (${s1.entities} entities), S2 follows #${me}; delay ${s1.spectator.delayMs} ms`);
  let threw = null;
  try {
    S1.client.setInput(1, 0);
  } catch (e) {
    threw = e;
  }
  check(threw instanceof TypeError, `a spectator's setInput throws a TypeError (${threw})`);

  // The seats are full: 1013, retried.
  const S3 = session("S3", { spectate: true });
  S3.client.connect();
  const full = await until("S3 is refused a seat", () => S3.closes[0]);
  check(full.code === CloseCode.TRY_AGAIN && full.willReconnect, `1013 for a full room, retried: ${JSON.stringify(full)}`);
  S3.client.close();
  log(`S3: ${full.code} "${full.reason}"`);

  // A moves: both spectators follow its position and score.
  const c = A.client;
  const goal = c.field(me, "score") + 1;
  await until("A collects a coin", () => {
    const own = c.replica.get(me);
    let best = null;
    for (const e of c.replica.entities.values()) {
      if (e.kind !== 1) continue;
      const d = Math.hypot(e.x - own.x, e.y - own.y);
      if (!best || d < best.d) best = { e, d };
    }
    if (best && best.d > 0) c.setInput((best.e.x - own.x) / best.d, (best.e.y - own.y) / best.d);
    return c.field(me, "score") >= goal;
  });
  c.setInput(0, 0);
  for (const S of [S1, S2]) {
    await until(`${S.name} sees A's score reach ${goal}`, () => S.client.field(me, "score") >= goal);
  }
  log(`A's score is ${goal}; both spectators saw it`);

  // The room's events: B joins.
  const B = session("B");
  B.client.connect();
  const b0 = await until("B plays", () => {
    const s = B.client.stats();
    return s.connected && s.entity !== null ? s : null;
  });
  for (const S of [S1, S2]) {
    await until(`${S.name} gets B's join`, () => S.events.some((e) => e.kindName === "joined" && e.entity === b0.entity));
    const seqs = S.events.map((e) => e.seq);
    check(seqs.every((seq, i) => seq === i + 1), `${S.name}: events numbered from 1 (${seqs})`);
  }

  // Following an entity that is not there shows the whole room; then A again.
  S2.client.follow(4_000_000);
  const updates = S2.client.stats().updates;
  await until("S2 gets updates after following a missing entity", () => S2.client.stats().updates > updates + 30);
  check(S2.client.replica.get(me), "S2 still sees A");
  S2.client.follow(me);
  await until("S2 gets updates after following A again", () => S2.client.stats().updates > updates + 60);

  // A lost link: S1 spectates again, with a fresh replica and events from 1.
  const sessions = S1.client.stats().sessions;
  S1.client.ws.close(CloseCode.SUSPEND, "test: link lost");
  const again = await until("S1 watches again", () => {
    const s = S1.client.stats();
    return s.sessions > sessions && s.connected && s.updates > 0 ? s : null;
  });
  check(S1.spectating.length === 2, `a second Spectating (${S1.spectating.length})`);
  check(again.resumes === 0 && again.entity === null, "a spectator resumes nothing");

  for (const p of [A, B, S1, S2]) {
    const s = p.client.stats();
    check(p.errors.length === 0 && s.desyncs === 0, `${p.name}: no desync (${p.errors.join("; ")})`);
    log(`${p.name}: ${s.updates} updates, ${s.events} events, ${s.entities} entities, ${s.reconnects} reconnects`);
    p.client.close();
  }
}

const watchdog = setTimeout(() => {
  console.error(`FAIL: the spectate test did not finish within ${RUN_MS / 1000} s`);
  process.exit(1);
}, RUN_MS);
try {
  if (typeof globalThis.WebSocket !== "function") throw new CheckFailed("no global WebSocket: use Node 22, or Node 20 with --experimental-websocket");
  await run();
  log("PASS");
} catch (e) {
  console.error(`FAIL: ${e instanceof CheckFailed ? e.message : e.stack || e}`);
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  // Open sockets and the clients' timers would keep Node alive.
  setTimeout(() => process.exit(), 100).unref();
}
