// What the Node tests of the client share: a WebSocket stand-in that plays the server, a
// Welcome, and builders of Updates. Not a test file itself (it does not end in .test.mjs).

import { TickstreamClient, decodeClientMsg, encodeServerMsg, viewChecksum } from "../../assets/web/tickstream.js";

/** A Welcome of the coins game for entity 7, as the fake server below sends it. */
export const welcome = Object.freeze({
  type: "Welcome",
  protocol: 2,
  entity: 7,
  tickRateHz: 30,
  tick: 1,
  worldWidth: 1000,
  worldHeight: 1000,
  viewRadius: 0,
  game: "coins",
  kinds: ["player", "coin"],
  fields: [
    { name: "score", scale: 1 },
    { name: "rotation", scale: Math.fround((2 * Math.PI) / 65536) },
  ],
  eventKinds: ["joined", "left", "collected"],
  resumeToken: "0123456789abcdef0123456789abcdef",
  resumed: false,
  moveRule: null, // a v2/v3 Welcome; v4's carries { kind, speed }
});

export const NO_FIELDS = [0, 0, 0, 0, 0, 0, 0, 0];
/** An entity in grid points. */
export const e = (id, x, y, kind = 1, fields = NO_FIELDS) => ({ id, kind, x, y, fields: [...fields] });
/** A v2 Update for `tick` whose checksum is that of `view`. */
export const upd = (tick, ackSeq, view, delta, events = []) => ({
  type: "Update",
  tick,
  ackSeq,
  checksum: viewChecksum(view),
  delta: { despawns: [], spawns: [], changes: [], fieldChanges: [], ...delta },
  events,
});

const utf8 = new TextEncoder();

/**
 * A WebSocket stand-in: records what the client sends, and lets the test play the server. Like
 * a browser's, `close()` throws for a reason over 123 UTF-8 bytes.
 */
export class FakeSocket {
  static all = [];
  constructor(url, protocol) {
    this.url = url;
    this.offered = protocol;
    this.protocol = "";
    this.readyState = 0;
    this.bufferedAmount = 0;
    this.sent = [];
    this.closedWith = null;
    FakeSocket.all.push(this);
  }
  send(bytes) {
    this.sent.push(decodeClientMsg(bytes));
  }
  close(code, reason) {
    if (reason !== undefined && utf8.encode(reason).length > 123) {
      throw new DOMException("The close reason must not be greater than 123 UTF-8 bytes.", "SyntaxError");
    }
    this.closedWith = { code, reason };
    this.readyState = 3;
  }
  // --- the server's side (a version-2 server unless told otherwise) ---
  open(protocol = "tickstream.v2") {
    this.readyState = 1;
    this.protocol = protocol;
    this.onopen?.({});
  }
  deliver(msg) {
    this.onmessage?.({ data: encodeServerMsg(msg).buffer });
  }
  serverClose(code, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason, wasClean: code !== 1006 });
  }
  inputs() {
    return this.sent.filter((m) => m.type === "Input");
  }
}

/** A client of room r1 on a fake socket, welcomed (as `w`) and holding its own entity. */
export function started(options = {}, w = welcome) {
  FakeSocket.all.length = 0;
  const client = new TickstreamClient({ url: "wss://example.test/ws", room: "r1", WebSocket: FakeSocket, reconnectInitialMs: 20, ...options });
  client.connect();
  const ws = FakeSocket.all[0];
  ws.open();
  ws.deliver(w);
  ws.deliver(upd(2, 0, [e(7, 6400, 6400, 0)], { spawns: [e(7, 6400, 6400, 0)] }));
  return { client, ws };
}
