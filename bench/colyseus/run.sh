#!/usr/bin/env bash
# One Colyseus 0.18.8 run on the reference scenario: server.mjs + bots.mjs over loopback.
#
#   bench/colyseus/run.sh VARIANT M [--pinned] [--check]
#
#   VARIANT   A (broadcast) or B (area of interest, 150 units)
#   M         number of bot clients
#   --pinned  server on CPU 0 (taskset -c 0), bots on CPU 1 (taskset -c 1); default: unpinned
#   --check   bots print sanity figures (entity counts, view checks) after the warm-up
#   env: WARMUP (s, default 10), WINDOW (s, default 20), PORT (default 2567), NODE (default node)
#
# Prints a markdown header and row, then a line `JSON {...}` with every figure. Server CPU is
# utime+stime of the server process (all its threads) from /proc/PID/stat, read when the bots
# start and end their window; RSS is VmRSS from /proc/PID/status at the window's end.
set -euo pipefail

usage() { echo "usage: $0 A|B M [--pinned] [--check]" >&2; exit 2; }
[ $# -ge 2 ] || usage
VARIANT=$1; M=$2; shift 2
case "$VARIANT" in A|B) ;; *) usage ;; esac
[[ "$M" =~ ^[1-9][0-9]*$ ]] || usage
PINNED=0; CHECK=0
for a in "$@"; do
  case "$a" in --pinned) PINNED=1 ;; --check) CHECK=1 ;; *) usage ;; esac
done
WARMUP=${WARMUP:-10}; WINDOW=${WINDOW:-20}; PORT=${PORT:-2567}; NODE=${NODE:-node}
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ ! -d "$DIR/node_modules" ]; then
  echo "run.sh: installing dependencies (npm ci)" >&2
  (cd "$DIR" && timeout 600 npm ci --no-audit --no-fund >&2)
fi

TMP=$(mktemp -d /tmp/colyseus-bench.XXXXXX)
SERVER_PID=""; BOTS_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  exec 3<&- || true
  for p in $BOTS_PID $SERVER_PID; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 30); do
    local alive=0
    for p in $BOTS_PID $SERVER_PID; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in $BOTS_PID $SERVER_PID; do kill -KILL "$p" 2>/dev/null || true; done
  if [ $rc != 0 ]; then
    echo "run.sh: failed (exit $rc); server log:" >&2; tail -n 20 "$TMP/server.log" >&2 2>/dev/null || true
    echo "run.sh: bots log:" >&2; tail -n 20 "$TMP/bots.err" >&2 2>/dev/null || true
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SERVER_CPU=(); BOTS_CPU=()
if [ $PINNED = 1 ]; then SERVER_CPU=(taskset -c 0); BOTS_CPU=(taskset -c 1); PLACEMENT=pinned; else PLACEMENT=unpinned; fi
HZ=$(getconf CLK_TCK)
LOAD0=$(cut -d' ' -f1 /proc/loadavg)

