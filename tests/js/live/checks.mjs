// What the live tests (run by tests/tests/web.rs against a real server) check with: a failed
// check throws `CheckFailed`, and waiting for a condition is bounded by `STEP_MS`.

/** Bounds one step on a loaded two-core machine; it measures nothing. */
export const STEP_MS = 15_000;

export class CheckFailed extends Error {}

export function check(ok, message) {
  if (!ok) throw new CheckFailed(message);
}

/** Polls `probe` until it returns something truthy (returned), failing after `STEP_MS`. */
export async function until(what, probe, intervalMs = 20) {
  const deadline = Date.now() + STEP_MS;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new CheckFailed(`timed out after ${STEP_MS / 1000} s waiting until ${what}`);
}
