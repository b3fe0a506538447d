// Types for tickstream.js, the Tickstream browser client (protocol version 6, and 5, 4, 3, 2).
// See docs/WEB_CLIENT.md for the API and docs/PROTOCOL.md for the bytes.

export const SUBPROTOCOL: "tickstream.v6";
/** Offered newest first; the server echoes the highest it speaks. */
export const SUBPROTOCOLS: readonly ["tickstream.v6", "tickstream.v5", "tickstream.v4", "tickstream.v3", "tickstream.v2"];
export const PROTOCOL_VERSION: 6;
/** The first protocol version with spectators (Spectate, Follow, Spectating). */
export const SPECTATOR_VERSION: 6;
/** Grid points per world unit. */
export const GRID_SCALE: 64;
export const MAX_SERVER_MESSAGE: number;
export const MAX_CLIENT_MESSAGE: number;
export const MAX_LIST_LEN: number;
/** Game fields per entity: 8. */
export const MAX_FIELDS: 8;
/** The longest GameEvent.text the server sends, in UTF-8 bytes: 128. */
export const MAX_EVENT_TEXT: 128;

export const CloseCode: Readonly<{
  NORMAL: 1000;
  GOING_AWAY: 1001;
  PROTOCOL_ERROR: 1002;
  ABNORMAL: 1006;
  POLICY: 1008;
  TOO_BIG: 1009;
  INTERNAL: 1011;
  TRY_AGAIN: 1013;
  TOO_SLOW: 4000;
  JOIN_TIMEOUT: 4001;
  BAD_ROOM_NAME: 4002;
  IDLE_TIMEOUT: 4003;
  EVENTS_OVERFLOW: 4004;
  RESUME_REFUSED: 4005;
  /** A spectator named a room that does not exist (v6); spectators never create rooms. */
  NO_SUCH_ROOM: 4006;
  /** A Join or Resume on a server that plays back a recording: spectators only (v6). */
  SPECTATORS_ONLY: 4007;
  /** Sent by the client: the connection ends, the player stays for a resume. */
  SUSPEND: 4100;
}>;

export const ChangeForm: Readonly<{ XY12: 0; X16: 1; Y16: 2; WIDE: 3 }>;

/** A message that does not decode, or a value that cannot be encoded. */
export class ProtocolError extends Error {}
/** An Update that does not apply to the replica: reconnect for a fresh view. */
export class DesyncError extends Error {}

// ---- messages (grid points for positions, plain Numbers for every integer) ----