# CPU ticks (utime + stime) of a whole process: fields 14 and 15 of /proc/PID/stat, counted
# after the ")" that closes the comm field (which may itself contain spaces).
cpu_ticks() {
  local stat rest
  stat=$(cat "/proc/$1/stat")
  rest=${stat##*) }
  read -r -a f <<<"$rest"
  # f[0] is field 3 (state), so utime (14) is f[11] and stime (15) is f[12].
  echo $(( f[11] + f[12] ))
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# ---- server -------------------------------------------------------------------------------
"${SERVER_CPU[@]}" "$NODE" "$DIR/server.mjs" --variant "$VARIANT" --port "$PORT" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
  grep -q '"ready":true' "$TMP/server.log" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "run.sh: server exited" >&2; exit 1; }
  sleep 0.1
done
grep -q '"ready":true' "$TMP/server.log" || { echo "run.sh: server not ready after 10 s" >&2; exit 1; }

# ---- bots ---------------------------------------------------------------------------------
mkfifo "$TMP/bots.fifo"
BOTS_ARGS=(--clients "$M" --port "$PORT" --variant "$VARIANT" --warmup "$WARMUP" --window "$WINDOW")
[ $CHECK = 1 ] && BOTS_ARGS+=(--check)
"${BOTS_CPU[@]}" "$NODE" "$DIR/bots.mjs" "${BOTS_ARGS[@]}" >"$TMP/bots.fifo" 2>"$TMP/bots.err" &
BOTS_PID=$!
exec 3<"$TMP/bots.fifo"

# Every read is bounded; the whole run cannot outlast joins + warm-up + window + slack.
DEADLINE=$(( SECONDS + 2 + 30 + WARMUP + WINDOW + 20 ))
CPU0=""; CPU1=""; RSS=""; RESULT=""; CHECKOUT=""
while [ -z "$RESULT" ]; do
  left=$(( DEADLINE - SECONDS )); [ $left -gt 0 ] || { echo "run.sh: timed out" >&2; exit 1; }
  if ! IFS= read -r -t "$left" -u 3 line; then echo "run.sh: bots ended without a result" >&2; exit 1; fi
  case "$line" in
    "WINDOW_START "*) CPU0=$(cpu_ticks "$SERVER_PID") ;;
    "WINDOW_END "*) CPU1=$(cpu_ticks "$SERVER_PID"); RSS=$(rss_kib "$SERVER_PID") ;;
    "CHECK "*) CHECKOUT=${line#CHECK }; echo "CHECK $CHECKOUT" ;;
    "RESULT "*) RESULT=${line#RESULT } ;;
    *) echo "bots: $line" >&2 ;;
  esac
done
[ -n "$CPU0" ] && [ -n "$CPU1" ] || { echo "run.sh: window markers missing" >&2; exit 1; }
LOAD1=$(cut -d' ' -f1 /proc/loadavg)

# ---- figures ------------------------------------------------------------------------------
RESULT="$RESULT" CHECKOUT="$CHECKOUT" "$NODE" -e '
  const r = JSON.parse(process.env.RESULT);
  const [variant, M, placement, hz, t0, t1, rssKiB, l0, l1] = process.argv.slice(1);
  const cpuUs = (Number(t1) - Number(t0)) * 1e6 / Number(hz);
  const perUpdate = r.updates ? cpuUs / r.updates : null;
  const perClientTick = cpuUs / (Number(M) * 30 * r.window_s);
  const f = (x, d = 2) => (x === null || x === undefined) ? "n/a" : Number(x).toFixed(d);
  const rssMiB = Number(rssKiB) / 1024;
  console.log("| variant | M | placement | Colyseus server CPU µs / update | µs / client-tick | bot CPU µs / update | update Hz mean (min) | bytes / update | server RSS MiB |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  console.log(`| ${variant} | ${M} | ${placement} | ${f(perUpdate)} | ${f(perClientTick)} | ${f(r.bot_cpu_us_per_update)} | ${f(r.update_hz_mean)} (${f(r.update_hz_min)}) | ${Math.round(r.bytes_per_update)} | ${f(rssMiB, 1)} |`);
  const out = {
    peer: "colyseus", colyseus: "0.18.8", node: process.version, variant, clients: Number(M), placement,
    server_cpu_s: +(cpuUs / 1e6).toFixed(4),
    server_cpu_us_per_update: perUpdate === null ? null : +perUpdate.toFixed(3),
    server_cpu_us_per_client_tick: +perClientTick.toFixed(3),
    server_rss_mib: +rssMiB.toFixed(1),
    load_avg_1m_start: Number(l0), load_avg_1m_end: Number(l1),
    ...r,
  };
  if (process.env.CHECKOUT) out.check = JSON.parse(process.env.CHECKOUT);
  console.log("JSON " + JSON.stringify(out));
' "$VARIANT" "$M" "$PLACEMENT" "$HZ" "$CPU0" "$CPU1" "$RSS" "$LOAD0" "$LOAD1"
