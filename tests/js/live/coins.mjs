// The JavaScript client against a real server, in a `coins` room: the Welcome describes the
// game, collecting coins raises the score field and brings `collected` events, every client
// gets the room's events once each with seqs 1, 2, 3, … and no gap, a dropped connection is
// resumed with the same entity and the events it missed while away, input seqs continue after
// the resume, and a used resume token is refused (4005) so that the client joins afresh.
//
//   node --experimental-websocket coins.mjs WS_URL
//
// Run by tests/tests/web.rs against an in-process server (plain ws); exits non-zero with a
// message on the first failed check. Needs a global WebSocket (Node 22, or Node 20 with
// --experimental-websocket).

import { TickstreamClient, CloseCode, GRID_SCALE, PROTOCOL_VERSION } from "../../../assets/web/tickstream.js";
import { CheckFailed, check, until } from "./checks.mjs";

const [url] = process.argv.slice(2);
if (!url) {
  console.error("usage: node --experimental-websocket coins.mjs WS_URL");
  process.exit(2);
}

const RUN_MS = 90_000;
const room = `coins-js-${process.pid}`;
const started = Date.now();
const log = (...args) => console.log(`[coins ${((Date.now() - started) / 1000).toFixed(1)}s]`, ...args);

/** A client that records its events, welcomes and closes. */
function player(name, options = {}) {
  const client = new TickstreamClient({ url, room, reconnectInitialMs: 50, reconnectMaxMs: 200, ...options });
  const p = { name, client, events: [], welcomes: [], closes: [], errors: [] };
  client.on("event", (e) => p.events.push(e));
  client.on("welcome", (w) => p.welcomes.push(w));
  client.on("close", (c) => p.closes.push(c));
  client.on("desync", ({ error }) => p.errors.push(`desync: ${error.message}`));
  return p;
}

const playing = (p) => {
  const s = p.client.stats();
  return s.connected && s.entity !== null && s.tick > 0 && p.client.replica.get(s.entity) ? s : null;
};

/** Every event so far has seq 1, 2, 3, …: none lost, none twice, in order. */
function checkContiguous(p, since = 1) {
  const seqs = p.events.map((e) => e.seq);
  seqs.forEach((seq, i) => check(seq === since + i, `${p.name}: event ${i} has seq ${seq}, ${since + i} was due (${seqs.join(",")})`));
}