export interface EntityState {
  id: number;
  /** Game-defined; `Welcome.kinds[kind]` names it (0 is "player" in the reference games). */
  kind: number;
  /** Grid points (1/64 unit). */
  x: number;
  y: number;
  /**
   * The eight game fields, raw (quantized i32s; `Welcome.fields[i]` says what field i is and
   * how to scale it); 0 where unused. Optional when encoding (all 0).
   */
  fields: number[];
}
/** One entity's new game-field values. */
export interface FieldChange {
  id: number;
  /** Bit i set: field i changed (never 0). */
  mask: number;
  /** Eight values; those whose bit is clear are 0 and not sent. */
  values: number[];
}
export interface Change {
  id: number;
  dx: number;
  dy: number;
  /** The form it was encoded with (decoding only). */
  form?: 0 | 1 | 2 | 3;
}
export interface Delta {
  despawns: number[];
  spawns: EntityState[];
  changes: Change[];
  fieldChanges: FieldChange[];
}
/** What a game field holds: `value = raw × scale` in the game's units. */
export interface FieldSpec {
  name: string;
  scale: number;
}
/** A one-shot game event; seq counts 1, 2, 3… per player, across resumes. */
export interface GameEvent {
  seq: number;
  /** `Welcome.eventKinds[kind]` names it. */
  kind: number;
  entity: number;
  value: number;
  text: string;
}
export interface Welcome {
  type: "Welcome";
  protocol: number;
  entity: number;
  tickRateHz: number;
  tick: number;
  worldWidth: number;
  worldHeight: number;
  /** 0 = the client sees everything. */
  viewRadius: number;
  /** The game the room runs: "arena", "coins", … */
  game: string;
  /** `kinds[k]` names entity kind k. */
  kinds: string[];
  /** `fields[i]` describes game field i; fields past the end are unused. */
  fields: FieldSpec[];
  /** `eventKinds[k]` names GameEvent kind k. */
  eventKinds: string[];
  /** Single-use secret for Resume (32 hex digits). */
  resumeToken: string;
  /** True when this answers a Resume: same entity, continued inputs and events. */
  resumed: boolean;
  /** How the game moves the own entity (protocol v4's Welcome4); null from a v2/v3 server. */
  moveRule: MoveRule | null;
}
/** PROTOCOL.md §16: the built-in walk at `speed` units per tick, or no published rule. */
export type MoveRule = { kind: "walk"; speed: number } | { kind: "none" };
/** What a game's own step function gets: the own entity, updated in place. */
export interface StepState {
  x: number;
  y: number;
}
/** The input in force, as sent. */
export interface StepInput {
  dx: number;
  dy: number;
  buttons: number;
}
export interface Update {
  type: "Update";
  tick: number;
  ackSeq: number;
  checksum: number;
  delta: Delta;
  /** Events since the previous Update, in seq order. */
  events: GameEvent[];
}
export interface Pong {
  type: "Pong";
  clientTime: number;
  serverTick: number;
}
export interface ErrorMsg {
  type: "Error";
  code: number;
  reason: string;
}
/** A v3 position residual: actual minus predicted, grid points, for held entity `index`. */
export interface Move {
  /** Position among the held entities (after the despawns), in id order, from 0. */
  index: number;
  rx: number;
  ry: number;
}
/** Every held entity's new position: its prediction plus its residual ((0, 0) if unlisted). */
export interface Motion {
  held: number;
  /** Sent as gaps between moved entities rather than a code per held entity. */
  sparse: boolean;
  moves: Move[];
}
export interface Delta3 {
  despawns: number[];
  motion: Motion;
  spawns: EntityState[];
  /** `values[i]` is the wrapping difference new − held of each field whose bit is set. */
  fieldChanges: FieldChange[];
}
/** Protocol v3's per-tick update (PROTOCOL.md §15): tick and ack as differences. */
export interface Update3 {
  type: "Update3";
  tickGap: number;
  ackDelta: number;
  checksum: number;
  delta: Delta3;
  events: GameEvent[];
}
/** v5: the room moved to another process; the client resumes at `url` (PROTOCOL.md §17.2). */
export interface Moved {
  type: "Moved";
  url: string;
}
/**
 * v6: the answer to Spectate. `welcome` is a v4 welcome body describing the room (entity 0, no
 * resume token, `tick` the tick the view starts at); Update3s follow, as to a player.
 */
export interface Spectating {
  type: "Spectating";
  welcome: Welcome;
  /** The entity whose view the spectator sees; null: the whole room. */
  follow: number | null;
  /** How far behind the room's live tick the view runs (anti-ghosting); 0 for a recording. */
  delayMs: number;
  /** The room is a recording played back; it ends with a close 1000. */
  recording: boolean;
}
export type ServerMsg = Welcome | Update | Update3 | Pong | ErrorMsg | Moved | Spectating;

export interface Join {
  type: "Join";
  room: string;
}
export interface Input {
  type: "Input";
  seq: number;
  dx: number;
  dy: number;
  buttons: number;
}
export interface Ping {
  type: "Ping";
  clientTime: number | bigint;
}
export interface Resume {
  type: "Resume";
  room: string;
  token: string;
  lastEventSeq: number;
}
/** Protocol v5's input: `Input`'s fields and the displayed tick `viewTick + viewFrac / 256`. */
export interface Input5 {
  type: "Input5";
  seq: number;
  dx: number;
  dy: number;
  buttons: number;
  viewTick: number;
  /** 0 to 255: 1/256ths of a tick. */
  viewFrac: number;
}
/** v6: watch `room` instead of joining it, following entity `follow`'s view (null: the room). */
export interface Spectate {
  type: "Spectate";
  room: string;
  follow: number | null;
}
/** v6, spectators only: the view from the next update follows `entity` (null: the room). */
export interface Follow {
  type: "Follow";
  entity: number | null;
}
export type ClientMsg = Join | Input | Ping | Resume | Input5 | Spectate | Follow;

