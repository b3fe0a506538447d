// The client's decode, replica, interpolation and frame path allocates (almost) nothing per
// entity in steady state (tests/js/bench/alloc.mjs measures it; BENCHMARKS.md has the
// figures). The bounds are generous, a fraction of what the path allocated before (about
// 350 KiB per update and 260 KiB per frame at 1,000 entities): they catch a per-entity object
// coming back, not noise.

import { test } from "node:test";
import assert from "node:assert/strict";

import { measure } from "./bench/alloc.mjs";

test("at 1,000 entities a v3 update allocates under 64 KiB and two frames under 32 KiB", () => {
  const r = measure({ version: 3, n: 1000, updates: 100, warmup: 100 });
  assert.ok(r.batches >= 3, `enough batches without a collection (${r.batches})`);
  assert.ok(r.bytesPerUpdate < 64 * 1024, `${(r.bytesPerUpdate / 1024).toFixed(1)} KiB per update`);
  assert.ok(r.bytesPer2Frames < 32 * 1024, `${(r.bytesPer2Frames / 1024).toFixed(1)} KiB per two frames`);
});

test("at 1,000 entities a v2 update allocates under 200 KiB and two frames under 32 KiB", () => {
  const r = measure({ version: 2, n: 1000, updates: 100, warmup: 100 });
  assert.ok(r.batches >= 3, `enough batches without a collection (${r.batches})`);
  assert.ok(r.bytesPerUpdate < 200 * 1024, `${(r.bytesPerUpdate / 1024).toFixed(1)} KiB per update`);
  assert.ok(r.bytesPer2Frames < 32 * 1024, `${(r.bytesPer2Frames / 1024).toFixed(1)} KiB per two frames`);
});
