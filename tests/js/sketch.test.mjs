// docs/PROTOCOL.md (versions 3 to 6) and docs/PROTOCOL-v2.md (the version-2 document, kept while
// v2 is served) are meant to be enough to write a client from. This test holds them to that: it
// runs each document's own JavaScript (the checksum code of §9 and the sketch of §12; for
// PROTOCOL.md also the code blocks of §16, §17 and §18) against the document's own test vectors
// (§10), and checks that the §10.1 table is exactly shared/tests/golden/vectors.txt. For
// PROTOCOL.md it also checks that the sketch's version-3 part decodes
// shared/tests/golden/vectors-v3.txt as the library does and replays it with every checksum,
// that the §15.2 prediction examples hold for the sketch's `predict`, that the sketch decodes
// every server vector of vectors-v4.txt, vectors-v5.txt and vectors-v6.txt as the library does,
// and that it encodes every client vector of vectors-v5.txt and vectors-v6.txt byte for byte.
// Neither the prose nor the code may drift from the bytes.
//
// Run: node --test tests/js/   (the Rust test `tests/tests/web.rs` runs it in `cargo test`)

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  Replica as LibraryReplica,
  decodeClientMsg as libraryDecodeClient,
  decodeServerMsg as libraryDecode,
  predict as libraryPredict,
  viewTime as libraryViewTime,
} from "../../assets/web/tickstream.js";

const DOCS = ["PROTOCOL.md", "PROTOCOL-v2.md"];
const read = (name) => readFileSync(new URL(`../../docs/${name}`, import.meta.url), "utf8");
let doc = "";
let docName = "";
const hex = (bytes) => Buffer.from(bytes).toString("hex");
const unhex = (s) => new Uint8Array(Buffer.from(s, "hex"));

/** The text of the section that starts with `## N.` (up to the next `## `). */
function section(n) {
  const start = doc.indexOf(`\n## ${n}. `);
  assert.ok(start >= 0, `${docName} has a section ${n}`);
  const end = doc.indexOf("\n## ", start + 1);
  return doc.slice(start, end < 0 ? doc.length : end);
}

/** The ```js blocks of a text. */
const jsBlocks = (text) => [...text.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);

/**
 * The document's code, compiled together: §9's checksum functions and §12's sketch, and for
 * PROTOCOL.md the blocks of §16 (v4), §17 (v5) and §18 (v6).
 */
function sketch() {
  const later = docName === "PROTOCOL.md" ? [16, 17, 18].flatMap((n) => jsBlocks(section(n))) : [];
  const code = [...jsBlocks(section(9)), ...jsBlocks(section(12)), ...later].join("\n");
  const names = ["fmix32", "entityHash", "viewChecksum", "decodeServerMsg", "encodeJoin", "encodeInput", "encodePing", "encodeResume", "Replica"];
  if (docName === "PROTOCOL.md") names.push("Replica3", "predict", "viewTime", "encodeInput5", "encodeSpectate", "encodeFollow");
  // eslint-disable-next-line no-new-func
  return new Function(`"use strict";\n${code}\nreturn { ${names.join(", ")} };`)();
}

/** name → hex of the golden vector file. */
function golden() {
  const text = readFileSync(new URL("../../shared/tests/golden/vectors.txt", import.meta.url), "utf8");
  return new Map(
    text
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter(([name]) => name),
  );
}

/** The rows of the first Markdown table in `text` whose first cell matches, as cell arrays. */
function rows(text, firstCell) {
  return text
    .split("\n")
    .filter((l) => l.startsWith("| "))
    .map((l) => l.split(" | ").map((c) => c.replace(/^\| |\|$/g, "").trim()))
    .filter((cells) => firstCell.test(cells[0]));
}