// ---- what the encoders take: the decoded shapes, with what they default left optional ----

/** An entity to encode: `fields` may be left out (all 0) or shorter than eight. */
export interface EntityStateInput extends Omit<EntityState, "fields"> {
  fields?: ArrayLike<number>;
}
export interface DeltaInput {
  despawns: number[];
  spawns: EntityStateInput[];
  changes: Change[];
  /** Default none. */
  fieldChanges?: FieldChange[];
}
export interface UpdateInput extends Omit<Update, "delta" | "events"> {
  delta: DeltaInput;
  /** Default none. */
  events?: GameEvent[];
}
export interface Delta3Input extends Omit<Delta3, "spawns"> {
  spawns: EntityStateInput[];
}
export interface Update3Input extends Omit<Update3, "delta" | "events"> {
  delta: Delta3Input;
  /** Default none. */
  events?: GameEvent[];
}
export type ServerMsgInput = Welcome | UpdateInput | Update3Input | Pong | ErrorMsg | Moved | Spectating;
export interface InputInput extends Omit<Input, "buttons"> {
  /** Default 0. */
  buttons?: number;
}
export type ClientMsgInput = Join | InputInput | Ping | Resume | Input5 | Spectate | Follow;

/**
 * With `packed`, an Update's changes and an Update3's moves are decoded into it (reused, no
 * object per entity) and `delta.changes` / `delta.motion.moves` are null.
 */
export function decodeServerMsg(data: Uint8Array | ArrayBuffer | ArrayBufferView, packed?: PackedMoves): ServerMsg;
/** A growable list of (id, dx, dy, form) in typed arrays, reused from update to update. */
export class PackedMoves {
  constructor(capacity?: number);
  readonly n: number;
  readonly id: Uint32Array;
  readonly dx: Float64Array;
  readonly dy: Float64Array;
  readonly form: Uint8Array;
  clear(): void;
  push(id: number, dx: number, dy: number, form?: number): void;
}
export function decodeClientMsg(data: Uint8Array | ArrayBuffer | ArrayBufferView): ClientMsg;
export function encodeJoin(room: string): Uint8Array;
export function encodeInput(seq: number, dx: number, dy: number, buttons?: number): Uint8Array;
/** Protocol v5's `Input5` (PROTOCOL.md §17.1); only on a `tickstream.v5` connection. */
export function encodeInput5(
  seq: number,
  dx: number,
  dy: number,
  buttons: number,
  viewTick: number,
  viewFrac: number,
): Uint8Array;
/** A fractional render tick as v5 sends it: the whole tick and 1/256ths, rounded down. */
export function viewTime(renderTick: number): { viewTick: number; viewFrac: number };
export function encodePing(clientTime: number | bigint): Uint8Array;
/** Protocol v6's `Spectate`, instead of Join; `follow` null or left out: the whole room. */
export function encodeSpectate(room: string, follow?: number | null): Uint8Array;
/** Protocol v6's `Follow`: a spectator's view from the next update; null: the whole room. */
export function encodeFollow(entity: number | null): Uint8Array;
export function encodeResume(room: string, token: string, lastEventSeq: number): Uint8Array;
export function encodeClientMsg(msg: ClientMsgInput): Uint8Array;
/** For tests and tools: picks change forms by the server's rule. */
export function encodeServerMsg(msg: ServerMsgInput): Uint8Array;
export function isValidRoomName(room: string): boolean;
/** Why a Welcome cannot be played with (a world that is not finite, tick rate 0), or null. */
export function welcomeProblem(welcome: Welcome): string | null;
/** The longest WebSocket close reason, in UTF-8 bytes. */
export const MAX_CLOSE_REASON: 123;
/** `reason` cut to at most 123 UTF-8 bytes on a character boundary. */
export function closeReason(reason: string): string;
/** The v3 prediction of a coordinate (PROTOCOL.md §15.2), exact integer arithmetic. */
export function predict(cur: number, prev: number, ticksSince: number, lastGap: number): number;

