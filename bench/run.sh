#!/usr/bin/env bash
# Load harness: strangler side by side with nginx, HAProxy and a bare Pingora proxy,
# all in front of the same nginx backend, measured with wrk in interleaved rounds.
#
#   bash bench/run.sh                                  # the whole thing, about 3 minutes
#   DURATION=2 ROUNDS=1 bash bench/run.sh              # smoke run
#   SCENARIO=routes1000 PIN=1 bash bench/run.sh
#   SCENARIO=shadow bash bench/run.sh                  # strangler, shadowing all / 10 % / none
#   SCENARIO=tls bash bench/run.sh                     # TLS kept alive, cleartext, new handshakes
#   SCENARIO=https-upstream bash bench/run.sh          # https:// against http:// upstream
#   ONLY="bare-pingora strangler" COMPARE_BIN=/tmp/old/strangler bash bench/run.sh   # A/B
#
# Knobs: DURATION (s per run, 10), ROUNDS (3),
# SCENARIO (routing|routes1000|body1m|shadow|tls|https-upstream),
# PIN (1 = proxies and backend on core 1, wrk on core 0), THREADS (1),
# SHADOW_IN_FLIGHT (shadow only: diffs.in_flight of strangler-shadow, default the proxy's 256),
# SHADOW_BACKEND (shadow only: shared, or own = the new service on a second nginx backend),
# ONLY (the targets to run, e.g. "bare-pingora strangler"; default all),
# COMPARE_BIN (another strangler binary, run as strangler-b on the same routes.yaml; with
# SCENARIO=shadow also as strangler-b-shadow and strangler-b-shadow10, each when its
# counterpart runs),
# COMPARE_ENV (environment for strangler-b only: COMPARE_BIN=target/release/strangler
# COMPARE_ENV=RUST_LOG=warn measures the access log),
# PROFILE (cargo profile of both Pingora builds: release, or production with fat LTO),
# RUNTIME_VARIANTS ("nosteal alttimer": both Pingora proxies also with that worker runtime),
# LOAD=open RATE=N (a fixed rate, latency from when each request was due; default: wrk).
# See bench/README.md.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
SCENARIO=${SCENARIO:-routing}
PIN=${PIN:-0}
THREADS=${THREADS:-1}     # worker threads/processes of each proxy (the backend keeps one)
ONLY=${ONLY:-}         # targets to run (space-separated); empty: all
COMPARE_BIN=${COMPARE_BIN:-}   # a second strangler binary, measured as strangler-b
COMPARE_ENV=${COMPARE_ENV:-}   # environment of strangler-b only, e.g. RUST_LOG=warn
PROFILE=${PROFILE:-release}    # cargo profile of strangler and bare-pingora (release|production)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
CLK_TCK=$(getconf CLK_TCK)
TENANT=acme            # must match REQUEST_TENANT in gen_routes.py

PIDS=()                # every process this script started; the trap stops them all
WRK_PID=""
declare -A PORT PID_OF
TARGETS=()             # targets that started and answered, in run order

log() { printf '%s\n' "$*" >&2; }

# shellcheck source=bench/tls.sh
source "$BENCH_DIR/tls.sh"
# shellcheck source=bench/runtime.sh
source "$BENCH_DIR/runtime.sh"
# shellcheck source=bench/load.sh
source "$BENCH_DIR/load.sh"
# shellcheck source=bench/shadow.sh
source "$BENCH_DIR/shadow.sh"

# ---------------------------------------------------------------- cleanup

