// Two pages of the demo in Debian's Chromium join one room: each sees the other's player move
// when keys are pressed on the other page, and once the keys are released the own player's
// predicted position agrees with the server's. The overlay names the game and lists its events,
// and reloading a page resumes the same player, which then moves at once (its input seqs
// continue those of the page before). Writes a screenshot of the first page.
//
//   node two_pages.mjs PAGE_URL SCREENSHOT_PATH [ROOM]
//
// Run by tests/tests/browser.rs against an in-process server; exits non-zero with a message on
// the first failed check. Chromium: /usr/bin/chromium, or $TICKSTREAM_CHROMIUM.

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import { launchChromium } from "./chromium.mjs";

const [pageUrl, screenshotPath, room = "browser-test"] = process.argv.slice(2);
if (!pageUrl || !screenshotPath) {
  console.error("usage: node two_pages.mjs PAGE_URL SCREENSHOT_PATH [ROOM]");
  process.exit(2);
}

/** Every wait is bounded; these bound a step on a loaded two-core machine, they measure nothing. */
const STEP_MS = 15_000;
/** The whole run; the Rust test has its own, longer deadline. */
const RUN_MS = 90_000;
/** How far the predicted position may be from the server's once the keys are released. */
const TOLERANCE = 0.5;
/** The reference game's player speed, units per tick. */
const SPEED = 5;

const started = Date.now();
const log = (...args) => console.log(`[browser ${((Date.now() - started) / 1000).toFixed(1)}s]`, ...args);

class CheckFailed extends Error {}
function check(ok, message) {
  if (!ok) throw new CheckFailed(message);
}

async function open(context, name) {
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  const url = new URL(pageUrl);
  url.searchParams.set("room", room);
  const resp = await page.goto(url.href, { timeout: STEP_MS });
  check(resp && resp.status() === 200, `${name}: GET ${url.href} answered ${resp?.status()}`);
  check(
    /default-src 'none'/.test(resp.headers()["content-security-policy"] ?? ""),
    `${name}: the page carries its Content-Security-Policy`,
  );
  await page.waitForFunction(
    () => {
      const s = window.tickstream?.stats();
      return s && s.connected && s.entity !== null && s.tick > 0 && s.predicted !== null;
    },
    null,
    { timeout: STEP_MS },
  );
  const s = await stats(page);
  log(`${name}: joined ${s.room} as entity ${s.entity} over ${s.url}; ${s.entities} entities in view`);
  check(s.url.startsWith(url.protocol === "https:" ? "wss://" : "ws://") && s.url.includes(url.host), `${name}: connected back to ${url.host}: ${s.url}`);
  check(s.protocol === 6, `${name}: plays protocol version 6 (${s.protocol})`);
  return { page, name, problems, id: s.entity };
}

const stats = (page) => page.evaluate(() => window.tickstream.stats());
const seen = (page, id) => page.evaluate((id) => window.tickstream.entity(id), id);

/** Polls `probe` until it returns a truthy value; fails with `what` after STEP_MS. */
async function until(what, probe, intervalMs = 50) {
  const deadline = Date.now() + STEP_MS;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new CheckFailed(`timed out after ${STEP_MS / 1000} s waiting until ${what}`);
}

/**
 * Holds a key on `mover` until `watcher` has seen the mover's player go `distance` units along
 * `axis`, measures the speed from the server's positions on the mover's page, releases the key,
 * and checks that prediction and server agree afterwards.
 */
