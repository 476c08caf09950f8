# bench/shadow.sh: SCENARIO=shadow's parts of bench/run.sh, sourced by it.
#
# strangler-shadow (the hit route's every request shadowed, `shadow: { noise: 0 }`) and
# strangler-shadow10 (`sample: 10`), each with its own admin port and SQLite store, beside
# the plain strangler; with COMPARE_BIN the same two of that binary (strangler-b-shadow,
# strangler-b-shadow10). Around the rounds each one's strangler_shadow_* counters are read
# from its /metrics, so the report says how many requests were shadowed and compared.
# SHADOW_IN_FLIGHT=N writes `diffs: { in_flight: N }`. SHADOW_BACKEND=own gives the service
# `new` of every strangler a second nginx backend (the same configuration on its own port),
# so a shadow call never queues at the server its primary is waiting on.

SHADOW_IN_FLIGHT=${SHADOW_IN_FLIGHT:-}
SHADOW_BACKEND=${SHADOW_BACKEND:-shared}

check_shadow() {
  case $SHADOW_BACKEND in
    shared | own) ;;
    *) log "unknown SHADOW_BACKEND=$SHADOW_BACKEND (shared|own)"; exit 2 ;;
  esac
}

# The second backend's nginx.conf and port, with SHADOW_BACKEND=own.
write_shadow_backend_conf() {
  [[ $SCENARIO == shadow && $SHADOW_BACKEND == own ]] || return 0
  PORT[backend-new]=$(free_ports 1)
  write_backend_conf backend-new
}

# The same routes, the hit route shadowed: every request, and a 10 % sample.
write_shadow_routes() {
  [[ $SCENARIO == shadow ]] || return 0
  local b
  for b in "" ${COMPARE_BIN:+-b}; do
    write_routes "strangler$b-shadow" "admin$b-shadow" "routes$b-shadow.yaml" \
      --shadow ${SHADOW_IN_FLIGHT:+--in-flight "$SHADOW_IN_FLIGHT"}
    write_routes "strangler$b-shadow10" "admin$b-shadow10" "routes$b-shadow10.yaml" \
      --shadow --sample 10 ${SHADOW_IN_FLIGHT:+--in-flight "$SHADOW_IN_FLIGHT"}
  done
}

start_shadow_backend() {
  [[ -n ${PORT[backend-new]:-} ]] || return 0
  spawn backend-new nginx -p "$TMP" -e "$TMP/backend-new.err" -c "$TMP/backend-new.conf"
  ready backend-new || { log "the new service's backend did not start"; exit 1; }
}

# strangler-shadow and strangler-shadow10, and with COMPARE_BIN the same two of that binary.
start_shadow_targets() {   # bin
  local name
  for name in shadow shadow10; do
    start_target "strangler-$name" "$1/strangler" run --config "$TMP/routes-$name.yaml"
    [[ -z $COMPARE_BIN ]] || start_target "strangler-b-$name" env $COMPARE_ENV "$COMPARE_BIN" \
      run --config "$TMP/routes-b-$name.yaml"
  done
}

# Saves each shadowing strangler's strangler_shadow_* counters to TMP/counters-NAME-WHEN.prom
# (WHEN: before, after).
shadow_counters() {   # when
  local name
  for name in "${TARGETS[@]}"; do
    [[ $name == strangler*-shadow* ]] || continue
    target_counters "admin${name#strangler}" >"$TMP/counters-$name-$1.prom"
  done
}

# Prints one strangler's strangler_shadow_* counters once two reads 0.2 s apart agree (the
# last comparisons end within the route's timeout; bounded at 5 s).
target_counters() {   # admin-port-key
  local prev="" now="" i
  for i in $(seq 25); do
    now=$(curl -s --max-time 1 "http://127.0.0.1:${PORT[$1]}/metrics" |
      grep '^strangler_shadow' | grep -v latency || true)
    [[ -n $now && $now == "$prev" ]] && break
    prev=$now
    sleep 0.2
  done
  printf '%s\n' "$now"
}

shadow_describe() {
  [[ $SCENARIO == shadow ]] || return 0
  local name
  for name in shadow shadow10; do
    echo "- strangler-$name: the same routes.yaml (own admin port and SQLite store) plus, on the hit route, \`$(grep '^    shadow:' "$TMP/routes-$name.yaml" | sed 's/^ *//')\` and \`$(grep '^diffs:' "$TMP/routes-$name.yaml" || echo 'diffs: the defaults')\`"
  done
  [[ -z ${PORT[backend-new]:-} ]] || echo "- SHADOW_BACKEND=own: the service \`new\` of every strangler is a second nginx backend, the same configuration on its own port, so the shadow call and the primary never queue at the same server (backend CPU: both)"
  [[ -z $COMPARE_BIN ]] || echo "- strangler-b, strangler-b-shadow, strangler-b-shadow10: the same three routes.yaml files, run by COMPARE_BIN=$COMPARE_BIN"
}