/** Steers `p` to the nearest coin until its score has grown by `n`; returns the new score. */
async function collect(p, n) {
  const c = p.client;
  const me = c.welcome.entity;
  const goal = c.field(me, "score") + n;
  await until(`${p.name} collects ${n} coins`, () => {
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
  await stop(p);
  return c.field(me, "score");
}

/** Stops `p` and waits until the server has applied the stop and the player stands still. */
async function stop(p) {
  const c = p.client;
  c.setInput(0, 0);
  await until(`${p.name} stops`, async () => {
    const s = c.stats();
    if (s.ackSeq !== s.inputSeq) return false;
    await new Promise((r) => setTimeout(r, 100));
    const t = c.stats();
    return t.ackSeq === s.ackSeq && t.tick > s.tick && t.server.x === s.server.x && t.server.y === s.server.y;
  });
}

async function run() {
  // A reconnects 2 to 4 s after its drop: time for others to make events while it is away.
  const A = player("A", { reconnectInitialMs: 4000, reconnectMaxMs: 4000 });
  A.client.connect();
  const a0 = await until("A plays", () => playing(A));
  const w = A.client.welcome;
  log(`A joined ${room} as entity ${a0.entity}: game ${w.game}, ${a0.entities} entities`);
  check(
    w.protocol === PROTOCOL_VERSION && a0.protocol === PROTOCOL_VERSION,
    `the server picks protocol ${PROTOCOL_VERSION}, the client's newest (${w.protocol}, ${a0.protocol})`,
  );
  check(
    w.moveRule && w.moveRule.kind === "walk" && w.moveRule.speed === 4 && A.client.predictor.speed === 4,
    `coins publishes its walk and the client predicts with it (${JSON.stringify(w.moveRule)})`,
  );
  check(w.game === "coins", `a coins room runs coins (${w.game})`);
  check(JSON.stringify(w.kinds) === '["player","coin"]', `kinds ${JSON.stringify(w.kinds)}`);
  check(JSON.stringify(w.fields.map((f) => f.name)) === '["score","rotation"]', `fields ${JSON.stringify(w.fields)}`);
  check(w.fields[0].scale === 1 && Math.abs(w.fields[1].scale * 65536 - 2 * Math.PI) < 1e-5, `field scales ${JSON.stringify(w.fields)}`);
  check(JSON.stringify(w.eventKinds) === '["joined","left","collected"]', `event kinds ${JSON.stringify(w.eventKinds)}`);
  check(/^[0-9a-f]{32}$/.test(w.resumeToken) && w.resumed === false, `a fresh welcome with a token: ${w.resumeToken} ${w.resumed}`);
  const coins = [...A.client.replica.entities.values()].filter((e) => e.kind === 1);
  check(coins.length > 0 && coins.every((e) => e.fields.every((f) => f === 0)), `coins in view, without fields (${coins.length})`);

  const B = player("B");
  B.client.connect();
  const b0 = await until("B plays", () => playing(B));
  const bJoined = await until("A hears that B joined", () => A.events.find((e) => e.kindName === "joined" && e.entity === b0.entity));

  // Collecting: A's score field follows its collected events, and both players hear of them.
  const score = await collect(A, 3);
  await until("A's collected events arrive", () => A.events.filter((e) => e.kindName === "collected" && e.entity === a0.entity).length >= 3);
  const mine = A.events.filter((e) => e.kindName === "collected" && e.entity === a0.entity);
  check(
    mine.every((e, i) => e.value === i + 1 && /^coin \d+$/.test(e.text)),
    `A's collected events carry scores 1, 2, 3… and the coin: ${JSON.stringify(mine.map((e) => [e.value, e.text]))}`,
  );
  check(score === mine[mine.length - 1].value, `A's score field ${score} is the value of its last collected event`);
  // (A may have spawned on a coin and scored before B was there to hear it.)
  const sinceB = mine.filter((e) => e.seq > bJoined.seq).map((e) => e.value);
  const heard = await until("B hears every coin A collected since B joined", () => {
    const got = B.events.filter((e) => e.kindName === "collected" && e.entity === a0.entity).map((e) => e.value);
    return got.length >= sinceB.length ? got : null;
  });
  check(JSON.stringify(heard) === JSON.stringify(sinceB), `B heard A's scores ${heard}, A's own events say ${sinceB}`);
  await until("B sees A's score", () => B.client.field(a0.entity, "score") === score);
  const heading = A.client.field(a0.entity, "rotation");
  check(heading >= 0 && heading < 2 * Math.PI, `A's heading is an angle (${heading})`);
  checkContiguous(A);
  checkContiguous(B);
  log(`A collected ${score} coins; A has events 1..${A.events.length}, B 1..${B.events.length}`);

  // A drops. While it is away, C joins and B collects a coin: A must get both on resume.
  const before = A.client.stats();
  const oldToken = A.client.resumeState().token;
  const seenBefore = A.events.length;
  A.client.ws.close(3000, "test: drop the link");
  const drop = await until("A notices the drop", () => A.closes[0]);
  check(drop.willReconnect === true && drop.code === 3000, `A reconnects after the drop: ${JSON.stringify(drop)}`);
  const C = player("C");
  C.client.connect();
  const c0 = await until("C plays", () => playing(C));
  check(A.welcomes.length === 1, "C joined while A was away");
  await collect(B, 1);
  const awayEvents = B.events.length; // B heard C join and its own coin
  const a1 = await until("A resumes", () => (A.welcomes.length === 2 ? playing(A) : null));
  check(A.welcomes[1].resumed === true, "the second welcome answers the resume");
  check(a1.entity === a0.entity, `the same entity after the resume (${a0.entity} → ${a1.entity})`);
  check(a1.resumes === 1 && a1.resumeRefusals === 0, `one resume, no refusal (${a1.resumes}, ${a1.resumeRefusals})`);
  check(A.client.resumeState().token !== oldToken, "a new resume token");
  check(A.client.field(a0.entity, "score") === score, `the score survived the drop (${score} → ${A.client.field(a0.entity, "score")}; ${JSON.stringify(A.events.slice(seenBefore))})`);
  await until("A gets the events it missed", () =>
    A.events.some((e) => e.kindName === "joined" && e.entity === c0.entity) &&
    A.events.some((e) => e.kindName === "collected" && e.entity === b0.entity),
  );
  checkContiguous(A);
  log(`A resumed entity ${a1.entity}; events ${seenBefore + 1}..${A.events.length} came after the drop (B has ${awayEvents})`);

  // Input seqs continue: the server takes the next one (it refuses a seq it has seen).
  A.client.setInput(1, 0);
  const moved = await until("A's next input is acknowledged", () => {
    const s = A.client.stats();
    return s.inputSeq > before.inputSeq && s.ackSeq === s.inputSeq ? s : null;
  });
  await stop(A);
  log(`A's inputs went on from seq ${before.inputSeq} to ${moved.inputSeq}`);

  // The old token was used by the resume: a client that tries it is refused and joins afresh.
  const D = player("D", { resume: { room, token: oldToken, lastEventSeq: 0 } });
  D.client.connect();
  const d0 = await until("D plays after the refused resume", () => playing(D));
  const refused = D.closes.find((c) => c.code === CloseCode.RESUME_REFUSED);
  check(refused && refused.resumeRefused && refused.willReconnect, `D's resume was refused with 4005: ${JSON.stringify(D.closes)}`);
  check(d0.entity !== a0.entity && D.welcomes.at(-1).resumed === false, `D is a new player (${d0.entity})`);
  check(A.client.stats().connected, "A was not disturbed");

  for (const p of [A, B, C, D]) {
    const s = p.client.stats();
    check(p.errors.length === 0 && s.desyncs === 0, `${p.name}: no desync (${p.errors.join("; ")})`);
    checkContiguous(p);
    log(`${p.name}: ${s.events} events, last seq ${s.lastEventSeq}, ${s.updates} updates, ${s.reconnects} reconnects`);
  }
  const own = A.client.entity(a0.entity);
  check(own.kindName === "player" && own.values.score === score && own.x === A.client.replica.get(a0.entity).x / GRID_SCALE, `A's entity view: ${JSON.stringify(own)}`);
  for (const p of [A, B, C, D]) p.client.close();
}

const watchdog = setTimeout(() => {
  console.error(`FAIL: the coins test did not finish within ${RUN_MS / 1000} s`);
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