async function moveAndWatch(mover, watcher, axis) {
  const start = (await stats(mover.page)).server;
  const toward = start[axis] < 500 ? 1 : -1; // toward the middle: never against a wall
  const key = axis === "x" ? (toward > 0 ? "KeyD" : "KeyA") : toward > 0 ? "ArrowDown" : "ArrowUp";
  const before = await seen(watcher.page, mover.id);
  check(before, `${watcher.name} sees ${mover.name}'s player ${mover.id} before it moves`);
  log(`${mover.name}: holding ${key} at (${start.x.toFixed(2)}, ${start.y.toFixed(2)})`);

  await mover.page.keyboard.down(key);
  const a = await until(`${mover.name}'s input is acknowledged`, async () => {
    const s = await stats(mover.page);
    return s.ackSeq > 0 && s.ackSeq === s.inputSeq && s.server[axis] !== start[axis] ? s : null;
  });
  const distance = 60;
  const leads = []; // while moving: [units the prediction is ahead, ticks it is ahead]
  const watched = await until(`${watcher.name} sees ${mover.name}'s player move ${distance} units along ${axis}`, async () => {
    const s = await stats(mover.page);
    leads.push([(s.predicted[axis] - s.server[axis]) * toward, s.predictedTick - s.tick]);
    const e = await seen(watcher.page, mover.id);
    return e && (e[axis] - before[axis]) * toward >= distance ? e : null;
  });
  const b = await stats(mover.page);
  await mover.page.keyboard.up(key);
  // While the key is held the prediction runs ahead of the server's latest word, by exactly
  // one step per tick it is ahead.
  log(`${mover.name}: prediction ahead of the server while moving (units, ticks): ${leads.map((l) => l.join("/")).join(" ")}`);
  const steady = leads.slice(1); // the first sample may precede the first acknowledged step
  check(steady.some(([u]) => u > 0), `${mover.name}: the prediction runs ahead of the server while moving`);
  for (const [units, ticks] of steady) {
    check(ticks >= 0 && Math.abs(units - SPEED * ticks) < 0.1, `${mover.name}: ${units} units ahead for ${ticks} ticks ahead`);
  }
  const speed = Math.abs(b.server[axis] - a.server[axis]) / (b.tick - a.tick);
  log(
    `${watcher.name} saw ${mover.name}'s player go from ${before[axis].toFixed(2)} to ${watched[axis].toFixed(2)} along ${axis};` +
      ` ${mover.name} moved ${speed.toFixed(3)} units/tick over ticks ${a.tick}..${b.tick}`,
  );
  check(b.tick > a.tick, `${mover.name}: ticks advanced while moving`);
  check(Math.abs(speed - SPEED) < 0.05, `${mover.name} moves ${SPEED} units per tick (measured ${speed})`);
  const other = axis === "x" ? "y" : "x";
  check(Math.abs(watched[other] - before[other]) < 1e-9, `${mover.name}'s player moved along ${axis} only`);

  // Released: the stop is acknowledged, the server's position settles and the prediction
  // agrees with it (and so does what the page draws).
  const settled = await until(`${mover.name}'s prediction agrees with the server after the release`, async () => {
    const s = await stats(mover.page);
    if (s.ackSeq !== s.inputSeq || s.inputSeq < 2) return null;
    const err = Math.hypot(s.predicted.x - s.server.x, s.predicted.y - s.server.y);
    const drawn = await mover.page.evaluate(() => window.tickstream.frame().own);
    const drawnErr = Math.hypot(drawn.x - s.server.x, drawn.y - s.server.y);
    return err <= TOLERANCE && drawnErr <= TOLERANCE ? { s, err, drawnErr } : null;
  });
  await new Promise((r) => setTimeout(r, 300));
  const after = await stats(mover.page);
  check(
    after.server.x === settled.s.server.x && after.server.y === settled.s.server.y,
    `${mover.name}'s player stopped after the release: ${JSON.stringify(settled.s.server)} then ${JSON.stringify(after.server)}`,
  );
  const err = Math.hypot(after.predicted.x - after.server.x, after.predicted.y - after.server.y);
  check(err <= TOLERANCE, `${mover.name}: predicted ${JSON.stringify(after.predicted)} vs server ${JSON.stringify(after.server)}`);
  const watcherView = await until(`${watcher.name} sees ${mover.name}'s player where the server has it`, async () => {
    const e = await seen(watcher.page, mover.id);
    return e && e.x === after.server.x && e.y === after.server.y ? e : null;
  });
  log(
    `${mover.name}: released; server (${after.server.x.toFixed(3)}, ${after.server.y.toFixed(3)}),` +
      ` predicted error ${err.toFixed(4)} units, drawn error ${settled.drawnErr.toFixed(4)};` +
      ` ${watcher.name} sees (${watcherView.x.toFixed(3)}, ${watcherView.y.toFixed(3)})`,
  );
}

/**
 * Remote entities render smoothly: over a second of animation frames the render time advances
 * at the tick rate without stepping back, about `interpolationDelayMs` behind the newest
 * Update, and moving NPCs cover 5 units per rendered tick (no stutter, no jumps).
 */
