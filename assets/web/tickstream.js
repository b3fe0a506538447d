// Tickstream browser client, protocol version 6 (spectators: watch a room without playing in it,
// following one entity's view or the whole room; a recording played back), version 5 (its
// Moved: a room that moves to another process is followed), and 4, 3 and 2 with servers that
// speak only those (docs/PROTOCOL.md, docs/PROTOCOL-v2.md; API in docs/WEB_CLIENT.md).
//
// One ES module with no dependencies and no build step: import it from a page or from Node.
//
// Layout, in the order data flows:
//   - bytes:        Reader / Writer, the bincode 2 standard encoding (varints, zigzag, f32 LE).
//   - messages:     decodeServerMsg, encodeJoin / encodeResume / encodeInput / encodeInput5 /
//                   encodePing / encodeSpectate / encodeFollow, viewTime (and,
//                   for tests and tools, decodeClientMsg, encodeClientMsg, encodeServerMsg).
//   - checksum:     fmix32, entityHash (position and game fields), viewChecksum.
//   - game fields:  scaleField, namedFields: raw quantized fields to the game's units.
//   - v3:           predict (the integer extrapolation every v3 client computes), the bit
//                   reader of Update3's motion, and its encoder for tests.
//   - Replica:      the client's copy of its view; applies Updates (v2) and Update3s (v3:
//                   predicted positions plus residuals) and checks the checksum.
//   - ServerClock:  estimates the server's tick and the jitter from the arrival of Updates, and
//                   runs render time behind the newest Update by a delay that covers the jitter.
//   - Interpolator: keeps a ring of states (and game fields) per entity, renders them at the
//                   render tick, extrapolates for a bounded time, snaps by kind (decode,
//                   replica, interpolation and frame() allocate nothing per entity).
//   - Predictor:    predicts the own entity ahead of the server and reconciles with ack_seq.
//   - TickstreamClient: the WebSocket session: join or resume, inputs (latest wins under
//                   congestion), game events in seq order, pings, close codes, reconnect with
//                   backoff (resuming the same entity after a drop), stats(); or, with the
//                   `spectate` option, a spectator's session (v6): Spectate, Follow, no input.
//
// Numbers: every u64 of a valid version-2 or version-3 message is far below 2^53, so u64s decode to plain
// Numbers and a u64 of 2^53 or more is refused as malformed (PROTOCOL.md §12). Encoders accept
// a BigInt where a u64 is written (Ping.client_time).

/** The newest WebSocket subprotocol this client speaks; it offers `SUBPROTOCOLS`. */
export const SUBPROTOCOL = "tickstream.v6";
/**
 * The subprotocols the client offers, newest first: the server echoes the highest it speaks
 * (or refuses the upgrade), so the client also plays on servers that speak only version 2.
 */
export const SUBPROTOCOLS = Object.freeze(["tickstream.v6", "tickstream.v5", "tickstream.v4", "tickstream.v3", "tickstream.v2"]);
/** The newest protocol version, carried in Welcome on a `tickstream.v6` connection. */
export const PROTOCOL_VERSION = 6;
/** The first protocol version with spectators (Spectate, Follow, Spectating). */
export const SPECTATOR_VERSION = 6;
/** The protocol version each subprotocol names (and its Welcome carries). */
const VERSION_OF = new Map([
  ["tickstream.v6", 6],
  ["tickstream.v5", 5],
  ["tickstream.v4", 4],
  ["tickstream.v3", 3],
  ["tickstream.v2", 2],
]);
/** Grid points per world unit: positions travel as u32 counts of 1/64 unit. */
export const GRID_SCALE = 64;
/** The largest server message a client accepts (4 MiB). */
export const MAX_SERVER_MESSAGE = 4 * 1024 * 1024;
/** The largest client message the server accepts. */
export const MAX_CLIENT_MESSAGE = 256;
/** The most entries one list of a delta may hold. */
export const MAX_LIST_LEN = 65536;
/** Game fields per entity (`EntityState.fields`); unused ones are 0. */
export const MAX_FIELDS = 8;
/** The longest `GameEvent.text` the server sends, in UTF-8 bytes. */
export const MAX_EVENT_TEXT = 128;

/** WebSocket close codes (PROTOCOL.md §4), plus 1006, which browsers report for a lost link. */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  ABNORMAL: 1006,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  TRY_AGAIN: 1013,
  TOO_SLOW: 4000,
  JOIN_TIMEOUT: 4001,
  BAD_ROOM_NAME: 4002,
  IDLE_TIMEOUT: 4003,
  EVENTS_OVERFLOW: 4004,
  RESUME_REFUSED: 4005,
  /** A spectator named a room that does not exist (v6): spectators never create rooms. */
  NO_SUCH_ROOM: 4006,
  /** A Join or Resume on a server that plays back a recording: it takes spectators only (v6). */
  SPECTATORS_ONLY: 4007,
  /**
   * Sent by this client, never by the server: the connection ends but the player stays for the
   * server's grace period, to be resumed (PROTOCOL.md §3.8). A client's 1000 (and a browser's
   * 1001 when a page goes away) tell the server the player left for good.
   */
  SUSPEND: 4100,
});

/**
 * Close codes after which reconnecting as is cannot help: a client bug, a bad room name, a room
 * to watch that does not exist, a player on a server that takes spectators only.
 */
const FINAL_CODES = new Set([
  CloseCode.PROTOCOL_ERROR,
  CloseCode.TOO_BIG,
  CloseCode.BAD_ROOM_NAME,
  CloseCode.NO_SUCH_ROOM,
  CloseCode.SPECTATORS_ONLY,
]);