export function fmix32(h: number): number;
/** Fields at 0 (or no fields) hash as in version 1. */
export function entityHash(id: number, kind: number, x: number, y: number, fields?: ArrayLike<number>): number;
export function viewChecksum(entities: Iterable<{ id: number; kind: number; x: number; y: number; fields?: ArrayLike<number> }>): number;
/** A player's speed per tick in the built-in games: 4 in `coins`, 5 otherwise. */
export function defaultSpeed(welcome: Welcome): number;
/** The Predictor options the client builds for a Welcome and its `predict`/`playerSpeed` options. */
export function predictorOptions(
  welcome: Welcome,
  predict: ClientOptions["predict"],
  playerSpeed: ClientOptions["playerSpeed"],
): { worldWidth: number; worldHeight: number; speed?: number; step?: (state: StepState, input: StepInput) => void };
/** `raw × spec.scale`; the raw value without a spec. */
export function scaleField(raw: number, spec: FieldSpec | undefined): number;
/** Fields by name, scaled: `{ score: 3, rotation: 1.57… }`. */
export function namedFields(fields: ArrayLike<number>, specs: FieldSpec[]): Record<string, number>;

export class Reader {
  constructor(bytes: Uint8Array);
}
export class Writer {
  constructor(capacity?: number);
  bytes(): Uint8Array;
}

/** The client's copy of its view, in grid points, with the checksum kept incrementally. */
export class Replica {
  readonly entities: Map<number, EntityState>;
  /** Tick of the last Update applied; null before the first. */
  readonly tick: number | null;
  readonly ackSeq: number;
  readonly checksum: number;
  readonly size: number;
  get(id: number): EntityState | undefined;
  /** Despawns, spawns, changes, field changes, then the checksum; throws DesyncError. */
  apply(update: Update): void;
  /**
   * A v3 update: despawns, predicted positions plus residuals, spawns, field differences, then
   * the checksum; returns the same change as a v2 Update. Throws DesyncError.
   */
  apply3(update: Update3, changes?: boolean): Update;
  /** The entities whose position the last update changed, with (dx, dy); reused. */
  readonly moved: PackedMoves;
}

/** Counts events in a sliding window, for rates; bounded whether or not rates() is called. */
export class RateWindow {
  constructor(windowMs: number, maxEntries?: number);
  add(t: number, size: number): void;
  /** [events per second, size units per second] over the window ending at t. */
  rates(t: number): [number, number];
  clear(): void;
}

/**
 * The server's timeline from the arrival of Updates (PROTOCOL.md §13.2): the tick arriving
 * now, the arrival jitter, and a render tick that runs behind the newest Update by a delay
 * covering the jitter, changing speed by at most 5 % and never stepping (except after a jump
 * of more than a second), at most `maxExtrapolationMs` past the newest tick.
 */
export class ServerClock {
  constructor(tickRateHz: number, options?: { minDelayMs?: number; maxExtrapolationMs?: number });
  observe(tick: number, nowMs: number): void;
  /** The (fractional) tick of an Update arriving at `nowMs`; null before the first. */
  tickAt(nowMs: number): number | null;
  /** The tick to render remote entities at (call once per frame); null before the first Update. */
  renderTickAt(nowMs: number): number | null;
  /** How much later than the mean the latest of the last 64 Updates arrived. */
  readonly jitterMs: number;
  /** The render delay aimed at: 1¼ ticks plus the jitter, at least `minDelayMs`, at most 1 s. */
  readonly delayMs: number;
  /** The newest tick observed. */
  readonly newest: number | null;
}

export interface Point {
  x: number;
  y: number;
}

/**
 * States per entity by tick, rendered between the two around the render tick (world units),
 * extrapolated for at most `maxExtrapolationTicks` past the newest, with game fields as of the
 * render tick when `fields` is set.
 */
