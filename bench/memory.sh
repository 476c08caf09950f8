#!/usr/bin/env bash
# Memory harness: strangler's resident size (a) after start, (b) holding IDLE kept-alive
# client connections open and idle (each has had one request answered), and (c) across a
# soak of CHUNKS wrk runs with a fresh tenant and path mix per request, so per-tenant and
# per-path state would show as growth. Prints a markdown table and writes it to
# bench/results/<timestamp>-memory.md.
#
#   bash bench/memory.sh                          # 10,000 idle, 10 chunks of 30 s
#   IDLE=2000 CHUNKS=3 CHUNK_SECONDS=5 bash bench/memory.sh      # smoke run
#   SKIP_BUILD=1 bash bench/memory.sh             # use target/release/strangler as it is
#   ROUTES=routing SKIP_BUILD=1 BIN=target/debug/strangler bash bench/memory.sh
#
# Memory is not a throughput figure: a busy machine changes how many requests a chunk
# serves, not what they cost in memory, so this can run beside other work.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
IDLE=${IDLE:-10000}
CHUNKS=${CHUNKS:-10}
CHUNK_SECONDS=${CHUNK_SECONDS:-30}
THREADS=${THREADS:-1}
ROUTES=${ROUTES:-routes1000}   # routes1000 (1,000 routes, 100,000 overrides) or routing (a handful)
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/strangler}   # BIN=... measures another build
PIDS=()

log() { printf '%s\n' "$*" >&2; }

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill -INT "$pid" 2>/dev/null; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  [[ -n ${TMP:-} ]] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }

free_ports() {
  python3 -c '
import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"
}

wait_for() {   # url
  for _ in $(seq 100); do
    curl -s -o /dev/null --max-time 1 -H 'X-Tenant-Id: acme' "$1" && return 0
    sleep 0.1
  done
  log "no answer from $1"; exit 1
}

