#!/usr/bin/env bash
# The C# client's tests under Mono: builds the library (every .cs of Tickstream/, with
# `mcs -target:library` against the base class library alone, warnings as errors), the tests
# and the console demo into clients/csharp/bin/, starts real tickstream-servers on free
# loopback ports (one plain, one with a join secret, one whose spectators watch 300 ms behind
# from a single seat per room, and one playing back a recording the demo made), and runs the
# tests, which print
# "N passed, N failed". Exits non-zero on any failure.
#
# Usage: clients/csharp/test.sh [--build-only]
# The server binary: $TICKSTREAM_SERVER, default target/release/tickstream-server
# (cargo build --release -p tickstream-server).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=$here/bin
server=${TICKSTREAM_SERVER:-target/release/tickstream-server}
[[ "$server" = /* ]] || server=$repo/$server

for tool in mcs mono; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed: apt-get install mono-devel"; exit 1; }
done

# C# 7.2: what both mcs and Unity 2021 LTS compile. System, System.Core: the BCL, nothing else.
flags=(-langversion:7.2 -warnaserror -nologo -r:System.dll -r:System.Core.dll)
mkdir -p "$bin"
echo "== build"
mapfile -t library < <(find "$here/Tickstream" -name '*.cs' | sort)
mcs -target:library "${flags[@]}" -doc:"$bin/Tickstream.xml" -out:"$bin/Tickstream.dll" "${library[@]}"
mcs -target:exe "${flags[@]}" -r:"$bin/Tickstream.dll" -out:"$bin/TickstreamTests.exe" "$here"/tests/*.cs
mcs -target:exe "${flags[@]}" -r:"$bin/Tickstream.dll" -out:"$bin/TickstreamDemo.exe" "$here"/demo/*.cs
echo "built $bin/Tickstream.dll, TickstreamTests.exe, TickstreamDemo.exe"

# Unity imports a package from git only with a .meta file beside every file and folder.
missing=0
while IFS= read -r path; do
    [ -e "$path.meta" ] || { echo "missing Unity meta file: ${path#"$repo"/}.meta"; missing=1; }
done < <(find "$here/Tickstream" -mindepth 1 ! -name '*.meta')
[ "$missing" -eq 0 ] || exit 1

if [ "${1:-}" = "--build-only" ]; then
    exit 0
fi

[ -x "$server" ] || { echo "no server binary at $server: cargo build --release -p tickstream-server"; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# Starts a server on free loopback ports (wss and ws) and waits for its listen lines; arguments
# after the name go to the server (a subcommand).
start_server() {
    local name=$1
    shift
    "$server" --listen 127.0.0.1:0 --ws-listen 127.0.0.1:0 --metrics-listen off \
        --log-format json "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 300); do
        if grep -q '"listener":"ws"' "$work/$name.log" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    cat "$work/$name.log"
    echo "the server did not start within 30 s"
    exit 1
}
listener() { grep -o "\"listener\":\"$2\",\"addr\":\"[^\"]*\"" "$work/$1.log" | head -n 1 | sed 's/.*"addr":"//; s/"$//'; }

start_server plain
cert=$(grep -o '"cert":"[^"]*"' "$work/plain.log" | head -n 1 | cut -d'"' -f4)
secret=csharp-test-secret-0123456789
TICKSTREAM_JOIN_SECRET=$secret start_server tokens
token=$(TICKSTREAM_JOIN_SECRET=$secret "$server" token --room tokroom --player csharp)
printf '[rooms]\nspectator_delay_ms = 300\nmax_spectators_per_room = 1\n' >"$work/delayed.toml"
TICKSTREAM_CONFIG=$work/delayed.toml start_server delayed

# A recording to play back: the demo walks for two seconds in a recorded room, the server stops
# (SIGTERM ends the recording), and `replay FILE --serve` shows it to spectators, twice as fast.
TICKSTREAM_RECORD=$work/recordings start_server recorder
recorder=${pids[-1]}
timeout 60 mono "$bin/TickstreamDemo.exe" --url "ws://$(listener recorder ws)/ws" --room coins-rec \
    --duration 2 >"$work/demo.log" || { cat "$work/demo.log"; echo "the demo did not play"; exit 1; }
kill -TERM "$recorder"
wait "$recorder" || true
recording=$(find "$work/recordings" -name '*-coins-rec.tsrec' | head -n 1)
[ -n "$recording" ] || { echo "no recording of coins-rec in $work/recordings"; exit 1; }
start_server playback replay "$recording" --serve --speed 2

echo "== tests"
cd "$here"
timeout 600 mono "$bin/TickstreamTests.exe" --repo "$repo" \
    --ws "ws://$(listener plain ws)/ws" --wss "wss://$(listener plain wss)/ws" --cert "$cert" \
    --token-ws "ws://$(listener tokens ws)/ws" --token "$token" --token-room tokroom \
    --delayed-ws "ws://$(listener delayed ws)/ws" \
    --playback-ws "ws://$(listener playback ws)/ws" --playback-room coins-rec