export class Interpolator {
  constructor(options?: {
    /** Largest legitimate move per tick for kinds without their own; a larger jump snaps. Default 5. */
    maxStep?: number;
    /** The largest move per tick by kind number (0: `maxStep`). */
    maxStepByKind?: ArrayLike<number> | null;
    maxSamples?: number;
    /** Default 4.5 (150 ms at 30 Hz). */
    maxExtrapolationTicks?: number;
    /** Time constant that blends out a wrong extrapolation. Default 200. */
    smoothingMs?: number;
    /** Keep the game fields by tick. Default false. */
    fields?: boolean;
  });
  readonly maxStep: number;
  /** The largest legitimate move per tick of `kind`: configured, or raised to a speed seen steadily. */
  stepOf(kind: number): number;
  record(tick: number, delta: Delta, replica: Replica): void;
  positionAt(id: number, tick: number): Point | null;
  /** Writes every entity but `skip` as drawn at `tick` and `nowMs` into `list`; returns how many. */
  render(tick: number, nowMs: number, replica: Replica, skip: number, list: RenderEntity[]): number;
  prune(tick: number): void;
  clear(): void;
}

/** Predicts the own entity with the server's rule and reconciles with ack_seq. World units. */
export class Predictor {
  constructor(options: {
    worldWidth: number;
    worldHeight: number;
    speed?: number;
    /** The game's own step, in place of the walk rule. */
    step?: ((state: StepState, input: StepInput) => void) | null;
    maxHistory?: number;
  });
  readonly x: number | null;
  readonly y: number | null;
  readonly tick: number | null;
  noteInput(seq: number, dx: number, dy: number, buttons?: number): void;
  advanceTo(tick: number): void;
  /** Returns +1 when inputs arrive later than predicted, -1 when earlier, else 0. */
  reconcile(tick: number, ackSeq: number, serverX: number, serverY: number): -1 | 0 | 1;
}

/** The largest move per tick by kind name; `default` for the kinds not named. */
export type MaxStepByKind = { [kindName: string]: number | undefined; default?: number };

export interface ClientOptions {
  /** `wss://host:port/ws` (required). */
  url: string;
  /** Room to join; 1–64 characters of [A-Za-z0-9_.-]. Default "lobby". */
  room?: string;
  /**
   * Watch the room instead of playing in it (protocol v6): `true` for the whole room, or
   * `{ follow: id }` for entity `id`'s view. A spectator has no entity, no prediction and no
   * input (`setInput` throws); `follow()` changes the view. The room must exist (4006 if not).
   */
  spectate?: boolean | { follow?: number | null };
  /**
   * The least delay remote entities are rendered with, in milliseconds, or "auto" (the
   * default): the delay is 1¼ ticks plus the measured jitter, and at least this.
   */
  interpolationDelayMs?: number | "auto";
  /** How far past the newest Update a moving remote entity goes on before it holds. Default 150. */
  maxExtrapolationMs?: number;
  /**
   * How the own entity is predicted. "auto" (default): the Welcome's move rule (v4), or on an
   * older server a walk at `playerSpeed`. `false`: not predicted (shown where the server puts
   * it). A function: the game's own step, once per predicted tick, updating `state` in place;
   * it must compute exactly what the server's game does.
   */
  predict?: "auto" | false | ((state: StepState, input: StepInput, welcome: Welcome) => void);
  /**
   * The player speed per tick when the Welcome does not say (a server older than v4, or a game
   * publishing no rule): a number, or a function of the Welcome. Default on older servers
   * `defaultSpeed`: 4 in `coins`, 5 otherwise (the built-in games' defaults).
   */
  playerSpeed?: number | ((welcome: Welcome) => number);
  /**
   * Largest legitimate move per tick; a larger jump is not interpolated. A number for every
   * kind, or one per kind name (`{ npc: 8, default: 5 }`; kinds not named: `default`, else the
   * game's player speed), or a function of the Welcome giving either. A kind seen moving
   * steadily faster gets its speed. Default as playerSpeed.
   */
  maxStep?: number | MaxStepByKind | ((welcome: Welcome) => number | MaxStepByKind);
  /** Inputs and pings are sent only while bufferedAmount is at most this. Default 64. */
  maxBufferedAmount?: number;
  /** Default 1000. */
  pingIntervalMs?: number;
  /** Reconnect after a lost session. Default true. */
  reconnect?: boolean;
  /** First reconnect delay; doubles per failed attempt, with jitter. Default 250. */
  reconnectInitialMs?: number;
  /** Default 10000. */
  reconnectMaxMs?: number;
  /** Time constant for blending prediction corrections. Default 80. */
  smoothingMs?: number;
  /** Corrections larger than this (world units) snap. Default 20. */
  snapDistance?: number;
  /**
   * A join token for servers that require one (PROTOCOL.md §2.2a), sent as the `token` query
   * parameter. A server admits each token once: pass a function (called before every
   * connection, reconnects included) that gets a fresh one from the game's backend.
   */
  token?: string | (() => string | Promise<string>);
  /** A WebSocket constructor; default globalThis.WebSocket. */
  WebSocket?: new (url: string, protocol: string) => WebSocket;
  /** Reconnect with Resume (the same entity, no event lost) after a drop. Default true. */
  autoResume?: boolean;
  /** Resume this player on the first connection (a state saved from resumeState()). */
  resume?: ResumeState;
  /**
   * The most inputs a second (also at most one per tick), to stay under the server's rate
   * limit (60 messages a second by default, pings included). Default 30.
   */
  maxInputRateHz?: number;
  /** 1008 (policy: rate limit, join token) closes in a row that are retried. Default 2. */
  policyRetries?: number;
  /**
   * The client's clock in milliseconds. Default `performance.now()`; `frame(t)` takes times on
   * the same base (a requestAnimationFrame timestamp is, `Date.now()` is not).
   */
  now?: () => number;
}

