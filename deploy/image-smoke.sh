#!/usr/bin/env bash
# The image, built and played against: builds the Dockerfile's runtime stage with podman, starts
# it with its own entry point and default command, lets 20 bots play against it over wss for
# 10 s, checks /healthz, /readyz and /metrics from outside the container, stops it with SIGTERM
# (every bot must get close 1001, the container must exit 0) and exits non-zero on any failure.
#
#   bash deploy/image-smoke.sh
#
# No image registry is needed, and nothing of the Dockerfile is changed; two stand-ins replace
# what would be pulled or compiled inside it, each through a named build context:
#
# - the `build` stage: the binary `cargo build --release --locked -p tickstream-server` (the
#   Dockerfile's own command) builds on the host, at the path its `COPY --from=build` reads;
# - the runtime stage's base (`FROM debian:bookworm-slim`): a Debian made with debootstrap
#   from Debian's archive, trimmed as the slim images are, imported into podman as
#   `localhost/tickstream-base:KEY`. It is cached in $TICKSTREAM_CACHE_DIR
#   (/var/cache/tickstream by default, outside the clone, so CI's fresh clones share it) under
#   a key of everything it is made from, including the date of the archive's Release file:
#   a new Debian point release, another suite in the Dockerfile or a change to the recipe
#   below makes a new base. (debootstrap takes the suite's packages, not debian-security's:
#   the base is for this smoke test, not for production.)
#
# Everything else — the user, the assets, the entry point, the default command, the exposed
# ports — is the Dockerfile's. The container runs on podman's default bridge network with
# its two ports published on free loopback ports of the host, so the default command runs
# exactly as the image has it (listening on 0.0.0.0:7443 and 0.0.0.0:7444 inside the
# container) and the checks come from outside it; a listener that only bound the container's
# loopback would fail them. TICKSTREAM_SMOKE_NETWORK=host runs it on the host's network
# instead (where bridge networking is unavailable): the default command then needs ports 7443
# and 7444 of the host, and the script stops at once if they are taken.
#
# Needs root (or password-less sudo) for debootstrap and podman, and Debian's podman, runc,
# debootstrap and curl (.ci/run installs them). runc rather than crun, and cgroupfs rather than
# systemd, as this machine's cgroups require; and the caller's hard limits for the container's
# (see run_flags below).
#
# Environment: CARGO_TARGET_DIR (where cargo builds, default target/),
# TICKSTREAM_CACHE_DIR (default /var/cache/tickstream), DEBIAN_MIRROR (default
# http://deb.debian.org/debian), TICKSTREAM_SMOKE_NETWORK (bridge or host, default bridge),
# TICKSTREAM_SMOKE_KEEP=1 (keep the image and container for a look afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."

# What the smoke test does, as numbers.
BOTS=20
PLAY_SECONDS=10
STOP_TIMEOUT=30
# Bump when the base recipe below changes: it is part of the cache key.
BASE_RECIPE=1

started_at=$SECONDS
step() { printf '== [%3ds] %s\n' "$((SECONDS - started_at))" "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
fail() {
    printf '   FAIL: %s\n' "$*" >&2
    exit 1
}

root=()
if [ "$(id -u)" -ne 0 ]; then
    root=(sudo -n)
fi
podman_() { "${root[@]}" podman --runtime runc --cgroup-manager=cgroupfs "$@"; }

step "tools"
for tool in podman runc debootstrap curl cargo; do
    command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install podman runc debootstrap curl; cargo from rustup)"
done
if [ ${#root[@]} -gt 0 ] && ! sudo -n true 2>/dev/null; then
    fail "podman and debootstrap need root here: run as root or with password-less sudo"
fi
ok "$(podman --version), $(runc --version | head -n 1), debootstrap $(dpkg-query -W -f '${Version}' debootstrap 2>/dev/null || echo '?')"

network=${TICKSTREAM_SMOKE_NETWORK:-bridge}
case "$network" in
bridge | host) ;;
*) fail "TICKSTREAM_SMOKE_NETWORK must be bridge or host, not $network" ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/tickstream-smoke.XXXXXX")
name="tickstream-smoke-$$"
image="localhost/tickstream-server:smoke-$$"
bots_pid=""
cleanup() {
    local status=$?
    if [ -n "$bots_pid" ]; then
        kill "$bots_pid" 2>/dev/null || true
    fi
    if [ "${TICKSTREAM_SMOKE_KEEP:-0}" != 1 ]; then
        podman_ rm -f -t 0 "$name" >/dev/null 2>&1 || true
        podman_ rmi -f "$image" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
    if [ "$status" -eq 0 ]; then
        step "PASS: the image built, served $BOTS bots over wss, and drained on SIGTERM"
    else
        step "FAILED (exit $status)"
    fi
}
trap cleanup EXIT