stop_pid() {
  local pid=$1 kids i
  kids=$(pgrep -P "$pid" || true)
  kill -INT "$pid" 2>/dev/null || return 0     # SIGINT: fast exit for nginx, HAProxy, Pingora, wrk
  for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" $kids 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  set +e
  [[ -n $WRK_PID ]] && stop_pid "$WRK_PID"
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  [[ -n ${TMP:-} ]] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- setup

check_scenario() {
  case $SCENARIO in
    routing | routes1000 | shadow | tls | https-upstream) REQ_PATH=/ok CONNS=50 ;;
    body1m) REQ_PATH=/big CONNS=10 ;;
    *) log "unknown SCENARIO=$SCENARIO (routing|routes1000|body1m|shadow|tls|https-upstream)"; exit 2 ;;
  esac
  if [[ $PIN == 1 && $(nproc) -lt 2 ]]; then log "PIN=1 needs two cores"; exit 2; fi
  local name
  for name in $ONLY; do
    case $name in
      direct | nginx | haproxy | bare-pingora | strangler | strangler-shadow | strangler-shadow10) ;;
      nginx-upstream-tls | bare-pingora-upstream-tls | strangler-upstream-tls) ;;
      *) log "unknown target in ONLY: $name (direct nginx haproxy bare-pingora strangler strangler-shadow strangler-shadow10, NAME-upstream-tls)"; exit 2 ;;
    esac
  done
  check_runtime_variants
  check_load
  check_shadow
  if [[ -n $COMPARE_BIN && ! -x $COMPARE_BIN ]]; then log "COMPARE_BIN=$COMPARE_BIN is not an executable"; exit 2; fi
}

install_tools() {
  local missing=() sudo=""
  command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
  command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v curl >/dev/null || missing+=(curl)
  command -v python3 >/dev/null || missing+=(python3)
  command -v openssl >/dev/null || missing+=(openssl)
  ((${#missing[@]})) || return 0
  [[ $EUID -eq 0 ]] || sudo=sudo
  log "installing ${missing[*]} with apt-get"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
}

# Warns when the machine is not idle: a high load average (only meaningful before this
# script's own build), CPU in use right now, or a compiler running.
check_idle() {   # when
  local load busy m pct
  load=$(cut -d' ' -f1 /proc/loadavg)
  if [[ $1 == start ]] && python3 -c "import sys; sys.exit(float('$load') <= 0.5)"; then
    log "WARNING: load average is $load; the machine is not idle and the figures will be low."
  fi
  m=$(machine_busy); sleep 1; pct=$(( ($(machine_busy) - m) * 100 / CLK_TCK ))
  ((pct < 20)) || log "WARNING: ${pct}% of a core was busy during a 1 s idle check ($1)."
  busy=$(builds_running)
  [[ $busy == - ]] || log "WARNING: a build is running ($busy); every figure will be roughly halved."
}

# Prints the names of running compiler processes, or "-" when there are none.
builds_running() {
  local name found=()
  for name in cargo rustc cc1 cc1plus ld rust-lld; do
    pgrep -x "$name" >/dev/null && found+=("$name")
  done
  local IFS=,
  echo "${found[*]:--}"
}

build() {
  local bin=$TARGET_DIR/$PROFILE
  log "building $PROFILE binaries (waits if another cargo holds the lock)"
  if ! (cd "$ROOT" && cargo build --profile "$PROFILE" -p strangler -p bare-pingora $(load_packages) >&2); then
    log "strangler: build FAILED, it will be skipped; building bare-pingora alone"
    (cd "$ROOT" && cargo build --profile "$PROFILE" -p bare-pingora $(load_packages) >&2)
    rm -f "$TMP/strangler.ok"
    return
  fi
  touch "$TMP/strangler.ok"
  [[ -x $bin/strangler ]] || rm -f "$TMP/strangler.ok"
  build_runtime_variants
}

free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# ---------------------------------------------------------------- configs

nginx_common() {   # name workers
  local user=""
  [[ $EUID -eq 0 ]] && user="user root;"
  cat <<EOF
$user
worker_processes ${2:-1};
daemon off;
pid $TMP/$1.pid;
error_log $TMP/$1.err warn;
events { worker_connections 4096; }
EOF
}

nginx_http_common() {   # name
  cat <<EOF
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $TMP/$1-tmp/body;
  proxy_temp_path $TMP/$1-tmp/proxy;
  fastcgi_temp_path $TMP/$1-tmp/fastcgi;
  uwsgi_temp_path $TMP/$1-tmp/uwsgi;
  scgi_temp_path $TMP/$1-tmp/scgi;
EOF
}

# A 2,048-byte JSON document without single quotes or dollars, so nginx can return it inline.
json_body() {
  python3 -c '
import json
items = [{"id": i, "name": f"item-{i}", "price": i * 3 % 97, "tags": ["a", "b"]} for i in range(25)]
doc = {"items": items, "pad": ""}
doc["pad"] = "x" * (2048 - len(json.dumps(doc, separators=(",", ":"))))
print(json.dumps(doc, separators=(",", ":")), end="")'
}

write_backend_conf() {   # name (backend, or backend-new: the same on its own port, no TLS)
  mkdir -p "$TMP/www" "$TMP/$1-tmp"
  [[ -e $TMP/www/big ]] || head -c 1048576 /dev/zero | tr '\0' 'b' >"$TMP/www/big"
  local locations
  locations=$(cat <<EOF
    root $TMP/www;
    location = /ok { default_type text/plain; return 200 'ok'; }
    location = /json { default_type application/json; return 200 '$(json_body)'; }
    location = /big { default_type application/octet-stream; }
EOF
)
  { nginx_common "$1"
    echo "http {"; nginx_http_common "$1"
    cat <<EOF
  server {
    listen 127.0.0.1:${PORT[$1]} backlog=4096;
$locations
  }
$([[ $1 == backend ]] && backend_tls_server "$locations")
}
EOF
  } >"$TMP/$1.conf"
}

write_nginx_conf() {
  mkdir -p "$TMP/nginx-tmp"
  { nginx_common nginx "$THREADS"
    echo "http {"; nginx_http_common nginx
    cat <<EOF
  upstream backend {
    server 127.0.0.1:${PORT[backend]};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${PORT[nginx]} backlog=4096;
$([[ $SCENARIO == tls ]] && nginx_tls_listen nginx-tls)
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_max_temp_file_size 0;
    }
  }
$(nginx_upstream_tls_server)
}
EOF
  } >"$TMP/nginx.conf"
}

