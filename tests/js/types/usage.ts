// A program written against tickstream.d.ts as a game would use the client (docs/WEB_CLIENT.md):
// it is type-checked, never run. A declaration that is missing, misspelt or of the wrong shape
// fails `tsc -p tests/js/types`.
import {
  CloseCode,
  DesyncError,
  PROTOCOL_VERSION,
  Replica,
  SUBPROTOCOL,
  SUBPROTOCOLS,
  TickstreamClient,
  decodeServerMsg,
  encodeInput,
  encodeInput5,
  viewTime,
  encodeJoin,
  encodeFollow,
  encodeServerMsg,
  encodeSpectate,
  isValidRoomName,
  viewChecksum,
  type ClientEvent,
  type CloseInfo,
  type Frame,
  type ResumeState,
  type ServerMsg,
  type Stats,
  type Welcome,
  type MoveRule,
  type StepInput,
  type StepState,
  type SpectatorView,
} from "../../../assets/web/tickstream.js";

const protocol: string = SUBPROTOCOL;
const version: number = PROTOCOL_VERSION;
const offered: readonly string[] = SUBPROTOCOLS;

const client = new TickstreamClient({
  url: "wss://127.0.0.1:7443/ws",
  room: "lobby",
  interpolationDelayMs: 100,
  playerSpeed: (w: Welcome) => (w.game === "coins" ? 4 : 5),
  token: async () => "a token from the backend",
});

// A game of one's own: its step function predicts the own entity.
const ownGame = new TickstreamClient({
  url: "wss://127.0.0.1:7443/ws",
  predict: (state: StepState, input: StepInput, w: Welcome) => {
    state.x = Math.min(state.x + (input.buttons & 1 ? 2 : 1) * Math.sign(input.dx), w.worldWidth);
  },
});
void ownGame;
void new TickstreamClient({ url: "wss://127.0.0.1:7443/ws", predict: false });

// Interpolation options: an adaptive delay, bounded extrapolation, a step per kind name.
const tuned = new TickstreamClient({
  url: "wss://127.0.0.1:7443/ws",
  interpolationDelayMs: "auto",
  maxExtrapolationMs: 100,
  maxStep: (w: Welcome) => (w.game === "arena" ? { npc: 8, default: 5 } : 4),
});
const jitter: number = tuned.stats().jitterMs + tuned.stats().interpolationDelayMs;
void jitter;

client.on("welcome", (w: Welcome) => {
  const size: number = w.worldWidth * w.worldHeight;
  const rule: MoveRule | null = w.moveRule;
  const speed: number | null = rule && rule.kind === "walk" ? rule.speed : null;
  void speed;
  const kinds: string[] = w.kinds;
  void size;
  void kinds;
});
client.on("event", (e: ClientEvent) => {
  const what: string | null = e.kindName;
  const seq: number = e.seq;
  void what;
  void seq;
});
client.on("close", (c: CloseInfo) => {
  if (c.code === CloseCode.RESUME_REFUSED || c.resumeRefused) {
    const retry: number | null = c.retryInMs;
    void retry;
  }
});
client.on("moved", ({ url }) => {
  // The client resumes there by itself (v5); the application may show it.
  const where: string = url;
  void where;
});
client.on("desync", ({ error }) => {
  const e: DesyncError = error;
  void e;
});
const off: () => void = client.on("pong", ({ rttMs }) => void rttMs);
off();

client.connect();
client.setInput(1, 0);
client.setInput(0, -1, 0b1);

function draw(now: number): void {
  const f: Frame = client.frame(now);
  for (const e of f.entities) {
    const x: number = e.x;
    const fields: readonly number[] | null = e.fields;
    void x;
    void fields;
  }
  if (f.own) {
    const y: number = f.own.y;
    void y;
  }
  const score: number | null = f.own ? client.field(f.own.id, "score") : null;
  void score;
}
draw(performance.now());

const stats: Stats = client.stats();
const hz: number = stats.updateHz;
const rtt: number | null = stats.rttMs;
const speaks: 2 | 3 | 4 | 5 | 6 | null = stats.protocol;
const moves: number = stats.moves;
void moves;
void speaks;
void hz;
void rtt;

const saved: ResumeState | null = client.resumeState();
if (saved) {
  client.suspend("page reload");
  new TickstreamClient({ url: "wss://127.0.0.1:7443/ws", resume: saved }).connect();
}
client.forgetPlayer();
client.close("player left");
new TickstreamClient({ url: "wss://h/ws", maxInputRateHz: 20, policyRetries: 1, now: () => performance.now() });

// A spectator (v6): watches a room following entity 7, then the whole room; no input.
const watcher = new TickstreamClient({ url: "wss://127.0.0.1:7443/ws", room: "duel-1", spectate: { follow: 7 } });
void new TickstreamClient({ url: "wss://127.0.0.1:7443/ws", spectate: true });
watcher.on("spectating", ({ follow, delayMs, recording }) => {
  const label: string = `${recording ? "recording" : "live"} ${delayMs} ms behind, following ${follow ?? "the room"}`;
  void label;
});
watcher.on("close", (c: CloseInfo) => {
  const ended: boolean = c.code === CloseCode.NORMAL && !c.willReconnect;
  const missing: boolean = c.code === CloseCode.NO_SUCH_ROOM || c.code === CloseCode.SPECTATORS_ONLY;
  void ended;
  void missing;
});
watcher.connect().follow(null).follow(3);
const view: SpectatorView | null = watcher.stats().spectator ?? watcher.spectator;
const isSpectator: boolean = watcher.spectating;
void view;
void isSpectator;
const spectate: Uint8Array = encodeSpectate("duel-1", 7);
const followAll: Uint8Array = encodeFollow(null);
const answer: ServerMsg = decodeServerMsg(spectate);
if (answer.type === "Spectating") {
  const delay: number = answer.delayMs + answer.welcome.tick;
  const follows: number | null = answer.follow;
  void delay;
  void follows;
}
void followAll;

// The codec and the replica, for clients of one's own.
const join: Uint8Array = encodeJoin("lobby");
const input: Uint8Array = encodeInput(1, 1, 0);
const shown = viewTime(1000.5);
const input5: Uint8Array = encodeInput5(2, 1, 0, 1, shown.viewTick, shown.viewFrac);
const msg: ServerMsg = decodeServerMsg(join);
const replica = new Replica();
if (msg.type === "Update3") {
  const same: { tick: number } = replica.apply3(msg);
  const moved: number = msg.delta.motion.moves.length + msg.tickGap;
  void same;
  void moved;
}
// The encoders take what they default left out: fields, field changes, events, buttons.
const fake: Uint8Array = encodeServerMsg({
  type: "Update",
  tick: 2,
  ackSeq: 0,
  checksum: 0,
  delta: { despawns: [], spawns: [{ id: 1, kind: 0, x: 64, y: 64 }], changes: [] },
});
void fake;
const valid: boolean = isValidRoomName("lobby-1");
const checksum: number = viewChecksum([{ id: 1, kind: 0, x: 64, y: 64 }]);
void protocol;
void version;
void offered;
void input;
void input5;
void msg;
void replica;
void valid;
void checksum;