/** A message that does not decode (PROTOCOL.md §5.4), or a value that cannot be encoded. */
export class ProtocolError extends Error {
  constructor(message) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** An Update that does not apply to the replica (PROTOCOL.md §8): reconnect for a fresh view. */
export class DesyncError extends Error {
  constructor(message) {
    super(message);
    this.name = "DesyncError";
  }
}

// ---------------------------------------------------------------------------------------------
// Bytes: bincode 2, standard configuration (PROTOCOL.md §5)
// ---------------------------------------------------------------------------------------------

const TWO_32 = 4294967296;
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

/** Reads one message from a Uint8Array; every read checks the bounds. */
export class Reader {
  /** @param {Uint8Array} bytes exactly one message */
  constructor(bytes) {
    this.b = bytes;
    this.v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.p = 0;
  }
  need(n) {
    if (this.p + n > this.b.length) throw new ProtocolError("truncated message");
  }
  u8() {
    this.need(1);
    return this.b[this.p++];
  }
  u32le() {
    this.need(4);
    const x = this.v.getUint32(this.p, true);
    this.p += 4;
    return x;
  }
  raw(n) {
    this.need(n);
    const s = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return s;
  }
  /** A bincode varint; maxTag is 251 for u16, 252 for u32, 253 for u64. */
  varint(maxTag) {
    const tag = this.u8();
    if (tag < 251) return tag;
    if (tag > maxTag) throw new ProtocolError(`varint tag 0x${tag.toString(16)} too wide for its type`);
    if (tag === 251) {
      this.need(2);
      const x = this.v.getUint16(this.p, true);
      this.p += 2;
      return x;
    }
    if (tag === 252) return this.u32le();
    const lo = this.u32le();
    const hi = this.u32le();
    if (hi > 0x1fffff) throw new ProtocolError("u64 of 2^53 or more");
    return hi * TWO_32 + lo;
  }
  u16() {
    return this.varint(251);
  }
  u32() {
    return this.varint(252);
  }
  u64() {
    return this.varint(253);
  }
  /** Zigzag i32. */
  i32() {
    const n = this.u32();
    return (n >>> 1) ^ -(n & 1);
  }
  f32() {
    this.need(4);
    const x = this.v.getFloat32(this.p, true);
    this.p += 4;
    return x;
  }
  str() {
    const n = this.u64();
    try {
      return utf8Decoder.decode(this.raw(n));
    } catch (e) {
      if (e instanceof ProtocolError) throw e;
      throw new ProtocolError("string is not UTF-8");
    }
  }
  /** bincode `bool`: one byte, 0 or 1. */
  bool() {
    const b = this.u8();
    if (b > 1) throw new ProtocolError(`bool byte ${b}`);
    return b === 1;
  }
  /** bincode `Option<u32>` (an EntityId): one byte 0 (None, as null), or 1 and the value. */
  optU32() {
    const b = this.u8();
    if (b > 1) throw new ProtocolError(`Option tag ${b}`);
    return b === 1 ? this.u32() : null;
  }
  /** The length of a delta list: a u32 varint, at most MAX_LIST_LEN. */
  count() {
    const n = this.u32();
    if (n > MAX_LIST_LEN) throw new ProtocolError(`delta list of ${n} entries (limit ${MAX_LIST_LEN})`);
    return n;
  }
  /**
   * The length of a bincode `Vec` (a u64 varint). Every item takes at least one byte, so a
   * length beyond the bytes left is a truncated message, refused before anything is read.
   */
  len() {
    const n = this.u64();
    if (n > this.b.length - this.p) throw new ProtocolError(`list of ${n} items in ${this.b.length - this.p} bytes`);
    return n;
  }
  end() {
    if (this.p !== this.b.length) throw new ProtocolError(`${this.b.length - this.p} trailing bytes`);
  }
}

/** Writes a message into a growing buffer. */
export class Writer {
  constructor(capacity = 32) {
    this.b = new Uint8Array(capacity);
    this.p = 0;
  }
  reserve(n) {
    if (this.p + n <= this.b.length) return;
    const grown = new Uint8Array(Math.max(this.b.length * 2, this.p + n));
    grown.set(this.b.subarray(0, this.p));
    this.b = grown;
  }
  u8(x) {
    this.reserve(1);
    this.b[this.p++] = x & 0xff;
  }
  /** n little-endian bytes of a non-negative integer below 2^53. */
  le(x, n) {
    this.reserve(n);
    for (let i = 0; i < n; i++) {
      this.b[this.p++] = x % 256;
      x = Math.floor(x / 256);
    }
  }
  /** A varint of an unsigned integer; a Number must be a safe integer, a BigInt below 2^64. */
  varint(x) {
    if (typeof x === "bigint") {
      if (x < 0n || x >= 1n << 64n) throw new ProtocolError("u64 out of range");
      if (x < 0x100000000n) return this.varint(Number(x));
      this.u8(253);
      this.le(Number(x & 0xffffffffn), 4);
      this.le(Number(x >> 32n), 4);
      return;
    }
    if (!Number.isSafeInteger(x) || x < 0) throw new ProtocolError(`not an unsigned integer: ${x}`);
    if (x < 251) this.u8(x);
    else if (x < 0x10000) {
      this.u8(251);
      this.le(x, 2);
    } else if (x < TWO_32) {
      this.u8(252);
      this.le(x, 4);
    } else {
      this.u8(253);
      this.le(x, 8);
    }
  }
  /** Zigzag i32. */
  i32(n) {
    if (!Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff) throw new ProtocolError(`not an i32: ${n}`);
    this.varint(((n << 1) ^ (n >> 31)) >>> 0);
  }
  u32le(x) {
    this.le(x >>> 0, 4);
  }
  f32(x) {
    this.reserve(4);
    new DataView(this.b.buffer, this.b.byteOffset).setFloat32(this.p, x, true);
    this.p += 4;
  }
  str(s) {
    const bytes = utf8Encoder.encode(s);
    this.varint(bytes.length);
    this.reserve(bytes.length);
    this.b.set(bytes, this.p);
    this.p += bytes.length;
  }
  bytes() {
    return this.b.slice(0, this.p);
  }
}

function u32Check(x, what) {
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new ProtocolError(`${what} is not a u32: ${x}`);
  return x;
}

// ---------------------------------------------------------------------------------------------
// Messages (PROTOCOL.md §6, §7)
// ---------------------------------------------------------------------------------------------

/** Change forms (PROTOCOL.md §7.5). */
export const ChangeForm = Object.freeze({ XY12: 0, X16: 1, Y16: 2, WIDE: 3 });

/**
 * A growable list of (id, dx, dy, form) in typed arrays, reused from message to message: the
 * client decodes an update's per-entity moves into one (no object per entity) and the replica
 * lists the entities an update changed in another. `n` is the length.
 */
export class PackedMoves {
  constructor(capacity = 256) {
    this.n = 0;
    this.id = new Uint32Array(capacity);
    this.dx = new Float64Array(capacity);
    this.dy = new Float64Array(capacity);
    this.form = new Uint8Array(capacity);
  }
  clear() {
    this.n = 0;
  }
  push(id, dx, dy, form = 0) {
    if (this.n === this.id.length) this.grow();
    const i = this.n++;
    this.id[i] = id;
    this.dx[i] = dx;
    this.dy[i] = dy;
    this.form[i] = form;
  }
  grow() {
    const cap = this.id.length * 2;
    const grown = (Kind, old) => {
      const a = new Kind(cap);
      a.set(old);
      return a;
    };
    this.id = grown(Uint32Array, this.id);
    this.dx = grown(Float64Array, this.dx);
    this.dy = grown(Float64Array, this.dy);
    this.form = grown(Uint8Array, this.form);
  }
}

// Gap decoding: id = next + gap, next = id + 1; next starts at 0 for each list.
function gapDecoder() {
  let next = 0;
  return (gap) => {
    const id = next + gap;
    if (id > 0xffffffff) throw new ProtocolError("entity id out of range");
    next = id + 1;
    return id;
  };
}

const sext12 = (v) => (v << 20) >> 20;
const sext16 = (v) => (v << 16) >> 16;

/** A field mask (u8) and the fields it selects, each a zigzag i32 (PROTOCOL.md §7.4). */
function decodeFields(r) {
  const mask = r.u8();
  const values = new Array(MAX_FIELDS).fill(0);
  for (let i = 0; i < MAX_FIELDS; i++) if (mask & (1 << i)) values[i] = r.i32();
  return { mask, values };
}

function decodeDelta(r, packed) {
  const despawns = [];
  const spawns = [];
  const changes = packed ? null : [];
  if (packed) packed.clear();
  const fieldChanges = [];
  let n = r.count();
  let id = gapDecoder();
  for (let i = 0; i < n; i++) despawns.push(id(r.u64()));
  n = r.count();
  id = gapDecoder();
  for (let i = 0; i < n; i++) {
    const eid = id(r.u64());
    const kind = r.u8();
    const x = r.u32();
    const y = r.u32();
    const { values } = decodeFields(r);
    spawns.push({ id: eid, kind, x, y, fields: values });
  }
  n = r.count();
  id = gapDecoder();
  for (let i = 0; i < n; i++) {
    const header = r.u64();
    const form = header % 4; // not `& 3`: the header may exceed 2^32
    const eid = id(Math.floor(header / 4));
    let dx = 0;
    let dy = 0;
    if (form === ChangeForm.XY12) {
      const b = r.raw(3);
      const packed = b[0] | (b[1] << 8) | (b[2] << 16);
      dx = sext12(packed & 0xfff);
      dy = sext12(packed >>> 12);
    } else if (form === ChangeForm.X16) {
      const b = r.raw(2);
      dx = sext16(b[0] | (b[1] << 8));
    } else if (form === ChangeForm.Y16) {
      const b = r.raw(2);
      dy = sext16(b[0] | (b[1] << 8));
    } else {
      dx = r.i32();
      dy = r.i32();
    }
    if (dx === 0 && dy === 0) throw new ProtocolError(`change of entity ${eid} moves nothing`);
    if (packed) packed.push(eid, dx, dy, form);
    else changes.push({ id: eid, dx, dy, form });
  }
  n = r.count();
  id = gapDecoder();
  for (let i = 0; i < n; i++) {
    const eid = id(r.u64());
    const { mask, values } = decodeFields(r);
    if (mask === 0) throw new ProtocolError(`field change of entity ${eid} changes no field`);
    fieldChanges.push({ id: eid, mask, values });
  }
  return packed ? { despawns, spawns, changes, fieldChanges, packed } : { despawns, spawns, changes, fieldChanges };
}

// ---------------------------------------------------------------------------------------------
// Version 3: positions as residuals from the client's own prediction (PROTOCOL.md §15)
// ---------------------------------------------------------------------------------------------

/** Exp-Golomb order of an escaped residual coordinate (PROTOCOL.md §15.3). */
const ESCAPE_ORDER = 7;
/** Ticks since the last update count up to this many in a prediction (PROTOCOL.md §15.2). */
const MAX_PREDICT_TICKS = 65536;
/** The largest |residual| on the u32 grid. */
const MAX_RESIDUAL = 0xffffffff;

/**
 * The position a v3 client predicts for a coordinate it holds at `c`, held at `p` one update
 * earlier, `g` ticks before `c`, for an update `k` ticks after `c` (PROTOCOL.md §15.2): `c`
 * plus `(c - p) × k / g` rounded half away from zero, clamped to the u32 grid. Every
 * intermediate value is an integer below 2^50, exact in a Number; the floor is checked with
 * the remainder, so no rounding of the division can move it.
 */
export function predict(c, p, k, g) {
  const v = c - p;
  if (v === 0 || g === 0) return c;
  if (k > MAX_PREDICT_TICKS) k = MAX_PREDICT_TICKS;
  let s = v;
  if (k !== g) {
    const n = v * k;
    const a = 2 * Math.abs(n) + g;
    const b = 2 * g;
    s = Math.floor(a / b);
    if (s * b > a) s -= 1;
    else if ((s + 1) * b <= a) s += 1;
    if (n < 0) s = -s;
  }
  const x = c + s;
  return x < 0 ? 0 : x > 0xffffffff ? 0xffffffff : x;
}

const unzigzag = (u) => (u % 2 === 1 ? -(u + 1) / 2 : u / 2);

/** Reads the bit section of an `Update3`'s motion, most significant bit first. */
class BitReader {
  /** @param {Uint8Array} bytes */
  constructor(bytes) {
    this.b = bytes;
    this.pos = 0;
    this.bits = bytes.length * 8;
    /** The last residual read. */
    this.rx = 0;
    this.ry = 0;
  }
  /** The next `n` (1 ..= 24) bits without consuming them; zeros past the end. */
  peek(n) {
    const b = this.b;
    const i = this.pos >>> 3;
    const w = ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
    return ((w << (this.pos & 7)) >>> 0) >>> (32 - n);
  }
  skip(n) {
    this.pos += n;
    if (this.pos > this.bits) throw new ProtocolError("bit section truncated");
  }
  /** Reads `n` (≤ 48) bits as a Number. */
  take(n) {
    let v = 0;
    while (n > 0) {
      const m = n > 24 ? 24 : n;
      v = v * (1 << m) + this.peek(m);
      this.skip(m);
      n -= m;
    }
    return v;
  }
  /** An Exp-Golomb code of order `k`: z zero bits, then z + k + 1 bits of n + 2^k. */
  expGolomb(k) {
    const start = this.pos;
    let zeros = 0;
    for (;;) {
      const w = this.peek(24);
      if (w !== 0) {
        zeros += Math.clz32(w) - 8;
        break;
      }
      zeros += 24;
      if (zeros > 34) break;
      this.skip(24);
    }
    if (zeros > 34) throw new ProtocolError("Exp-Golomb code too long");
    this.pos = start;
    this.skip(zeros);
    return this.take(zeros + k + 1) - 2 ** k;
  }
  /** Reads one residual code (PROTOCOL.md §15.3) into `rx`, `ry`. */
  residual() {
    const p = this.peek(5);
    if (p < 0b10000) {
      this.skip(1);
      this.rx = 0;
      this.ry = 0;
    } else if (p < 0b11000) {
      this.skip(4);
      const axis = (p >>> 1) & 3;
      this.rx = axis === 0 ? 1 : axis === 1 ? -1 : 0;
      this.ry = axis === 2 ? 1 : axis === 3 ? -1 : 0;
    } else if (p < 0b11100) {
      this.skip(5);
      this.rx = p & 2 ? -1 : 1;
      this.ry = p & 1 ? -1 : 1;
    } else {
      this.skip(3);
      this.rx = unzigzag(this.expGolomb(ESCAPE_ORDER));
      this.ry = unzigzag(this.expGolomb(ESCAPE_ORDER));
      if (Math.abs(this.rx) > MAX_RESIDUAL || Math.abs(this.ry) > MAX_RESIDUAL) {
        throw new ProtocolError("residual beyond the grid");
      }
    }
  }
  /** Every byte used, and the bits after the last code zero. */
  done() {
    const pad = (8 - (this.pos % 8)) % 8;
    if (pad > 0 && this.take(pad) !== 0) throw new ProtocolError("non-zero padding bits");
    if (this.pos !== this.bits) throw new ProtocolError("bytes left in the bit section");
  }
}

/**
 * The motion of an `Update3`: `{ held, sparse, moves: [{ index, rx, ry }] }`, or with `packed`
 * `{ held, sparse, moves: null, packed }`, the moves in `packed` (id = index, dx = rx, dy = ry).
 */
function decodeMotion(r, packed) {
  const tag = r.u32();
  const held = tag >>> 1;
  const sparse = (tag & 1) === 1;
  if (held > MAX_LIST_LEN) throw new ProtocolError(`${held} held entities (limit ${MAX_LIST_LEN})`);
  const count = sparse ? r.count() : 0;
  const bits = new BitReader(r.raw(r.u32()));
  const moves = packed ? null : [];
  if (packed) packed.clear();
  if (sparse) {
    let next = 0;
    for (let i = 0; i < count; i++) {
      const index = next + bits.expGolomb(0);
      if (index >= held) throw new ProtocolError("sparse move past the held entities");
      bits.residual();
      if (bits.rx === 0 && bits.ry === 0) throw new ProtocolError("sparse move that moves nothing");
      if (packed) packed.push(index, bits.rx, bits.ry);
      else moves.push({ index, rx: bits.rx, ry: bits.ry });
      next = index + 1;
    }
  } else {
    for (let index = 0; index < held; index++) {
      bits.residual();
      if (bits.rx === 0 && bits.ry === 0) continue;
      if (packed) packed.push(index, bits.rx, bits.ry);
      else moves.push({ index, rx: bits.rx, ry: bits.ry });
    }
  }
  bits.done();
  return packed ? { held, sparse, moves, packed } : { held, sparse, moves };
}

/** `Delta3`: despawns, motion, spawns, field changes as differences (PROTOCOL.md §15.3). */
function decodeDelta3(r, packed) {
  const despawns = [];
  const spawns = [];
  const fieldChanges = [];
  let n = r.count();
  let id = gapDecoder();
  for (let i = 0; i < n; i++) despawns.push(id(r.u64()));
  const motion = decodeMotion(r, packed);
  n = r.count();
  id = gapDecoder();
  for (let i = 0; i < n; i++) {
    const eid = id(r.u64());
    const kind = r.u8();
    const x = r.u32();
    const y = r.u32();
    spawns.push({ id: eid, kind, x, y, fields: decodeFields(r).values });
  }
  n = r.count();
  id = gapDecoder();
  for (let i = 0; i < n; i++) {
    const eid = id(r.u64());
    const { mask, values } = decodeFields(r);
    if (mask === 0) throw new ProtocolError(`field change of entity ${eid} changes no field`);
    fieldChanges.push({ id: eid, mask, values });
  }
  return { despawns, motion, spawns, fieldChanges };
}

/** Appends bits most significant first (encoding, for tests and tools). */
class BitWriter {
  constructor() {
    this.bytes = [];
    this.acc = 0;
    this.n = 0;
  }
  /** The low `count` bits of `v` (a non-negative Number below 2^48). */
  put(v, count) {
    for (let i = count - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | (Math.floor(v / 2 ** i) % 2);
      if (++this.n === 8) {
        this.bytes.push(this.acc);
        this.acc = 0;
        this.n = 0;
      }
    }
  }
  expGolomb(n, k) {
    const m = n + 2 ** k;
    const b = m.toString(2).length;
    this.put(0, b - k - 1);
    this.put(m, b);
  }
  residual(rx, ry) {
    const zigzag = (v) => (v >= 0 ? 2 * v : -2 * v - 1);
    if (rx === 0 && ry === 0) this.put(0, 1);
    else if (ry === 0 && Math.abs(rx) === 1) this.put(rx > 0 ? 0b1000 : 0b1001, 4);
    else if (rx === 0 && Math.abs(ry) === 1) this.put(ry > 0 ? 0b1010 : 0b1011, 4);
    else if (Math.abs(rx) === 1 && Math.abs(ry) === 1) this.put(0b11000 | (rx < 0 ? 2 : 0) | (ry < 0 ? 1 : 0), 5);
    else {
      this.put(0b111, 3);
      this.expGolomb(zigzag(rx), ESCAPE_ORDER);
      this.expGolomb(zigzag(ry), ESCAPE_ORDER);
    }
  }
  finish() {
    if (this.n > 0) this.bytes.push(this.acc << (8 - this.n));
    return Uint8Array.from(this.bytes);
  }
}

/**
 * Writes a delta list's length to `w` and returns the gap code of each item's id (ids strictly
 * ascending): the same in every protocol version.
 */
function writeGapList(w, list, idOf) {
  if (list.length > MAX_LIST_LEN) throw new ProtocolError("delta list too long");
  w.varint(list.length);
  let next = 0;
  return list.map((item) => {
    const id = u32Check(idOf(item), "entity id");
    if (id < next) throw new ProtocolError("delta ids are not strictly ascending");
    const gap = id - next;
    next = id + 1;
    return gap;
  });
}

function encodeDelta3(w, d) {
  const gaps = (list, idOf) => writeGapList(w, list, idOf);
  for (const gap of gaps(d.despawns, (id) => id)) w.varint(gap);
  const m = d.motion;
  w.varint(m.held * 2 + (m.sparse ? 1 : 0));
  const bits = new BitWriter();
  let next = 0;
  if (m.sparse) w.varint(m.moves.length);
  for (const mv of m.moves) {
    if (mv.index < next || mv.index >= m.held) throw new ProtocolError("moves out of order");
    if (m.sparse) bits.expGolomb(mv.index - next, 0);
    else for (; next < mv.index; next++) bits.put(0, 1);
    bits.residual(mv.rx, mv.ry);
    next = mv.index + 1;
  }
  if (!m.sparse) for (; next < m.held; next++) bits.put(0, 1);
  const bytes = bits.finish();
  w.varint(bytes.length);
  w.reserve(bytes.length);
  w.b.set(bytes, w.p);
  w.p += bytes.length;
  const spawnGaps = gaps(d.spawns, (s) => s.id);
  d.spawns.forEach((s, i) => {
    w.varint(spawnGaps[i]);
    w.u8(s.kind);
    w.varint(u32Check(s.x, "x"));
    w.varint(u32Check(s.y, "y"));
    const fields = s.fields ?? [];
    let mask = 0;
    for (let f = 0; f < MAX_FIELDS; f++) if ((fields[f] ?? 0) !== 0) mask |= 1 << f;
    encodeFields(w, mask, fields);
  });
  const fieldGaps = gaps(d.fieldChanges, (f) => f.id);
  d.fieldChanges.forEach((f, i) => {
    w.varint(fieldGaps[i]);
    encodeFields(w, f.mask, f.values);
  });
}

function decodeEvents(r) {
  const n = r.len();
  const events = [];
  for (let i = 0; i < n; i++) {
    events.push({ seq: r.u32(), kind: r.u16(), entity: r.u32(), value: r.i32(), text: r.str() });
  }
  return events;
}

function decodeWelcome(r) {
  const w = {
    type: "Welcome",
    protocol: r.u16(),
    entity: r.u32(),
    tickRateHz: r.u16(),
    tick: r.u32(),
    worldWidth: r.f32(),
    worldHeight: r.f32(),
    viewRadius: r.f32(),
    game: r.str(),
    kinds: [],
    fields: [],
    eventKinds: [],
    resumeToken: "",
    resumed: false,
  };
  for (let n = r.len(); n > 0; n--) w.kinds.push(r.str());
  for (let n = r.len(); n > 0; n--) w.fields.push({ name: r.str(), scale: r.f32() });
  for (let n = r.len(); n > 0; n--) w.eventKinds.push(r.str());
  w.resumeToken = r.str();
  w.resumed = r.bool();
  /** v4's rule for moving the own entity; null when the Welcome (v2, v3) does not say. */
  w.moveRule = null;
  return w;
}

/** A v4 Welcome's MoveRule (PROTOCOL.md §16): `{ kind: "none" }` or `{ kind: "walk", speed }`. */
function decodeMoveRule(r) {
  const variant = r.u32();
  switch (variant) {
    case 0:
      return { kind: "none" };
    case 1:
      return { kind: "walk", speed: r.f32() };
    default:
      throw new ProtocolError(`unknown MoveRule variant ${variant}`);
  }
}

/**
 * Why a Welcome cannot be played with, or null: a tick rate of 0, a world size that is not a
 * positive finite number (a NaN world would break the prediction's clamping), a negative or
 * non-finite view radius, a field scale that is not finite.
 */
export function welcomeProblem(w) {
  if (!(w.tickRateHz > 0)) return `tick rate ${w.tickRateHz}`;
  for (const [name, v] of [
    ["world width", w.worldWidth],
    ["world height", w.worldHeight],
  ]) {
    if (!(Number.isFinite(v) && v > 0)) return `${name} ${v}`;
  }
  if (!(Number.isFinite(w.viewRadius) && w.viewRadius >= 0)) return `view radius ${w.viewRadius}`;
  const rule = w.moveRule;
  if (rule && rule.kind === "walk" && !(Number.isFinite(rule.speed) && rule.speed >= 0)) return `walk speed ${rule.speed}`;
  for (const f of w.fields) if (!Number.isFinite(f.scale)) return `field ${JSON.stringify(f.name)} scale ${f.scale}`;
  return null;
}

function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new ProtocolError("a message must be binary");
}

/**
 * Decodes one binary frame from the server. With `packed` (a PackedMoves the caller reuses),
 * an Update's position changes and an Update3's moves go there instead of into an object per
 * entity (`delta.changes` / `delta.motion.moves` are then null, `.packed` is the list): the
 * client's path, which allocates nothing per entity. Without, the plain objects (tools, tests).
 * @param {Uint8Array | ArrayBuffer} data
 * @param {PackedMoves} [packed]
 */
export function decodeServerMsg(data, packed) {
  const bytes = asBytes(data);
  if (bytes.length > MAX_SERVER_MESSAGE) throw new ProtocolError(`server message of ${bytes.length} bytes`);
  const r = new Reader(bytes);
  let msg;
  const variant = r.u32();
  switch (variant) {
    case 0:
      msg = decodeWelcome(r);
      break;
    case 1:
      msg = {
        type: "Update",
        tick: r.u32(),
        ackSeq: r.u32(),
        checksum: r.u32le(), // ViewChecksum: 4 raw bytes, not a varint
        delta: decodeDelta(r, packed),
        events: decodeEvents(r),
      };
      break;
    case 2:
      msg = { type: "Pong", clientTime: r.u64(), serverTick: r.u32() };
      break;
    case 3:
      msg = { type: "Error", code: r.u16(), reason: r.str() };
      break;
    case 5:
      // Welcome4: a v3 Welcome's fields, then the MoveRule; one "Welcome" type for both.
      msg = decodeWelcome(r);
      msg.moveRule = decodeMoveRule(r);
      break;
    case 6:
      // v5: the room moved to another process; resume at `url` (PROTOCOL.md §17.2).
      msg = { type: "Moved", url: r.str() };
      break;
    case 7: {
      // v6: the answer to Spectate; a v4 welcome body (entity 0, no resume token), then the
      // spectator's view.
      const welcome = decodeWelcome(r);
      welcome.moveRule = decodeMoveRule(r);
      msg = { type: "Spectating", welcome, follow: r.optU32(), delayMs: r.u32(), recording: r.bool() };
      break;
    }
    case 4:
      msg = {
        type: "Update3",
        tickGap: r.u32(),
        ackDelta: r.u32(),
        checksum: r.u32le(),
        delta: decodeDelta3(r, packed),
        events: decodeEvents(r),
      };
      break;
    default:
      throw new ProtocolError(`unknown ServerMsg variant ${variant}`);
  }
  r.end();
  return msg;
}