/** What a connection needs to take back a player; from resumeState(). */
export interface ResumeState {
  room?: string;
  token: string;
  lastEventSeq?: number;
  entity?: number | null;
  /**
   * The last input seq sent: the resumed player's inputs continue after it (the server drops
   * every input at or below the last one it applied). Without it the client continues after
   * the first Update's ack_seq.
   */
  inputSeq?: number;
}

export type ClientState = "idle" | "connecting" | "joining" | "playing" | "reconnecting" | "closed";

export interface CloseInfo {
  code: number;
  reason: string;
  wasClean: boolean;
  /** The server's Error message before the close, if one came. */
  serverError: { code: number; reason: string } | null;
  willReconnect: boolean;
  retryInMs: number | null;
  /** The server refused a Resume (4005): the client has forgotten the player and joins afresh. */
  resumeRefused: boolean;
  /** The room moved to this URL (v5 Moved): the client resumes there at once; else null. */
  movedTo: string | null;
}

export interface Stats {
  connected: boolean;
  state: ClientState;
  room: string;
  url: string;
  /** The own entity's id. */
  entity: number | null;
  /** The latest Update's tick. */
  tick: number;
  ackSeq: number;
  inputSeq: number;
  /** Entities in view. */
  entities: number;
  /** Entities of the kind the Welcome names "player" (else kind 0). */
  players: number;
  /** The game the room runs; null before the first Welcome. */
  game: string | null;
  /** The protocol version the server chose for this connection; null before it opened. */
  protocol: 2 | 3 | 4 | 5 | 6 | null;
  /** Events delivered, and the seq of the last one. */
  events: number;
  lastEventSeq: number;
  /** Successful resumes, and resumes the server refused. */
  resumes: number;
  resumeRefusals: number;
  /** Times the room moved to another process and the client followed it (v5). */
  moves: number;
  /** A spectator's view (v6) once the server answered; null for a player. */
  spectator: SpectatorView | null;
  /** Updates per second over the last 2 s. */
  updateHz: number;
  /** Kilobytes per second of Updates received over the last 2 s. */
  kbpsIn: number;
  /** Round trip of Ping/Pong, the median of the last five; null before the first Pong. */
  rttMs: number | null;
  lastRttMs: number | null;
  updates: number;
  bytesIn: number;
  desyncs: number;
  reconnects: number;
  sessions: number;
  /** The render delay of remote entities now (it adapts to the jitter). */
  interpolationDelayMs: number;
  /** The measured arrival jitter of Updates. */
  jitterMs: number;
  leadTicks: number | null;
  world: { width: number; height: number; viewRadius: number; tickRateHz: number } | null;
  /** The own entity as the server last sent it (world units). */
  server: Point | null;
  /** The own entity as predicted (world units). */
  predicted: Point | null;
  /** The local tick the prediction has been stepped to. */
  predictedTick: number | null;
  lastClose: CloseInfo | null;
  reconnectInMs: number | null;
}

