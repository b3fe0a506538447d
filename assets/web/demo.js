// The demo page: the room's game on a canvas, the own player moved with WASD or the arrow keys,
// and an overlay with the numbers, the game's name and its latest events. A reload resumes the
// same player (the resume state is kept in sessionStorage). The client is `window.tickstream`
// (see docs/WEB_CLIENT.md).
//
// Watch mode (`?watch=ROOM`, optionally `&follow=ID`; protocol v6): the page spectates the room
// instead of playing: the whole room, or the view of the entity clicked last; "Whole room" goes
// back. A server that plays back a recording (`tickstream-server replay FILE --serve`) takes
// spectators only: the page watches its room, showing that it is a recording.

import { CloseCode, TickstreamClient, isValidRoomName, scaleField } from "./tickstream.js";

const params = new URLSearchParams(location.search);
// The page talks to the server it came from: wss:// when served over https, ws:// otherwise.
const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
const delay = Number(params.get("delay"));
const watching = params.has("watch");
const room = (watching ? params.get("watch") : params.get("room")) || "lobby";
/** `?follow=ID`: the entity whose view a spectator starts with; else the whole room. */
const followParam = params.get("follow") ?? "";
const startFollow = /^[0-9]{1,10}$/.test(followParam) && Number(followParam) <= 0xffffffff ? Number(followParam) : null;
// The player of this tab before a reload, if any: resume it rather than join anew.
const RESUME_KEY = "tickstream.resume";
let saved = null;
try {
  saved = JSON.parse(sessionStorage.getItem(RESUME_KEY) ?? "null");
} catch {
  saved = null;
}
const client = new TickstreamClient({
  url,
  room,
  // A spectator has no player to resume; the player's saved state stays for its own page.
  resume: !watching && saved && saved.room === room && typeof saved.token === "string" ? saved : undefined,
  spectate: watching ? { follow: startFollow } : undefined,
  // `?delay=` sets the least render delay of remote entities; by default it adapts to the jitter.
  interpolationDelayMs: Number.isFinite(delay) && delay >= 0 && params.has("delay") ? delay : "auto",
  // For a server with a join secret (development): `?token=…` from `tickstream-server token`.
  token: params.get("token") ?? undefined,
});
window.tickstream = client;

// ---- input ----------------------------------------------------------------------------------

const KEYS = {
  KeyW: "up", ArrowUp: "up",
  KeyS: "down", ArrowDown: "down",
  KeyA: "left", ArrowLeft: "left",
  KeyD: "right", ArrowRight: "right",
};
const held = new Set();

function sendDirection() {
  const dx = (held.has("right") ? 1 : 0) - (held.has("left") ? 1 : 0);
  const dy = (held.has("down") ? 1 : 0) - (held.has("up") ? 1 : 0); // screen y grows downward
  client.setInput(dx, dy);
}