/**
 * Decodes one client message (for tests and tools; the server is the real decoder).
 * @param {Uint8Array | ArrayBuffer} data
 */
export function decodeClientMsg(data) {
  const bytes = asBytes(data);
  if (bytes.length > MAX_CLIENT_MESSAGE) throw new ProtocolError(`client message of ${bytes.length} bytes`);
  const r = new Reader(bytes);
  let msg;
  const variant = r.u32();
  switch (variant) {
    case 0:
      msg = { type: "Join", room: r.str() };
      break;
    case 1:
      msg = { type: "Input", seq: r.u32(), dx: r.f32(), dy: r.f32(), buttons: r.u32() };
      break;
    case 2:
      msg = { type: "Ping", clientTime: r.u64() };
      break;
    case 3:
      msg = { type: "Resume", room: r.str(), token: r.str(), lastEventSeq: r.u32() };
      break;
    case 4:
      msg = {
        type: "Input5",
        seq: r.u32(),
        dx: r.f32(),
        dy: r.f32(),
        buttons: r.u32(),
        viewTick: r.u32(),
        viewFrac: r.u8(),
      };
      break;
    case 5:
      msg = { type: "Spectate", room: r.str(), follow: r.optU32() };
      break;
    case 6:
      msg = { type: "Follow", entity: r.optU32() };
      break;
    default:
      throw new ProtocolError(`unknown ClientMsg variant ${variant}`);
  }
  r.end();
  return msg;
}

/** True for a room name the server accepts: 1 to 64 characters of [A-Za-z0-9_.-]. */
export function isValidRoomName(room) {
  return typeof room === "string" && /^[A-Za-z0-9_.-]{1,64}$/.test(room);
}

/** `Join { room }`. */
export function encodeJoin(room) {
  const w = new Writer();
  w.varint(0);
  w.str(room);
  return w.bytes();
}

/**
 * `Resume { room, token, last_event_seq }`: instead of Join, as the first message of a new
 * connection, to take back the entity of a dropped one (PROTOCOL.md §3.8).
 */
export function encodeResume(room, token, lastEventSeq) {
  const w = new Writer(64);
  w.varint(3);
  w.str(room);
  w.str(token);
  w.varint(u32Check(lastEventSeq, "last_event_seq"));
  return w.bytes();
}

/** `Input { seq, dx, dy, buttons }`; dx and dy are sent as f32. */
export function encodeInput(seq, dx, dy, buttons = 0) {
  const w = new Writer(19);
  w.varint(1);
  w.varint(u32Check(seq, "seq"));
  w.f32(dx);
  w.f32(dy);
  w.varint(u32Check(buttons, "buttons"));
  return w.bytes();
}

/**
 * Protocol v5's `Input5 { seq, dx, dy, buttons, view_tick, view_frac }`: an input and the time
 * the client was displaying other entities at when it was made, tick `viewTick + viewFrac/256`
 * (PROTOCOL.md §17.1). Only on a `tickstream.v5` connection.
 */
export function encodeInput5(seq, dx, dy, buttons, viewTick, viewFrac) {
  const w = new Writer(25);
  w.varint(4);
  w.varint(u32Check(seq, "seq"));
  w.f32(dx);
  w.f32(dy);
  w.varint(u32Check(buttons, "buttons"));
  w.varint(u32Check(viewTick, "view_tick"));
  if (!Number.isInteger(viewFrac) || viewFrac < 0 || viewFrac > 255) {
    throw new ProtocolError(`view_frac ${viewFrac} is not a u8`);
  }
  w.u8(viewFrac);
  return w.bytes();
}

/**
 * A fractional render tick as v5 sends it: `{ viewTick, viewFrac }`, the whole tick and
 * 1/256ths of a tick, rounded down. Below 0 or not finite is tick 0; past 2^32 − 1 that tick.
 */
export function viewTime(renderTick) {
  if (!Number.isFinite(renderTick) || renderTick <= 0) return { viewTick: 0, viewFrac: 0 };
  if (renderTick >= 4294967295) return { viewTick: 4294967295, viewFrac: 0 };
  const whole = Math.floor(renderTick);
  return { viewTick: whole, viewFrac: Math.min(255, Math.floor((renderTick - whole) * 256)) };
}

/** Writes a bincode `Option<EntityId>`: null (or undefined) as 0, an id as 1 and its varint. */
function writeOptEntity(w, id, what) {
  if (id === null || id === undefined) w.u8(0);
  else {
    w.u8(1);
    w.varint(u32Check(id, what));
  }
}

/**
 * Protocol v6's `Spectate { room, follow }`: instead of Join, as the first message, to watch
 * the room, following entity `follow`'s view or (null) the whole room. Only on a
 * `tickstream.v6` connection.
 */
export function encodeSpectate(room, follow = null) {
  const w = new Writer(80);
  w.varint(5);
  w.str(room);
  writeOptEntity(w, follow, "follow");
  return w.bytes();
}

/** Protocol v6's `Follow { entity }`: a spectator's new view, from the next update; null: the room. */
export function encodeFollow(entity) {
  const w = new Writer(7);
  w.varint(6);
  writeOptEntity(w, entity, "entity");
  return w.bytes();
}

/** `Ping { client_time }`; a safe-integer Number or a BigInt. */
export function encodePing(clientTime) {
  const w = new Writer(10);
  w.varint(2);
  w.varint(clientTime);
  return w.bytes();
}

/** Encodes a client message object as decodeClientMsg returns it. */
export function encodeClientMsg(msg) {
  switch (msg.type) {
    case "Join":
      return encodeJoin(msg.room);
    case "Input":
      return encodeInput(msg.seq, msg.dx, msg.dy, msg.buttons);
    case "Ping":
      return encodePing(msg.clientTime);
    case "Resume":
      return encodeResume(msg.room, msg.token, msg.lastEventSeq);
    case "Input5":
      return encodeInput5(msg.seq, msg.dx, msg.dy, msg.buttons, msg.viewTick, msg.viewFrac);
    case "Spectate":
      return encodeSpectate(msg.room, msg.follow);
    case "Follow":
      return encodeFollow(msg.entity);
    default:
      throw new ProtocolError(`unknown client message type ${msg.type}`);
  }
}

const fits = (v, bits) => v >= -(2 ** (bits - 1)) && v < 2 ** (bits - 1);

function encodeDelta(w, d) {
  const ids = (list, idOf) => writeGapList(w, list, idOf);
  for (const gap of ids(d.despawns, (id) => id)) w.varint(gap);
  const spawnGaps = ids(d.spawns, (s) => s.id);
  d.spawns.forEach((s, i) => {
    w.varint(spawnGaps[i]);
    w.u8(s.kind);
    w.varint(u32Check(s.x, "x"));
    w.varint(u32Check(s.y, "y"));
    // A spawn sends the non-zero fields.
    const fields = s.fields ?? [];
    let mask = 0;
    for (let f = 0; f < MAX_FIELDS; f++) if ((fields[f] ?? 0) !== 0) mask |= 1 << f;
    encodeFields(w, mask, fields);
  });
  const changeGaps = ids(d.changes, (c) => c.id);
  d.changes.forEach((c, i) => {
    const { dx, dy } = c;
    let form;
    if (dy === 0 && dx !== 0 && fits(dx, 16)) form = ChangeForm.X16;
    else if (dx === 0 && dy !== 0 && fits(dy, 16)) form = ChangeForm.Y16;
    else if (dx !== 0 && dy !== 0 && fits(dx, 12) && fits(dy, 12)) form = ChangeForm.XY12;
    else form = ChangeForm.WIDE;
    w.varint(changeGaps[i] * 4 + form);
    if (form === ChangeForm.XY12) {
      const packed = (dx & 0xfff) | ((dy & 0xfff) << 12);
      w.u8(packed);
      w.u8(packed >>> 8);
      w.u8(packed >>> 16);
    } else if (form === ChangeForm.X16 || form === ChangeForm.Y16) {
      const v = form === ChangeForm.X16 ? dx : dy;
      w.u8(v);
      w.u8(v >> 8);
    } else {
      w.i32(dx);
      w.i32(dy);
    }
  });
  const fieldChanges = d.fieldChanges ?? [];
  const fieldGaps = ids(fieldChanges, (f) => f.id);
  fieldChanges.forEach((f, i) => {
    if (!Number.isInteger(f.mask) || f.mask <= 0 || f.mask > 0xff) throw new ProtocolError(`field change mask ${f.mask}`);
    w.varint(fieldGaps[i]);
    encodeFields(w, f.mask, f.values);
  });
}

function encodeEvents(w, events) {
  w.varint(events.length);
  for (const e of events) {
    w.varint(u32Check(e.seq, "event seq"));
    w.varint(e.kind);
    w.varint(u32Check(e.entity, "event entity"));
    w.i32(e.value);
    w.str(e.text);
  }
}

function encodeFields(w, mask, values) {
  if (values.length > MAX_FIELDS) throw new ProtocolError(`${values.length} fields (limit ${MAX_FIELDS})`);
  w.u8(mask);
  for (let f = 0; f < MAX_FIELDS; f++) if (mask & (1 << f)) w.i32(values[f] ?? 0);
}

/**
 * A Welcome's fields after its variant (v2's Welcome, v4's Welcome4 with its MoveRule when
 * `msg.moveRule` is set, v6's Spectating's welcome).
 */
function encodeWelcomeBody(w, msg) {
  w.varint(msg.protocol);
  w.varint(msg.entity);
  w.varint(msg.tickRateHz);
  w.varint(msg.tick);
  w.f32(msg.worldWidth);
  w.f32(msg.worldHeight);
  w.f32(msg.viewRadius);
  w.str(msg.game);
  w.varint(msg.kinds.length);
  for (const k of msg.kinds) w.str(k);
  w.varint(msg.fields.length);
  for (const f of msg.fields) {
    w.str(f.name);
    w.f32(f.scale);
  }
  w.varint(msg.eventKinds.length);
  for (const k of msg.eventKinds) w.str(k);
  w.str(msg.resumeToken);
  w.u8(msg.resumed ? 1 : 0);
  if (msg.moveRule) {
    if (msg.moveRule.kind === "walk") {
      w.varint(1);
      w.f32(msg.moveRule.speed);
    } else if (msg.moveRule.kind === "none") {
      w.varint(0);
    } else {
      throw new ProtocolError(`unknown moveRule kind ${JSON.stringify(msg.moveRule.kind)}`);
    }
  }
}

/**
 * Encodes a server message object as decodeServerMsg returns it, picking change forms by the
 * server's rule (PROTOCOL.md §7.5). For tests and tools: fake servers, fixtures.
 */
export function encodeServerMsg(msg) {
  const w = new Writer(64);
  switch (msg.type) {
    case "Welcome":
      // With a moveRule, v4's Welcome4 (variant 5): the same fields, then the rule.
      w.varint(msg.moveRule ? 5 : 0);
      encodeWelcomeBody(w, msg);
      break;
    case "Spectating":
      if (!msg.welcome.moveRule) throw new ProtocolError("a Spectating welcome carries a moveRule (Welcome4)");
      w.varint(7);
      encodeWelcomeBody(w, msg.welcome);
      writeOptEntity(w, msg.follow, "follow");
      w.varint(u32Check(msg.delayMs, "delay_ms"));
      w.u8(msg.recording ? 1 : 0);
      break;
    case "Update":
      w.varint(1);
      w.varint(msg.tick);
      w.varint(msg.ackSeq);
      w.u32le(msg.checksum);
      encodeDelta(w, msg.delta);
      encodeEvents(w, msg.events ?? []);
      break;
    case "Update3":
      w.varint(4);
      w.varint(u32Check(msg.tickGap, "tick_gap"));
      w.varint(u32Check(msg.ackDelta, "ack_delta"));
      w.u32le(msg.checksum);
      encodeDelta3(w, msg.delta);
      encodeEvents(w, msg.events ?? []);
      break;
    case "Pong":
      w.varint(2);
      w.varint(msg.clientTime);
      w.varint(msg.serverTick);
      break;
    case "Error":
      w.varint(3);
      w.varint(msg.code);
      w.str(msg.reason);
      break;
    case "Moved":
      w.varint(6);
      w.str(msg.url);
      break;
    default:
      throw new ProtocolError(`unknown server message type ${msg.type}`);
  }
  return w.bytes();
}

// ---------------------------------------------------------------------------------------------
// The view checksum (PROTOCOL.md §9)
// ---------------------------------------------------------------------------------------------