async function checkSmoothness(p) {
  // Chromium runs animation frames only for the page in front, and a page sent back falls
  // behind on its updates: measured before the second page opens, on the page in front.
  await p.page.bringToFront();
  // After a join the client's clock settles (ServerClock: its jitter window fills, then the
  // render time slews at 5 % toward the new delay): the steady state is what is measured.
  await until(`${p.name}'s render clock settles at its delay`, () =>
    p.page.evaluate(() => {
      const c = window.tickstream;
      const s = c.stats();
      const rt = c.frame().renderTick;
      return rt !== null && Math.abs(c.replica.tick - rt - (s.interpolationDelayMs * s.world.tickRateHz) / 1000) < 1;
    }),
  );
  const frames = await p.page.evaluate(
    () =>
      new Promise((resolve) => {
        const c = window.tickstream;
        const out = [];
        let t0 = null;
        const step = (t) => {
          t0 ??= t;
          const f = c.frame(t);
          const pos = {};
          for (const e of f.entities) if (e.kind === 1 && e.id < 50) pos[e.id] = [e.x, e.y];
          out.push({ t, rt: f.renderTick, latest: c.replica.tick, pos });
          if (t - t0 < 1000) requestAnimationFrame(step);
          else resolve(out);
        };
        requestAnimationFrame(step);
      }),
  );
  const hz = (await stats(p.page)).world.tickRateHz;
  const delayTicks = ((await stats(p.page)).interpolationDelayMs * hz) / 1000;
  const rates = [];
  const lags = [];
  const speeds = [];
  for (let i = 1; i < frames.length; i++) {
    const a = frames[i - 1];
    const b = frames[i];
    check(b.rt >= a.rt, `${p.name}: render time stepped back from tick ${a.rt} to ${b.rt}`);
    const dt = b.t - a.t;
    if (dt <= 0) continue;
    rates.push((b.rt - a.rt) / ((dt * hz) / 1000));
    lags.push(b.latest - b.rt);
    if (b.rt - a.rt <= 0) continue;
    for (const id of Object.keys(b.pos)) {
      if (!a.pos[id]) continue;
      speeds.push(Math.hypot(b.pos[id][0] - a.pos[id][0], b.pos[id][1] - a.pos[id][1]) / (b.rt - a.rt));
    }
  }
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  check(frames.length >= 20, `${p.name}: animation frames ran (${frames.length} in 1 s)`);
  const rate = median(rates);
  const lag = median(lags);
  const speed = median(speeds);
  log(
    `${p.name}: ${frames.length} frames in 1 s; render clock at ${rate.toFixed(3)}× the tick rate,` +
      ` ${lag.toFixed(2)} ticks behind the newest update; NPCs drawn at ${speed.toFixed(3)} units/tick`,
  );
  check(rate > 0.9 && rate < 1.1, `${p.name}: the render clock runs at the tick rate (${rate}×)`);
  check(lag > delayTicks - 1.5 && lag < delayTicks + 1.5, `${p.name}: rendering ${delayTicks} ticks in the past (${lag})`);
  check(Math.abs(speed - SPEED) < 0.5, `${p.name}: interpolated NPCs move ${SPEED} units per tick (${speed})`);
}

/**
 * The overlay names the game and lists the room's events; a reload of `p` takes the same
 * player back (the demo keeps the resume state in sessionStorage), and `other` still sees it
 * under the same id.
 */
