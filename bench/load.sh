# bench/load.sh: what offers the load in bench/run.sh, sourced by it.
#
# LOAD=closed (the default): wrk -t1 -cCONNS, each connection sending its next request when
# the last is answered. At saturation a closed loop's latency is CONNS ÷ throughput, so a
# proxy that does less work per second also shows a proportionally higher p99.
# LOAD=open RATE=N: bench/openloop (built with the proxies) sends N requests a second,
# evenly spaced, over CONNS kept-alive connections, and times each request from when it
# was due (wrk2's correction for coordinated omission). Every target is offered the same
# load, so p99 compares proxies at a load all of them sustain: pick RATE below the
# slowest target's closed-loop req/s (a target that falls behind shows it in "sent late"
# and in its p99). Its pacing thread sleeps between requests; the kernel's timer slack
# (about 50 µs) is in every latency alike.

LOAD=${LOAD:-closed}
RATE=${RATE:-}

check_load() {
  case $LOAD in
    closed) ;;
    open)
      [[ $RATE =~ ^[1-9][0-9]*$ ]] || { log "LOAD=open needs RATE=<requests per second>"; exit 2; }
      ! tls_scenario || { log "LOAD=open speaks cleartext HTTP only (SCENARIO=$SCENARIO)"; exit 2; }
      ;;
    *) log "unknown LOAD=$LOAD (closed|open)"; exit 2 ;;
  esac
}

# The cargo packages the load needs besides the proxies.
load_packages() { [[ $LOAD == open ]] && echo "-p openloop" || true; }

# The load generator's command up to its URL; SECS is the run's length.
load_command() {   # secs
  if [[ $LOAD == open ]]; then
    echo "$TARGET_DIR/$PROFILE/openloop -R $RATE -c$CONNS -d$1s"
  else
    echo "wrk -t1 -c$CONNS -d$1s --latency"
  fi
}

load_describe() {
  if [[ $LOAD == open ]]; then
    echo "bench/openloop at a fixed $RATE req/s, -c$CONNS -d${DURATION}s (latency from when each request was due)"
  else
    echo "wrk -t1 -c$CONNS -d${DURATION}s --latency"
  fi
}