/** murmur3's 32-bit finalizer. */
export function fmix32(h) {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * One entity's hash; id, x, y are u32 grid values, kind a u8, fields (optional) the game
 * fields as i32s. A field at 0 counts as absent, so an entity without fields hashes as in
 * version 1.
 */
export function entityHash(id, kind, x, y, fields) {
  let h = fmix32(Math.imul(id, 0x9e3779b1) ^ kind);
  h = fmix32(h ^ x);
  h = fmix32((h + y) >>> 0);
  if (fields) {
    for (let i = 0; i < fields.length; i++) {
      const v = fields[i];
      if (v !== 0) h = fmix32(h ^ (((v >>> 0) + Math.imul(i + 1, 0x85ebca6b)) >>> 0));
    }
  }
  return h;
}

/** The wrapping u32 sum of every entity's hash. */
export function viewChecksum(entities) {
  let sum = 0;
  for (const e of entities) sum = (sum + entityHash(e.id, e.kind, e.x, e.y, e.fields)) >>> 0;
  return sum;
}

// ---------------------------------------------------------------------------------------------
// Game fields (PROTOCOL.md §7.1a)
// ---------------------------------------------------------------------------------------------

/**
 * A raw (quantized) field value in the game's units: `raw × spec.scale`, where `spec` is one
 * of `Welcome.fields`. Without a spec (a field the game does not describe) the raw value.
 */
export function scaleField(raw, spec) {
  return spec ? raw * spec.scale : raw;
}

/**
 * An entity's fields by name, scaled: `{ score: 3, rotation: 1.5707… }` for the `coins` game.
 * `specs` is `Welcome.fields`; fields past its end are unused and left out.
 */
export function namedFields(fields, specs) {
  const out = {};
  specs.forEach((spec, i) => {
    out[spec.name] = scaleField(fields[i] ?? 0, spec);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Replica (PROTOCOL.md §8)
// ---------------------------------------------------------------------------------------------

/** fmix32 as an int32: a value a JavaScript engine keeps unboxed (a u32 past 2^31 is boxed). */
function mix(h) {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * entityHash as an int32 (the same bits): the replica sums these with `| 0` and compares
 * `>>> 0` once per update, so that no per-entity hash or partial sum is boxed.
 */
function hashOf(e) {
  let h = mix(Math.imul(e.id, 0x9e3779b1) ^ e.kind);
  h = mix(h ^ e.x);
  h = mix((h + e.y) | 0);
  const f = e.fields;
  for (let i = 0; i < MAX_FIELDS; i++) {
    const v = f[i];
    if (v !== 0) h = mix(h ^ ((v + Math.imul(i + 1, 0x85ebca6b)) | 0));
  }
  return h;
}

/** The v2 change form the server would pick for a move (PROTOCOL.md §7.5). */
function changeForm(dx, dy) {
  if (dy === 0 && dx !== 0 && fits(dx, 16)) return ChangeForm.X16;
  if (dx === 0 && dy !== 0 && fits(dy, 16)) return ChangeForm.Y16;
  if (dx !== 0 && dy !== 0 && fits(dx, 12) && fits(dy, 12)) return ChangeForm.XY12;
  return ChangeForm.WIDE;
}

/** The changes of a PackedMoves as objects: `[{ id, dx, dy, form }]`. */
function movedChanges(moved) {
  const out = new Array(moved.n);
  for (let i = 0; i < moved.n; i++) out[i] = { id: moved.id[i], dx: moved.dx[i], dy: moved.dy[i], form: moved.form[i] };
  return out;
}

/**
 * A client's copy of its view, in grid points, with the checksum kept incrementally. It applies
 * version-2 `Update`s (`apply`) and version-3 `Update3`s (`apply3`, which also keeps what the
 * v3 prediction extrapolates from: each entity's position one update earlier, in id order).
 */
export class Replica {
  constructor() {
    /** @type {Map<number, {id: number, kind: number, x: number, y: number, fields: number[]}>} */
    this.entities = new Map();
    /** Tick of the last Update applied; null before the first. */
    this.tick = null;
    /** ack_seq of the last Update applied. */
    this.ackSeq = 0;
    /** The checksum of what the replica holds. */
    this.checksum = 0;
    /** v3: the entities in id order, the order of an `Update3`'s motion; null when stale. */
    this.order = [];
    /** v3: `prevX[i]`, `prevY[i]` are where `order[i]` was one update earlier. */
    this.prevX = [];
    this.prevY = [];
    /** v3: ticks between the last two updates (0 after the first). */
    this.gap = 0;
    /**
     * The entities whose position the last update changed, with (dx, dy) in grid points:
     * reused from update to update (what the interpolator records, with no object each).
     */
    this.moved = new PackedMoves();
  }

  get size() {
    return this.entities.size;
  }

  get(id) {
    return this.entities.get(id);
  }

  /**
   * Applies a decoded Update: despawns, spawns, position changes, then field changes; then
   * checks the checksum. Throws DesyncError on any inconsistency; the replica is then unusable
   * (reconnect, or resume).
   */
  apply(u) {
    if (this.tick !== null && u.tick <= this.tick) {
      throw new DesyncError(`update for tick ${u.tick} after tick ${this.tick}`);
    }
    const E = this.entities;
    const d = u.delta;
    let sum = this.checksum;
    for (const id of d.despawns) {
      const e = E.get(id);
      if (!e) throw new DesyncError(`despawn of unknown entity ${id}`);
      sum = (sum - hashOf(e)) | 0;
      E.delete(id);
    }
    for (const s of d.spawns) {
      if (E.has(s.id)) throw new DesyncError(`spawn of entity ${s.id} that is already present`);
      const fields = new Array(MAX_FIELDS).fill(0);
      if (s.fields) for (let i = 0; i < MAX_FIELDS; i++) fields[i] = s.fields[i] ?? 0;
      const e = { id: s.id, kind: s.kind, x: s.x, y: s.y, fields };
      E.set(s.id, e);
      sum = (sum + hashOf(e)) | 0;
    }
    const moved = this.moved;
    moved.clear();
    const packed = d.changes ? null : d.packed;
    const nChanges = packed ? packed.n : d.changes.length;
    for (let i = 0; i < nChanges; i++) {
      const c = packed ? null : d.changes[i];
      const id = packed ? packed.id[i] : c.id;
      const dx = packed ? packed.dx[i] : c.dx;
      const dy = packed ? packed.dy[i] : c.dy;
      const e = E.get(id);
      if (!e) throw new DesyncError(`change of unknown entity ${id}`);
      const x = e.x + dx;
      const y = e.y + dy;
      if (x < 0 || x > 0xffffffff || y < 0 || y > 0xffffffff) {
        throw new DesyncError(`change moves entity ${id} out of the grid`);
      }
      sum = (sum - hashOf(e)) | 0;
      e.x = x;
      e.y = y;
      sum = (sum + hashOf(e)) | 0;
      moved.push(id, dx, dy, packed ? packed.form[i] : c.form ?? changeForm(dx, dy));
    }
    for (const f of d.fieldChanges ?? []) {
      const e = E.get(f.id);
      if (!e) throw new DesyncError(`field change of unknown entity ${f.id}`);
      sum = (sum - hashOf(e)) | 0;
      for (let i = 0; i < MAX_FIELDS; i++) if (f.mask & (1 << i)) e.fields[i] = f.values[i];
      sum = (sum + hashOf(e)) | 0;
    }
    sum >>>= 0;
    if (sum !== u.checksum) {
      const hex = (v) => "0x" + v.toString(16).padStart(8, "0");
      throw new DesyncError(`checksum mismatch at tick ${u.tick}: server ${hex(u.checksum)}, replica ${hex(sum)}`);
    }
    this.checksum = sum;
    this.order = null; // a v2 replica keeps no id order
    this.gap = this.tick === null ? 0 : u.tick - this.tick;
    this.tick = u.tick;
    this.ackSeq = u.ackSeq;
  }

  /**
   * Applies a decoded `Update3` (PROTOCOL.md §15.4): despawns; every held entity at its
   * prediction plus its residual; spawns; field changes (differences); then checks the
   * checksum. Returns the same change as a version-2 `Update` (tick, ackSeq, position changes
   * and new field values), so that everything after the replica reads one shape. Throws
   * DesyncError on any inconsistency; the replica is then unusable (reconnect, or resume).
   * With `changes` false the returned Update's `delta.changes` is null: the changed entities
   * are in `moved` only (the client's path when nobody listens to "update").
   */
  apply3(u, changes = true) {
    const k = u.tickGap;
    if (!(k >= 1)) throw new DesyncError("update with a tick gap of 0");
    const tick = (this.tick ?? 0) + k;
    if (tick > 0xffffffff) throw new DesyncError(`update for tick ${tick} past 2^32`);
    const E = this.entities;
    const d = u.delta;
    let sum = this.checksum;
    let order = this.order;
    let px = this.prevX;
    let py = this.prevY;
    if (order === null) {
      order = [...E.values()].sort((a, b) => a.id - b.id);
      px = order.map((e) => e.x);
      py = order.map((e) => e.y);
    }
    for (const id of d.despawns) {
      const e = E.get(id);
      if (!e) throw new DesyncError(`despawn of unknown entity ${id}`);
      sum = (sum - hashOf(e)) | 0;
      E.delete(id);
    }
    if (d.despawns.length > 0) {
      let keep = 0;
      for (let i = 0; i < order.length; i++) {
        if (!E.has(order[i].id)) continue;
        order[keep] = order[i];
        px[keep] = px[i];
        py[keep] = py[i];
        keep++;
      }
      order.length = px.length = py.length = keep;
    }
    const m = d.motion;
    if (m.held !== order.length) {
      throw new DesyncError(`update moves ${m.held} held entities, the replica holds ${order.length}`);
    }
    const g = this.gap;
    const moves = m.moves;
    const packed = moves ? null : m.packed;
    const nMoves = packed ? packed.n : moves.length;
    const moved = this.moved;
    moved.clear();
    let mi = 0;
    let nextIndex = nMoves > 0 ? (packed ? packed.id[0] : moves[0].index) : -1;
    for (let i = 0; i < order.length; i++) {
      const e = order[i];
      let x = predict(e.x, px[i], k, g);
      let y = predict(e.y, py[i], k, g);
      if (nextIndex === i) {
        x += packed ? packed.dx[mi] : moves[mi].rx;
        y += packed ? packed.dy[mi] : moves[mi].ry;
        mi++;
        nextIndex = mi < nMoves ? (packed ? packed.id[mi] : moves[mi].index) : -1;
        if (x < 0 || x > 0xffffffff || y < 0 || y > 0xffffffff) {
          throw new DesyncError(`change moves entity ${e.id} out of the grid`);
        }
      }
      px[i] = e.x;
      py[i] = e.y;
      if (x !== e.x || y !== e.y) {
        sum = (sum - hashOf(e)) | 0;
        const dx = x - e.x;
        const dy = y - e.y;
        moved.push(e.id, dx, dy, changeForm(dx, dy));
        e.x = x;
        e.y = y;
        sum = (sum + hashOf(e)) | 0;
      }
    }
    if (mi !== nMoves) throw new DesyncError("moves out of order or past the held entities");
    if (d.spawns.length > 0) {
      const spawned = [];
      for (const s of d.spawns) {
        if (E.has(s.id)) throw new DesyncError(`spawn of entity ${s.id} that is already present`);
        if (spawned.length > 0 && s.id <= spawned[spawned.length - 1].id) throw new DesyncError("spawns out of order");
        const fields = new Array(MAX_FIELDS).fill(0);
        if (s.fields) for (let i = 0; i < MAX_FIELDS; i++) fields[i] = s.fields[i] ?? 0;
        const e = { id: s.id, kind: s.kind, x: s.x, y: s.y, fields };
        E.set(s.id, e);
        spawned.push(e);
        sum = (sum + hashOf(e)) | 0;
      }
      // Merge by id; a new entity is held in one state: it predicts as standing still.
      const merged = [];
      const mx = [];
      const my = [];
      let i = 0;
      for (const e of spawned) {
        for (; i < order.length && order[i].id < e.id; i++) {
          merged.push(order[i]);
          mx.push(px[i]);
          my.push(py[i]);
        }
        merged.push(e);
        mx.push(e.x);
        my.push(e.y);
      }
      for (; i < order.length; i++) {
        merged.push(order[i]);
        mx.push(px[i]);
        my.push(py[i]);
      }
      order = merged;
      px = mx;
      py = my;
    }
    const fieldChanges = [];
    for (const f of d.fieldChanges) {
      const e = E.get(f.id);
      if (!e) throw new DesyncError(`field change of unknown entity ${f.id}`);
      sum = (sum - hashOf(e)) | 0;
      const values = new Array(MAX_FIELDS).fill(0);
      for (let i = 0; i < MAX_FIELDS; i++) {
        if (f.mask & (1 << i)) {
          e.fields[i] = (e.fields[i] + f.values[i]) | 0; // wrapping i32
          values[i] = e.fields[i];
        }
      }
      fieldChanges.push({ id: f.id, mask: f.mask, values });
      sum = (sum + hashOf(e)) | 0;
    }
    this.order = order;
    this.prevX = px;
    this.prevY = py;
    sum >>>= 0;
    if (sum !== u.checksum) {
      const hex = (v) => "0x" + v.toString(16).padStart(8, "0");
      throw new DesyncError(`checksum mismatch at tick ${tick}: server ${hex(u.checksum)}, replica ${hex(sum)}`);
    }
    this.checksum = sum;
    this.gap = this.tick === null ? 0 : k;
    this.tick = tick;
    this.ackSeq = (this.ackSeq + u.ackDelta) >>> 0;
    return {
      type: "Update",
      tick,
      ackSeq: this.ackSeq,
      checksum: u.checksum,
      delta: { despawns: d.despawns, spawns: d.spawns, changes: changes ? movedChanges(moved) : null, fieldChanges },
      events: u.events,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Timing, interpolation and prediction (PROTOCOL.md §13)
// ---------------------------------------------------------------------------------------------

/** Arrival samples the clock keeps: its jitter is the latest of the last this many Updates. */
const CLOCK_WINDOW = 64;
/** How much faster or slower than the local clock render time may run while it adapts. */
const CLOCK_SLEW = 0.05;
/** The largest render delay the clock picks by itself, in milliseconds. */
const MAX_DELAY_MS = 1000;

/**
 * The server's timeline as this client sees it (PROTOCOL.md §13.1, §13.2): which tick is
 * arriving now, how late Updates arrive, and the tick to render remote entities at, which runs
 * smoothly behind the newest Update by a delay that covers the measured jitter.
 *
 * - `offset` (ticks minus local time in ticks) is the mean of the arrival samples
 *   `tick − now × hz`: the plain mean of the first 20, then each sample moves it by 5 % of its
 *   deviation, bounded to 2 ticks, so a stall bends it a little instead of resetting it. Only
 *   a sample more than a second away (a resume, a stall of seconds) resets it.
 * - The jitter is how much later than `offset` the latest of the last 64 Updates arrived (at
 *   least one tick while fewer than 64 have).
 * - The delay is `1 tick + jitter + 1/4 tick`, at least `minDelayMs`, at most a second: one
 *   tick so that two states bracket the render tick, the jitter so that the newest has arrived.
 * - The render tick runs with the local clock toward `tickAt(now) − delay`, at 95 to 105 % speed
 *   (75 to 125 % in the first second, while the clock settles; it never steps, except by more
 *   than a second, after a reset), and at most `maxExtrapolationMs` past the newest tick.
 */
export class ServerClock {
  /**
   * @param {number} tickRateHz from the Welcome
   * @param {{ minDelayMs?: number, maxExtrapolationMs?: number }} [options]
   */
  constructor(tickRateHz, { minDelayMs = 0, maxExtrapolationMs = 150 } = {}) {
    this.hz = tickRateHz;
    this.minDelayMs = minDelayMs;
    this.maxExtrapolationMs = maxExtrapolationMs;
    this.offset = null; // ticks minus local time in ticks
    /** The last CLOCK_WINDOW arrival samples, a ring; `count` since the last reset. */
    this.samples = new Float64Array(CLOCK_WINDOW);
    this.count = 0;
    /** How much later than `offset` the latest sample of the window arrived, in ticks. */
    this.late = 0;
    /** The newest tick observed. */
    this.newest = null;
    /** The render tick handed out last, and the local time it was for. */
    this.render = null;
    this.renderAt = 0;
  }

  /** Records that an Update for `tick` arrived at `nowMs`. */
  observe(tick, nowMs) {
    const sample = tick - (nowMs * this.hz) / 1000;
    if (this.offset === null || Math.abs(sample - this.offset) > Math.max(this.hz, 4)) {
      this.offset = sample;
      this.count = 0;
      this.newest = null;
      this.render = null;
    } else {
      // The mean of the first 20 samples, then 5 % a sample.
      this.offset += Math.min(2, Math.max(-2, sample - this.offset)) * Math.max(0.05, 1 / (this.count + 1));
    }
    this.samples[this.count % CLOCK_WINDOW] = sample;
    this.count++;
    if (this.newest === null || tick > this.newest) this.newest = tick;
    let earliest = this.offset;
    for (let i = Math.min(this.count, CLOCK_WINDOW) - 1; i >= 0; i--) {
      if (this.samples[i] < earliest) earliest = this.samples[i];
    }
    this.late = Math.max(this.offset - earliest, this.count < CLOCK_WINDOW ? 1 : 0);
  }

  /** The (fractional) tick of an Update arriving at `nowMs`; null before the first. */
  tickAt(nowMs) {
    return this.offset === null ? null : (nowMs * this.hz) / 1000 + this.offset;
  }

  /** The measured arrival jitter in milliseconds (0 before the first Update). */
  get jitterMs() {
    return this.offset === null ? 0 : (this.late * 1000) / this.hz;
  }

  /** The render delay the clock aims at, in ticks. */
  delayTicks() {
    const ticks = Math.min(1 + this.late + 0.25, (MAX_DELAY_MS * this.hz) / 1000);
    return Math.max(ticks, (this.minDelayMs * this.hz) / 1000);
  }

  /** The render delay the clock aims at, in milliseconds. */
  get delayMs() {
    return (this.delayTicks() * 1000) / this.hz;
  }

  /**
   * The tick to render remote entities at, at local time `nowMs` (call it once per frame; the
   * same `nowMs` gives the same tick); null before the first Update.
   */
  renderTickAt(nowMs) {
    const arriving = this.tickAt(nowMs);
    if (arriving === null) return null;
    const hz = this.hz;
    const target = arriving - this.delayTicks();
    let r = this.render;
    if (r === null) {
      r = target;
    } else {
      const dt = ((nowMs - this.renderAt) * hz) / 1000;
      if (!(dt > 0)) return r;
      // Seconds ahead of where render time would be at the local clock's speed.
      const err = (target - (r + dt)) / hz;
      // In the first second after a (re)start the clock is still settling: 25 %.
      const slew = this.count < this.hz ? 0.25 : CLOCK_SLEW;
      if (Math.abs(err) > 1) r = target;
      else r += dt * (1 + Math.min(slew, Math.max(-slew, err)));
    }
    const cap = this.newest + (this.maxExtrapolationMs * hz) / 1000;
    if (r > cap) r = cap;
    this.render = r;
    this.renderAt = nowMs;
    return r;
  }
}

/** Samples kept per entity: a ring, so recording allocates nothing. */
const TRACK_SAMPLES = 32;
/** Field samples kept per entity (games with fields): a ring of the last changes. */
const FIELD_SAMPLES = 8;
/** Kind numbers (a u8 on the wire). */
const KINDS = 256;
/** The fields of an entity the replica does not hold (never: a spawn is applied first). */
const ZERO_FIELDS = new Int32Array(MAX_FIELDS);

/**
 * One entity's recent states, oldest first, in a ring of typed arrays: `n` samples from
 * `head`. `render` is the object `frame()` hands out for it, reused from frame to frame.
 */
class Track {
  constructor(id, kind, fields) {
    this.id = id;
    this.kind = kind;
    this.head = 0;
    this.n = 0;
    this.t = new Float64Array(TRACK_SAMPLES);
    this.x = new Float64Array(TRACK_SAMPLES);
    this.y = new Float64Array(TRACK_SAMPLES);
    this.snap = new Uint8Array(TRACK_SAMPLES);
    /**
     * Doubles kept in a typed array, where writing them allocates nothing: [0, 1] the position
     * sampled for the last frame, [2, 3] the correction still blended in, [4] the speed per
     * tick of the last move.
     */
    this.aux = new Float64Array(5);
    /** 1 when the last sample (or the last frame) went past the newest state. */
    this.extrapolated = 0;
    this.drewPast = 0;
    // Game fields by tick, for games with fields: a ring of the last FIELD_SAMPLES changes.
    this.ft = fields ? new Float64Array(FIELD_SAMPLES) : null;
    this.fv = fields ? new Int32Array(FIELD_SAMPLES * MAX_FIELDS) : null;
    this.fTotal = 0;
    this.fShown = -1;
    this.render = { id, kind, x: 0, y: 0, fields: fields ? new Array(MAX_FIELDS).fill(0) : null };
  }
  /** The ring slot of sample `i` (0 = oldest). */
  at(i) {
    return (this.head + i) % TRACK_SAMPLES;
  }
  push(t, x, y, snap) {
    if (this.n === TRACK_SAMPLES) {
      this.head = (this.head + 1) % TRACK_SAMPLES;
      this.n--;
    }
    const j = this.at(this.n++);
    this.t[j] = t;
    this.x[j] = x;
    this.y[j] = y;
    this.snap[j] = snap ? 1 : 0;
  }
  /** The newest sample's slot. */
  last() {
    return this.at(this.n - 1);
  }
  /** Records the entity's game fields as of tick `t`. */
  pushFields(t, fields) {
    const s = this.fTotal++ % FIELD_SAMPLES;
    this.ft[s] = t;
    for (let i = 0; i < MAX_FIELDS; i++) this.fv[s * MAX_FIELDS + i] = fields[i];
  }
  /** The game fields as of tick `t` (the newest change at or before it), into `render.fields`. */
  fieldsAt(t) {
    const out = this.render.fields;
    const oldest = Math.max(0, this.fTotal - FIELD_SAMPLES);
    let k = this.fTotal - 1;
    while (k > oldest && this.ft[k % FIELD_SAMPLES] > t) k--;
    if (k !== this.fShown && k >= 0) {
      const s = (k % FIELD_SAMPLES) * MAX_FIELDS;
      for (let i = 0; i < MAX_FIELDS; i++) out[i] = this.fv[s + i];
      this.fShown = k;
    }
    return out;
  }
  /**
   * Writes the position at fractional tick `t` into `out` (`{ x, y }`). Past the newest
   * sample, an entity that moved in the interpolator's newest Update goes on with its last
   * velocity for at most its `maxExtrapolationTicks`, then holds; `extrapolated` says whether
   * it did. (The interpolator is passed rather than those two numbers: a double passed to a
   * call that is not inlined is boxed, one heap number per entity per frame.)
   */
  sampleInto(t, out, interp) {
    const T = this.t;
    const limit = interp.maxExtrapolationTicks;
    const newest = interp.lastTick;
    const first = this.at(0);
    this.extrapolated = 0;
    if (t <= T[first]) {
      out.x = this.x[first];
      out.y = this.y[first];
      return out;
    }
    for (let i = this.n - 1; i > 0; i--) {
      const a = this.at(i - 1);
      if (T[a] <= t) {
        const b = this.at(i);
        if (t >= T[b]) {
          // Past the newest sample.
          let f = 0;
          if (i === this.n - 1 && T[b] === newest && !this.snap[b] && limit > 0) {
            f = Math.min(t - T[b], limit) / (T[b] - T[a]);
            this.extrapolated = 1;
          }
          out.x = this.x[b] + (this.x[b] - this.x[a]) * f;
          out.y = this.y[b] + (this.y[b] - this.y[a]) * f;
        } else if (this.snap[b]) {
          out.x = this.x[a];
          out.y = this.y[a];
        } else {
          const f = (t - T[a]) / (T[b] - T[a]);
          out.x = this.x[a] + (this.x[b] - this.x[a]) * f;
          out.y = this.y[a] + (this.y[b] - this.y[a]) * f;
        }
        return out;
      }
    }
    const last = this.last();
    out.x = this.x[last];
    out.y = this.y[last];
    return out;
  }
  /** Drops samples no longer needed to render at tick `t` or later. */
  prune(t) {
    while (this.n > 2 && this.t[this.at(1)] <= t) {
      this.head = (this.head + 1) % TRACK_SAMPLES;
      this.n--;
    }
  }
}

/**
 * Renders remote entities a little in the past, interpolating between the two known states
 * around the render tick (PROTOCOL.md §13.2): positions in world units, and the game fields as
 * they were at the render tick. Past the newest state, an entity that is moving goes on for at
 * most `maxExtrapolationTicks`, then holds; when the next states say otherwise, the difference
 * is blended out over `smoothingMs` rather than drawn in one frame. A move larger than its
 * kind allows is a teleport: drawn in one step at its tick.
 *
 * Recording and rendering allocate nothing per entity in steady state: each entity's states
 * are a ring of typed arrays, created when it spawns.
 */
export class Interpolator {
  /**
   * @param {{ maxStep?: number, maxStepByKind?: ArrayLike<number> | null, maxSamples?: number,
   *   maxExtrapolationTicks?: number, smoothingMs?: number, fields?: boolean }} [options]
   *   maxStep: the largest legitimate move per tick in world units (5 in the reference game),
   *   for kinds without their own in `maxStepByKind` (by kind number; 0 = none); a larger jump
   *   snaps, unless the entity keeps moving at that speed (then its kind's step is raised to
   *   it). fields: keep the game fields by tick (for games that have fields).
   */
  constructor({
    maxStep = 5,
    maxStepByKind = null,
    maxSamples = TRACK_SAMPLES,
    maxExtrapolationTicks = 4.5,
    smoothingMs = 200,
    fields = false,
  } = {}) {
    this.maxStep = maxStep;
    /** The configured step per kind (0: `maxStep`) and the speed per kind seen steadily. */
    this.kindStep = new Float64Array(KINDS);
    this.kindSpeed = new Float64Array(KINDS);
    if (maxStepByKind) for (let k = 0; k < Math.min(KINDS, maxStepByKind.length); k++) this.kindStep[k] = maxStepByKind[k] || 0;
    this.maxSamples = Math.max(3, Math.min(maxSamples, TRACK_SAMPLES));
    this.maxExtrapolationTicks = maxExtrapolationTicks;
    this.smoothingMs = smoothingMs;
    this.fields = fields;
    /** @type {Map<number, Track>} */
    this.tracks = new Map();
    this.lastTick = null;
    /** Updates recorded, and how many the last render had seen. */
    this.records = 0;
    this.recordsDrawn = 0;
    this.renderTick = null;
    this.renderAt = null;
    this.point = { x: 0, y: 0 };
  }

  clear() {
    this.tracks.clear();
    this.lastTick = null;
    this.renderTick = null;
    this.renderAt = null;
  }

  /** The largest legitimate move per tick of entities of `kind`. */
  stepOf(kind) {
    return Math.max(this.kindStep[kind] || this.maxStep, this.kindSpeed[kind]);
  }

  /**
   * Records an applied Update: its tick, its delta (despawns, spawns and field changes) and
   * the replica after it, whose `moved` lists the entities whose position changed.
   */
  record(tick, delta, replica) {
    const prev = this.lastTick;
    this.records++;
    for (const id of delta.despawns) this.tracks.delete(id);
    for (const s of delta.spawns) {
      const track = new Track(s.id, s.kind, this.fields);
      track.push(tick, s.x / GRID_SCALE, s.y / GRID_SCALE, true);
      if (this.fields) track.pushFields(tick, replica.get(s.id)?.fields ?? ZERO_FIELDS);
      this.tracks.set(s.id, track);
    }
    const moved = replica.moved;
    for (let i = 0; i < moved.n; i++) {
      const track = this.tracks.get(moved.id[i]);
      const e = replica.get(moved.id[i]);
      if (!track || !e || track.n === 0) continue;
      let last = track.last();
      // Unchanged until the previous Update: pin that, so the move is not spread back in time.
      if (prev !== null && track.t[last] < prev) {
        track.push(prev, track.x[last], track.y[last], false);
        last = track.last();
        track.aux[4] = 0;
      }
      // Written in place rather than through push(): a double passed to a call that is not
      // inlined is boxed, one heap number per coordinate per entity per update.
      const ticks = Math.max(1, tick - track.t[last]);
      const dx = e.x / GRID_SCALE - track.x[last];
      const dy = e.y / GRID_SCALE - track.y[last];
      // stepOf(kind), inlined: a double returned by a call that is not inlined is boxed.
      const kind = track.kind;
      const limit = Math.max(this.kindStep[kind] || this.maxStep, this.kindSpeed[kind]) * ticks * 1.5 + 1;
      const speed = Math.sqrt(dx * dx + dy * dy) / ticks;
      let snap = dx * dx + dy * dy > limit * limit;
      const before = track.aux[4];
      if (snap && before > 0 && Math.abs(speed - before) <= 0.2 * speed) {
        // Two moves in a row at the same speed: a kind faster than its step, not a teleport.
        this.kindSpeed[track.kind] = Math.max(this.kindSpeed[track.kind], speed);
        snap = false;
      }
      track.aux[4] = speed;
      if (track.n === TRACK_SAMPLES) {
        track.head = (track.head + 1) % TRACK_SAMPLES;
        track.n--;
      }
      const j = (track.head + track.n++) % TRACK_SAMPLES;
      track.t[j] = tick;
      track.x[j] = e.x / GRID_SCALE;
      track.y[j] = e.y / GRID_SCALE;
      track.snap[j] = snap ? 1 : 0;
      while (track.n > this.maxSamples) {
        track.head = (track.head + 1) % TRACK_SAMPLES;
        track.n--;
      }
    }
    const changes = delta.fieldChanges;
    if (this.fields && changes) {
      for (let i = 0; i < changes.length; i++) {
        const id = changes[i].id;
        const track = this.tracks.get(id);
        const e = replica.get(id);
        if (track && e) track.pushFields(tick, e.fields);
      }
    }
    this.lastTick = tick;
  }

  /** The position of entity `id` at the fractional tick `t`, or null if not in view. */
  positionAt(id, t) {
    const track = this.tracks.get(id);
    return track ? track.sampleInto(t, { x: 0, y: 0 }, this) : null;
  }

  /**
   * Writes every entity but `skip` as drawn at render tick `t` and local time `nowMs` into
   * `list` (the reused `render` objects, from index 0) and returns how many. Positions are
   * interpolated (or extrapolated) with corrections blended in; `fields` are the game fields
   * as of `t` (or the replica's, for a game without fields).
   */
  render(t, nowMs, replica, skip, list) {
    const dt = this.renderAt === null ? 0 : Math.max(0, nowMs - this.renderAt);
    const decay = Math.exp(-dt / this.smoothingMs);
    const before = this.renderTick;
    // New states since the last frame: a track drawn past its newest may have been wrong.
    const fresh = this.records !== this.recordsDrawn && before !== null;
    this.renderAt = nowMs;
    this.renderTick = t;
    this.recordsDrawn = this.records;
    let count = 0;
    for (const track of this.tracks.values()) {
      if (track.id === skip) continue;
      const a = track.aux;
      if (fresh && track.drewPast) {
        // What the new states say about the moment of the last frame, against what it drew:
        // the difference is drawn away over a few frames, unless it is a teleport.
        const p = track.sampleInto(before, this.point, this);
        if (!track.snap[track.last()]) {
          a[2] += a[0] - p.x;
          a[3] += a[1] - p.y;
        }
      }
      const r = track.sampleInto(t, track.render, this);
      track.drewPast = track.extrapolated;
      a[0] = r.x;
      a[1] = r.y;
      if (a[2] !== 0 || a[3] !== 0) {
        a[2] *= decay;
        a[3] *= decay;
        if (Math.abs(a[2]) + Math.abs(a[3]) < 1e-3) {
          a[2] = 0;
          a[3] = 0;
        }
        r.x += a[2];
        r.y += a[3];
      }
      if (track.ft) track.fieldsAt(t);
      else r.fields = replica.get(track.id)?.fields ?? null;
      if (count < list.length) list[count] = r;
      else list.push(r);
      count++;
    }
    return count;
  }

  /** Drops samples no longer needed to render at tick `t` or later. */
  prune(t) {
    for (const track of this.tracks.values()) track.prune(t);
  }
}

/**
 * Predicts the own entity with the game's movement rule (PROTOCOL.md §13.3, §16) and
 * reconciles with each Update's ack_seq (§13.4). Positions are in world units; ticks are
 * integers on the server's timeline, run ahead of the latest Update by the lead the client
 * chooses.
 *
 * The rule is the built-in walk (normalise the direction, move `speed`, clamp into the world:
 * what a v4 Welcome's `{ kind: "walk" }` rule says) unless `step` is given: the game's own
 * step, called once per predicted tick as `step(state, input)` with `state` `{ x, y }` (world
 * units, to be updated in place) and `input` `{ dx, dy, buttons }` as sent. It must compute
 * exactly what the server's game does, or every Update corrects it.
 */
export class Predictor {
  /**
   * @param {{ worldWidth: number, worldHeight: number, speed?: number, step?: Function | null, maxHistory?: number }} o
   */
  constructor({ worldWidth, worldHeight, speed = 5, step = null, maxHistory = 512 }) {
    this.w = worldWidth;
    this.h = worldHeight;
    this.speed = speed;
    if (step !== null && typeof step !== "function") throw new TypeError("step must be a function");
    /** The game's own step function, or null for the walk rule. */
    this.gameStep = step;
    /** What `gameStep` is given, reused: no object per predicted tick. */
    this.stepState = { x: 0, y: 0 };
    this.stepInput = { dx: 0, dy: 0, buttons: 0 };
    this.maxHistory = maxHistory;
    /** Predicted position; null until the first reconcile. */
    this.x = null;
    this.y = null;
    /** Last local tick stepped. */
    this.tick = null;
    /** The newest input sent: in force from the next local tick on. */
    this.current = { seq: 0, dx: 0, dy: 0, buttons: 0 };
    /** Sent inputs not yet known to be superseded on the server, by seq. */
    this.inputs = new Map([[0, { dx: 0, dy: 0, buttons: 0 }]]);
    /** One entry per local tick after the last reconciled Update: the input in force. */
    this.history = [];
  }

  /**
   * Records an input as sent; it is in force from the next local tick stepped. Inputs are
   * forgotten once acknowledged; while no Update carries the own entity (it is out of the
   * replica) nothing is, so at most `maxHistory` are kept: an older one cannot be replayed.
   */
  noteInput(seq, dx, dy, buttons = 0) {
    const input = { dx: Math.fround(dx), dy: Math.fround(dy), buttons: buttons >>> 0 };
    this.inputs.set(seq, input);
    if (this.inputs.size > this.maxHistory) {
      for (const old of this.inputs.keys()) {
        this.inputs.delete(old);
        if (this.inputs.size <= this.maxHistory) break;
      }
    }
    this.current = { seq, ...input };
  }

  /**
   * One tick: the game's step function, or the walk rule (normalise (dx, dy) in f64, move
   * `speed`, clamp into the arena).
   */
  step(x, y, dx, dy, buttons) {
    if (this.gameStep) {
      const s = this.stepState;
      const i = this.stepInput;
      s.x = x;
      s.y = y;
      i.dx = dx;
      i.dy = dy;
      i.buttons = buttons;
      this.gameStep(s, i);
      return [s.x, s.y];
    }
    if (dx === 0 && dy === 0) return [x, y];
    const len = Math.sqrt(dx * dx + dy * dy);
    const inv = 1 / len;
    const nx = Math.min(Math.max(x + dx * inv * this.speed, 0), this.w);
    const ny = Math.min(Math.max(y + dy * inv * this.speed, 0), this.h);
    return [nx, ny];
  }

  /** Steps the prediction up to local tick `t` with the newest input. */
  advanceTo(t) {
    if (this.tick === null || this.x === null || t <= this.tick) return;
    // After a long pause (a background tab) step at most maxHistory ticks; the next Update
    // corrects the rest.
    const from = Math.max(this.tick, t - this.maxHistory);
    const { seq, dx, dy, buttons } = this.current;
    for (let k = from + 1; k <= t; k++) {
      [this.x, this.y] = this.step(this.x, this.y, dx, dy, buttons);
      this.history.push({ t: k, seq, dx, dy, buttons });
    }
    if (this.history.length > this.maxHistory) this.history.splice(0, this.history.length - this.maxHistory);
    this.tick = t;
  }

  /**
   * Reconciles with an Update for tick `T` that acknowledges input `A`, where the server has
   * the own entity at (`sx`, `sy`) world units. Returns the lead feedback: +1 when inputs
   * reach the server later than predicted (run further ahead), -1 when earlier, else 0.
   */
  reconcile(T, A, sx, sy) {
    let feedback = 0;
    let atT = null;
    for (const h of this.history) {
      if (h.t > T) break;
      atT = h;
    }
    if (atT) {
      if (atT.seq > A) feedback = 1;
      else if (atT.seq < A) feedback = -1;
    }
    let drop = 0;
    while (drop < this.history.length && this.history[drop].t <= T) drop++;
    if (drop > 0) this.history.splice(0, drop);
    const acked = this.inputs.get(A) ?? { dx: 0, dy: 0, buttons: 0 };
    let x = sx;
    let y = sy;
    for (const h of this.history) {
      const input = h.seq < A ? acked : h;
      [x, y] = this.step(x, y, input.dx, input.dy, input.buttons);
    }
    this.x = x;
    this.y = y;
    if (this.tick === null || this.tick < T) {
      this.tick = T;
      this.history.length = 0;
    }
    for (const seq of this.inputs.keys()) if (seq < A) this.inputs.delete(seq);
    return feedback;
  }
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/** The longest close reason a WebSocket accepts, in UTF-8 bytes (RFC 6455 §5.5). */
export const MAX_CLOSE_REASON = 123;

/**
 * `reason` cut to at most MAX_CLOSE_REASON UTF-8 bytes, on a character boundary: a longer
 * reason makes `WebSocket.close` throw and leaves the socket open.
 */
export function closeReason(reason) {
  const text = String(reason ?? "");
  if (text.length <= MAX_CLOSE_REASON / 3) return text;
  const bytes = utf8Encoder.encode(text);
  if (bytes.length <= MAX_CLOSE_REASON) return text;
  let end = MAX_CLOSE_REASON;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // not inside a character
  return utf8Decoder.decode(bytes.subarray(0, end));
}

/** Closes `ws` with `code` and a reason that fits; never throws. */
function closeSocket(ws, code, reason) {
  try {
    ws.close(code, closeReason(reason));
  } catch {
    try {
      ws.close(code); // a code the implementation refuses with a reason, or already closing
    } catch {
      // already closed
    }
  }
}

/**
 * The default clock: `performance.now()`, milliseconds since the page started. Every time the
 * client takes (`frame(t)`, the `now` option) is on this time base; requestAnimationFrame's
 * timestamp is too, `Date.now()` is not.
 */
const performanceNow = () => globalThis.performance.now();

/**
 * A `t` further than this from the client's clock is on another time base (`Date.now()`
 * instead of `performance.now()`): it is ignored, with one warning.
 */
const TIME_BASE_TOLERANCE_MS = 60_000;

/**
 * A player's speed per tick: the walk speed a v4 Welcome publishes; from an older server's
 * Welcome (no `moveRule`), the built-in games' default settings (PROTOCOL.md §7.1a): 4 in
 * `coins`, 5 in `arena` and anything else.
 */
export function defaultSpeed(welcome) {
  if (welcome.moveRule && welcome.moveRule.kind === "walk") return welcome.moveRule.speed;
  return welcome.game === "coins" ? 4 : 5;
}

/**
 * The `spectate` option as `{ follow }`, or null for a player: `true` watches the whole room,
 * `{ follow: id }` follows entity `id`'s view (`{}` or `{ follow: null }`: the whole room).
 */
function spectateOption(spectate) {
  if (spectate === undefined || spectate === null || spectate === false) return null;
  if (spectate === true) return { follow: null };
  if (typeof spectate !== "object") throw new TypeError("options.spectate must be true or { follow }");
  const follow = spectate.follow ?? null;
  if (follow !== null && !(Number.isInteger(follow) && follow >= 0 && follow <= 0xffffffff)) {
    throw new TypeError(`options.spectate.follow is not an entity id: ${follow}`);
  }
  return { follow };
}

/** Prediction off: the own entity stays where the server last put it. */
const standStill = () => {};

/**
 * The Predictor options for a Welcome and the client's `predict` and `playerSpeed` options
 * (docs/WEB_CLIENT.md, "Prediction"): the game's step function when `predict` is one; none
 * (standing still) when `predict` is false; otherwise the Welcome's rule — walking at its
 * speed, or for a game that publishes none (`{ kind: "none" }`) the `playerSpeed` the
 * application passed, else none. A server older than v4 says nothing: walk at `playerSpeed`
 * (default `defaultSpeed`).
 */
export function predictorOptions(welcome, predict, playerSpeed) {
  const base = { worldWidth: welcome.worldWidth, worldHeight: welcome.worldHeight };
  const speedOf = (v) => (typeof v === "function" ? v(welcome) : v);
  if (typeof predict === "function") return { ...base, step: (s, i) => predict(s, i, welcome) };
  if (predict === false) return { ...base, step: standStill };
  const rule = welcome.moveRule;
  if (rule && rule.kind === "walk") return { ...base, speed: rule.speed };
  if (rule && rule.kind === "none") {
    return playerSpeed === undefined ? { ...base, step: standStill } : { ...base, speed: speedOf(playerSpeed) };
  }
  return { ...base, speed: speedOf(playerSpeed ?? defaultSpeed) };
}

/**
 * Counts events in a sliding window, for rates. Bounded whether or not `rates()` is ever
 * called: `add()` drops what left the window, and at most `maxEntries` are kept (a burst
 * beyond that counts as its newest `maxEntries`).
 */
export class RateWindow {
  constructor(windowMs, maxEntries = 4096) {
    this.windowMs = windowMs;
    this.maxEntries = maxEntries;
    this.times = [];
    this.sizes = [];
    this.head = 0;
  }
  add(t, size) {
    this.times.push(t);
    this.sizes.push(size);
    this.expire(t);
    if (this.times.length - this.head > this.maxEntries) this.head = this.times.length - this.maxEntries;
    if (this.head > 1024 || (this.head > 0 && this.head * 2 > this.times.length)) {
      this.times.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
  }
  expire(t) {
    while (this.head < this.times.length && this.times[this.head] <= t - this.windowMs) this.head++;
  }
  /** [events per second, size units per second] over the window ending at t. */
  rates(t) {
    this.expire(t);
    const n = this.times.length - this.head;
    if (n === 0) return [0, 0];
    let total = 0;
    for (let i = this.head; i < this.sizes.length; i++) total += this.sizes[i];
    // Before the window is full, divide by the time since the first event in it.
    const span = Math.min(this.windowMs, Math.max(t - this.times[this.head], 1000 / 60)) / 1000;
    return [n / span, total / span];
  }
  clear() {
    this.times.length = 0;
    this.sizes.length = 0;
    this.head = 0;
  }
}

/**
 * A Tickstream session that joins a room, keeps a verified replica, predicts the own entity,
 * interpolates the others, hands the game's events to the application in order, and after a
 * lost connection reconnects with backoff and resumes the same entity.
 *
 * With the `spectate` option (protocol v6) it watches the room instead: no entity, no input
 * (`setInput` throws), no prediction; every entity of the view interpolated, the room's events
 * for every player, `follow()` to change the view; after a drop (or a Moved) it spectates again
 * with a fresh replica. A server's 1000 (a recording that ended) ends a spectator's session.
 *
 * Events (`client.on(name, fn)`): "open", "welcome" (the Welcome; a spectator's is the room's
 * description, entity 0), "spectating" (v6: {welcome, follow, delayMs, recording}), "event"
 * (each GameEvent, in seq order, with `tick` and `kindName`), "update" (the Update), "pong"
 * ({rttMs, serverTick}), "desync" ({error}), "close" ({code, reason, wasClean, serverError,
 * willReconnect, retryInMs, resumeRefused, movedTo}), "moved" ({url}: the room moved to
 * another process, protocol v5; the client resumes, or spectates, there by itself), "error"
 * ({error}), "state" (the new state).
 */
export class TickstreamClient {
  /**
   * @param {object} options see docs/WEB_CLIENT.md; `url` is required.
   */
  constructor(options) {
    if (!options || typeof options.url !== "string") throw new TypeError("options.url is required");
    const o = options;
    this.options = {
      url: o.url,
      room: o.room ?? "lobby",
      interpolationDelayMs: o.interpolationDelayMs ?? "auto",
      maxExtrapolationMs: o.maxExtrapolationMs ?? 150,
      playerSpeed: o.playerSpeed,
      predict: o.predict ?? "auto",
      maxStep: o.maxStep ?? defaultSpeed,
      maxBufferedAmount: o.maxBufferedAmount ?? 64,
      pingIntervalMs: o.pingIntervalMs ?? 1000,
      reconnect: o.reconnect ?? true,
      reconnectInitialMs: o.reconnectInitialMs ?? 250,
      reconnectMaxMs: o.reconnectMaxMs ?? 10000,
      smoothingMs: o.smoothingMs ?? 80,
      snapDistance: o.snapDistance ?? 20,
      token: o.token,
      WebSocket: o.WebSocket ?? globalThis.WebSocket,
      autoResume: o.autoResume ?? true,
      maxInputRateHz: o.maxInputRateHz ?? 30,
      policyRetries: o.policyRetries ?? 2,
      now: o.now ?? performanceNow,
    };
    if (typeof this.options.now !== "function") throw new TypeError("options.now must be a function");
    const predict = this.options.predict;
    if (predict !== "auto" && predict !== false && typeof predict !== "function") {
      throw new TypeError('options.predict must be "auto", false or a step function');
    }
    if (!(this.options.maxInputRateHz > 0)) throw new TypeError("options.maxInputRateHz must be positive");
    if (!isValidRoomName(this.options.room)) throw new TypeError(`invalid room name ${JSON.stringify(this.options.room)}`);
    if (typeof this.options.WebSocket !== "function") throw new TypeError("no WebSocket implementation");
    /** The spectator's wish, `{ follow }`, or null for a player (the `spectate` option). */
    this.spectate = spectateOption(o.spectate);
    if (this.spectate && o.resume) throw new TypeError("a spectator has no player to resume");
    /** The entity a spectator's view follows (null: the whole room), as asked last. */
    this.followTarget = this.spectate ? this.spectate.follow : null;
    this.listeners = new Map();
    /** Where updates' per-entity moves are decoded, reused (no object per entity). */
    this.packed = new PackedMoves();
    /** What frame() returns, reused from frame to frame. */
    this.frameOut = { own: null, entities: [], renderTick: null };
    this.ownOut = { id: 0, kind: 0, x: 0, y: 0, fields: null };
    /** "idle" | "connecting" | "joining" | "playing" | "reconnecting" | "closed" */
    this.state = "idle";
    this.ws = null;
    this.attempts = 0;
    this.attempt = 0;
    this.reconnectTimer = null;
    this.reconnectAt = null;
    this.pumpTimer = null;
    this.lastClose = null;
    /** 1008 closes in a row: retried `policyRetries` times, then final. */
    this.policyCloses = 0;
    this.timeBaseWarned = false;
    this.desyncs = 0;
    this.reconnects = 0;
    this.sessions = 0;
    this.bytesIn = 0;
    this.rttMs = null;
    this.lastRttMs = null;
    this.rttSamples = [];
    this.desired = { dx: 0, dy: 0, buttons: 0 };
    this.updatesWindow = new RateWindow(2000);
    // The player, which outlives a connection when it is resumed: the entity, the resume
    // token of the newest Welcome, the last event seq delivered, the last input seq sent.
    this.player = null;
    this.resumeToken = null;
    this.lastEventSeq = 0;
    this.seq = 0;
    this.events = 0;
    this.resumes = 0;
    this.resumeRefusals = 0;
    /** Times the room moved to another process and the client followed (protocol v5). */
    this.moves = 0;
    this.resetSession();
    if (o.resume) this.adoptResumeState(o.resume);
  }

  resetSession() {
    this.welcome = null;
    this.replica = new Replica();
    this.clock = null;
    /** The render tick of the last frame drawn (sent with inputs over v5); null before one. */
    this.lastRenderTick = null;
    this.interp = null;
    this.predictor = null;
    this.sent = { dx: 0, dy: 0, buttons: 0 };
    /** The protocol version of this connection (2 or 3), once the server chose it. */
    this.protocol = null;
    /** Whether this connection opened with Resume rather than Join. */
    this.resuming = false;
    this.lastInputTick = null;
    this.lastInputAt = -Infinity;
    this.leadAdjust = 0;
    this.lastPingAt = -Infinity;
    this.updates = 0;
    this.sessionStart = null;
    this.serverError = null;
    /** The URL of a v5 Moved on this connection: where the room continues once it closes. */
    this.movedTo = null;
    /** A spectator's view, from Spectating: `{ follow, delayMs, recording }`; null before. */
    this.spectator = null;
    this.offset = { x: 0, y: 0 };
    this.lastFrameAt = null;
    this.updatesWindow.clear();
  }

  /** True for a spectator's session (the `spectate` option): it watches, it does not play. */
  get spectating() {
    return this.spectate !== null;
  }

  /**
   * A spectator's new view, from the next update: entity `entity`'s (what that player sees),
   * or with null the whole room. Sent at once while watching; before that (and on every
   * reconnect) it is what Spectate asks for. An entity not (or no longer) in the room shows
   * the whole room until it is. Throws a TypeError on a player's client. Returns the client.
   */
  follow(entity) {
    if (!this.spectating) throw new TypeError("follow() is for a spectator: pass the spectate option");
    const target = entity ?? null;
    if (target !== null && !(Number.isInteger(target) && target >= 0 && target <= 0xffffffff)) {
      throw new TypeError(`not an entity id: ${entity}`);
    }
    this.followTarget = target;
    if (this.spectator) this.spectator.follow = target;
    const ws = this.ws;
    // Before Spectating, onSpectating sends it; between connections, the next Spectate asks.
    if (this.spectator && this.welcome && ws && ws.readyState === 1) ws.send(encodeFollow(target));
    return this;
  }

  /** The client's clock (`options.now`, by default `performance.now()`), in milliseconds. */
  now() {
    return this.options.now();
  }

  /**
   * `t` if it is on the client's time base, else the client's clock: `frame(Date.now())`
   * would otherwise put the prediction decades ahead (it steps at most its history, 512
   * ticks, and then rubber-bands back).
   */
  time(t) {
    const clock = this.now();
    if (Number.isFinite(t) && Math.abs(t - clock) <= TIME_BASE_TOLERANCE_MS) return t;
    if (!this.timeBaseWarned) {
      this.timeBaseWarned = true;
      globalThis.console?.warn?.(
        `tickstream: time ${t} is not on the client's clock (${clock}): pass performance.now() or a requestAnimationFrame timestamp, not Date.now(); using the client's clock`,
      );
    }
    return clock;
  }

  /** Subscribes to an event; returns a function that unsubscribes. */
  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
    return () => this.listeners.get(name)?.delete(fn);
  }

  emit(name, value) {
    for (const fn of this.listeners.get(name) ?? []) {
      try {
        fn(value);
      } catch (e) {
        // A listener's bug must not break the session.
        globalThis.console?.error?.("tickstream listener failed:", e);
      }
    }
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.emit("state", s);
  }

  /**
   * What a later connection (even from another page load) needs to resume this player:
   * `{ room, token, lastEventSeq, entity, inputSeq }`, or null before the first Welcome. The
   * token is single-use and changes with every Welcome: save the newest (the demo keeps it in
   * sessionStorage on every "welcome" and "event", and on "pagehide"). `inputSeq` is the last
   * input seq sent: the resumed server drops every input at or below the one it applied last,
   * so the next page must continue the count, not start it over.
   */
  resumeState() {
    if (this.resumeToken === null) return null;
    return {
      room: this.options.room,
      token: this.resumeToken,
      lastEventSeq: this.lastEventSeq,
      entity: this.player,
      inputSeq: this.seq,
    };
  }

  adoptResumeState(state) {
    if (!state || typeof state.token !== "string" || state.token === "") throw new TypeError("a resume state needs a token");
    if (state.room !== undefined && state.room !== this.options.room) {
      throw new TypeError(`resume state for room ${JSON.stringify(state.room)}, not ${JSON.stringify(this.options.room)}`);
    }
    u32Check(state.lastEventSeq ?? 0, "lastEventSeq");
    u32Check(state.inputSeq ?? 0, "inputSeq");
    this.resumeToken = state.token;
    this.lastEventSeq = state.lastEventSeq ?? 0;
    this.player = state.entity ?? null;
    // A state saved without it (an older page) continues from the first Update's ack_seq.
    this.seq = state.inputSeq ?? 0;
  }

  /** Forgets the player: the next connection joins afresh. */
  forgetPlayer() {
    this.player = null;
    this.resumeToken = null;
    this.lastEventSeq = 0;
    this.seq = 0;
  }

  /**
   * Takes back the player now, over a new connection that sends Resume (PROTOCOL.md §3.8):
   * with `state` (from `resumeState()`, for example saved before a page reload) or with what
   * this client holds. A connection still open is dropped first (its entity stays for the
   * server's grace period). Without a token it joins instead. If the server refuses (4005),
   * the client joins afresh. Returns the client.
   */
  resume(state) {
    if (state) this.adoptResumeState(state);
    this.dropConnection();
    return this.connect();
  }

  /**
   * Closes the connection but keeps the player: the server holds its entity for the grace
   * period (20 s by default) and `resume()` — in this page, or in the next one with a saved
   * `resumeState()` — takes it back. For a page about to reload or go to the background;
   * `close()` is for leaving. No reconnect until `resume()` or `connect()`.
   */
  suspend(reason = "suspended") {
    const ws = this.ws;
    this.dropConnection(reason);
    clearInterval(this.pumpTimer);
    this.pumpTimer = null;
    if (ws) {
      this.lastClose = {
        code: CloseCode.SUSPEND,
        reason,
        wasClean: true,
        serverError: null,
        willReconnect: false,
        retryInMs: null,
        resumeRefused: false,
        movedTo: null,
      };
      this.emit("close", this.lastClose);
    }
  }

  /**
   * Ends the current connection, if any, with 4100 (the server keeps the player for a resume),
   * without ending the session or forgetting the player.
   */
  dropConnection(reason = "resuming") {
    this.attempt += 1; // a join token still on its way is not used
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.reconnectAt = null;
    const ws = this.ws;
    this.ws = null;
    if (ws && (ws.readyState === 0 || ws.readyState === 1)) {
      ws.onclose = null;
      ws.onmessage = null;
      closeSocket(ws, CloseCode.SUSPEND, reason);
    }
    this.setState("idle");
  }

  /** Opens the connection (and keeps reconnecting until close()). Returns the client. */
  connect() {
    if (this.state === "connecting" || this.state === "joining" || this.state === "playing") return this;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.reconnectAt = null;
    this.resetSession();
    this.setState("connecting");
    if (this.pumpTimer === null) {
      // Inputs, pings and prediction keep running when nothing renders (a hidden tab).
      this.pumpTimer = setInterval(() => this.pump(), 10);
    }
    const attempt = ++this.attempt;
    const token = this.options.token;
    if (typeof token !== "function") {
      this.open(token);
      return this;
    }
    // A fresh join token per connection: the server admits each token once.
    let pending;
    try {
      pending = Promise.resolve(token());
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (t) => attempt === this.attempt && this.state === "connecting" && this.open(t),
      (error) => attempt === this.attempt && this.state === "connecting" && this.openFailed(error),
    );
    return this;
  }

  open(token) {
    let ws;
    try {
      let url = this.options.url;
      if (typeof token === "string" && token !== "") {
        const u = new URL(url);
        u.searchParams.set("token", token);
        url = u.href;
      }
      ws = new this.options.WebSocket(url, [...SUBPROTOCOLS]);
    } catch (error) {
      this.openFailed(error);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => this.onOpen(ws);
    ws.onmessage = (ev) => this.onMessage(ws, ev.data);
    ws.onclose = (ev) => this.onClosed(ws, ev);
    ws.onerror = () => {}; // a close event follows with the code
  }

  openFailed(error) {
    this.emit("error", { error });
    this.ws = null;
    this.onClosed(null, { code: CloseCode.ABNORMAL, reason: String(error?.message ?? error), wasClean: false });
  }

  /** Closes the session for good (code 1000); no reconnect, and the player is not resumed. */
  close(reason = "client closing") {
    this.forgetPlayer();
    this.attempt += 1; // a join token still on its way is not used
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.reconnectAt = null;
    clearInterval(this.pumpTimer);
    this.pumpTimer = null;
    const ws = this.ws;
    this.ws = null;
    this.setState("closed");
    if (ws && (ws.readyState === 0 || ws.readyState === 1)) {
      ws.onclose = null;
      ws.onmessage = null;
      closeSocket(ws, CloseCode.NORMAL, reason);
      this.lastClose = {
        code: CloseCode.NORMAL,
        reason,
        wasClean: true,
        serverError: null,
        willReconnect: false,
        retryInMs: null,
        resumeRefused: false,
        movedTo: null,
      };
      this.emit("close", this.lastClose);
    }
  }

  /**
   * Sets the player's intent: a direction (each component clamped into [-1, 1]) and buttons.
   * It is sent at the next chance: at most once per tick, and only while the socket's
   * bufferedAmount is low; until then a newer call replaces it, so nothing stale queues up.
   */
  setInput(dx, dy, buttons = 0) {
    if (this.spectating) throw new TypeError("a spectator sends no input (the spectate option is set)");
    const clamp = (v) => (Number.isFinite(v) ? Math.min(1, Math.max(-1, v)) : 0);
    this.desired = { dx: Math.fround(clamp(dx)), dy: Math.fround(clamp(dy)), buttons: buttons >>> 0 };
    this.pump();
  }

  onOpen(ws) {
    if (ws !== this.ws) return;
    const version = VERSION_OF.get(ws.protocol);
    if (version === undefined) {
      this.fail(ws, `server chose subprotocol ${JSON.stringify(ws.protocol)}, not one of ${SUBPROTOCOLS.join(", ")}`, false);
      return;
    }
    this.protocol = version;
    if (this.spectating && version < SPECTATOR_VERSION) {
      // Another try would reach the same server: a spectator needs v6.
      this.fail(ws, `the server speaks protocol ${version}; spectating needs ${SPECTATOR_VERSION}`, false);
      return;
    }
    this.setState("joining");
    this.emit("open", undefined);
    if (this.spectating) {
      this.resuming = false;
      ws.send(encodeSpectate(this.options.room, this.followTarget));
      return;
    }
    this.resuming = this.options.autoResume !== false && this.resumeToken !== null;
    ws.send(this.resuming ? encodeResume(this.options.room, this.resumeToken, this.lastEventSeq) : encodeJoin(this.options.room));
  }

  onMessage(ws, data) {
    if (ws !== this.ws) return;
    const t = this.now();
    let msg;
    try {
      msg = decodeServerMsg(data, this.packed);
    } catch (error) {
      this.fail(ws, `malformed message: ${error.message}`, true);
      return;
    }
    this.bytesIn += data.byteLength ?? 0;
    switch (msg.type) {
      case "Welcome":
        if (this.spectating) {
          this.fail(ws, "a Welcome to a spectator", false);
          return;
        }
        this.onWelcome(ws, msg, t);
        break;
      case "Spectating":
        this.onSpectating(ws, msg, t);
        break;
      case "Update":
      case "Update3":
        if ((msg.type === "Update3") !== (this.protocol >= 3)) {
          this.fail(ws, `${msg.type} on a version ${this.protocol} connection`, true);
          return;
        }
        this.onUpdate(ws, msg, t, data.byteLength ?? 0);
        break;
      case "Pong": {
        const rtt = (Math.floor(t * 1000) - msg.clientTime) / 1000;
        if (rtt >= 0 && rtt < 60000) {
          // The median of the last five: steady, and one slow answer (a busy page, a
          // retransmission) does not linger.
          this.lastRttMs = rtt;
          this.rttSamples.push(rtt);
          if (this.rttSamples.length > 5) this.rttSamples.shift();
          const sorted = [...this.rttSamples].sort((a, b) => a - b);
          this.rttMs = sorted[Math.floor(sorted.length / 2)];
          this.emit("pong", { rttMs: rtt, serverTick: msg.serverTick });
        }
        break;
      }
      case "Error":
        this.serverError = { code: msg.code, reason: msg.reason };
        break;
      case "Moved":
        if (this.protocol < 5 || !/^wss?:\/\/\S+$/.test(msg.url)) {
          this.fail(ws, `a Moved to ${JSON.stringify(msg.url)} on a version ${this.protocol} connection`, true);
          return;
        }
        this.movedTo = msg.url;
        break;
    }
  }

  onWelcome(ws, w, t) {
    if (this.welcome) {
      this.fail(ws, "second Welcome", true);
      return;
    }
    if (w.protocol !== this.protocol) {
      this.fail(ws, `server speaks protocol ${w.protocol} on a version ${this.protocol} connection`, false);
      return;
    }
    if ((w.moveRule !== null) !== this.protocol >= 4) {
      this.fail(ws, `a ${w.moveRule ? "v4" : "v2/v3"} Welcome on a version ${this.protocol} connection`, false);
      return;
    }
    const invalid = welcomeProblem(w);
    if (invalid) {
      // A server bug or another server: retrying would get the same Welcome.
      this.fail(ws, `invalid Welcome: ${invalid}`, false);
      return;
    }
    const resumed = this.resuming && w.resumed && w.entity === this.player;
    if (resumed) {
      this.resumes += 1;
      // The server may still hold an input this client no longer wants: send the current
      // one again, with the next seq (seqs continue across a resume).
      this.sent = { dx: Number.NaN, dy: Number.NaN, buttons: 0 };
    } else {
      // A new player: inputs and events count from 1 again.
      this.seq = 0;
      this.lastEventSeq = 0;
    }
    this.player = w.entity;
    this.resumeToken = w.resumeToken;
    this.welcome = w;
    this.sessionStart = t;
    const perGame = (v) => (typeof v === "function" ? v(w) : v);
    this.clock = new ServerClock(w.tickRateHz, this.clockOptions());
    this.lastRenderTick = null;
    this.interp = new Interpolator(this.interpolatorOptions(w, perGame(this.options.maxStep)));
    this.predictor = new Predictor(predictorOptions(w, this.options.predict, this.options.playerSpeed));
    this.sessions += 1;
    this.setState("playing");
    this.emit("welcome", w);
    this.ping(t);
  }

  /** v6: the answer to Spectate; the view's updates follow. */
  onSpectating(ws, msg, t) {
    if (!this.spectating || this.protocol < SPECTATOR_VERSION) {
      this.fail(ws, `a Spectating to a player on a version ${this.protocol} connection`, false);
      return;
    }
    if (this.welcome) {
      this.fail(ws, "second Spectating", true);
      return;
    }
    const w = msg.welcome;
    if (w.protocol !== this.protocol) {
      this.fail(ws, `server speaks protocol ${w.protocol} on a version ${this.protocol} connection`, false);
      return;
    }
    const invalid = welcomeProblem(w);
    if (invalid) {
      this.fail(ws, `invalid Spectating: ${invalid}`, false);
      return;
    }
    // Every Spectating starts a fresh view: its events count from 1, nothing is resumed.
    this.seq = 0;
    this.lastEventSeq = 0;
    this.player = null;
    this.resumeToken = null;
    this.welcome = w;
    this.spectator = { follow: msg.follow, delayMs: msg.delayMs, recording: msg.recording };
    this.sessionStart = t;
    const perGame = (v) => (typeof v === "function" ? v(w) : v);
    this.clock = new ServerClock(w.tickRateHz, this.clockOptions());
    this.lastRenderTick = null;
    this.interp = new Interpolator(this.interpolatorOptions(w, perGame(this.options.maxStep)));
    this.predictor = null;
    this.sessions += 1;
    if (this.followTarget !== msg.follow) {
      // follow() was called while Spectate was on its way.
      this.spectator.follow = this.followTarget;
      ws.send(encodeFollow(this.followTarget));
    }
    this.setState("playing");
    this.emit("welcome", w);
    this.emit("spectating", { welcome: w, follow: msg.follow, delayMs: msg.delayMs, recording: msg.recording });
    this.ping(t);
  }

  onUpdate(ws, msg, t, size) {
    if (!this.welcome) {
      this.fail(ws, "Update before Welcome", true);
      return;
    }
    // Events come exactly once, in seq order, without gaps (across resumes too). A gap or a
    // repeat ends the connection before anything of this update is used; the resume that
    // follows asks for every event after the last one delivered.
    let expected = this.lastEventSeq + 1;
    for (const e of msg.events) {
      if (e.seq !== expected) {
        this.fail(ws, `event seq ${e.seq} where ${expected} was due`, true);
        return;
      }
      expected += 1;
    }
    // A v3 update comes out of the replica as the equivalent v2 Update: one shape from here on.
    let u = msg;
    // The per-entity changes as objects only for the application's "update" listeners.
    const listened = (this.listeners.get("update")?.size ?? 0) > 0;
    try {
      if (msg.type === "Update3") u = this.replica.apply3(msg, listened);
      else {
        this.replica.apply(msg);
        if (msg.delta.changes === null) msg.delta.changes = listened ? movedChanges(this.replica.moved) : null;
      }
    } catch (error) {
      this.desyncs += 1;
      this.emit("desync", { error });
      this.fail(ws, error.message, true);
      return;
    }
    this.updates += 1;
    this.updatesWindow.add(t, size);
    if (this.spectating) {
      // Nothing to predict: the view is only recorded for interpolation.
      this.clock.observe(u.tick, t);
      this.interp.record(u.tick, u.delta, this.replica);
      this.deliverEvents(u);
      this.pump(t);
      return;
    }
    if (u.ackSeq > this.seq) {
      // The server applied a seq this client never sent on this page: a resume from a state
      // that did not carry the input seq. Inputs at or below it would be dropped, so continue
      // after it and send the current input again.
      this.seq = u.ackSeq;
      this.sent = { dx: Number.NaN, dy: Number.NaN, buttons: 0 };
      this.lastInputTick = null;
    }
    // Bring the prediction to now before the clock moves, so that the correction below
    // compares positions at the same tick.
    const tickBefore = this.localTick(t);
    if (tickBefore !== null) this.predictor.advanceTo(tickBefore);
    this.clock.observe(u.tick, t);
    this.interp.record(u.tick, u.delta, this.replica);
    const me = this.replica.get(this.welcome.entity);
    if (me) {
      const before = this.predictor.x === null ? null : { x: this.predictor.x, y: this.predictor.y };
      const feedback = this.predictor.reconcile(u.tick, u.ackSeq, me.x / GRID_SCALE, me.y / GRID_SCALE);
      this.leadAdjust = Math.min(8, Math.max(-4, this.leadAdjust + feedback * 0.25));
      this.predictor.advanceTo(this.localTick(t));
      if (before) {
        // Show the correction over a few frames; snap when it is large.
        const ox = this.offset.x + before.x - this.predictor.x;
        const oy = this.offset.y + before.y - this.predictor.y;
        const snap = Math.hypot(ox, oy) > this.options.snapDistance;
        this.offset.x = snap ? 0 : ox;
        this.offset.y = snap ? 0 : oy;
      }
    }
    this.deliverEvents(u);
    this.pump(t);
  }

  /** Hands an applied Update's events (checked to be in seq order) and itself to listeners. */
  deliverEvents(u) {
    const kinds = this.welcome.eventKinds;
    for (const e of u.events) {
      this.lastEventSeq = e.seq;
      this.events += 1;
      this.emit("event", { ...e, tick: u.tick, kindName: kinds[e.kind] ?? null });
    }
    this.emit("update", u);
  }

  /**
   * Ends a connection on the client's side. With `retry`, closes with 4100 so that the server
   * keeps the player, and reconnects with a resume; without, closes with 1000 (the player
   * leaves) for good.
   */
  fail(ws, reason, retry) {
    this.emit("error", { error: new ProtocolError(reason) });
    ws.onclose = null;
    ws.onmessage = null;
    const code = retry ? CloseCode.SUSPEND : CloseCode.NORMAL;
    closeSocket(ws, code, reason);
    this.onClosed(ws, { code, reason, wasClean: true }, retry);
  }

  onClosed(ws, ev, retry = true) {
    if (ws !== this.ws) return;
    this.ws = null;
    const t = this.now();
    const code = ev.code ?? CloseCode.ABNORMAL;
    // A session that played for a while starts the backoff over.
    if (this.sessionStart !== null && t - this.sessionStart > 10000) this.attempts = 0;
    // The room moved (v5): follow it at once, to the new URL, resuming the same player.
    const movedTo = retry ? this.movedTo : null;
    this.movedTo = null;
    if (movedTo !== null && this.options.reconnect !== false) {
      this.options.url = movedTo;
      this.attempts = 0;
      this.reconnects += 1;
      this.moves += 1;
      this.reconnectAt = t;
      this.reconnectTimer = setTimeout(() => this.connect(), 0);
      this.setState("reconnecting");
      this.emit("moved", { url: movedTo });
      this.lastClose = {
        code,
        reason: ev.reason || "room moved",
        wasClean: !!ev.wasClean,
        serverError: this.serverError,
        willReconnect: true,
        retryInMs: 0,
        resumeRefused: false,
        movedTo,
      };
      this.emit("close", this.lastClose);
      return;
    }
    // A refused resume is not retried: the next connection joins afresh as a new player.
    const resumeRefused = this.resuming && code === CloseCode.RESUME_REFUSED;
    if (resumeRefused) {
      this.resumeRefusals += 1;
      this.forgetPlayer();
    }
    // 1008 is policy: over the rate limit, or a join token refused. The same static token is
    // refused again; other causes are retried a few times in a row, then the session ends.
    // A spectator's view ended by the server for good (1000: the recording ended): watching
    // again would replay it or find no room.
    const spectatorEnded = this.spectating && code === CloseCode.NORMAL && !!ev.wasClean;
    let policyFinal = false;
    if (code === CloseCode.POLICY) {
      this.policyCloses += 1;
      const staticToken = typeof this.options.token === "string" && this.options.token !== "";
      policyFinal = this.policyCloses > this.options.policyRetries || (staticToken && !this.welcome);
    } else {
      this.policyCloses = 0;
    }
    const willReconnect =
      retry && this.options.reconnect !== false && !FINAL_CODES.has(code) && !policyFinal && !spectatorEnded;
    let retryInMs = null;
    if (willReconnect) {
      const base = Math.min(this.options.reconnectMaxMs, this.options.reconnectInitialMs * 2 ** this.attempts);
      retryInMs = Math.round(base * (0.5 + Math.random() * 0.5));
      this.attempts += 1;
      this.reconnects += 1;
      this.reconnectAt = t + retryInMs;
      this.reconnectTimer = setTimeout(() => this.connect(), retryInMs);
      this.setState("reconnecting");
    } else {
      clearInterval(this.pumpTimer);
      this.pumpTimer = null;
      this.setState("closed");
    }
    this.lastClose = {
      code,
      reason: ev.reason || this.serverError?.reason || "",
      wasClean: !!ev.wasClean,
      serverError: this.serverError,
      willReconnect,
      retryInMs,
      resumeRefused,
      movedTo: null,
    };
    this.emit("close", this.lastClose);
  }

  /** The local tick clock: the tick at which an input sent now is expected to be applied. */
  localTick(t) {
    const arriving = this.clock?.tickAt(t);
    if (arriving === null || arriving === undefined) return null;
    const hz = this.welcome.tickRateHz;
    const rttTicks = ((this.rttMs ?? 0) * hz) / 1000;
    const estimate = Math.floor(arriving + rttTicks + 1 + this.leadAdjust);
    // The newest Update already left the server: an input sent now applies after it at best.
    return this.replica.tick === null ? estimate : Math.max(estimate, this.replica.tick + 1);
  }

  ping(t) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return;
    this.lastPingAt = t;
    ws.send(encodePing(Math.floor(t * 1000)));
  }

  /** Advances prediction, sends the pending input and pings. Safe to call at any time. */
  pump(t = this.now()) {
    t = this.time(t);
    const ws = this.ws;
    if (!ws || ws.readyState !== 1 || this.state !== "playing" || !this.welcome) return;
    // A spectator has no prediction and sends no input: only pings.
    const tick = this.predictor ? this.localTick(t) : null;
    if (tick !== null) {
      const d = this.desired;
      const s = this.sent;
      const changed = d.dx !== s.dx || d.dy !== s.dy || d.buttons !== s.buttons;
      if (
        changed &&
        (this.lastInputTick === null || tick > this.lastInputTick) &&
        t - this.lastInputAt >= 1000 / this.options.maxInputRateHz &&
        ws.bufferedAmount <= this.options.maxBufferedAmount
      ) {
        this.seq += 1;
        // From v5 on the input says which tick the player was looking at (the last frame's
        // render tick), so that the server can judge it against what was on screen.
        const view = this.protocol >= 5 && this.lastRenderTick !== null ? viewTime(this.lastRenderTick) : null;
        ws.send(
          view
            ? encodeInput5(this.seq, d.dx, d.dy, d.buttons, view.viewTick, view.viewFrac)
            : encodeInput(this.seq, d.dx, d.dy, d.buttons),
        );
        this.sent = d;
        this.lastInputTick = tick;
        this.lastInputAt = t;
        // In force from the next tick the prediction steps.
        this.predictor.noteInput(this.seq, d.dx, d.dy, d.buttons);
      }
      this.predictor.advanceTo(tick);
    }
    if (t - this.lastPingAt >= this.options.pingIntervalMs && ws.bufferedAmount <= this.options.maxBufferedAmount) {
      this.ping(t);
    }
  }

  /** The render delay's minimum in milliseconds: `interpolationDelayMs`, or 0 for "auto". */
  minDelayMs() {
    const d = this.options.interpolationDelayMs;
    return typeof d === "number" && d >= 0 ? d : 0;
  }

  /** The ServerClock's options, from the client's. */
  clockOptions() {
    return { minDelayMs: this.minDelayMs(), maxExtrapolationMs: this.options.maxExtrapolationMs };
  }

  /**
   * The Interpolator's options for the game `w`: `maxStep` (the option, resolved for the
   * game) is a number for every kind, or an object by kind name whose `default` (else the
   * game's player speed) covers the kinds it does not name.
   */
  interpolatorOptions(w, maxStep) {
    let step = maxStep;
    let byKind = null;
    if (maxStep !== null && typeof maxStep === "object") {
      step = typeof maxStep.default === "number" ? maxStep.default : defaultSpeed(w);
      byKind = w.kinds.map((name) => (typeof maxStep[name] === "number" ? maxStep[name] : 0));
    }
    return {
      maxStep: step,
      maxStepByKind: byKind,
      maxExtrapolationTicks: (this.options.maxExtrapolationMs * w.tickRateHz) / 1000,
      fields: w.fields.length > 0,
    };
  }

  /**
   * What to draw at time `t`: the own entity at its predicted position (with recent
   * corrections blended in) and every other entity interpolated
   * `interpolationDelayMs` in the past. Positions in world units. The frame and the objects in
   * it are reused by the next call (nothing is allocated per entity): draw from it, copy what
   * you keep.
   */
  frame(t = this.now()) {
    t = this.time(t);
    this.pump(t);
    const out = this.frameOut;
    out.own = null;
    out.renderTick = null;
    // Shortened only at the end: `length = 0` would free the array's storage every frame.
    let count = 0;
    if (!this.welcome || !this.clock || this.replica.tick === null) {
      out.entities.length = 0;
      return out;
    }
    const dtMs = this.lastFrameAt === null ? 0 : Math.max(0, t - this.lastFrameAt);
    this.lastFrameAt = t;
    const decay = Math.exp(-dtMs / this.options.smoothingMs);
    this.offset.x *= decay;
    this.offset.y *= decay;
    // Remote entities: at the clock's render tick, which adapts its delay to the jitter and
    // never steps (PROTOCOL.md §13.2).
    const renderTick = this.clock.renderTickAt(t);
    out.renderTick = renderTick;
    this.lastRenderTick = renderTick;
    const own = this.welcome.entity;
    // A spectator's view has no own entity: every entity is interpolated (-1 is no id).
    count = this.interp.render(renderTick, t, this.replica, this.predictor ? own : -1, out.entities);
    if (out.entities.length !== count) out.entities.length = count;
    this.interp.prune(renderTick - 1);
    if (this.predictor && this.predictor.x !== null) {
      const me = this.replica.get(own);
      const o = this.ownOut;
      o.id = own;
      o.kind = me ? me.kind : 0;
      o.x = this.predictor.x + this.offset.x;
      o.y = this.predictor.y + this.offset.y;
      o.fields = me ? me.fields : null;
      out.own = o;
    }
    return out;
  }

  /**
   * An entity of the replica, in world units (the server's latest, not interpolated), with its
   * raw fields and, once the Welcome named them, its kind's name and its fields scaled by name.
   */
  entity(id) {
    const e = this.replica.get(id);
    if (!e) return null;
    const w = this.welcome;
    return {
      id: e.id,
      kind: e.kind,
      kindName: w?.kinds[e.kind] ?? null,
      x: e.x / GRID_SCALE,
      y: e.y / GRID_SCALE,
      fields: [...e.fields],
      values: w ? namedFields(e.fields, w.fields) : {},
    };
  }

  /**
   * Field `field` (its index, or its name in `Welcome.fields`) of entity `id`, scaled to the
   * game's units; null when the entity is not in view or the game has no such field.
   */
  field(id, field) {
    const e = this.replica.get(id);
    const specs = this.welcome?.fields ?? [];
    const i = typeof field === "number" ? field : specs.findIndex((f) => f.name === field);
    if (!e || !Number.isInteger(i) || i < 0 || i >= MAX_FIELDS) return null;
    return scaleField(e.fields[i], specs[i]);
  }

  /** Numbers for an overlay, tests and the curious. */
  stats() {
    const t = this.now();
    this.pump(t); // so that the prediction is stepped up to now
    const [updateHz, bytesPerSec] = this.updatesWindow.rates(t);
    const w = this.welcome;
    const me = w && !this.spectating ? this.entity(w.entity) : null;
    const p = this.predictor;
    // The reference games call kind 0 "player"; a game may name it elsewhere.
    const named = w ? w.kinds.indexOf("player") : -1;
    const playerKind = named >= 0 ? named : 0;
    return {
      connected: this.state === "playing",
      state: this.state,
      room: this.options.room,
      url: this.options.url,
      entity: w && !this.spectating ? w.entity : null,
      tick: this.replica.tick ?? 0,
      ackSeq: this.replica.ackSeq,
      inputSeq: this.seq,
      entities: this.replica.size,
      players: [...this.replica.entities.values()].filter((e) => e.kind === playerKind).length,
      game: w ? w.game : null,
      protocol: this.protocol,
      events: this.events,
      lastEventSeq: this.lastEventSeq,
      resumes: this.resumes,
      resumeRefusals: this.resumeRefusals,
      moves: this.moves,
      spectator: this.spectator ? { ...this.spectator } : null,
      updateHz,
      kbpsIn: bytesPerSec / 1000,
      rttMs: this.rttMs,
      lastRttMs: this.lastRttMs,
      updates: this.updates,
      bytesIn: this.bytesIn,
      desyncs: this.desyncs,
      reconnects: this.reconnects,
      sessions: this.sessions,
      interpolationDelayMs: this.clock ? this.clock.delayMs : this.minDelayMs(),
      jitterMs: this.clock ? this.clock.jitterMs : 0,
      leadTicks: p && this.clock && this.replica.tick !== null ? (this.localTick(t) ?? 0) - this.replica.tick : null,
      world: w ? { width: w.worldWidth, height: w.worldHeight, viewRadius: w.viewRadius, tickRateHz: w.tickRateHz } : null,
      server: me ? { x: me.x, y: me.y } : null,
      predicted: p && p.x !== null ? { x: p.x, y: p.y } : null,
      predictedTick: p ? p.tick : null,
      lastClose: this.lastClose,
      reconnectInMs: this.reconnectAt === null ? null : Math.max(0, this.reconnectAt - t),
    };
  }
}