const code = (cell) => cell.replace(/`/g, "");

/** The library's decoding without what the sketch leaves out (the form a change came in). */
function withoutForms(msg) {
  if (msg.type === "Welcome" && docName === "PROTOCOL-v2.md") {
    const { moveRule, ...v2 } = msg; // v4's, not in the v2 document
    return v2;
  }
  if (msg.type !== "Update") return msg;
  return { ...msg, delta: { ...msg.delta, changes: msg.delta.changes.map(({ form, ...c }) => c) } };
}

for (const file of DOCS) {
  const use = () => {
    doc = read(file);
    docName = file;
  };
  test(`${file}: the §10.1 table lists exactly the golden vectors`, () => {
    use();
    const table = new Map(rows(section(10), /^`(client|server)_/).map((c) => [code(c[0]), code(c[1])]));
    const file = golden();
    assert.deepEqual([...table.keys()].sort(), [...file.keys()].sort(), "the same vector names");
    for (const [name, h] of file) assert.equal(table.get(name), h, `${name}: the document's hex is the file's`);
  });

  test(`${file}: the document's code compiles and has the check values of §9`, () => {
    use();
    const s = sketch();
    assert.equal(s.fmix32(1), 0x514e28b7, "fmix32(1)");
    assert.equal(s.entityHash(7, 1, 100, 200, [0, 0, 0, 0, 0, 0, 0, 0]), 0xb9abd0bc, "hash without fields");
    assert.equal(s.entityHash(7, 1, 100, 200, [5, 0, 0, -1, 0, 0, 0, 0]), 0x6cfb17a4, "hash with fields");
  });

  test(`${file}: the sketch decodes every server vector as the library does, and encodes every client vector`, () => {
    use();
    const s = sketch();
    const file = golden();
    for (const [name, h] of file) {
      if (!name.startsWith("server_")) continue;
      assert.deepEqual(s.decodeServerMsg(unhex(h)), withoutForms(libraryDecode(unhex(h))), `${name} decodes`);
    }
    if (docName === "PROTOCOL.md") {
      const v4 = readFileSync(new URL("../../shared/tests/golden/vectors-v4.txt", import.meta.url), "utf8");
      for (const [name, h] of v4.split("\n").filter(Boolean).map((l) => l.trim().split(/\s+/))) {
        assert.deepEqual(s.decodeServerMsg(unhex(h)), libraryDecode(unhex(h)), `${name} decodes`);
      }
    }
    assert.equal(hex(s.encodeJoin("lobby")), file.get("client_join"), "the sketch's Join");
    assert.equal(hex(s.encodeInput(300, 1.0, -0.5, 1)), file.get("client_input"), "the sketch's Input");
    assert.equal(hex(s.encodePing(1000000)), file.get("client_ping"), "the sketch's Ping");
    assert.equal(hex(s.encodeResume("lobby", "00112233445566778899aabbccddeeff", 300)), file.get("client_resume"), "the sketch's Resume");
  });

  test(`${file}: the sketch's replica applies the §10.2 sequence with the documented checksums`, () => {
    use();
    const s = sketch();
    const sequence = rows(section(10), /^[1-9]$/).map((c) => ({ h: code(c[1]), decoded: c[2] }));
    assert.equal(sequence.length, 5, "five updates in §10.2");
    const replica = new s.Replica();
    for (const [i, { h, decoded }] of sequence.entries()) {
      const u = s.decodeServerMsg(unhex(h));
      const documented = /checksum (0x[0-9A-F]{8})/.exec(decoded);
      assert.ok(documented, `update ${i + 1} documents its checksum`);
      assert.equal(u.checksum, Number(documented[1]), `update ${i + 1}: the documented checksum is the one sent`);
      assert.doesNotThrow(() => replica.apply(u), `update ${i + 1} applies with its checksum verified`);
    }
    assert.deepEqual(
      [...replica.entities.values()].sort((a, b) => a.id - b.id).map((e) => [e.id, e.x, e.y, e.fields.join(",")]),
      [
        [0, 63680, 320, "0,0,0,0,0,0,0,0"],
        [7, 320, 640, "0,0,0,0,0,0,0,0"],
        [8, 640, 640, "5,0,0,0,0,0,0,0"],
        [500, 6720, 6720, "0,16384,0,0,0,0,0,0"],
      ],
      "the view the table says it ends with",
    );
    assert.throws(() => replica.apply({ ...s.decodeServerMsg(unhex(sequence[4].h)), tick: 7, checksum: 0 }), /checksum/, "a wrong checksum is caught");
  });

  test(`${file}: the sketch decodes the §10.3 edge vector as the library does`, () => {
    use();
    const s = sketch();
    const block = /### 10\.3[\s\S]*?```\n([0-9a-f]+)\n```/.exec(section(10));
    assert.ok(block, "§10.3 holds a hex block");
    const bytes = unhex(block[1]);
    assert.deepEqual(s.decodeServerMsg(bytes), withoutForms(libraryDecode(bytes)), "the edge vector decodes alike");
    assert.equal(libraryDecode(bytes).events[0].text, "é€", "including the multi-byte text");
  });

  test(`${file}: the byte-by-byte tables of §11 add up to their vectors`, () => {
    use();
    // Each walkthrough's offsets must start at 0, grow by the bytes of the row before, and end
    // at the vector's length; a row with "+ N bytes" or "(N bytes)" counts N.
    const file = golden();
    const walk = section(11);
    for (const name of ["client_input", "server_update_delta", "server_update_fields_events", "client_resume", "server_welcome"]) {
      const start = walk.indexOf(`### `, walk.indexOf(`\`${name}\``) - 12);
      const end = walk.indexOf("\n### ", start + 1);
      const table = rows(walk.slice(start, end), /^\d+$/);
      assert.ok(table.length > 3, `${name}: a walkthrough table`);
      let offset = 0;
      for (const [at, bytes] of table) {
        assert.equal(Number(at), offset, `${name}: row at offset ${at} follows the row before`);
        const extra = /\+ (\d+) bytes|\((\d+) bytes\)/.exec(bytes);
        const shown = (bytes.match(/`([0-9a-f ]+?)`/g) ?? []).join(" ").replace(/[` ]/g, "");
        offset += extra ? shown.length / 2 + Number(extra[1] ?? extra[2]) : shown.length / 2;
      }
      assert.equal(offset, file.get(name).length / 2, `${name}: the rows cover all ${file.get(name).length / 2} bytes`);
    }
  });
}

/** The v3 golden session: name → hex, in order. */
const goldenV3 = () => vectorFile("vectors-v3.txt");

test("PROTOCOL.md: the v3 sketch decodes the v3 vectors as the library does and replays them", () => {
  doc = read("PROTOCOL.md");
  docName = "PROTOCOL.md";
  const s = sketch();
  const replica = new s.Replica3();
  const library = new LibraryReplica();
  for (const [name, h] of goldenV3()) {
    const u = s.decodeServerMsg(unhex(h));
    assert.deepEqual(u, libraryDecode(unhex(h)), `${name} decodes as the library does`);
    assert.doesNotThrow(() => replica.apply3(u), `${name} applies with its checksum verified`);
    library.apply3(libraryDecode(unhex(h)));
    assert.equal(replica.tick, library.tick, `${name}: the tick`);
    assert.equal(replica.ackSeq, library.ackSeq, `${name}: the ack`);
    const view = (entities) => [...entities.values()].sort((a, b) => a.id - b.id).map((e) => [e.id, e.kind, e.x, e.y, e.fields.join(",")]);
    assert.deepEqual(view(replica.entities), view(library.entities), `${name}: the view`);
  }
  assert.equal(replica.tick, 18, "the session ends at tick 18");
  const last = s.decodeServerMsg(unhex(goldenV3()[5][1]));
  assert.throws(() => new s.Replica3().apply3({ ...last, tickGap: 1 }), /held count|checksum/, "out of step is caught");
});

test("PROTOCOL.md: the sketch's predict gives the §15.2 examples", () => {
  doc = read("PROTOCOL.md");
  docName = "PROTOCOL.md";
  const s = sketch();
  const text = section(15);
  const examples = [...text.matchAll(/`predict\((\d+), (\d+), (\d+), (\d+)\) = (\d+)`/g)];
  assert.ok(examples.length >= 6, `§15.2 gives examples (${examples.length})`);
  for (const [all, c, p, k, g, want] of examples) {
    assert.equal(s.predict(+c, +p, +k, +g), +want, all);
    assert.equal(libraryPredict(+c, +p, +k, +g), +want, `the library: ${all}`);
  }
  assert.equal(s.predict(1000, 0, 2 ** 32 - 1, 1), 1000 + 1000 * 65536, "ticks are capped");
});

/** A golden vector file of shared/tests/golden/ as [name, hex] pairs, in order. */
function vectorFile(name) {
  const text = readFileSync(new URL(`../../shared/tests/golden/${name}`, import.meta.url), "utf8");
  return text
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter(([n]) => n);
}

test("PROTOCOL.md: the v5 and v6 sketch decodes every server vector as the library does and encodes every client vector", () => {
  doc = read("PROTOCOL.md");
  docName = "PROTOCOL.md";
  const s = sketch();
  // The sketch's encoder of each client message the library decodes these vectors to.
  const encode = {
    Input5: (m) => s.encodeInput5(m.seq, m.dx, m.dy, m.buttons, m.viewTick, m.viewFrac),
    Spectate: (m) => s.encodeSpectate(m.room, m.follow),
    Follow: (m) => s.encodeFollow(m.entity),
  };
  const seen = { server: 0, client: 0 };
  for (const file of ["vectors-v5.txt", "vectors-v6.txt"]) {
    for (const [name, h] of vectorFile(file)) {
      if (name.startsWith("server_")) {
        assert.deepEqual(s.decodeServerMsg(unhex(h)), libraryDecode(unhex(h)), `${file} ${name} decodes as the library does`);
        seen.server++;
      } else {
        assert.ok(name.startsWith("client_"), `${file} ${name}: a client_ or server_ vector`);
        const m = libraryDecodeClient(unhex(h));
        assert.ok(encode[m.type], `${file} ${name}: the sketch encodes ${m.type}`);
        assert.equal(hex(encode[m.type](m)), h, `${file} ${name}: the sketch's ${m.type}`);
        seen.client++;
      }
    }
  }
  assert.deepEqual(seen, { server: 3, client: 6 }, "every vector of the two files was checked");
  // The defaults a client author calls them with.
  assert.equal(hex(s.encodeSpectate("duel-1")), vectorFile("vectors-v6.txt").find(([n]) => n === "client_spectate_room")[1], "Spectate without follow");
  const moved = s.decodeServerMsg(unhex(vectorFile("vectors-v5.txt").find(([n]) => n === "server_moved")[1]));
  assert.deepEqual(moved, { type: "Moved", url: "wss://b.example:7443/ws" }, "Moved and its URL");
  const spectating = s.decodeServerMsg(unhex(vectorFile("vectors-v6.txt").find(([n]) => n === "server_spectating")[1]));
  assert.deepEqual([spectating.follow, spectating.delayMs, spectating.recording, spectating.welcome.protocol], [7, 2000, false, 6], "Spectating's own fields");
});

test("PROTOCOL.md: the sketch's viewTime gives §17.1's view time as the library does", () => {
  doc = read("PROTOCOL.md");
  docName = "PROTOCOL.md";
  const s = sketch();
  assert.deepEqual(s.viewTime(1000.5), { viewTick: 1000, viewFrac: 128 }, "the client_input5 vector's time, tick 1000.5");
  for (const R of [0, 0.999, 1000.5, 7.999999, 70000, -3, -0.5, Number.NaN, Infinity, -Infinity, 2 ** 32 - 1.5, 1e12]) {
    assert.deepEqual(s.viewTime(R), libraryViewTime(R), `viewTime(${R})`);
  }
});

test("PROTOCOL.md: the v5 and v6 sketch refuses what §17 and §18 call malformed", () => {
  doc = read("PROTOCOL.md");
  docName = "PROTOCOL.md";
  const s = sketch();
  const moved = (url) => Uint8Array.from([6, url.length, ...Buffer.from(url)]);
  assert.throws(() => s.decodeServerMsg(moved("https://b.example/ws")), /ws:\/\//, "a Moved URL that is not ws:// or wss://");
  assert.deepEqual(s.decodeServerMsg(moved("ws://b:1/ws")), { type: "Moved", url: "ws://b:1/ws" }, "ws:// is fine");
  const h = vectorFile("vectors-v6.txt").find(([n]) => n === "server_spectating")[1];
  const badTag = h.replace(/0107fbd00700$/, "0207fbd00700");
  assert.notEqual(badTag, h, "the follow tag is where §18.6 says");
  assert.throws(() => s.decodeServerMsg(unhex(badTag)), /Option tag 2/, "an Option tag of 2");
  assert.throws(() => s.decodeServerMsg(unhex(h + "00")), /trailing/, "a byte after the Spectating");
  assert.throws(() => s.decodeServerMsg(unhex(h.slice(0, -2))), /truncated/, "a Spectating cut short");
  assert.throws(() => s.decodeServerMsg(unhex("08")), /unknown ServerMsg variant/, "variant 8");
});