write_haproxy_conf() {
  cat >"$TMP/haproxy.cfg" <<EOF
global
  nbthread $THREADS
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend bench
  bind 127.0.0.1:${PORT[haproxy]}
$(haproxy_tls_bind)
  default_backend backend
backend backend
  server b1 127.0.0.1:${PORT[backend]}
EOF
}

# The routes.yaml of one strangler target: its own ports and SQLite store, the scenario's
# routes, plus any extra gen_routes.py flags.
write_routes() {   # target admin-port-key file [flags...]
  local target=$1 admin=$2 file=$3; shift 3
  python3 "$BENCH_DIR/gen_routes.py" "$SCENARIO" "${PORT[$target]}" "${PORT[$admin]}" \
    "${PORT[backend]}" "$REQ_PATH" "$THREADS" --store "sqlite://$TMP/$target.db" \
    ${PORT[backend-new]:+--new-backend "${PORT[backend-new]}"} "$@" >"$TMP/$file"
}

write_configs() {
  write_backend_conf backend
  write_shadow_backend_conf
  write_nginx_conf
  write_haproxy_conf
  # shellcheck disable=SC2046  # the flags are words without spaces
  write_routes strangler admin routes.yaml $(strangler_tls_flags)
  write_tls_configs
  [[ -z $COMPARE_BIN ]] || write_routes strangler-b admin-b routes-b.yaml
  write_runtime_configs
  write_shadow_routes
}

# ---------------------------------------------------------------- processes

server_cpuset() { [[ $PIN == 1 ]] && echo "taskset -c 1" || true; }
wrk_cpuset() { [[ $PIN == 1 ]] && echo "taskset -c 0" || true; }

