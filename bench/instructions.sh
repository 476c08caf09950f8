#!/usr/bin/env bash
# Instructions per proxied request, counted by valgrind's callgrind: bare Pingora and one or
# more strangler binaries, each behind the same nginx backend, one wrk connection.
#
#   bash bench/instructions.sh                                   # bare-pingora and strangler
#   bash bench/instructions.sh /tmp/base/strangler target/release/strangler   # an A/B
#
# wrk's req/s moves with whatever else the machine does; an instruction count does not
# (the same binary gives the same count to within a few tenths of a percent, even with
# other builds running: the count is the worker thread's, so timer-driven work on other
# threads is left out),
# so this is how one change is measured alone: run the binary of the commit before it and
# the one after. It counts user-space instructions only: not the kernel's share, not cache
# misses, not time. Whole-proxy figures still come from bench/run.sh's interleaved rounds.
#
# Knobs: SECONDS_MEASURED (8: how long the counted wrk run lasts, after a 3 s warm-up),
# PROFILE (release), BARE (the bare-pingora binary; default the one of PROFILE).
# Needs valgrind, nginx, wrk, curl and python3 (installed with apt-get when missing).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
PROFILE=${PROFILE:-release}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BARE=${BARE:-$TARGET_DIR/$PROFILE/bare-pingora}
SECONDS_MEASURED=${SECONDS_MEASURED:-8}
TENANT=acme
PIDS=()

log() { printf '%s\n' "$*" >&2; }

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  [[ -n ${TMP:-} ]] && rm -rf "$TMP"
}
trap cleanup EXIT

install_tools() {
  local missing=() tool sudo=""
  for tool in valgrind nginx wrk curl python3; do
    command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || missing+=("$tool")
  done
  ((${#missing[@]})) || return 0
  [[ $EUID -eq 0 ]] || sudo=sudo
  log "installing ${missing[*]} with apt-get"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
}

free_ports() {
  python3 -c 'import socket
s = [socket.socket() for _ in range(int(__import__("sys").argv[1]))]
[x.bind(("127.0.0.1", 0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"
}

start_backend() {
  local user=""
  [[ $EUID -eq 0 ]] && user="user root;"
  mkdir -p "$TMP/backend-tmp"
  cat >"$TMP/backend.conf" <<EOF
$user
worker_processes 1; daemon off; pid $TMP/backend.pid; error_log $TMP/backend.err warn;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000; client_body_temp_path $TMP/backend-tmp;
  server { listen 127.0.0.1:$BACKEND; location = /ok { default_type text/plain; return 200 'ok'; } } }
EOF
  nginx -p "$TMP" -c "$TMP/backend.conf" &
  PIDS+=($!)
}

# SIGINT (Pingora's fast exit; SIGTERM would wait out its graceful shutdown), then SIGKILL
# after 5 s; waits, so callgrind has finished its files.
stop() {   # pid
  local i
  kill -INT "$1" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Counts one proxy: NAME, then its command line. Prints "instructions requests".
count() {   # name port command...
  local name=$1 port=$2 i pid requests total; shift 2
  valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes \
    --callgrind-out-file="$TMP/$name.cg" \
    "$@" >"$TMP/$name.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for i in $(seq 240); do
    curl -sf -o /dev/null -H "X-Tenant-Id: $TENANT" "http://127.0.0.1:$port/ok" && break
    sleep 0.5
  done
  wrk -t1 -c1 -d3s -H "X-Tenant-Id: $TENANT" "http://127.0.0.1:$port/ok" >/dev/null
  callgrind_control -i on "$pid" >/dev/null
  wrk -t1 -c1 -d"${SECONDS_MEASURED}s" -H "X-Tenant-Id: $TENANT" "http://127.0.0.1:$port/ok" \
    >"$TMP/$name.wrk"
  callgrind_control -d "$pid" >/dev/null
  sleep 1
  callgrind_control -i off "$pid" >/dev/null
  stop "$pid"
  requests=$(grep -o '[0-9]* requests in' "$TMP/$name.wrk" | cut -d' ' -f1)
  # The busiest thread is the proxy's worker: what it did per request, without the time-driven
  # work of the other threads (timers, the log writer's flushes), which a slow run would
  # spread over fewer requests.
  total=$(grep -h '^summary:\|^totals:' "$TMP/$name.cg".1-* | awk '{print $2}' | sort -n | tail -1)
  echo "$total $requests"
}

main() {
  install_tools
  TMP=$(mktemp -d /tmp/strangler-instructions.XXXXXX)
  local bins=("$@") ports n=0 total requests base="" line rows=()
  ((${#bins[@]})) || bins=("$TARGET_DIR/$PROFILE/strangler")
  read -ra ports < <(free_ports $((2 + 2 * ${#bins[@]})))
  BACKEND=${ports[0]}
  start_backend
  read -r total requests < <(count bare "${ports[1]}" "$BARE" "127.0.0.1:${ports[1]}" "127.0.0.1:$BACKEND" 1)
  base=$((total / requests))
  rows+=("| bare-pingora ($BARE) | $requests | $base | 1.000 |")
  for bin in "${bins[@]}"; do
    n=$((n + 1))
    python3 "$BENCH_DIR/gen_routes.py" routing "${ports[2 * n]}" "${ports[2 * n + 1]}" "$BACKEND" /ok 1 \
      --store "sqlite://$TMP/s$n.db" >"$TMP/routes$n.yaml"
    read -r total requests < <(count "strangler$n" "${ports[2 * n]}" "$bin" run --config "$TMP/routes$n.yaml")
    line=$(python3 -c "print(f'{$total / $requests / $base:.3f}')")
    rows+=("| $bin | $requests | $((total / requests)) | $line |")
  done
  local file
  file=$ROOT/bench/results/$(date -u +%Y%m%d-%H%M%S)-instructions.md
  {
    echo "# Instructions per proxied request (callgrind), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo ' (dirty)'), profile $PROFILE"
    echo "- one wrk connection, GET /ok with X-Tenant-Id: $TENANT, $SECONDS_MEASURED s counted after a 3 s warm-up; the bench/run.sh routing routes; user space only"
    echo
    echo "| proxy | requests counted | instructions per request | ÷ bare Pingora |"
    echo "|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
  } | tee "$file"
  log "written to ${file#"$ROOT"/}"
}

main "$@"