# ---- the host build: the Dockerfile's build command, and the bots
step "host build: cargo build --release --locked -p tickstream-server, and the bots"
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release --locked --quiet -p tickstream-server
cargo build --release --locked --quiet -p tickstream-bot
server_bin="$target_dir/release/tickstream-server"
bot_bin="$target_dir/release/tickstream-bot"
[ -x "$server_bin" ] && [ -x "$bot_bin" ] || fail "no binaries in $target_dir/release"
ok "$server_bin ($(du -h "$server_bin" | cut -f1)), $bot_bin"

# ---- what the Dockerfile asks for: its runtime stage's base, and where it copies the binary
step "Dockerfile: the runtime stage's base and the build stage's output"
base_ref=$(awk '/^FROM /{ref=$2} END{print ref}' Dockerfile)
[[ $base_ref =~ ^(docker\.io/)?(library/)?debian:([a-z]+)(-slim)?$ ]] ||
    fail "the runtime stage is FROM $base_ref; this script makes only Debian bases (debian:SUITE[-slim])"
suite=${BASH_REMATCH[3]}
copy_from=$(awk '/^COPY --from=build /{print $3; exit}' Dockerfile)
[ -n "$copy_from" ] || fail "no COPY --from=build in the Dockerfile"
ok "FROM $base_ref (Debian $suite); COPY --from=build $copy_from"

# ---- the base: debootstrap once per key, cached outside the clone
step "base image for $base_ref"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
release_date=$(curl -fsS --max-time 20 -o "$work/InRelease" "$mirror/dists/$suite/InRelease" &&
    grep -m 1 '^Date:' "$work/InRelease" || true)
[ -n "$release_date" ] || fail "cannot read $mirror/dists/$suite/InRelease (is the Debian mirror reachable?)"
debootstrap_version=$(dpkg-query -W -f '${Version}' debootstrap 2>/dev/null || debootstrap --version)
key=$(printf '%s\n' "recipe $BASE_RECIPE" "$base_ref" "$suite" "$mirror" "$release_date" \
    "debootstrap $debootstrap_version" "$(uname -m)" | sha256sum | cut -c1-16)