# Starts a server in the background and records its PID.
spawn() {   # name command...
  local name=$1; shift
  $(server_cpuset) "$@" >"$TMP/$name.log" 2>&1 &
  PID_OF[$name]=$!
  PIDS+=($!)
}

# Waits (bounded, 10 s) until the target answers the benchmark request with 200.
ready() {   # name
  local name=$1 code i
  for i in $(seq 100); do
    if ! kill -0 "${PID_OF[$name]}" 2>/dev/null; then
      log "$name: SKIPPED, the process exited at start; last lines of its log:"
      tail -n 5 "$TMP/$name.log" "$TMP/$name.err" 2>/dev/null | sed 's/^/    /' >&2
      return 1
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 -H "X-Tenant-Id: $TENANT" \
      "$(target_url "$name")" || true)
    [[ $code == 200 ]] && return 0
    sleep 0.1
  done
  log "$name: SKIPPED, no 200 on $REQ_PATH within 10 s (last status: $code)"
  tail -n 5 "$TMP/$name.log" 2>/dev/null | sed 's/^/    /' >&2
  stop_pid "${PID_OF[$name]}"
  return 1
}

# Whether ONLY (empty: everything) names the target; strangler-b runs whenever COMPARE_BIN
# is set, strangler-b-NAME whenever strangler-NAME is wanted.
wanted() {
  [[ -z $ONLY || " $ONLY " == *" $1 "* || $1 == strangler-b ]] && return 0
  [[ $1 == strangler-b-* ]] && wanted "strangler-${1#strangler-b-}"
}

start_target() {   # name command...
  local name=$1
  wanted "$name" || return 0
  spawn "$@"
  if ready "$name"; then TARGETS+=("$name"); fi
}

start_all() {
  local bin=$TARGET_DIR/$PROFILE
  spawn backend nginx -p "$TMP" -e "$TMP/backend.err" -c "$TMP/backend.conf"
  ready backend || { log "the backend did not start; nothing to measure"; exit 1; }
  start_shadow_backend
  PORT[direct]=${PORT[backend]} PID_OF[direct]=""
  if wanted direct; then TARGETS+=(direct); fi
  start_target nginx nginx -p "$TMP" -e "$TMP/nginx.err" -c "$TMP/nginx.conf"
  start_target haproxy haproxy -db -f "$TMP/haproxy.cfg"
  # shellcheck disable=SC2046
  start_target bare-pingora env $(bare_tls_env) "$bin/bare-pingora" "127.0.0.1:${PORT[bare-pingora]}" "127.0.0.1:${PORT[backend]}" "$THREADS"
  if [[ -e $TMP/strangler.ok ]]; then
    start_target strangler "$bin/strangler" run --config "$TMP/routes.yaml"
    [[ -z $COMPARE_BIN ]] ||
      start_target strangler-b env $COMPARE_ENV "$COMPARE_BIN" run --config "$TMP/routes-b.yaml"
    [[ $SCENARIO != shadow ]] || start_shadow_targets "$bin"
  else
    log "strangler: SKIPPED, no binary from this build"
  fi
  start_runtime_variants "$bin"
  start_upstream_tls "$bin"
  add_tls_variants
}

# ---------------------------------------------------------------- measuring

# Prints "utime stime" in clock ticks for a process and its children (nginx's worker is a
# child of its master). /proc/PID/stat of a process already sums all of its threads.
cpu_ticks() {   # pid...
  local pid u=0 s=0 p st
  for pid in "$@"; do
    [[ -z $pid ]] && continue
    for p in $pid $(pgrep -P "$pid" || true); do
      st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
      read -ra f <<<"${st##*) }"
      u=$((u + f[11])) s=$((s + f[12]))
    done
  done
  echo "$u $s"
}