async function reloadAndResume(p, other) {
  const overlay = await p.page.evaluate(() => ({
    game: document.getElementById("game").innerText,
    events: document.getElementById("events").innerText,
  }));
  check(overlay.game === "arena", `${p.name}: the overlay names the game (${overlay.game})`);
  check(overlay.events.includes(`joined #${other.id}`), `${p.name}: the event log shows ${other.name} joining: ${overlay.events}`);
  const before = await p.page.evaluate(() => ({ ...window.tickstream.resumeState(), seq: window.tickstream.stats().lastEventSeq }));
  check(before.entity === p.id && /^[0-9a-f]{32}$/.test(before.token), `${p.name}: a resume state to keep: ${JSON.stringify(before)}`);
  check(before.inputSeq >= 2, `${p.name}: the resume state carries the input seq (${before.inputSeq})`);
  await p.page.reload({ timeout: STEP_MS });
  const s = await until(`${p.name} plays again after the reload`, async () => {
    const s = await p.page.evaluate(() => window.tickstream?.stats());
    return s && s.connected && s.tick > 0 ? s : null;
  });
  const welcome = await p.page.evaluate(() => window.tickstream.welcome);
  log(`${p.name}: reloaded; entity ${s.entity} (was ${p.id}), resumed ${welcome.resumed}, events after seq ${before.seq}: ${s.lastEventSeq}`);
  check(welcome.resumed === true && s.resumes === 1, `${p.name}: the reload resumed (${welcome.resumed}, ${s.resumes} resumes)`);
  check(s.entity === p.id, `${p.name}: the same entity after the reload (${p.id} → ${s.entity})`);
  check(s.desyncs === 0, `${p.name}: no desync after the reload`);
  await until(`${other.name} still sees ${p.name}'s player ${p.id}`, async () => (await seen(other.page, p.id)) !== null);

  // The resumed player moves: its inputs continue the seq of the page before the reload, so
  // the server applies them at once (it drops every input at or below the last it applied).
  const start = await until(`${p.name} has its own entity after the reload`, async () => {
    const s = await stats(p.page);
    return s.server && s.predicted ? s : null;
  });
  const toward = start.server.x < 500 ? 1 : -1;
  const key = toward > 0 ? "KeyD" : "KeyA";
  const pressedAt = Date.now();
  await p.page.keyboard.down(key);
  const moved = await until(`${p.name}'s resumed player moves 30 units after the reload`, async () => {
    const s = await stats(p.page);
    return (s.server.x - start.server.x) * toward >= 30 ? s : null;
  });
  const movedMs = Date.now() - pressedAt;
  await p.page.keyboard.up(key);
  log(
    `${p.name}: after the reload the player moved from ${start.server.x.toFixed(2)} to ${moved.server.x.toFixed(2)} in ${movedMs} ms;` +
      ` input seq ${before.inputSeq} before the reload, ${moved.inputSeq} now, acknowledged ${moved.ackSeq}`,
  );
  check(moved.inputSeq > before.inputSeq, `${p.name}: input seqs continue after the reload (${before.inputSeq} → ${moved.inputSeq})`);
  check(moved.ackSeq > before.inputSeq, `${p.name}: the server acknowledges the new inputs (${moved.ackSeq})`);
  const settled = await until(`${p.name}'s prediction agrees with the server after the reload`, async () => {
    const s = await stats(p.page);
    if (s.ackSeq !== s.inputSeq) return null;
    const err = Math.hypot(s.predicted.x - s.server.x, s.predicted.y - s.server.y);
    return err <= TOLERANCE ? s : null;
  });
  check(settled.desyncs === 0, `${p.name}: no desync while moving after the reload`);
}

/**
 * A lost link on `p`: the page says so once in its live region (the countdown beside it is
 * aria-hidden and may tick), and resumes the player after the backoff.
 */
async function linkLossIsAnnouncedOnce(p) {
  const resumes = (await stats(p.page)).resumes;
  const watched = await p.page.evaluate(
    () =>
      new Promise((resolve) => {
        const c = window.tickstream;
        const live = document.getElementById("status-text");
        const texts = [];
        new MutationObserver(() => texts.push(live.textContent)).observe(live, { childList: true, characterData: true, subtree: true });
        c.options.reconnectInitialMs = 3000; // 1.5–3 s of "reconnecting" to watch
        c.attempts = 0;
        c.ws.close(4100, "test: link lost"); // 4100: the server keeps the player
        setTimeout(() => resolve({ texts, role: live.getAttribute("role"), state: c.state }), 1400);
      }),
  );
  log(`${p.name}: link dropped; the live region changed ${watched.texts.length} time(s): ${JSON.stringify(watched.texts)}`);
  check(watched.role === "status", `${p.name}: the status text is a polite live region`);
  check(watched.state === "reconnecting", `${p.name}: reconnecting after the drop (${watched.state})`);
  check(watched.texts.length === 1 && /reconnecting/.test(watched.texts[0]), `${p.name}: the live region said it once: ${JSON.stringify(watched.texts)}`);
  const s = await until(`${p.name} resumes after the lost link`, async () => {
    const s = await stats(p.page);
    return s.connected && s.resumes > resumes ? s : null;
  });
  check(s.entity === p.id, `${p.name}: the same player after the lost link`);
  await until(`${p.name}: the status box is hidden again once playing`, () =>
    p.page.evaluate(() => document.getElementById("status").classList.contains("idle")),
  );
}

