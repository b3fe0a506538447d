// The demo page's watch mode in Debian's Chromium (protocol v6 spectators): page P plays in a
// room; page W opens `?watch=ROOM` and watches the whole room (more entities than P's view
// radius shows), sees P's player move when P holds a key, gets the room's events (a third page
// joining), then follows P's player by clicking it on the canvas: from then on W's view is
// P's, so at every tick both replicas hold, W's checksum equals P's. "Whole room" goes back.
// Every replica verifies its checksums (0 desyncs). Writes a screenshot of W.
//
// With `recording`, against a server that plays a recorded match of ROOM back (`replay FILE
// --serve`): the demo opened to play in ROOM is refused (4007) and switches to watching it; it
// shows "recording", verifies every update, and at the end closes for good with 1000 "the
// recording ended" and says so.
//
//   node watch.mjs PAGE_URL SCREENSHOT_PATH [ROOM [live|recording]]
//
// Run by tests/tests/spectate.rs against an in-process server (live: with a view radius, so
// that a player's view and the whole room differ); exits non-zero with a message on the first
// failed check. Chromium: /usr/bin/chromium, or $TICKSTREAM_CHROMIUM.

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import { launchChromium } from "./chromium.mjs";

const [pageUrl, screenshotPath, room = "watch-test", mode = "live"] = process.argv.slice(2);
if (!pageUrl || !screenshotPath || !["live", "recording"].includes(mode)) {
  console.error("usage: node watch.mjs PAGE_URL SCREENSHOT_PATH [ROOM [live|recording]]");
  process.exit(2);
}

/** Every wait is bounded; these bound a step on a loaded two-core machine, they measure nothing. */
const STEP_MS = 15_000;
/** The whole run; the Rust test has its own, longer deadline. */
const RUN_MS = 120_000;
/** Ticks of W's followed view that must be compared with P's, all equal. */
const COMPARED_TICKS = 30;

const started = Date.now();
const log = (...args) => console.log(`[watch ${((Date.now() - started) / 1000).toFixed(1)}s]`, ...args);

class CheckFailed extends Error {}
function check(ok, message) {
  if (!ok) throw new CheckFailed(message);
}

/** Polls `probe` until it returns a truthy value; fails with `what` after `ms`. */
async function until(what, probe, ms = STEP_MS, intervalMs = 50) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new CheckFailed(`timed out after ${ms / 1000} s waiting until ${what}`);
}

const stats = (page) => page.evaluate(() => window.tickstream.stats());
const seen = (page, id) => page.evaluate((id) => window.tickstream.entity(id), id);

/**
 * Opens the demo at `query` and, in the page, records the replica's checksum after every
 * update by tick (`window.sums`), from the first update on.
 */
async function open(context, name, query) {
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  const url = new URL(pageUrl);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const resp = await page.goto(url.href, { timeout: STEP_MS });
  check(resp && resp.status() === 200, `${name}: GET ${url.href} answered ${resp?.status()}`);
  await page.waitForFunction(() => window.tickstream !== undefined, null, { timeout: STEP_MS });
  await page.evaluate(() => {
    const c = window.tickstream;
    window.sums = new Map();
    c.on("update", (u) => window.sums.set(u.tick, c.replica.checksum));
  });
  return { page, name, problems };
}

/** `[tick, checksum]` pairs a page recorded, for ticks from `from` on. */
const sums = (p, from = 0) => p.page.evaluate((from) => [...window.sums].filter(([t]) => t >= from), from);

/** A recording served back: the page that came to play watches it to its end. */
async function runRecording(context) {
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  const url = new URL(pageUrl);
  url.searchParams.set("room", room);
  const resp = await page.goto(url.href, { timeout: STEP_MS });
  check(resp && resp.status() === 200, `GET ${url.href} answered ${resp?.status()}`);
  // Joining is refused with 4007 (spectators only): the page switches to watching the room.
  await page.waitForURL((u) => u.searchParams.get("watch") === room, { timeout: STEP_MS });
  await page.waitForFunction(() => window.tickstream !== undefined, null, { timeout: STEP_MS });
  const R = { page, name: "recording watcher" };
  const r0 = await until("the page watches the recording", async () => {
    const s = await stats(page);
    return s.connected && s.spectator && s.updates >= 30 ? s : null;
  });
  log(`watching ${r0.room}: ${JSON.stringify(r0.spectator)}, ${r0.entities} entities at tick ${r0.tick}, game ${r0.game}`);
  check(r0.spectator.recording === true, "Spectating says it is a recording");
  const view = await page.evaluate(() => document.getElementById("view").innerText);
  check(view === "recording", `the overlay says it is a recording (${view})`);
  check(r0.entities > 0 && r0.desyncs === 0, `the recorded world, verified (${r0.entities} entities, ${r0.desyncs} desyncs)`);
  mkdirSync(dirname(screenshotPath), { recursive: true });
  await page.screenshot({ path: screenshotPath });
  const end = await until(
    "the recording ends",
    async () => {
      const s = await stats(page);
      return s.state === "closed" ? s : null;
    },
    RUN_MS / 2,
  );
  const status = await until("the page says the recording ended", () =>
    page.evaluate(() => document.getElementById("status-text").innerText || null),
  );
  log(`ended after ${end.updates} updates at tick ${end.tick}: ${JSON.stringify(end.lastClose)}; status "${status}"`);
  check(end.lastClose.code === 1000 && end.lastClose.reason === "the recording ended", `closed with 1000 "the recording ended": ${JSON.stringify(end.lastClose)}`);
  check(end.lastClose.willReconnect === false && end.reconnects === 0, "not watched again by itself");
  check(/recording ended/.test(status), `the status says so: ${status}`);
  check(end.desyncs === 0, `${R.name}: no desync (${end.desyncs})`);
  check(problems.length === 0, `${R.name}: no errors in the page: ${problems.join("; ")}`);
}