# Prints "tid utime stime name" per thread of a process, for where a strangler's CPU goes
# (its threads are named: strangler-worke[r], strangler-shado[w], strangler-admin, ...).
thread_ticks() {   # pid
  local st t name
  for t in /proc/"$1"/task/*; do
    st=$(cat "$t/stat" 2>/dev/null) || continue
    read -ra f <<<"${st##*) }"
    name=${st#*(}
    printf '%s %s %s %s\n' "${t##*/}" "${f[11]}" "${f[12]}" "${name%%)*}"
  done
}

# Ticks the whole machine spent busy (not idle, not waiting for I/O), all cores.
machine_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }

# Ticks of this script's reaped children: grows by wrk's CPU once wrk is waited for.
children_ticks() { local st; st=$(cat /proc/$$/stat); read -ra f <<<"${st##*) }"; echo $((f[13] + f[14])); }

# wrk against one target; a NAME-handshake target closes the connection after every request.
run_wrk() {   # name seconds out
  local close=() preload=()
  [[ $1 == *-handshake ]] && close=(-H "Connection: close")
  [[ $1 == *-full-handshake ]] && preload=(env LD_PRELOAD="$TMP/tls/wrk-full-handshake.so")
  $(wrk_cpuset) timeout -s INT $(($2 + 30)) "${preload[@]}" $(load_command "$2") \
    -H "X-Tenant-Id: $TENANT" "${close[@]}" "$(target_url "$1")" >"$3" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || log "wrk exited with $? (see $3)"
  WRK_PID=""
}

# One measured run: wrk against the target, with the CPU of the proxy, the backend and
# wrk, and whatever else the machine did meanwhile.
measure() {   # round name
  local rnd=$1 name=$2 out=$TMP/wrk-$1-$2.txt busy pu ps pu2 ps2 bu bs bu2 bs2 m w t0 t1 proxy_u proxy_s
  local threads=-
  [[ $name == strangler* ]] && threads=$TMP/threads-$1-$2
  busy=$(builds_running)
  [[ $threads == - ]] || thread_ticks "${PID_OF[$name]}" >"$threads.before"
  read -r pu ps < <(cpu_ticks "${PID_OF[$name]}")
  read -r bu bs < <(cpu_ticks "${PID_OF[backend]}" "${PID_OF[backend-new]:-}")
  m=$(machine_busy) w=$(children_ticks) t0=$(date +%s.%N)
  run_wrk "$name" "$DURATION" "$out"
  t1=$(date +%s.%N)
  read -r pu2 ps2 < <(cpu_ticks "${PID_OF[$name]}")
  read -r bu2 bs2 < <(cpu_ticks "${PID_OF[backend]}" "${PID_OF[backend-new]:-}")
  [[ $threads == - ]] || thread_ticks "${PID_OF[$name]}" >"$threads.after"
  local ours=$(( (pu2 - pu) + (ps2 - ps) + (bu2 - bu) + (bs2 - bs) + $(children_ticks) - w ))
  local foreign=$(( $(machine_busy) - m - ours )); ((foreign > 0)) || foreign=0
  proxy_u=$((pu2 - pu)) proxy_s=$((ps2 - ps))
  [[ $name == direct ]] && proxy_u=- proxy_s=-
  [[ $busy == - ]] && busy=$(builds_running)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rnd" "$name" "$out" "$proxy_u" "$proxy_s" \
    "$(python3 -c "print(f'{$t1 - $t0:.3f}')")" "$foreign" "$busy" "$((bu2 - bu + bs2 - bs))" \
    "$threads" >>"$TMP/runs.tsv"
  log "  round $rnd $(printf '%-16s' "$name") $(grep -E 'Requests/sec' "$out" | tr -s ' ')$([[ $busy == - ]] || echo "  (build running: $busy)")"
}

warm_up() {
  local name
  log "warming up each target for 1 s"
  for name in "${TARGETS[@]}"; do run_wrk "$name" 1 "$TMP/warmup-$name.txt"; done
}