setup() {
  command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || MISSING+=(nginx)
  command -v wrk >/dev/null || MISSING+=(wrk)
  if ((${#MISSING[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${MISSING[@]}" >&2
  fi
  # The proxy and the client each hold IDLE sockets (the proxy also its upstream pool).
  local want=$((IDLE + 2048)) hard
  hard=$(ulimit -Hn)
  [[ $hard == unlimited || $hard -ge $want ]] || { log "IDLE=$IDLE needs $want open files; the hard limit is $hard"; exit 2; }
  ulimit -n "$want"
  TMP=$(mktemp -d /tmp/strangler-memory.XXXXXX)
  read -r BACKEND LISTEN ADMIN < <(free_ports 3)
  mkdir -p "$TMP/tmp"
  cat >"$TMP/backend.conf" <<CONF
$([[ $EUID -eq 0 ]] && echo "user root;")
worker_processes 1; daemon off; pid $TMP/backend.pid; error_log $TMP/backend.err warn;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 1000000;
  client_body_temp_path $TMP/tmp; proxy_temp_path $TMP/tmp; fastcgi_temp_path $TMP/tmp;
  uwsgi_temp_path $TMP/tmp; scgi_temp_path $TMP/tmp;
  server { listen 127.0.0.1:$BACKEND backlog=4096; location / { default_type text/plain; return 200 'ok'; } }
}
CONF
  python3 "$BENCH_DIR/gen_routes.py" "$ROUTES" "$LISTEN" "$ADMIN" "$BACKEND" /ok "$THREADS" \
    --store "sqlite://$TMP/strangler.db" >"$TMP/routes.yaml"
  # Paths across the routes, tenants from a space of 1,000,000: what a long run meets.
  cat >"$TMP/mix.lua" <<'LUA'
math.randomseed(os.time())
request = function()
  local route = math.random(0, 998)
  local path
  if route % 2 == 1 then path = "/api/r" .. route .. "/" .. math.random(1, 1e6) .. "/items"
  else path = "/api/r" .. route .. "/x/" .. math.random(1, 1e6) end
  return wrk.format("GET", path, { ["X-Tenant-Id"] = "t" .. math.random(1, 1e6) })
end
LUA
}

start() {
  nginx -p "$TMP" -e "$TMP/backend.err" -c "$TMP/backend.conf" >"$TMP/backend.log" 2>&1 &
  PIDS+=($!)
  wait_for "http://127.0.0.1:$BACKEND/ok"
  "$BIN" run --config "$TMP/routes.yaml" >"$TMP/strangler.log" 2>&1 &
  STRANGLER=$!
  PIDS+=($STRANGLER)
  wait_for "http://127.0.0.1:$LISTEN/ok"
}

# Opens IDLE connections one after the other, each with one request answered, and holds
# them idle while the caller reads the RSS; prints how many stayed open.
idle_connections() {
  python3 - "$LISTEN" "$IDLE" "$STRANGLER" <<'PY'
import socket, sys, time, selectors
port, count, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
request = b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Tenant-Id: acme\r\n\r\n"
# One connection at a time: what is measured is what an idle connection holds, not the
# residue of 10,000 requests in flight at once.
socks = []
answered = 0
for i in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    s.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk: break
        data += chunk
    answered += data.startswith(b"HTTP/1.1 200")
    socks.append(s)
time.sleep(2)
rss = [l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0]
open_now = 0
sel = selectors.DefaultSelector()
for s in socks:
    s.setblocking(False)
    try:
        open_now += s.recv(1) != b""
    except BlockingIOError:
        open_now += 1
    except OSError:
        pass
print(answered, open_now, rss)
PY
}

soak() {
  local i total=0 out done_now
  printf '| after | requests so far | RSS (MiB) |\n|---|---|---|\n'
  printf '| start, before any request | 0 | %.1f |\n' "$(echo "$RSS_START / 1024" | bc -l)"
  for i in $(seq "$CHUNKS"); do
    out=$(wrk -t1 -c50 -d"${CHUNK_SECONDS}"s -s "$TMP/mix.lua" "http://127.0.0.1:$LISTEN")
    done_now=$(awk '/requests in/{print $1}' <<<"$out")
    total=$((total + done_now))
    sleep 1
    printf '| chunk %d | %d | %.1f |\n' "$i" "$total" "$(echo "$(rss_kib "$STRANGLER") / 1024" | bc -l)"
  done
}

main() {
  MISSING=()
  command -v bc >/dev/null || MISSING+=(bc)
  setup
  if [[ ${SKIP_BUILD:-0} != 1 ]]; then (cd "$ROOT" && cargo build --release -p strangler >&2); fi
  start
  RSS_START=$(rss_kib "$STRANGLER")
  local stamp file answered open_now idle_rss
  read -r answered open_now idle_rss < <(idle_connections)
  stamp=$(date -u +%Y%m%d-%H%M%S)
  file=$BENCH_DIR/results/$stamp-memory.md
  mkdir -p "$BENCH_DIR/results"
  {
    echo "## strangler memory, $(date -u +%F), commit $(cd "$ROOT" && git rev-parse --short HEAD)"
    echo
    echo "- binary: ${BIN#"$ROOT"/}; routes.yaml: $ROUTES (bench/gen_routes.py), threads: $THREADS, access log to a file"
    echo "- idle: $IDLE connections opened, $answered answered 200, $open_now still open after 2 s idle"
    printf -- '- RSS after start: %.1f MiB; holding the idle connections: %.1f MiB (%.1f KiB per connection)\n' \
      "$(echo "$RSS_START / 1024" | bc -l)" "$(echo "$idle_rss / 1024" | bc -l)" \
      "$(echo "($idle_rss - $RSS_START) / $IDLE" | bc -l)"
    echo "- soak: $CHUNKS x ${CHUNK_SECONDS}s of wrk -t1 -c50, each request a random route of the 1,000, a random id and a random tenant of 1,000,000"
    echo
    soak
  } >"$file"
  cat "$file"
  echo "written to ${file#"$ROOT"/}"
}

main "$@"
