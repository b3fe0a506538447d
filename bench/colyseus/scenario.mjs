// What the Colyseus server and its bots share of the reference scenario
// (../../../shared/REFERENCE-SCENARIO.md).

// mulberry32, returning a float in [0, 1), exactly as the scenario defines it.
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