cache=${TICKSTREAM_CACHE_DIR:-/var/cache/tickstream}/image-base
tarball="$cache/debian-$suite-$key.tar"
base_image="localhost/tickstream-base:$key"
"${root[@]}" mkdir -p "$cache"
"${root[@]}" touch "$cache/.lock"
"${root[@]}" chmod 0666 "$cache/.lock"
(
    # One builder at a time: parallel runs wait for the base rather than make it twice.
    flock 9
    if [ -s "$tarball" ]; then
        echo "   cached: $tarball ($release_date)"
    else
        echo "   not cached (key $key, $release_date): debootstrap --variant=minbase $suite"
        rootfs="$cache/rootfs-$key.tmp"
        "${root[@]}" rm -rf "$rootfs"
        "${root[@]}" debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" \
            >"$work/debootstrap.log" 2>&1 ||
            { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
        # What the slim images leave out: documentation but its copyright files, manual
        # pages, translations, and the package lists and downloaded packages.
        "${root[@]}" find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright \
            -not -type d -delete
        "${root[@]}" rm -rf "$rootfs"/usr/share/{man,info,locale,lintian}/* \
            "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
            "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old
        "${root[@]}" tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
        "${root[@]}" mv "$tarball.tmp" "$tarball"
        "${root[@]}" rm -rf "$rootfs"
        # Bases of older keys are stale now.
        for old in "$cache"/debian-*.tar; do
            [ "$old" = "$tarball" ] || "${root[@]}" rm -f "$old"
        done
        echo "   made: $tarball ($(du -h "$tarball" | cut -f1))"
    fi
    if podman_ image exists "$base_image"; then
        echo "   in podman: $base_image"
    else
        podman_ images --format '{{.Repository}}:{{.Tag}}' |
            grep '^localhost/tickstream-base:' | xargs -r "${root[@]}" podman rmi -f >/dev/null 2>&1 || true
        podman_ import --message "debootstrap $suite ($release_date)" "$tarball" "$base_image" \
            >"$work/import.log" 2>&1 || { cat "$work/import.log" >&2; exit 1; }
        echo "   imported: $base_image"
    fi
) 9>"$cache/.lock" || fail "cannot make the base image (log: $work/debootstrap.log)"
ok "$base_image stands in for $base_ref"

# ---- the image: the Dockerfile's runtime stage, as users get it
step "podman build (runtime stage; the build stage is the host binary)"
mkdir -p "$work/build$(dirname "$copy_from")"
cp "$server_bin" "$work/build$copy_from"
podman_ build --pull=never --quiet \
    --build-context "build=$work/build" \
    --build-context "$base_ref=container-image://$base_image" \
    -t "$image" . >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; fail "podman build"; }
user=$(podman_ image inspect --format '{{.Config.User}}' "$image")
entrypoint=$(podman_ image inspect --format '{{json .Config.Entrypoint}}' "$image")
cmd=$(podman_ image inspect --format '{{json .Config.Cmd}}' "$image")
size=$(podman_ image inspect --format '{{.Size}}' "$image")
base_size=$(podman_ image inspect --format '{{.Size}}' "$base_image")
ok "$image: user $user, entrypoint $entrypoint"
ok "default command $cmd"
ok "size $((size / 1000000)) MB (base $((base_size / 1000000)) MB, server binary $(($(stat -c %s "$server_bin") / 1000000)) MB)"
case "$user" in "" | root | 0 | 0:*) fail "the image runs as root ($user)" ;; esac

# podman's own default limits for a root container (1,048,576 open files and processes) are
# above this machine's hard limits, and raising a hard limit needs CAP_SYS_RESOURCE, which this
# VM's bounding set lacks: runc then fails with "error setting rlimit type 7 (nofile)" or
# "type 6 (nproc): operation not permitted". So the container gets the caller's hard limit on
# open files (20,000 here, enough for the default max_connections of 10,000 plus 100, as the
# README asks), and 4,096 processes: podman lowers its own process limit before it starts the
# container (to 32,768 here), so the caller's cannot be passed on, and the server runs a
# thread per core.
run_flags=(--pull=never --ulimit nproc=4096:4096)
nofile=$(ulimit -Hn)
if [ "$nofile" != unlimited ]; then
    run_flags+=(--ulimit "nofile=$nofile:$nofile")
fi

listing=$(podman_ run --rm "${run_flags[@]}" --entrypoint /bin/ls "$image" /usr/share/tickstream/assets 2>&1) ||
    fail "cannot run the image: $listing"
grep -qx config.toml <<<"$listing" || fail "the assets are not in the image: $listing"

# The default command's listeners: the ports to publish and to reach.
listen=$(grep -o '"--listen","[^"]*"' <<<"$cmd" | cut -d'"' -f4)
ops=$(grep -o '"--metrics-listen","[^"]*"' <<<"$cmd" | cut -d'"' -f4)
[ -n "$listen" ] && [ -n "$ops" ] || fail "the default command names no --listen and --metrics-listen: $cmd"
wss_port=${listen##*:}
ops_port=${ops##*:}

# ---- run it
step "podman run $image (default command, $network network)"
if [ "$network" = host ]; then
    for port in "$wss_port" "$ops_port"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            fail "port $port is taken on this host (a server running?): the default command needs it with TICKSTREAM_SMOKE_NETWORK=host; stop it, or use the default bridge network"
        fi
    done
    podman_ run -d --name "$name" --network host "${run_flags[@]}" "$image" >/dev/null
    host_wss=$wss_port
    host_ops=$ops_port
else
    # Free host ports, chosen by podman: no clash with a developer's server or a parallel run.
    podman_ run -d --name "$name" "${run_flags[@]}" \
        -p "127.0.0.1::$wss_port" -p "127.0.0.1::$ops_port" "$image" >/dev/null
    host_wss=$(podman_ port "$name" "$wss_port/tcp" | head -n 1 | sed 's/.*://')
    host_ops=$(podman_ port "$name" "$ops_port/tcp" | head -n 1 | sed 's/.*://')
fi
ok "container $name (${run_flags[*]}): wss $listen → 127.0.0.1:$host_wss, ops $ops → 127.0.0.1:$host_ops"

show_logs() {
    echo "   container log (last 30 lines):" >&2
    podman_ logs "$name" 2>&1 | tail -n 30 | sed 's/^/   | /' >&2
}

step "/healthz, /readyz, /metrics from outside"
ops_url="http://127.0.0.1:$host_ops"
for _ in $(seq 1 100); do
    curl -fsS --max-time 2 "$ops_url/healthz" >/dev/null 2>&1 && break
    [ "$(podman_ inspect --format '{{.State.Running}}' "$name")" = true ] || { show_logs; fail "the container exited"; }
    sleep 0.2
done
curl -fsS --max-time 5 "$ops_url/healthz" >/dev/null || { show_logs; fail "/healthz does not answer 200"; }
curl -fsS --max-time 5 "$ops_url/readyz" >/dev/null || { show_logs; fail "/readyz does not answer 200"; }
curl -fsS --max-time 5 "$ops_url/metrics" >"$work/metrics-0.txt" || { show_logs; fail "/metrics does not answer 200"; }
grep -q '^tickstream_build_info{version="' "$work/metrics-0.txt" || fail "/metrics lacks tickstream_build_info"
ok "healthz 200, readyz 200, metrics $(grep -c '^# HELP tickstream_' "$work/metrics-0.txt") described series families"

# The value of a series in /metrics (name and labels exactly as exposed), as an integer; 0
# if absent.
metric() {
    curl -fsS --max-time 5 "$ops_url/metrics" |
        awk -v s="$1" '$1 == s {v = $2} END {printf "%d\n", v}'
}
# Waits up to 20 s for the series $1 to reach $2.
await_metric() {
    for _ in $(seq 1 100); do
        [ "$(metric "$1")" -ge "$2" ] && return 0
        sleep 0.2
    done
    return 1
}

step "$BOTS bots play for $PLAY_SECONDS s over wss"
bot_url="wss://127.0.0.1:$host_wss/ws"
if ! "$bot_bin" --url "$bot_url" --bots "$BOTS" --duration "$PLAY_SECONDS" --insecure \
    2>/dev/null | sed 's/^/   | /'; then
    show_logs
    fail "the bots did not pass"
fi
await_metric 'tickstream_disconnects_total{code="1000"}' "$BOTS" ||
    fail "the server counted $(metric 'tickstream_disconnects_total{code="1000"}') normal closes, not $BOTS"
ok "every bot connected, verified every update and left with 1000; the server sent $(metric tickstream_sent_bytes_total) bytes"

step "SIGTERM while $BOTS bots play: each gets 1001, the container exits 0"
"$bot_bin" --url "$bot_url" --bots "$BOTS" --duration 60 --insecure \
    --json "$work/drain.json" >"$work/drain.txt" 2>/dev/null &
bots_pid=$!
await_metric tickstream_connections "$BOTS" || fail "the bots did not all connect"
sleep 1
# podman stop sends the image's stop signal, SIGTERM, as Kubernetes does, and SIGKILL only
# after STOP_TIMEOUT (the server's own grace is 10 s).
podman_ stop --time "$STOP_TIMEOUT" "$name" >/dev/null
exit_code=$(podman_ wait "$name" | tail -n 1)
status=0
wait "$bots_pid" || status=$?
bots_pid=""
echo "   (the bot CLI counts a 1001 it did not ask for as an error, and fails: expected here)"
sed 's/^/   | /' "$work/drain.txt"
podman_ logs "$name" 2>&1 | grep -q '"message":"shutdown complete"' || { show_logs; fail "no \"shutdown complete\" in the log"; }
[ "$exit_code" = 0 ] || { show_logs; fail "the container exited $exit_code, not 0"; }
# The bots report the server's 1001 as an error (they did not ask for it): its Error message
# announcing the close (server_error_1001) or the close frame itself (close_1001), one per bot,
# and nothing else.
grep -q "\"bots_connected\": $BOTS," "$work/drain.json" || fail "not every bot connected before the drain"
grep -q '"desyncs": 0,' "$work/drain.json" || fail "a bot desynced"
by_kind=$(tr -d '\n ' <"$work/drain.json" | grep -o '"errors_by_kind":{[^}]*}' | sed 's/^[^{]*{//; s/}$//')
got_1001=0
for entry in ${by_kind//,/ }; do
    kind=${entry%%:*}
    case "$kind" in
    '"close_1001"' | '"server_error_1001"') got_1001=$((got_1001 + ${entry##*:})) ;;
    *) fail "a bot ended with $entry, not 1001 (bot exit $status)" ;;
    esac
done
[ "$got_1001" -eq "$BOTS" ] || fail "$got_1001 bots got 1001, not $BOTS: {$by_kind}"
ok "$BOTS bots closed with 1001 \"server shutting down\"; the container exited 0 after SIGTERM"