/** What a spectator sees (v6): the followed entity, the delay, whether it is a recording. */
export interface SpectatorView {
  /** The entity whose view is shown, as asked last (Spectate, then follow()); null: the room. */
  follow: number | null;
  /** How far behind the room's live tick the view runs, in milliseconds. */
  delayMs: number;
  /** A recording played back: its end closes with 1000 "the recording ended", for good. */
  recording: boolean;
}

export interface RenderEntity extends Point {
  id: number;
  kind: number;
  /** The raw game fields as of the render tick, like the position (read-only); null if unknown. */
  fields: readonly number[] | null;
}

export interface EntityView extends Point {
  id: number;
  kind: number;
  /** `Welcome.kinds[kind]`, or null. */
  kindName: string | null;
  /** The raw fields (a copy). */
  fields: number[];
  /** The described fields by name, scaled. */
  values: Record<string, number>;
}

export interface ClientEvent extends GameEvent {
  /** The tick of the Update that carried it. */
  tick: number;
  /** `Welcome.eventKinds[kind]`, or null. */
  kindName: string | null;
}

/** Reused by the next frame() call, with the objects in it: draw from it, copy what you keep. */
export interface Frame {
  own: RenderEntity | null;
  entities: RenderEntity[];
  renderTick: number | null;
}

export interface ClientEvents {
  open: undefined;
  /** A spectator's is the room's description: entity 0, no resume token. */
  welcome: Welcome;
  /** A spectator's session started (v6), with a fresh replica. */
  spectating: { welcome: Welcome; follow: number | null; delayMs: number; recording: boolean };
  event: ClientEvent;
  update: Update;
  pong: { rttMs: number; serverTick: number };
  desync: { error: DesyncError };
  error: { error: Error };
  close: CloseInfo;
  /** The room moved to another process (v5); the client resumes there by itself. */
  moved: { url: string };
  state: ClientState;
}

export class TickstreamClient {
  constructor(options: ClientOptions);
  readonly state: ClientState;
  readonly welcome: Welcome | null;
  readonly replica: Replica;
  connect(): this;
  /** Closes for good and forgets the player (no resume). */
  close(reason?: string): void;
  /** Closes the connection with 4100, keeping the player for resume(); no reconnect. */
  suspend(reason?: string): void;
  /** Takes back the player over a new connection (Resume); joins if there is no token. */
  resume(state?: ResumeState): this;
  /** What resume() needs, to save across a page reload; null before the first Welcome. */
  resumeState(): ResumeState | null;
  /** Forgets the player: the next connection joins afresh (a new entity). */
  forgetPlayer(): void;
  /**
   * Direction components are clamped into [-1, 1]; sent latest-wins, at most once a tick.
   * Throws a TypeError on a spectator's client.
   */
  setInput(dx: number, dy: number, buttons?: number): void;
  /** True with the `spectate` option: the client watches, it does not play. */
  readonly spectating: boolean;
  /** A spectator's view from Spectating (follow kept up to date); null before, and for a player. */
  readonly spectator: SpectatorView | null;
  /**
   * A spectator's new view from the next update: entity `entity`'s, or with null the whole
   * room; kept for the connections after a drop or a Moved. Throws a TypeError on a player.
   */
  follow(entity: number | null): this;
  on<K extends keyof ClientEvents>(name: K, fn: (value: ClientEvents[K]) => void): () => void;
  /**
   * What to draw now: the own entity predicted, the others interpolated. World units. `nowMs`
   * is on the client's clock (`performance.now()`, a requestAnimationFrame timestamp); a time
   * on another base (`Date.now()`) is ignored with a warning.
   */
  frame(nowMs?: number): Frame;
  /** An entity as the server last sent it, in world units, with its fields. */
  entity(id: number): EntityView | null;
  /** Field `field` (index or name) of entity `id`, scaled; null if unknown. */
  field(id: number, field: number | string): number | null;
  stats(): Stats;
}