addEventListener("keydown", (ev) => {
  const dir = KEYS[ev.code];
  // A spectator sends no input (setInput would throw); typing in the watch form is not steering.
  if (watching || ev.target instanceof HTMLInputElement) return;
  if (!dir || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  ev.preventDefault(); // no scrolling with the arrow keys
  if (!held.has(dir)) {
    held.add(dir);
    sendDirection();
  }
});
addEventListener("keyup", (ev) => {
  const dir = KEYS[ev.code];
  if (!watching && dir && held.delete(dir)) sendDirection();
});
// A key released while the page had no focus would never send its keyup: stop instead.
addEventListener("blur", () => {
  if (held.size > 0) {
    held.clear();
    sendDirection();
  }
});

// ---- drawing --------------------------------------------------------------------------------

const canvas = document.getElementById("arena");
const overlayBox = document.getElementById("overlay");
const ctx = canvas.getContext("2d", { alpha: false });
const COLORS = {
  coin: "#e3b341",
  background: "#0d1117",
  arena: "#131a24",
  grid: "#1f2a37",
  border: "#30363d",
  npc: "#5b7a9d",
  player: "#f0883e",
  own: "#3fb950",
  ghost: "rgba(230, 237, 243, 0.55)",
  view: "rgba(63, 185, 80, 0.35)",
  label: "#e6edf3",
  followed: "#58a6ff",
};

/** The last frame's mapping of world units to canvas pixels, for clicks: `X = ox + x × scale`. */
const view = { ox: 0, oy: 0, scale: 0, dpr: 1 };

// Kind 0 is the player in the reference games; a game that names it elsewhere says so.
let PLAYER = 0;
// The index of the coins game's rotation field, once the welcome names it.
let ROTATION = -1;
let SCORE = -1;
client.on("welcome", (w) => {
  const p = w.kinds.indexOf("player");
  PLAYER = p >= 0 ? p : 0;
  ROTATION = w.fields.findIndex((f) => f.name === "rotation");
  SCORE = w.fields.findIndex((f) => f.name === "score");
});

/** A player's heading (the `rotation` field, a fraction of a turn) as a tick on its edge. */
function heading(e, x, y, r) {
  if (ROTATION < 0 || !e.fields) return;
  const a = scaleField(e.fields[ROTATION], client.welcome?.fields[ROTATION]);
  ctx.strokeStyle = COLORS.label;
  ctx.lineWidth = Math.max(1.5, r / 4);
  ctx.beginPath();
  ctx.moveTo(x + Math.cos(a) * r * 0.3, y + Math.sin(a) * r * 0.3);
  ctx.lineTo(x + Math.cos(a) * r * 1.5, y + Math.sin(a) * r * 1.5);
  ctx.stroke();
}

/** " · 3" for an entity with a score field, "" otherwise. */
function scoreText(e) {
  if (SCORE < 0 || !e.fields) return "";
  return ` · ${scaleField(e.fields[SCORE], client.welcome?.fields[SCORE])}`;
}

function resize() {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(canvas.clientWidth * dpr);
  const h = Math.round(canvas.clientHeight * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  return dpr;
}

function draw() {
  const dpr = resize();
  const W = canvas.width;
  const H = canvas.height;
  ctx.fillStyle = COLORS.background;
  ctx.fillRect(0, 0, W, H);
  const frame = client.frame();
  const world = client.welcome;
  if (world) {
    const margin = 16 * dpr;
    // Beside the overlay when the window is wide enough to leave a large arena, else under it.
    const beside = (overlayBox.getBoundingClientRect().right + 16) * dpr;
    const fit = (w) => Math.min(w / world.worldWidth, (H - 2 * margin) / world.worldHeight);
    const clear = W - beside - margin > 0.6 * W;
    const scale = clear ? fit(W - beside - margin) : fit(W - 2 * margin);
    const ox = clear ? beside + (W - margin - beside - world.worldWidth * scale) / 2 : (W - world.worldWidth * scale) / 2;
    const oy = (H - world.worldHeight * scale) / 2;
    const X = (x) => ox + x * scale;
    const Y = (y) => oy + y * scale;
    view.ox = ox;
    view.oy = oy;
    view.scale = scale;
    view.dpr = dpr;

    ctx.fillStyle = COLORS.arena;
    ctx.fillRect(ox, oy, world.worldWidth * scale, world.worldHeight * scale);
    ctx.strokeStyle = COLORS.grid;
    ctx.lineWidth = 1;
    ctx.beginPath();
    const step = 100;
    for (let gx = step; gx < world.worldWidth; gx += step) {
      ctx.moveTo(Math.round(X(gx)) + 0.5, oy);
      ctx.lineTo(Math.round(X(gx)) + 0.5, oy + world.worldHeight * scale);
    }
    for (let gy = step; gy < world.worldHeight; gy += step) {
      ctx.moveTo(ox, Math.round(Y(gy)) + 0.5);
      ctx.lineTo(ox + world.worldWidth * scale, Math.round(Y(gy)) + 0.5);
    }
    ctx.stroke();
    ctx.strokeStyle = COLORS.border;
    ctx.lineWidth = 2 * dpr;
    ctx.strokeRect(ox, oy, world.worldWidth * scale, world.worldHeight * scale);

    // Other kinds (NPCs, coins) first, players on top of them.
    const npcR = Math.max(1.6 * dpr, 3 * scale);
    const coins = world.game === "coins";
    ctx.fillStyle = coins ? COLORS.coin : COLORS.npc;
    ctx.beginPath();
    const otherR = coins ? npcR * 1.3 : npcR;
    for (const e of frame.entities) {
      if (e.kind === PLAYER) continue;
      ctx.moveTo(X(e.x) + otherR, Y(e.y));
      ctx.arc(X(e.x), Y(e.y), otherR, 0, Math.PI * 2);
    }
    ctx.fill();

    const playerR = Math.max(4.5 * dpr, 7 * scale);
    ctx.font = `${11 * dpr}px system-ui, "DejaVu Sans", sans-serif`;
    ctx.textAlign = "center";
    for (const e of frame.entities) {
      if (e.kind !== PLAYER) continue;
      ctx.fillStyle = COLORS.player;
      ctx.beginPath();
      ctx.arc(X(e.x), Y(e.y), playerR, 0, Math.PI * 2);
      ctx.fill();
      heading(e, X(e.x), Y(e.y), playerR);
      ctx.fillStyle = COLORS.label;
      ctx.fillText(`#${e.id}${scoreText(e)}`, X(e.x), Math.max(Y(e.y) - playerR - 4 * dpr, 12 * dpr));
    }

    // A spectator's followed entity: a ring, and the view radius it sees.
    const followed = client.spectator?.follow ?? null;
    if (followed !== null) {
      const f = frame.entities.find((e) => e.id === followed);
      if (f) {
        ctx.strokeStyle = COLORS.followed;
        ctx.lineWidth = 2 * dpr;
        ctx.beginPath();
        ctx.arc(X(f.x), Y(f.y), playerR * 1.8, 0, Math.PI * 2);
        ctx.stroke();
        if (world.viewRadius > 0) {
          ctx.lineWidth = 1.5 * dpr;
          ctx.beginPath();
          ctx.arc(X(f.x), Y(f.y), world.viewRadius * scale, 0, Math.PI * 2);
          ctx.stroke();
        }
      }
    }

    if (frame.own) {
      const me = frame.own;
      if (world.viewRadius > 0) {
        ctx.strokeStyle = COLORS.view;
        ctx.lineWidth = 1.5 * dpr;
        ctx.beginPath();
        ctx.arc(X(me.x), Y(me.y), world.viewRadius * scale, 0, Math.PI * 2);
        ctx.stroke();
      }
      // The server's latest word on the own entity, behind the prediction.
      const server = client.entity(me.id);
      if (server) {
        ctx.strokeStyle = COLORS.ghost;
        ctx.lineWidth = 1 * dpr;
        ctx.beginPath();
        ctx.arc(X(server.x), Y(server.y), playerR * 1.6, 0, Math.PI * 2);
        ctx.stroke();
      }
      const r = playerR * 1.25;
      ctx.fillStyle = COLORS.own;
      ctx.shadowColor = COLORS.own;
      ctx.shadowBlur = 12 * dpr;
      ctx.beginPath();
      ctx.arc(X(me.x), Y(me.y), r, 0, Math.PI * 2);
      ctx.fill();
      ctx.shadowBlur = 0;
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 2 * dpr;
      ctx.stroke();
      heading(me, X(me.x), Y(me.y), r);
      ctx.fillStyle = COLORS.label;
      ctx.font = `bold ${12 * dpr}px system-ui, "DejaVu Sans", sans-serif`;
      ctx.fillText(`you #${me.id}${scoreText(me)}`, X(me.x), Math.max(Y(me.y) - r - 5 * dpr, 13 * dpr));
    }
  }
  requestAnimationFrame(draw);
}

// ---- overlay --------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);
const fixed = (v, digits) => (v === null || v === undefined ? "–" : v.toFixed(digits));

function overlay() {
  const s = client.stats();
  $("room").textContent = s.room;
  $("game").textContent = s.game ?? "–";
  const hasScore = SCORE >= 0 && s.entity !== null;
  $("score-label").hidden = !hasScore;
  $("score").hidden = !hasScore;
  if (hasScore) $("score").textContent = String(client.field(s.entity, SCORE) ?? "–");
  const others = client.welcome?.kinds.filter((_, k) => k !== PLAYER) ?? [];
  $("others-label").textContent = others.length ? others.map((k) => (k === "npc" ? "NPCs" : `${k}s`)).join(", ") : "NPCs";
  $("others-dot").className = s.game === "coins" ? "coin" : "npc";
  $("player-label").textContent = watching ? "following" : "player";
  if (watching) {
    const sp = s.spectator;
    $("player").textContent = sp === null ? "–" : sp.follow === null ? "whole room" : `#${sp.follow}`;
    $("view").textContent = sp === null ? "–" : sp.recording ? "recording" : `live, ${(sp.delayMs / 1000).toFixed(1)} s behind`;
  } else {
    $("player").textContent = s.entity === null ? "–" : `#${s.entity}`;
  }
  $("rtt").textContent = s.rttMs === null ? "–" : `${fixed(s.rttMs, 1)} ms`;
  $("hz").textContent = `${fixed(s.updateHz, 1)} /s`;
  $("kbps").textContent = `${fixed(s.kbpsIn, 1)} kB/s`;
  $("entities").textContent = String(s.entities);
  $("tick").textContent = String(s.tick);
  let status = "";
  let retry = "";
  if (s.state === "connecting" || s.state === "joining") status = `Connecting to ${s.url}…`;
  else if (watching && s.state === "playing" && s.updates === 0 && s.spectator?.delayMs > 0) {
    // The view runs delay_ms behind the room: its first update takes that long.
    status = `Watching ${s.room}: the view starts ${(s.spectator.delayMs / 1000).toFixed(1)} s behind the game…`;
  } else if (s.state === "reconnecting") {
    const c = s.lastClose;
    const why = c ? `${c.code}${c.reason ? ` ${c.reason}` : ""}` : "";
    status = `Disconnected (${why}); reconnecting`;
    retry = ` in ${(s.reconnectInMs / 1000).toFixed(1)} s`;
  } else if (s.state === "closed") {
    const c = s.lastClose;
    if (watching && c?.code === CloseCode.NORMAL && client.spectator?.recording) {
      const why = c.reason && c.reason !== "the recording ended" ? ` (${c.reason})` : "";
      status = `The recording ended${why}; reload to watch it again`;
    } else if (c?.code === CloseCode.NO_SUCH_ROOM) {
      status = `There is no room ${s.room} to watch`;
    } else {
      status = `Closed${c ? ` (${c.code}${c.reason ? ` ${c.reason}` : ""})` : ""}; reload to try again`;
    }
  }
  // The live region is written only when its text changes: a screen reader announces every
  // write. The countdown is aria-hidden.
  if (status !== shownStatus) {
    shownStatus = status;
    $("status-text").textContent = status;
    $("status").classList.toggle("idle", status === "");
  }
  if ($("retry").textContent !== retry) $("retry").textContent = retry;
}
let shownStatus = "";

// ---- events -----------------------------------------------------------------------------------

const eventList = $("events");
/** One line per event: "#12 collected #7 (3)". Newest first, the last eight. */
client.on("event", (e) => {
  const li = document.createElement("li");
  const seq = document.createElement("span");
  seq.className = "seq";
  seq.textContent = `#${e.seq} `;
  const value = e.value !== 0 ? ` (${e.value})` : "";
  const text = e.text ? ` “${e.text}”` : "";
  li.append(seq, `${e.kindName ?? `event ${e.kind}`} #${e.entity}${value}${text}`);
  eventList.prepend(li);
  while (eventList.children.length > 8) eventList.lastElementChild.remove();
});

// Keep what a reload needs to take this player back; forget it when the session ends for good.
const saveResume = () => {
  try {
    const state = client.resumeState();
    if (state) sessionStorage.setItem(RESUME_KEY, JSON.stringify(state));
    else sessionStorage.removeItem(RESUME_KEY);
  } catch {
    // storage may be disabled; resuming across reloads is a nicety
  }
};
client.on("welcome", (w) => {
  if (!w.resumed) eventList.replaceChildren();
  if (!watching) saveResume();
});
if (!watching) {
  client.on("event", saveResume);
  client.on("close", saveResume);
}
// A page going away would close with 1001, which tells the server the player left for good.
// Suspend instead (4100): the server keeps the player for its grace period, so a reload (or
// coming back within it) resumes it. A tab closed for good leaves once the grace period ends.
addEventListener("pagehide", () => {
  client.suspend("page hidden");
  if (!watching) saveResume();
});
addEventListener("pageshow", (ev) => {
  if (ev.persisted) client.resume(); // restored from the back/forward cache
});

// ---- watch mode -------------------------------------------------------------------------------

/** Puts the watch mode's view in the address bar, so that a reload or a shared link shows it. */
function showFollowInUrl(id) {
  const u = new URL(location.href);
  if (id === null) u.searchParams.delete("follow");
  else u.searchParams.set("follow", String(id));
  history.replaceState(null, "", u.href);
}

/**
 * Where world point (x, y) was drawn in the last frame, in CSS pixels of the viewport: for tests
 * that click an entity (tests/browser/watch.mjs).
 */
window.tickstreamDemo = {
  toScreen(x, y) {
    const rect = canvas.getBoundingClientRect();
    return { x: rect.left + (view.ox + x * view.scale) / view.dpr, y: rect.top + (view.oy + y * view.scale) / view.dpr };
  },
};

/** The entity drawn nearest to a click (within a few pixels), or null. */
function entityAt(clientX, clientY) {
  const rect = canvas.getBoundingClientRect();
  const px = (clientX - rect.left) * view.dpr;
  const py = (clientY - rect.top) * view.dpr;
  let best = null;
  let bestD = (14 * view.dpr) ** 2;
  for (const e of client.frame().entities) {
    const d = (view.ox + e.x * view.scale - px) ** 2 + (view.oy + e.y * view.scale - py) ** 2;
    if (d < bestD) {
      bestD = d;
      best = e.id;
    }
  }
  return best;
}

document.body.classList.toggle("watching", watching);
$("watch-controls").hidden = !watching;
$("play-help").hidden = watching;
$("legend-own").hidden = watching;
$("legend-followed").hidden = !watching;
$("view-label").hidden = !watching;
$("view").hidden = !watching;
$("switch-mode").textContent = watching ? "play in this room" : "watch this room";
$("switch-mode").href = watching ? `/?room=${encodeURIComponent(room)}` : `/?watch=${encodeURIComponent(room)}`;
$("watch-room").value = room;
if (watching) {
  if (startFollow !== null) $("watch-follow").value = String(startFollow);
  canvas.addEventListener("click", (ev) => {
    const id = entityAt(ev.clientX, ev.clientY);
    if (id === null) return;
    client.follow(id);
    showFollowInUrl(id);
  });
  $("whole-room").addEventListener("click", () => {
    client.follow(null);
    showFollowInUrl(null);
  });
}
// The page's policy allows no form submission (form-action 'none'): the form navigates itself.
$("watch-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const name = $("watch-room").value.trim();
  if (!isValidRoomName(name)) {
    $("watch-room").setCustomValidity("1 to 64 of A-Z a-z 0-9 _ . -");
    $("watch-room").reportValidity();
    return;
  }
  const follow = $("watch-follow").value.trim();
  const q = new URLSearchParams({ watch: name });
  if (/^[0-9]+$/.test(follow)) q.set("follow", follow);
  location.assign(`/?${q}`);
});
$("watch-room").addEventListener("input", () => $("watch-room").setCustomValidity(""));
// A server that plays back a recording takes spectators only (4007): watch its room instead.
client.on("close", (c) => {
  if (!watching && c.code === CloseCode.SPECTATORS_ONLY) location.replace(`/?watch=${encodeURIComponent(room)}`);
});

client.on("desync", ({ error }) => console.warn("tickstream desync; reconnecting:", error.message));
client.on("close", (c) => console.info("tickstream closed:", c.code, c.reason, c.willReconnect ? `(retry in ${c.retryInMs} ms)` : ""));
client.connect();
setInterval(overlay, 250);
overlay();
requestAnimationFrame(draw);