async function run(context) {
  // ---- a player in the room ----
  const P = await open(context, "player P", { room });
  const p0 = await until("P plays", async () => {
    const s = await stats(P.page);
    return s.connected && s.entity !== null && s.tick > 0 ? s : null;
  });
  P.id = p0.entity;
  log(`P: joined ${room} as entity ${P.id}; protocol ${p0.protocol}; ${p0.entities} entities within its view radius ${p0.world.viewRadius}`);
  check(p0.world.viewRadius > 0, `the server runs with a view radius (${p0.world.viewRadius}), so a view and the room differ`);

  // ---- a spectator of the whole room ----
  const W = await open(context, "watcher W", { watch: room });
  const w0 = await until("W is watching", async () => {
    const s = await stats(W.page);
    return s.connected && s.spectator ? s : null;
  });
  const delayMs = w0.spectator.delayMs;
  log(`W: watching ${w0.room} over protocol ${w0.protocol}: ${JSON.stringify(w0.spectator)}`);
  check(w0.protocol === 6, `W speaks protocol 6 (${w0.protocol})`);
  check(w0.entity === null && w0.spectator.follow === null, `W has no entity and watches the whole room: ${JSON.stringify(w0)}`);
  check(w0.spectator.recording === false, "a live room is no recording");
  check(delayMs > 0, `the server delays spectators (${delayMs} ms), so W's view runs behind P's`);
  const slow = delayMs + STEP_MS; // the view starts delay_ms behind the room
  const w1 = await until(
    "W's view has run for a second",
    async () => {
      const s = await stats(W.page);
      return s.updates >= 30 ? s : null;
    },
    slow,
  );
  const p1 = await stats(P.page);
  log(`W: ${w1.entities} entities in the whole room at tick ${w1.tick}; P sees ${p1.entities} at tick ${p1.tick}`);
  check(w1.entities > p1.entities, `the whole room (${w1.entities}) holds more than P's view (${p1.entities})`);
  const behind = ((p1.tick - w1.tick) * 1000) / p1.world.tickRateHz;
  check(behind >= delayMs * 0.8, `W's view runs ${delayMs} ms behind the room (W at tick ${w1.tick}, P at ${p1.tick})`);
  const frame = await W.page.evaluate(() => {
    const f = window.tickstream.frame();
    return { own: f.own, n: f.entities.length, renderTick: f.renderTick };
  });
  check(frame.own === null && frame.n === w1.entities, `W draws every entity and no own one: ${JSON.stringify(frame)}`);
  const overlay = await W.page.evaluate(() => document.getElementById("overlay").innerText);
  check(/following\s+whole room/.test(overlay) && /live, [0-9.]+ s behind/.test(overlay), `W's overlay shows the view: ${overlay}`);
  await until("W sees P's player", () => seen(W.page, P.id), slow);

  // ---- P moves; W sees it ----
  const start = (await stats(P.page)).server;
  const toward = start.x < 500 ? 1 : -1;
  const key = toward > 0 ? "KeyD" : "KeyA";
  const before = await seen(W.page, P.id);
  await P.page.keyboard.down(key);
  await until(`P's player moves 40 units`, async () => ((await stats(P.page)).server.x - start.x) * toward >= 40);
  await P.page.keyboard.up(key);
  const moved = await until(`W sees P's player move 40 units`, async () => {
    const e = await seen(W.page, P.id);
    return e && (e.x - before.x) * toward >= 40 ? e : null;
  }, slow);
  log(`W: saw P's player go from x ${before.x.toFixed(2)} to ${moved.x.toFixed(2)}`);

  // ---- the room's events reach W (a third page joins; the server announces it) ----
  const Q = await open(context, "player Q", { room });
  const q0 = await until("Q plays", async () => {
    const s = await stats(Q.page);
    return s.connected && s.entity !== null ? s : null;
  });
  await until(`W's event log shows Q (#${q0.entity}) joining`, async () => {
    const text = await W.page.evaluate(() => document.getElementById("events").innerText);
    return text.includes(`joined #${q0.entity}`);
  }, slow);
  const wEvents = await stats(W.page);
  log(`W: ${wEvents.events} events, the last seq ${wEvents.lastEventSeq}; Q joined as #${q0.entity}`);
  check(wEvents.lastEventSeq === wEvents.events, `W's events count from 1 without gaps (${wEvents.events}, last ${wEvents.lastEventSeq})`);
  await Q.page.close();

  // ---- W follows P's player: a click on it ----
  const target = await until("P's player is drawn on W's canvas", () =>
    W.page.evaluate((id) => {
      const e = window.tickstream.frame().entities.find((x) => x.id === id);
      return e ? window.tickstreamDemo.toScreen(e.x, e.y) : null;
    }, P.id),
  );
  await W.page.mouse.click(target.x, target.y);
  const w2 = await stats(W.page);
  check(w2.spectator.follow === P.id, `the click follows P's player #${P.id} (${JSON.stringify(w2.spectator)})`);
  check(W.page.url().includes(`follow=${P.id}`), `the address shows the view: ${W.page.url()}`);
  log(`W: clicked P's player at (${target.x.toFixed(0)}, ${target.y.toFixed(0)}) px; following #${w2.spectator.follow}`);
  // The view narrows to P's view; from then on W's checksum at each tick is P's.
  const narrowed = await until(
    "W's view is P's view (equal checksums at a tick both hold)",
    async () => {
      const w = await sums(W, w2.tick + 1);
      const p = new Map(await sums(P, w2.tick + 1));
      return w.find(([t, sum]) => p.get(t) === sum)?.[0] ?? null;
    },
    slow,
  );
  const compared = await until(
    `${COMPARED_TICKS} ticks of W's followed view to compare with P's`,
    async () => {
      const w = await sums(W, narrowed);
      const p = new Map(await sums(P, narrowed));
      const both = w.filter(([t]) => p.has(t));
      return both.length >= COMPARED_TICKS ? { both, p } : null;
    },
    slow,
  );
  const differ = compared.both.filter(([t, sum]) => compared.p.get(t) !== sum);
  const w3 = await stats(W.page);
  const p3 = await stats(P.page);
  log(
    `W: following since tick ${narrowed}; ${compared.both.length} ticks compared with P, ${differ.length} differ;` +
      ` W holds ${w3.entities} entities, P ${p3.entities}`,
  );
  check(differ.length === 0, `W's followed view equals P's at every tick: ticks ${differ.map(([t]) => t).join(", ")} differ`);
  const followedOverlay = await W.page.evaluate(() => document.getElementById("player").innerText);
  check(followedOverlay === `#${P.id}`, `W's overlay names the followed player (${followedOverlay})`);

  // ---- back to the whole room ----
  await W.page.click("#whole-room", { timeout: STEP_MS });
  check((await stats(W.page)).spectator.follow === null, "the button follows nothing");
  const w4 = await until(
    `W's view is the whole room again (${w1.entities} entities before)`,
    async () => {
      const s = await stats(W.page);
      return s.entities >= 0.9 * w1.entities ? s : null;
    },
    slow,
  );
  log(`W: the whole room again: ${w4.entities} entities`);
  check(!W.page.url().includes("follow="), `the address shows the whole room: ${W.page.url()}`);

  for (const [p, s] of [
    [P, await stats(P.page)],
    [W, await stats(W.page)],
  ]) {
    log(`${p.name}: ${s.updates} updates, ${s.updateHz.toFixed(1)}/s, ${s.desyncs} desyncs, ${s.reconnects} reconnects, tick ${s.tick}`);
    check(s.connected, `${p.name} is still connected (${JSON.stringify(s.lastClose)})`);
    check(s.desyncs === 0, `${p.name}: no desync (${s.desyncs})`);
    check(s.reconnects === 0, `${p.name}: no reconnect (${s.reconnects}; last close ${JSON.stringify(s.lastClose)})`);
    check(s.updateHz > 10 && s.updateHz < 45, `${p.name}: updates arrive at about the tick rate (${s.updateHz})`);
    check(p.problems.length === 0, `${p.name}: no errors in the page: ${p.problems.join("; ")}`);
  }
  mkdirSync(dirname(screenshotPath), { recursive: true });
  await W.page.screenshot({ path: screenshotPath });
  log(`screenshot: ${screenshotPath}`);
}

// ---- main (after the helpers: top-level await runs before later declarations) ----

const watchdog = setTimeout(() => {
  console.error(`FAIL: the watch test did not finish within ${RUN_MS / 1000} s`);
  process.exit(1);
}, RUN_MS);

const userDataDir = mkdtempSync(join(tmpdir(), "tickstream-chromium-"));
let context;
try {
  context = await launchChromium(userDataDir, { viewport: { width: 1100, height: 800 }, timeout: STEP_MS });
  log("chromium", context.browser()?.version() ?? "(persistent context)", "at", pageUrl);
  await (mode === "recording" ? runRecording(context) : run(context));
  log("PASS");
} catch (e) {
  console.error(`FAIL: ${e instanceof CheckFailed ? e.message : e.stack || e}`);
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await context?.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