/** The demo links the coins game; following the link plays it. */
async function followCoinsLink(p) {
  const href = await p.page.evaluate(() => document.getElementById("play-coins")?.href ?? null);
  check(href !== null, `${p.name}: the overlay links the coins game`);
  await p.page.click("#play-coins", { timeout: STEP_MS });
  const s = await until(`${p.name} plays the coins game after following the link`, async () => {
    const s = await p.page.evaluate(() => window.tickstream?.stats());
    return s && s.connected && s.game === "coins" ? s : null;
  });
  log(`${p.name}: followed the coins link: room ${s.room}, game ${s.game}, entity ${s.entity}`);
}

async function run(context) {
  const A = await open(context, "page A");
  await checkSmoothness(A);
  const B = await open(context, "page B");
  check(A.id !== B.id, `two players: ${A.id} and ${B.id}`);
  await until("each page sees the other's player", async () => (await seen(A.page, B.id)) && (await seen(B.page, A.id)));

  await moveAndWatch(A, B, "x");
  await moveAndWatch(B, A, "y");

  for (const p of [A, B]) {
    const s = await stats(p.page);
    log(
      `${p.name}: rtt ${s.rttMs?.toFixed(1)} ms, ${s.updateHz.toFixed(1)} updates/s, ${s.kbpsIn.toFixed(1)} kB/s in,` +
        ` ${s.entities} entities, ${s.players} players, tick ${s.tick}, ${s.desyncs} desyncs, ${s.reconnects} reconnects`,
    );
    check(s.connected, `${p.name} is still connected`);
    check(s.desyncs === 0, `${p.name}: no desync (${s.desyncs})`);
    check(s.reconnects === 0, `${p.name}: no reconnect (${s.reconnects}; last close ${JSON.stringify(s.lastClose)})`);
    check(s.players >= 2, `${p.name} sees both players (${s.players})`);
    check(s.updateHz > 10 && s.updateHz < 45, `${p.name}: updates arrive at about the tick rate (${s.updateHz})`);
    check(s.kbpsIn > 0, `${p.name}: bytes are counted (${s.kbpsIn} kB/s)`);
    check(s.rttMs !== null && s.rttMs >= 0 && s.rttMs < 1000, `${p.name}: a round trip was measured (${s.rttMs})`);
    const overlay = await p.page.evaluate(() => document.getElementById("overlay").innerText);
    check(/round trip[\s\S]*ms/.test(overlay) && /kB\/s/.test(overlay), `${p.name}: the overlay shows the numbers: ${overlay}`);
    check(p.problems.length === 0, `${p.name}: no errors in the page: ${p.problems.join("; ")}`);
  }

  mkdirSync(dirname(screenshotPath), { recursive: true });
  await A.page.screenshot({ path: screenshotPath });
  log(`screenshot: ${screenshotPath}`);

  // Last, as it starts page A's session over (its rates and counters with it).
  await reloadAndResume(A, B);
  await linkLossIsAnnouncedOnce(A);
  await followCoinsLink(B);
  for (const p of [A, B]) check(p.problems.length === 0, `${p.name}: no errors in the page after the reload: ${p.problems.join("; ")}`);
}

// ---- main (after the helpers: top-level await runs before later declarations) ----

const watchdog = setTimeout(() => {
  console.error(`FAIL: the browser test did not finish within ${RUN_MS / 1000} s`);
  process.exit(1);
}, RUN_MS);

const userDataDir = mkdtempSync(join(tmpdir(), "tickstream-chromium-"));
let context;
try {
  context = await launchChromium(userDataDir, { viewport: { width: 1100, height: 800 }, timeout: STEP_MS });
  log("chromium", context.browser()?.version() ?? "(persistent context)", "at", pageUrl);
  await run(context);
  log("PASS");
} catch (e) {
  console.error(`FAIL: ${e instanceof CheckFailed ? e.message : e.stack || e}`);
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await context?.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