run_rounds() {
  local rnd name
  : >"$TMP/runs.tsv"
  shadow_counters before
  for rnd in $(seq "$ROUNDS"); do
    for name in "${TARGETS[@]}"; do measure "$rnd" "$name"; done
  done
  shadow_counters after
}

# ---------------------------------------------------------------- report

describe() {
  local mode="unpinned (proxy, backend and wrk share both cores; a proxy's figure is about 1 ÷ its CPU per request)"
  [[ $PIN == 1 ]] && mode="pinned (proxy and backend on core 1, wrk on core 0; a proxy's figure is proxy + backend CPU)"
  [[ $LOAD == open ]] && mode="unpinned, every target offered the same rate (compare p99 and CPU per request, not req/s)"
  [[ $LOAD == open && $PIN == 1 ]] && mode="pinned (proxy and backend on core 1, the load generator on core 0), every target offered the same rate"
  cat <<EOF
# strangler load harness: $SCENARIO

- date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')
- machine: $(nproc) cores, $(uname -r), load average at start $LOAD_AT_START
- mode: $mode, THREADS=$THREADS per proxy, cargo profile $PROFILE
- load: $(load_describe), keep-alive, GET $REQ_PATH with X-Tenant-Id: $TENANT; $ROUNDS interleaved round(s) of ${TARGETS[*]}; medians
- versions: $(nginx -v 2>&1 | sed 's/.*version: //'), HAProxy $(haproxy -v | awk 'NR==1{print $3}'), $(wrk -v 2>&1 | awk 'NR==1{print $1, $2}'), $(rustc --version | awk '{print $1, $2}')
- strangler routes.yaml: $(grep -c '^  - name:' "$TMP/routes.yaml") routes, $(grep '^    rollout:' "$TMP/routes.yaml" | grep -o ': \(new\|legacy\)[,} ]' | wc -l) tenant overrides
EOF
  tls_describe
  shadow_describe
}

report() {
  local stamp file
  stamp=$(date -u +%Y%m%d-%H%M%S)
  file=$BENCH_DIR/results/$stamp-$SCENARIO.md
  mkdir -p "$BENCH_DIR/results"
  local extra=()
  [[ $SCENARIO == shadow ]] && extra=(--shadow "$TMP")
  tls_scenario && extra=(--tls)
  { describe; echo; python3 "$BENCH_DIR/report.py" "$TMP/runs.tsv" "$CLK_TCK" "${extra[@]}"; } >"$file"
  echo
  cat "$file"
  echo
  echo "written to ${file#"$ROOT"/}"
}

main() {
  check_scenario
  install_tools
  LOAD_AT_START=$(cut -d' ' -f1 /proc/loadavg)
  check_idle start
  TMP=$(mktemp -d /tmp/strangler-bench.XXXXXX)
  build
  local ports
  read -ra ports < <(free_ports 31)
  read -r PORT[backend] PORT[nginx] PORT[haproxy] PORT[bare-pingora] PORT[strangler] PORT[admin] \
    PORT[strangler-shadow] PORT[admin-shadow] PORT[strangler-b] PORT[admin-b] \
    PORT[strangler-shadow10] PORT[admin-shadow10] PORT[strangler-b-shadow] PORT[admin-b-shadow] \
    PORT[strangler-b-shadow10] PORT[admin-b-shadow10] <<<"${ports[*]:0:16}"
  tls_ports "${ports[@]:16}"
  runtime_ports "${ports[@]:25}"
  write_configs
  log "mode: $([[ $PIN == 1 ]] && echo 'PIN=1, proxies and backend on core 1, wrk on core 0' || echo 'unpinned')"
  start_all
  tls_negotiated >"$TMP/tls-negotiated.txt"
  warm_up
  check_idle "before the rounds"
  mark_upstream_connections
  run_rounds
  report
}

main "$@"
